//! The OpenAPI 3.1 document of the public API, built from the handlers'
//! `#[utoipa::path]` annotations and the API types themselves, served at
//! `GET /stream-api/openapi.json`.

use crate::routes::{health, participants, streams};
use actix_web::HttpResponse;
use std::sync::OnceLock;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

pub const OPENAPI_PATH: &str = "/stream-api/openapi.json";

/// An `application/problem+json` error (RFC 9457). Errors may carry more
/// members named in the README (e.g. `participant_count` on `stream_full`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ProblemDocument {
    /// `urn:vibes:problem:<code>`.
    #[schema(rename = "type")]
    problem_type: String,
    title: String,
    status: u16,
    detail: Option<String>,
    /// Stable: clients switch on it.
    code: String,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "VibesFlow streaming API",
        description = "Creators post PCM chunks; listeners join streams and play them over HTTP-FLV or HLS."
    ),
    paths(
        streams::audio,
        streams::end,
        streams::active,
        participants::join,
        participants::leave,
        health::aggregate,
    ),
    modifiers(&BearerTokens),
)]
struct PublicApi;

/// Creator and participant tokens: HS256 JWTs in `Authorization: Bearer`.
struct BearerTokens;

impl Modify for BearerTokens {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .build();
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The document, rendered once.
pub fn document() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        PublicApi::openapi()
            .to_pretty_json()
            .expect("the OpenAPI document serializes")
    })
}

pub async fn serve() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document())
}
