//! Stub HTTP servers on loopback for testing a proxy (the edge) on its own:
//! each answers like the service it stands for and records what reached it,
//! so a test can tell what the proxy answered itself from what it passed on.
//! Stand-ins only where the real service would hide the proxy's behaviour;
//! the end-to-end tests run the real ones.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a stub answers: status, headers, body; `None` closes the connection
/// without an answer (nginx then reports the upstream as failed).
pub type Answer = Option<(u16, Vec<(&'static str, String)>, Vec<u8>)>;

/// A one-request-per-connection HTTP/1.1 server on 127.0.0.1 that records
/// `"METHOD /path"` (plus the playback check's `<token>/<stream>` when
/// present) of every request.
pub struct Stub {
    pub port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Stub {
    pub fn start(answer: fn(&str, &str, &str) -> Answer) -> Self {
        Self::serving(move |stream, log| serve(stream, answer, log))
    }

    /// A stub whose every connection `handle` serves on a thread of its own.
    pub fn serving(
        handle: impl Fn(TcpStream, &Mutex<Vec<String>>) + Copy + Send + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback listener");
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = log.clone();
                std::thread::spawn(move || handle(stream, &log));
            }
        });
        Self { port, seen }
    }

    /// What reached it so far, in order.
    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(stream: TcpStream, answer: fn(&str, &str, &str) -> Answer, log: &Mutex<Vec<String>>) {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let (mut token, mut stream_name) = (String::new(), String::new());
    let mut content_length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                content_length = value.parse().unwrap_or(0);
            } else if name.eq_ignore_ascii_case("x-playback-token") {
                token = value.to_owned();
            } else if name.eq_ignore_ascii_case("x-playback-stream") {
                stream_name = value.to_owned();
            }
        }
    }
    let mut body = vec![0; content_length];
    let _ = reader.read_exact(&mut body);
    let checked = if token.is_empty() && stream_name.is_empty() {
        String::new()
    } else {
        format!("{token}/{stream_name}")
    };
    let mut record = format!("{method} {path}");
    if !checked.is_empty() {
        record = format!("{record} {checked}");
    }
    log.lock().unwrap().push(record);
    let Some((status, headers, body)) = answer(&method, &path, &checked) else {
        return;
    };
    let mut stream = reader.into_inner();
    let mut head = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
}

/// An answer with a body of `content_type`.
pub fn json(status: u16, content_type: &str, body: &str) -> Answer {
    Some((
        status,
        vec![("Content-Type", content_type.to_owned())],
        body.as_bytes().to_vec(),
    ))
}
