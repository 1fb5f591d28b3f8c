use crate::configuration::EncoderSettings;
use crate::streams::LiveStreams;
use actix_web::{web, HttpResponse};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::net::TcpStream;
use vibes_domain::api::{HealthReport, PartHealth};

/// Whether the configured ffmpeg runs at all; checked once at start.
pub struct EncoderCheck(PartHealth);

impl EncoderCheck {
    pub async fn run(settings: &EncoderSettings) -> Self {
        let outcome = tokio::process::Command::new(&settings.ffmpeg)
            .arg("-version")
            .output()
            .await;
        Self(match outcome {
            Ok(output) if output.status.success() => PartHealth::up(),
            Ok(output) => PartHealth::down(format!(
                "{} -version exited with {}",
                settings.ffmpeg, output.status
            )),
            Err(error) => PartHealth::down(format!("{} cannot run: {error}", settings.ffmpeg)),
        })
    }
}

/// Where encoders publish: the engine's RTMP address, or a local `file:`
/// folder (recording without an engine, as the ingest tests do).
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

    async fn probe(&self) -> PartHealth {
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
        match tokio::time::timeout(Duration::from_millis(500), connect).await {
            Ok(Ok(_)) => PartHealth::up(),
            Ok(Err(error)) => PartHealth::down(format!("RTMP {address}: {error}")),
            Err(_) => PartHealth::down(format!("RTMP {address}: no answer within 500 ms")),
        }
    }
}

pub async fn ready(
    encoder: web::Data<EncoderCheck>,
    target: web::Data<PublishTarget>,
    streams: web::Data<LiveStreams>,
) -> HttpResponse {
    let mut parts = BTreeMap::new();
    parts.insert("ffmpeg".to_owned(), encoder.0.clone());
    parts.insert("publish_target".to_owned(), target.probe().await);
    parts.insert("ingest_pool".to_owned(), streams.pool_health());
    let mut report = HealthReport::from_parts(parts);
    report
        .parts
        .entry("streams".to_owned())
        .or_insert_with(|| PartHealth {
            status: vibes_domain::api::HealthStatus::Up,
            detail: Some(format!("{} live", streams.count())),
        });
    vibes_web::health::report_response(&report)
}
