//! Where encoders publish, and whether it answers (part of readiness).

use std::time::Duration;
use tokio::net::TcpStream;
use vibes_domain::api::PartHealth;

/// How long the RTMP port gets to accept a connection.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// The engine's RTMP address, or a local `file:` folder (recording without
/// an engine, as the ingest tests do).
pub enum PublishTarget {
    Rtmp(String),
    Files(String),
}

impl PublishTarget {
    pub fn from_base_url(base_url: &str) -> Result<Self, url::ParseError> {
        let parsed = url::Url::parse(base_url)?;
        if parsed.scheme() == "file" {
            return Ok(Self::Files(parsed.path().to_owned()));
        }
        let host = parsed.host_str().ok_or(url::ParseError::EmptyHost)?;
        Ok(Self::Rtmp(format!(
            "{host}:{}",
            parsed.port().unwrap_or(1935)
        )))
    }

    /// Up when the folder exists or the RTMP port accepts a connection.
    pub async fn probe(&self) -> PartHealth {
        let address = match self {
            Self::Files(folder) => {
                return match std::fs::metadata(folder) {
                    Ok(meta) if meta.is_dir() => PartHealth::up(),
                    _ => PartHealth::down(format!("output folder {folder} is missing")),
                }
            }
            Self::Rtmp(address) => address,
        };
        let connect = TcpStream::connect(address);
        match tokio::time::timeout(PROBE_TIMEOUT, connect).await {
            Ok(Ok(_)) => PartHealth::up(),
            Ok(Err(error)) => PartHealth::down(format!("RTMP {address}: {error}")),
            Err(_) => PartHealth::down(format!(
                "RTMP {address}: no answer within {PROBE_TIMEOUT:?}"
            )),
        }
    }
}
