//! actix-web answers malformed paths, JSON bodies and oversized payloads with plain
//! text by default; these configs turn each into a problem with its own code.

use crate::Problem;
use actix_web::error::{JsonPayloadError, PayloadError};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

pub fn json_config(limit_bytes: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit_bytes)
        .error_handler(|error, _request| json_problem(&error).into())
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|error, _request| {
        Problem::new(StatusCode::NOT_FOUND, "not_found", "No such resource")
            .with_detail(error.to_string())
            .into()
    })
}

/// Default service: unknown routes answer a problem, not an empty 404.
pub async fn not_found(request: HttpRequest) -> HttpResponse {
    Problem::new(StatusCode::NOT_FOUND, "not_found", "No such resource")
        .with_detail(format!("{} {}", request.method(), request.path()))
        .error_response()
}

fn json_problem(error: &JsonPayloadError) -> Problem {
    match error {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "Body too large",
            )
            .with_detail(error.to_string())
        }
        JsonPayloadError::ContentType => Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_content_type",
            "Unsupported content type",
        )
        .with_detail("expected application/json"),
        JsonPayloadError::Payload(PayloadError::Overflow) => Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "Body too large",
        ),
        _ => Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "Malformed JSON body",
        )
        .with_detail(error.to_string()),
    }
}
