//! `GET /live/{vibe}/{file}`: the playlists (started lazily, blocking
//! reloads) and the media they name.

use crate::error::PackagerError;
use crate::media_file::MediaFile;
use crate::playlist::{self, Kind};
use crate::stream::PackagedStream;
use crate::streams::Streams;
use crate::timeline::{Lookup, Reload, Timeline};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use std::sync::Arc;
use std::time::{Duration, Instant};
use vibes_web::VibePath;

const PLAYLIST_TYPE: &str = "application/vnd.apple.mpegurl";
const MEDIA_TYPE: &str = "audio/mp4";

/// `_HLS_msn` and `_HLS_part` (RFC 8216bis 6.2.5.2), read from the raw query:
/// decimal digits exactly, each at most once (no percent-encoding, no sign),
/// so the edge's cache key and this parse can never disagree.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Directives {
    pub msn: Option<u64>,
    pub part: Option<u64>,
}

impl Directives {
    pub fn parse(query: &str) -> Result<Self, PackagerError> {
        let mut directives = Self::default();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match name {
                "_HLS_msn" => &mut directives.msn,
                "_HLS_part" => &mut directives.part,
                // _HLS_skip: no delta updates are offered (no CAN-SKIP-UNTIL),
                // so RFC 8216bis 6.2.5.1 says to ignore it; other
                // parameters are not ours.
                _ => continue,
            };
            if slot.is_some() {
                return Err(PackagerError::InvalidDirective(
                    "each directive may appear once",
                ));
            }
            let digits = !value.is_empty()
                && value.len() <= 20
                && value.bytes().all(|byte| byte.is_ascii_digit());
            *slot = Some(value.parse().ok().filter(|_| digits).ok_or(
                PackagerError::InvalidDirective("_HLS_msn and _HLS_part are decimal integers"),
            )?);
        }
        if directives.part.is_some() && directives.msn.is_none() {
            return Err(PackagerError::InvalidDirective("_HLS_part needs _HLS_msn"));
        }
        Ok(directives)
    }
}

#[tracing::instrument(name = "hls_request", skip_all, fields(vibe_id = %vibe.0, file = %path.1))]
pub async fn serve(
    request: HttpRequest,
    vibe: VibePath,
    path: web::Path<(String, String)>,
    streams: web::Data<Arc<Streams>>,
) -> Result<HttpResponse, PackagerError> {
    let file = MediaFile::parse(&path.1).ok_or(PackagerError::NoSuchFile)?;
    let vibe = vibe.0;
    match file {
        MediaFile::LowLatencyPlaylist => {
            let directives = Directives::parse(request.query_string())?;
            let stream = streams
                .get_or_start(&vibe)
                .map_err(|full| PackagerError::AtCapacity(full.0))?;
            playlist(
                &stream,
                Kind::LowLatency,
                directives,
                streams.settings().first_segment_wait,
            )
            .await
        }
        MediaFile::ClassicPlaylist => {
            let stream = streams
                .get_or_start(&vibe)
                .map_err(|full| PackagerError::AtCapacity(full.0))?;
            let first_wait = streams.settings().first_segment_wait;
            playlist(&stream, Kind::Classic, Directives::default(), first_wait).await
        }
        MediaFile::Init { run } => {
            let stream = streams.get(&vibe).ok_or(PackagerError::NoSuchFile)?;
            let init = stream
                .timeline()
                .init(&run)
                .ok_or(PackagerError::NoSuchFile)?;
            Ok(media(init))
        }
        MediaFile::Segment { run, msn } => {
            let stream = streams.get(&vibe).ok_or(PackagerError::NoSuchFile)?;
            wait_for_media(&stream, |timeline| timeline.whole_segment(&run, msn)).await
        }
        MediaFile::Part { run, msn, index } => {
            let stream = streams.get(&vibe).ok_or(PackagerError::NoSuchFile)?;
            wait_for_media(&stream, |timeline| timeline.part(&run, msn, index)).await
        }
    }
}

/// RFC 8216bis 6.2.5.2: a blocked request gives up after 3 target durations.
fn blocking_limit(timeline: &Timeline) -> Duration {
    let target = timeline
        .layout()
        .map_or(1, |layout| layout.target_duration());
    Duration::from_secs(3 * target)
}

