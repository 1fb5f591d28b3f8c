//! Forwarding to the internal services. Their answers (success or
//! problem+json) go back to the client unchanged; a service that does not
//! answer becomes a problem of our own.

use crate::error::{Backend, GatewayError};
use actix_web::http::{header, Method, StatusCode};
use actix_web::HttpResponse;
use bytes::Bytes;
use std::time::Duration;
use vibes_domain::api::{HealthReport, PartHealth};

/// Waits before each retry of a request that could not connect: a service
/// restarting (or a rolling update) is usually back within these ~0.75 s.
const CONNECT_RETRY_BACKOFF: [Duration; 4] = [
    Duration::from_millis(50),
    Duration::from_millis(100),
    Duration::from_millis(200),
    Duration::from_millis(400),
];

/// Headers of an upstream answer that mean something to the client.
const RELAYED_HEADERS: [header::HeaderName; 2] = [header::CONTENT_TYPE, header::RETRY_AFTER];

/// The internal services the gateway talks to by a fixed address (ingest
/// pods are found per stream: `IngestRouter`).
#[derive(Clone)]
pub struct Upstreams {
    pub registry: Upstream,
    /// Only asked whether it is ready: its stats API is served by the edge.
    pub supervisor: ReadinessProbe,
}

/// A service's `/health/ready`.
#[derive(Clone)]
pub struct ReadinessProbe {
    base_url: String,
    http: reqwest::Client,
}

impl ReadinessProbe {
    pub fn new(base_url: &str, http: reqwest::Client) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            http,
        }
    }

    /// The service's readiness report, or why it could not be read.
    pub async fn readiness(&self) -> PartHealth {
        readiness(&self.http, &self.base_url).await
    }
}

#[derive(Clone)]
pub struct Upstream {
    backend: Backend,
    probe: ReadinessProbe,
}

/// A request body, its media type and any headers the upstream needs too.
#[derive(Clone)]
pub struct Body {
    pub content_type: Option<String>,
    pub bytes: Bytes,
    pub headers: Vec<(&'static str, String)>,
}

impl Upstream {
    pub fn new(backend: Backend, base_url: &str, http: reqwest::Client) -> Self {
        Self {
            backend,
            probe: ReadinessProbe::new(base_url, http),
        }
    }

    /// Sends the request and relays the answer. A request that could not
    /// connect reached nothing, so it is retried a few times whatever its
    /// method; one that reached the service is never sent twice.
    pub async fn forward(
        &self,
        method: Method,
        path: &str,
        body: Option<Body>,
    ) -> Result<HttpResponse, GatewayError> {
        let url = format!("{}{path}", self.probe.base_url);
        let mut backoff = CONNECT_RETRY_BACKOFF.iter();
        loop {
            match send(&self.probe.http, method.clone(), &url, body.clone()).await {
                Ok(response) => return relay(self.backend, response).await,
                Err(error) if error.is_connect() => match backoff.next() {
                    Some(wait) => {
                        tracing::debug!(backend = %self.backend, %error, ?wait, "could not connect; retrying");
                        tokio::time::sleep(*wait).await;
                    }
                    None => return Err(unreachable(self.backend, error)),
                },
                Err(error) => return Err(unreachable(self.backend, error)),
            }
        }
    }

    /// The service's readiness report, or why it could not be read.
    pub async fn readiness(&self) -> PartHealth {
        self.probe.readiness().await
    }
}

pub fn unreachable(backend: Backend, cause: reqwest::Error) -> GatewayError {
    GatewayError::Unreachable { backend, cause }
}

/// One request to an internal service, carrying the current trace.
pub async fn send(
    http: &reqwest::Client,
    method: Method,
    url: &str,
    body: Option<Body>,
) -> Result<reqwest::Response, reqwest::Error> {
    let method = reqwest::Method::from_bytes(method.as_str().as_bytes()).expect("a valid method");
    let mut request = http.request(method, url);
    for (name, value) in vibes_telemetry::trace_headers() {
        request = request.header(name, value);
    }
    if let Some(body) = body {
        if let Some(content_type) = body.content_type {
            request = request.header(reqwest::header::CONTENT_TYPE, content_type);
        }
        for (name, value) in body.headers {
            request = request.header(name, value);
        }
        request = request.body(body.bytes);
    }
    request.send().await
}

/// A service's readiness report at `base_url`, or why it could not be
/// read: the reason is public (`GET /health`), so the cause (addresses,
/// client errors) goes to the log.
pub async fn readiness(http: &reqwest::Client, base_url: &str) -> PartHealth {
    let url = format!("{base_url}/health/ready");
    let response = match http.get(&url).send().await {
        Ok(response) => response,
        Err(error) => {
            let cause = vibes_problem::cause_chain(&error);
            tracing::warn!(%cause, "a readiness check found no answer");
            return PartHealth::down("unreachable");
        }
    };
    let status = response.status();
    match response.json::<HealthReport>().await {
        Ok(report) if report.is_up() => PartHealth::up(),
        Ok(report) => PartHealth::down(describe_down_parts(&report)),
        Err(error) => {
            let cause = vibes_problem::cause_chain(&error);
            tracing::warn!(%cause, "a readiness answer was unreadable");
            PartHealth::down(format!("{status}: unreadable readiness"))
        }
    }
}

/// The upstream's answer, status and meaningful headers kept.
pub async fn relay(
    backend: Backend,
    response: reqwest::Response,
) -> Result<HttpResponse, GatewayError> {
    let status =
        StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut relayed = HttpResponse::build(status);
    for name in RELAYED_HEADERS {
        if let Some(value) = response.headers().get(name.as_str()) {
            relayed.insert_header((name, value.as_bytes()));
        }
    }
    match response.bytes().await {
        Ok(body) => Ok(relayed.body(body)),
        Err(cause) => Err(GatewayError::AnswerBroken { backend, cause }),
    }
}

fn describe_down_parts(report: &HealthReport) -> String {
    report
        .parts
        .iter()
        .filter(|(_, part)| !part.is_up())
        .map(|(name, part)| format!("{name}: {}", part.detail.as_deref().unwrap_or("down")))
        .collect::<Vec<_>>()
        .join("; ")
}
