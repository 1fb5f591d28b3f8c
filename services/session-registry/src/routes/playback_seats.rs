//! The edge's batched seat re-check: each nginx worker renews the seats of
//! all its FLV listeners of one stream in one call (one Redis script run)
//! every `EDGE_FLV_REAUTH_SECONDS`, instead of one call per listener, and is
//! told which listeners to cut.
//!
//! Plain text both ways, so the edge's Lua needs no JSON library: the request
//! body is the listeners' playback tokens, one per line (the same tokens the
//! edge parsed from their URLs and `auth_request` checked at connect), and
//! the stream is the `X-Playback-Stream` header, as for `/internal/playback-auth`.
//! The answer (200, text/plain) lists the tokens whose listeners must stop:
//! forged, expired or another stream's tokens, and seats that are gone (left,
//! stream ended or full). An empty body means everyone stays.

use super::playback_auth::STREAM_HEADER;
use crate::error::RegistryError;
use crate::playback::Playback;
use crate::store::SessionStore;
use actix_web::{web, HttpRequest, HttpResponse};
use std::collections::HashMap;
use vibes_domain::{ParticipantId, VibeId};

/// More than a stream's default cap (1000): one call may carry every
/// listener of a worker. The edge sends at most 500 per call.
pub const MAX_TOKENS_PER_CALL: usize = 2000;

#[tracing::instrument(name = "playback_seats", skip_all, fields(vibe_id, listeners))]
pub async fn renew(
    request: HttpRequest,
    body: web::Bytes,
    playback: web::Data<Playback>,
    store: web::Data<SessionStore>,
) -> Result<HttpResponse, RegistryError> {
    let stream = request
        .headers()
        .get(STREAM_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let Ok(vibe) = VibeId::parse(stream) else {
        return Err(bad_request(
            "the X-Playback-Stream header names no valid stream",
        ));
    };
    let Ok(body) = std::str::from_utf8(&body) else {
        return Err(bad_request("the body is not text"));
    };
    let tokens: Vec<&str> = body.lines().filter(|line| !line.is_empty()).collect();
    if tokens.len() > MAX_TOKENS_PER_CALL {
        return Err(bad_request(&format!(
            "{} tokens in one call; at most {MAX_TOKENS_PER_CALL}",
            tokens.len()
        )));
    }
    let span = tracing::Span::current();
    span.record("vibe_id", vibe.as_str());
    span.record("listeners", tokens.len());

    // A token that does not verify for this stream is cut without a seat
    // lookup; the rest are renewed once per participant.
    let holders: Vec<Option<ParticipantId>> = tokens
        .iter()
        .map(|token| {
            playback
                .authorize(token, vibe.as_str())
                .ok()
                .map(|(_, participant)| participant)
        })
        .collect();
    let mut participants: Vec<ParticipantId> = holders.iter().flatten().cloned().collect();
    participants.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
    participants.dedup();
    let seated: HashMap<&ParticipantId, bool> = match store.renew_seats(&vibe, &participants).await
    {
        Ok(seated) => participants.iter().zip(seated).collect(),
        // The edge keeps its listeners while the registry cannot answer.
        Err(error) => return Err(error),
    };
    let cut: String = tokens
        .iter()
        .zip(&holders)
        .filter(|(_, holder)| {
            !holder
                .as_ref()
                .is_some_and(|participant| seated[participant])
        })
        .map(|(token, _)| format!("{token}\n"))
        .collect();
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(cut))
}

fn bad_request(detail: &str) -> RegistryError {
    RegistryError::InvalidSeatCheck(detail.to_owned())
}