async fn playlist(
    stream: &PackagedStream,
    kind: Kind,
    directives: Directives,
    first_segment_wait: Duration,
) -> Result<HttpResponse, PackagerError> {
    // A stream's first request waits for its first whole segment, so a
    // player never starts from an empty playlist.
    let started = stream
        .wait_for(first_segment_wait, |timeline| {
            (timeline.has_complete_segment() || timeline.is_ended()).then_some(())
        })
        .await;
    if started.is_none() {
        return Err(PackagerError::StreamStarting);
    }
    if let Some(msn) = directives.msn {
        let waited = Instant::now();
        let (state, limit) = {
            let timeline = stream.timeline();
            (
                timeline.reload(msn, directives.part),
                blocking_limit(&timeline),
            )
        };
        match state {
            Reload::TooFarAhead => return Err(PackagerError::TooFarAhead),
            Reload::Ready => {}
            Reload::Wait => {
                let ready = stream
                    .wait_for(limit, |timeline| {
                        match timeline.reload(msn, directives.part) {
                            Reload::Wait => None,
                            other => Some(other),
                        }
                    })
                    .await;
                let outcome = if ready.is_some() {
                    "ready"
                } else {
                    "timed_out"
                };
                metrics::histogram!("vibes_hls_packager_blocking_wait_seconds", "outcome" => outcome)
                    .record(waited.elapsed().as_secs_f64());
                match ready {
                    None => return Err(PackagerError::PlaylistNotReady),
                    Some(Reload::TooFarAhead) => return Err(PackagerError::TooFarAhead),
                    Some(_) => {}
                }
            }
        }
    }
    let text = {
        let timeline = stream.timeline();
        if kind == Kind::Classic && !timeline.has_complete_segment() {
            None
        } else {
            playlist::render(&timeline, kind)
        }
    };
    // Ended without ever playing: the engine has no such stream.
    let text = text.ok_or(PackagerError::StreamNotLive)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, PLAYLIST_TYPE))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(text))
}

/// A part or segment: at once if it exists, after waiting if it is about
/// to (a preload hint), 404 if it never will.
async fn wait_for_media(
    stream: &PackagedStream,
    lookup: impl Fn(&Timeline) -> Lookup,
) -> Result<HttpResponse, PackagerError> {
    let limit = blocking_limit(&stream.timeline());
    let found = stream
        .wait_for(limit, |timeline| match lookup(timeline) {
            Lookup::Found(bytes) => Some(Some(bytes)),
            Lookup::Gone => Some(None),
            Lookup::Coming => None,
        })
        .await;
    match found {
        Some(Some(bytes)) => Ok(media(bytes)),
        Some(None) => Err(PackagerError::NoSuchFile),
        None => Err(PackagerError::PartNotReady),
    }
}

/// Media never change under their name (every name carries its run's id).
fn media(bytes: Bytes) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, MEDIA_TYPE))
        .insert_header((header::CACHE_CONTROL, "public, max-age=60, immutable"))
        .body(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(query: &str) -> String {
        vibes_problem::ToProblem::code(&Directives::parse(query).unwrap_err())
            .as_str()
            .to_owned()
    }

    #[test]
    fn directives_are_plain_decimal_integers() {
        assert_eq!(Directives::parse("").unwrap(), Directives::default());
        assert_eq!(
            Directives::parse("_HLS_msn=17&_HLS_part=2").unwrap(),
            Directives {
                msn: Some(17),
                part: Some(2)
            }
        );
        assert_eq!(
            Directives::parse("_HLS_skip=YES&_HLS_msn=3&other=x").unwrap(),
            Directives {
                msn: Some(3),
                part: None
            }
        );
        for bad in [
            "_HLS_part=1",
            "_HLS_msn=-1",
            "_HLS_msn=+1",
            "_HLS_msn=%31",
            "_HLS_msn=1.0",
            "_HLS_msn=",
            "_HLS_msn",
            "_HLS_msn=1&_HLS_msn=2",
            "_HLS_msn=1&_HLS_part=x",
            "_HLS_msn=99999999999999999999999",
        ] {
            assert_eq!(code(bad), "invalid_reload_directive", "{bad}");
        }
    }
}
