//! SRS's HTTP API (`/api/v1/...`), read-only: SRS's own answers, passed
//! through, so the registry and on-call tooling speak SRS's API. Streams get
//! listener counts from the registry's leases, which SRS cannot know.

use crate::engine::srs_api::{EngineApiError, SrsApi};
use crate::listeners::{count_listeners, LeaseCounts};
use crate::operator::{public_view, OperatorKey};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

/// An answer as `request` may see it: whole for operators, else
/// [`public_view`].
fn for_caller(
    request: &HttpRequest,
    operator: &OperatorKey,
    resource: &str,
    answer: Value,
) -> Value {
    if operator.shown_by(request) {
        answer
    } else {
        public_view(resource, answer)
    }
}

/// `GET /api/v1/versions`: SRS's version (the major one, but for operators).
pub async fn versions(
    request: HttpRequest,
    srs: web::Data<SrsApi>,
    operator: web::Data<OperatorKey>,
) -> Result<HttpResponse, EngineApiError> {
    let answer = srs.get("versions").await?;
    Ok(HttpResponse::Ok().json(for_caller(&request, &operator, "versions", answer)))
}

/// `GET /api/v1/summaries`: SRS's process and the machine for operators,
/// whether SRS is up for everyone else. Never its command line and working
/// directory (paths of the host).
pub async fn summaries(
    request: HttpRequest,
    srs: web::Data<SrsApi>,
    operator: web::Data<OperatorKey>,
) -> Result<HttpResponse, EngineApiError> {
    let mut answer = srs.get("summaries").await?;
    if let Some(process) = answer["data"]["self"].as_object_mut() {
        process.remove("argv");
        process.remove("cwd");
    }
    Ok(HttpResponse::Ok().json(for_caller(&request, &operator, "summaries", answer)))
}

/// `GET /api/v1/clients`: every publisher and player SRS has now (internal:
/// it carries listener addresses).
pub async fn clients(srs: web::Data<SrsApi>) -> Result<HttpResponse, EngineApiError> {
    let answer = srs.list("clients").await?;
    Ok(HttpResponse::Ok().json(answer))
}

/// `GET /api/v1/streams`: SRS's streams with their audio and listeners. Each
/// stream's `clients` (publisher + listeners) counts the listeners holding a
/// lease in the registry where it knows the stream: SRS sees only the edge's
/// relays, one per stream and nginx worker, and no HLS viewers, which are
/// only file requests. `listeners` says the count, its source and what SRS
/// itself sees; `listeners_source` says whether the registry answered.
pub async fn streams(
    request: HttpRequest,
    srs: web::Data<SrsApi>,
    leases: web::Data<LeaseCounts>,
    operator: web::Data<OperatorKey>,
) -> Result<HttpResponse, EngineApiError> {
    let (body, leased) = tokio::join!(srs.list("streams"), leases.per_stream());
    let mut body = body?;
    count_listeners(&mut body, leased.as_ref());
    // The publisher's RTMP address is internal; the edge serves this answer.
    // Blank, not removed: SRS's clients expect the field.
    if let Some(streams) = body["streams"].as_array_mut() {
        for stream in streams {
            stream["tcUrl"] = json!("");
        }
    }
    Ok(HttpResponse::Ok().json(for_caller(&request, &operator, "streams", body)))
}
