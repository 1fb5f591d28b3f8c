use crate::configuration::{EngineKind, EngineSettings};
use std::time::Duration;
use tokio::net::TcpStream;

/// The engine is healthy when its RTMP port (publishers) and its HTTP-FLV
/// port (listeners) accept connections, and for SRS its API port too (the
/// stats API and the registry's warden use it).
pub async fn probe(engine: &EngineSettings, timeout: Duration) -> Result<(), String> {
    let mut ports = vec![("rtmp", engine.rtmp_port), ("httpflv", engine.httpflv_port)];
    if engine.kind == EngineKind::Srs {
        ports.push(("api", engine.api_port));
    }
    for (name, port) in ports {
        let connect = TcpStream::connect((engine.host.as_str(), port));
        match tokio::time::timeout(timeout, connect).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => return Err(format!("{name} port {port}: {error}")),
            Err(_) => return Err(format!("{name} port {port}: no answer within {timeout:?}")),
        }
    }
    Ok(())
}
