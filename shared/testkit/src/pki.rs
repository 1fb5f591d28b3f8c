//! A throwaway certificate authority for TLS tests: a CA, a leaf for
//! localhost whose OCSP responder is on loopback, and the CA's database with
//! the leaf valid or revoked (the edge's OCSP stapling tests).

use crate::free_port;
use crate::process::TestProcess;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A throwaway CA, a leaf for localhost whose AIA names a responder on
/// 127.0.0.1, and the CA's index with the leaf valid or revoked.
pub struct Pki {
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    pub leaf_cert: PathBuf,
    pub leaf_key: PathBuf,
    pub index_good: PathBuf,
    pub index_revoked: PathBuf,
    pub responder_port: u16,
}

impl Pki {
    /// Makes them in `dir` with openssl.
    pub fn make(dir: &Path) -> Self {
        let responder_port = free_port();
        let ca_cert = dir.join("ca.crt");
        let ca_key = dir.join("ca.key");
        let leaf_cert = dir.join("leaf.crt");
        let leaf_key = dir.join("leaf.key");
        let csr = dir.join("leaf.csr");
        openssl(
            Command::new("openssl")
                .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
                .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
                .args(["-subj", "/CN=VibesFlow throwaway test CA"])
                .args(["-addext", "basicConstraints=critical,CA:TRUE"])
                .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"])
                .arg("-keyout")
                .arg(&ca_key)
                .arg("-out")
                .arg(&ca_cert),
        );
        openssl(
            Command::new("openssl")
                .args(["req", "-new", "-newkey", "ec", "-pkeyopt"])
                .args(["ec_paramgen_curve:prime256v1", "-nodes"])
                .args(["-subj", "/CN=localhost", "-keyout"])
                .arg(&leaf_key)
                .arg("-out")
                .arg(&csr),
        );
        let extensions = dir.join("leaf.ext");
        std::fs::write(
            &extensions,
            format!(
                "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n\
                 extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n\
                 authorityInfoAccess=OCSP;URI:http://127.0.0.1:{responder_port}/\n"
            ),
        )
        .unwrap();
        openssl(
            Command::new("openssl")
                .args(["x509", "-req", "-days", "2", "-set_serial", "0x1001", "-in"])
                .arg(&csr)
                .arg("-CA")
                .arg(&ca_cert)
                .arg("-CAkey")
                .arg(&ca_key)
                .arg("-extfile")
                .arg(&extensions)
                .arg("-out")
                .arg(&leaf_cert),
        );
        // The CA database `openssl ocsp` answers from (tab-separated: status,
        // expiry, revocation time, serial, file, subject).
        let index_good = dir.join("index-good.txt");
        let index_revoked = dir.join("index-revoked.txt");
        std::fs::write(
            &index_good,
            "V\t301231235959Z\t\t1001\tunknown\t/CN=localhost\n",
        )
        .unwrap();
        std::fs::write(
            &index_revoked,
            "R\t301231235959Z\t250101000000Z,keyCompromise\t1001\tunknown\t/CN=localhost\n",
        )
        .unwrap();
        Self {
            ca_cert,
            ca_key,
            leaf_cert,
            leaf_key,
            index_good,
            index_revoked,
            responder_port,
        }
    }

    /// `openssl ocsp` answering from `index` on the leaf's responder port,
    /// once it waits for clients.
    pub fn responder(&self, index: &Path) -> TestProcess {
        let mut responder = Command::new("openssl");
        responder
            .args(["ocsp", "-ignore_err", "-nmin", "5", "-index"])
            .arg(index)
            .args(["-port", &self.responder_port.to_string()])
            .arg("-rsigner")
            .arg(&self.ca_cert)
            .arg("-rkey")
            .arg(&self.ca_key)
            .arg("-CA")
            .arg(&self.ca_cert)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(index.with_extension("log")).unwrap());
        let process = TestProcess::spawn("openssl ocsp", responder);
        // Not a TCP probe: a connection closed without a request sends this
        // responder into a busy loop that never accepts again.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !std::fs::read_to_string(index.with_extension("log"))
            .unwrap_or_default()
            .contains("waiting for OCSP client connections")
        {
            assert!(
                Instant::now() < deadline,
                "the OCSP responder did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        process
    }
}

fn openssl(command: &mut Command) {
    let output = command.output().expect("openssl runs");
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
