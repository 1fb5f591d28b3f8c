//! The OpenAPI 3.1 document of the public API, built from the handlers'
//! `#[utoipa::path]` annotations, the API types themselves and the error
//! catalogue (each operation's problem responses), served at
//! `GET /stream-api/openapi.json` and checked in as `docs/openapi.json`.

use super::{health, participants, streams};
use actix_web::HttpResponse;
use std::sync::OnceLock;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use vibes_problem::openapi::ProblemSchema;

pub const OPENAPI_PATH: &str = "/stream-api/openapi.json";

/// Where the document is checked in, from the repository root.
pub const CHECKED_IN: &str = "docs/openapi.json";

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
    modifiers(&BearerTokens, &ProblemSchema),
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
        let mut document = PublicApi::openapi()
            .to_pretty_json()
            .expect("the OpenAPI document serializes");
        document.push('\n');
        document
    })
}

pub async fn serve() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document())
}
