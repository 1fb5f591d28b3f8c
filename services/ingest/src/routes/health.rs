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

/// The media engine's RTMP address, where encoders publish.
pub struct EngineAddress(String);

impl EngineAddress {
    pub fn from_rtmp_url(rtmp_url: &str) -> Result<Self, url::ParseError> {
        let parsed = url::Url::parse(rtmp_url)?;
        let host = parsed.host_str().ok_or(url::ParseError::EmptyHost)?;
        Ok(Self(format!("{host}:{}", parsed.port().unwrap_or(1935))))
    }

    async fn probe(&self) -> PartHealth {
        let connect = TcpStream::connect(&self.0);
        match tokio::time::timeout(Duration::from_millis(500), connect).await {
            Ok(Ok(_)) => PartHealth::up(),
            Ok(Err(error)) => PartHealth::down(format!("RTMP {}: {error}", self.0)),
            Err(_) => PartHealth::down(format!("RTMP {}: no answer within 500 ms", self.0)),
        }
    }
}

pub async fn ready(
    encoder: web::Data<EncoderCheck>,
    engine: web::Data<EngineAddress>,
    streams: web::Data<LiveStreams>,
) -> HttpResponse {
    let mut parts = BTreeMap::new();
    parts.insert("ffmpeg".to_owned(), encoder.0.clone());
    parts.insert("engine_rtmp".to_owned(), engine.probe().await);
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
