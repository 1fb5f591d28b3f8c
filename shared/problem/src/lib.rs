//! One public error shape for every service: `application/problem+json` (RFC 9457)
//! with a stable machine-readable `code`. Each service keeps its own typed error
//! enum and converts it into a [`Problem`] in one place.

mod extractors;

pub use extractors::{json_config, not_found, path_config};

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

pub const CONTENT_TYPE: &str = "application/problem+json";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Extras {
    /// Extension members that help the client act (e.g. `participant_count`).
    #[serde(flatten)]
    extensions: Map<String, Value>,
    /// Response headers that go with the problem (`Retry-After`, rate limits).
    #[serde(skip)]
    headers: Vec<(&'static str, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    /// `urn:vibes:problem:<code>`; stable, so clients may switch on it or on `code`.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub code: String,
    /// Extension members and response headers, boxed together to keep
    /// `Result<_, Problem>` small on the happy path.
    #[serde(flatten)]
    extras: Box<Extras>,
}

impl Problem {
    pub fn new(status: StatusCode, code: &str, title: &str) -> Self {
        Self {
            problem_type: format!("urn:vibes:problem:{code}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: None,
            code: code.to_owned(),
            extras: Box::default(),
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_extension(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extras.extensions.insert(key.to_owned(), value.into());
        self
    }

    /// Keeps the problem but answers with another status, e.g. 403 for every
    /// refusal where the caller (nginx `auth_request`) understands only 401/403.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status.as_u16();
        self
    }

    /// Adds a `Retry-After` header to the response (used with 429 and 503).
    pub fn with_retry_after(self, seconds: u32) -> Self {
        self.with_header("retry-after", seconds.to_string())
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.extras.headers.push((name, value));
        self
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{} ({})", self.title, self.code)?;
        if let Some(detail) = &self.detail {
            write!(formatter, ": {detail}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problem {}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        Problem::status_code(self)
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(Problem::status_code(self));
        response.insert_header((header::CONTENT_TYPE, CONTENT_TYPE));
        for (name, value) in &self.extras.headers {
            response.insert_header((*name, value.as_str()));
        }
        if self.status >= 500 {
            tracing::error!(code = %self.code, detail = ?self.detail, "request failed");
        }
        response.json(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    #[actix_web::test]
    async fn response_is_problem_json_with_code_and_extensions() {
        let problem = Problem::new(StatusCode::CONFLICT, "stream_full", "Stream is full")
            .with_detail("1000 of 1000 seats taken")
            .with_extension("participant_count", 1000)
            .with_retry_after(5);
        let response = problem.error_response();
        assert_eq!(response.status(), StatusCode::CONFLICT);
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE).unwrap(),
            CONTENT_TYPE
        );
        assert_eq!(response.headers().get(header::RETRY_AFTER).unwrap(), "5");
        let body: Value = serde_json::from_slice(&to_bytes(response.into_body()).await.unwrap())
            .expect("body is JSON");
        assert_eq!(body["code"], "stream_full");
        assert_eq!(body["type"], "urn:vibes:problem:stream_full");
        assert_eq!(body["status"], 409);
        assert_eq!(body["participant_count"], 1000);
        assert_eq!(body["detail"], "1000 of 1000 seats taken");
    }

    #[test]
    fn round_trips_through_json() {
        let problem = Problem::new(StatusCode::BAD_REQUEST, "invalid_vibe_id", "Bad id")
            .with_extension("limit", 64);
        let parsed: Problem =
            serde_json::from_str(&serde_json::to_string(&problem).unwrap()).unwrap();
        assert_eq!(parsed, problem);
    }
}
