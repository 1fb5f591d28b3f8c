//! One public error shape for every service: `application/problem+json` (RFC
//! 9457) with a stable machine-readable `code` from one catalogue
//! ([`Code`]). Each service keeps its own typed `thiserror` errors, says in
//! one place which code each one is ([`ToProblem`]), and answers with them
//! through [`response_error!`]; [`Problem::from_error`] decides what the
//! client sees and logs the rest.

mod catalogue;
pub mod docs;
pub mod openapi;

pub use catalogue::{Code, Detail, Source};

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

#[doc(hidden)]
pub use actix_web as __actix_web;

pub const CONTENT_TYPE: &str = "application/problem+json";

/// A typed error that answers as a problem.
pub trait ToProblem: std::error::Error {
    /// The error's entry in the catalogue.
    fn code(&self) -> Code;

    /// The code's status, unless the caller understands fewer statuses
    /// (nginx's `auth_request` knows only 401 and 403).
    fn status(&self) -> StatusCode {
        self.code().status()
    }

    /// Adds the extension members and headers a client acts on
    /// (`participant_count`, `Retry-After`, …).
    fn extend(&self, problem: Problem) -> Problem {
        problem
    }
}

/// Implements actix-web's `ResponseError` for a [`ToProblem`] error type, so
/// handlers return it and it answers as its problem.
#[macro_export]
macro_rules! response_error {
    ($error:ty) => {
        impl $crate::__actix_web::ResponseError for $error {
            fn status_code(&self) -> $crate::__actix_web::http::StatusCode {
                $crate::ToProblem::status(self)
            }

            fn error_response(&self) -> $crate::__actix_web::HttpResponse {
                $crate::__actix_web::ResponseError::error_response(&$crate::Problem::from_error(
                    self,
                ))
            }
        }
    };
}

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

impl From<Code> for Problem {
    /// The code's problem as the catalogue says: status, title, no detail.
    fn from(code: Code) -> Self {
        Self {
            problem_type: code.problem_type(),
            title: code.title().to_owned(),
            status: code.status().as_u16(),
            detail: None,
            code: code.as_str().to_owned(),
            extras: Box::default(),
        }
    }
}

impl Problem {
    /// The problem `error` answers with. Its message becomes `detail` where
    /// the catalogue shows it; a withheld message and every server error's
    /// whole cause chain go to the log, not to the client.
    pub fn from_error<Error: ToProblem>(error: &Error) -> Self {
        let code = error.code();
        let mut problem = Self::from(code);
        problem.status = error.status().as_u16();
        if code.detail() == Detail::Shown {
            problem.detail = Some(error.to_string());
        }
        let problem = error.extend(problem);
        if problem.status >= 500 {
            tracing::error!(code = %code, cause = %cause_chain(error), "request failed");
        } else if code.detail() == Detail::Withheld {
            tracing::warn!(code = %code, cause = %cause_chain(error), "request refused");
        }
        problem
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_extension(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extras.extensions.insert(key.to_owned(), value.into());
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

/// The error's message followed by each of its causes', `: `-separated.
pub fn cause_chain<Error: std::error::Error + ?Sized>(error: &Error) -> String {
    let mut chain = error.to_string();
    let mut cause = error.source();
    while let Some(current) = cause {
        chain.push_str(": ");
        chain.push_str(&current.to_string());
        cause = current.source();
    }
    chain
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
        response.json(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    #[derive(Debug, thiserror::Error)]
    enum SeatError {
        #[error("1000 of 1000 seats taken")]
        Full,
        #[error("the session store is unavailable")]
        Store(#[source] std::io::Error),
    }

    impl ToProblem for SeatError {
        fn code(&self) -> Code {
            match self {
                Self::Full => Code::StreamFull,
                Self::Store(_) => Code::RegistryUnavailable,
            }
        }

        fn extend(&self, problem: Problem) -> Problem {
            match self {
                Self::Full => problem.with_extension("participant_count", 1000),
                Self::Store(_) => problem.with_retry_after(5),
            }
        }
    }

    response_error!(SeatError);

    async fn body(response: HttpResponse) -> Value {
        serde_json::from_slice(&to_bytes(response.into_body()).await.unwrap()).expect("JSON")
    }

    #[actix_web::test]
    async fn a_typed_error_answers_as_its_code_with_its_message_and_extensions() {
        let response = SeatError::Full.error_response();
        assert_eq!(response.status(), StatusCode::CONFLICT);
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE).unwrap(),
            CONTENT_TYPE
        );
        let body = body(response).await;
        assert_eq!(body["code"], "stream_full");
        assert_eq!(body["type"], "urn:vibes:problem:stream_full");
        assert_eq!(body["title"], "Stream is full");
        assert_eq!(body["status"], 409);
        assert_eq!(body["participant_count"], 1000);
        assert_eq!(body["detail"], "1000 of 1000 seats taken");
    }

    #[actix_web::test]
    async fn a_withheld_cause_reaches_the_log_and_not_the_client() {
        let cause = std::io::Error::other("redis://10.0.0.7:6379 refused");
        let error = SeatError::Store(cause);
        assert_eq!(
            cause_chain(&error),
            "the session store is unavailable: redis://10.0.0.7:6379 refused"
        );
        let response = error.error_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers().get(header::RETRY_AFTER).unwrap(), "5");
        let body = body(response).await;
        assert_eq!(body["code"], "registry_unavailable");
        assert!(body.get("detail").is_none(), "{body}");
        assert!(!body.to_string().contains("10.0.0.7"), "{body}");
    }

    #[test]
    fn round_trips_through_json() {
        let problem = Problem::from(Code::InvalidVibeId).with_extension("limit", 64);
        let parsed: Problem =
            serde_json::from_str(&serde_json::to_string(&problem).unwrap()).unwrap();
        assert_eq!(parsed, problem);
    }
}
