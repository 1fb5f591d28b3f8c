use crate::startup::Upstreams;
use crate::upstream::Body;
use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use vibes_web::VibePath;

#[tracing::instrument(name = "gateway_join", skip_all, fields(vibe_id = %vibe.0))]
pub async fn join(
    vibe: VibePath,
    request: HttpRequest,
    payload: web::Payload,
    upstreams: web::Data<Upstreams>,
) -> Result<HttpResponse, actix_web::Error> {
    forward_json(&vibe, "join", &request, payload, &upstreams).await
}

#[tracing::instrument(name = "gateway_leave", skip_all, fields(vibe_id = %vibe.0))]
pub async fn leave(
    vibe: VibePath,
    request: HttpRequest,
    payload: web::Payload,
    upstreams: web::Data<Upstreams>,
) -> Result<HttpResponse, actix_web::Error> {
    forward_json(&vibe, "leave", &request, payload, &upstreams).await
}

/// The registry validates the JSON itself; the gateway bounds its size.
async fn forward_json(
    vibe: &VibePath,
    action: &str,
    request: &HttpRequest,
    payload: web::Payload,
    upstreams: &Upstreams,
) -> Result<HttpResponse, actix_web::Error> {
    let bytes = vibes_web::body::read_limited(payload, vibes_web::MAX_JSON_BODY_BYTES).await?;
    let content_type = vibes_web::body::media_type(request);
    let path = format!("/stream/{}/{action}", vibe.0);
    let body = Body {
        content_type,
        bytes,
        headers: Vec::new(),
    };
    Ok(upstreams
        .registry
        .forward(Method::POST, &path, Some(body))
        .await)
}
