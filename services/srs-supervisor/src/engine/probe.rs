use crate::configuration::EngineSettings;
use std::time::Duration;
use tokio::net::TcpStream;

/// The engine is healthy when its RTMP port (publishers), its HTTP port
/// (FLV and HLS listeners) and its API port (the stats API and the
/// registry's warden) accept connections.
pub async fn probe(engine: &EngineSettings, timeout: Duration) -> Result<(), String> {
    let ports = [
        ("rtmp", engine.rtmp_port),
        ("http", engine.http_port),
        ("api", engine.api_port),
    ];
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
