use crate::configuration::EngineSettings;
use std::time::Duration;
use tokio::net::TcpStream;

/// The engine is healthy when its RTMP port (publishers) and its HTTP-FLV
/// port (listeners) both accept connections.
pub async fn probe(engine: &EngineSettings, timeout: Duration) -> Result<(), String> {
    for (name, port) in [("rtmp", engine.rtmp_port), ("httpflv", engine.httpflv_port)] {
        let connect = TcpStream::connect((engine.host.as_str(), port));
        match tokio::time::timeout(timeout, connect).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => return Err(format!("{name} port {port}: {error}")),
            Err(_) => return Err(format!("{name} port {port}: no answer within {timeout:?}")),
        }
    }
    Ok(())
}
