//! Every problem code anything in the stack answers with, the edge's own
//! included: its HTTP status, its title, who answers it, whether the client
//! sees the error's message as `detail`, and when it happens. The OpenAPI
//! error responses and `docs/errors.md` are generated from this table, so a
//! code cannot be answered without being documented.

use actix_web::http::StatusCode;

/// A part of the stack that answers with problems.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    /// nginx, from `nginx/edge.conf.template`.
    Edge,
    Gateway,
    SessionRegistry,
    Ingest,
    SrsSupervisor,
    HlsPackager,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Self::Edge => "edge",
            Self::Gateway => "gateway",
            Self::SessionRegistry => "session-registry",
            Self::Ingest => "ingest",
            Self::SrsSupervisor => "srs-supervisor",
            Self::HlsPackager => "hls-packager",
        }
    }
}

/// Whether the client is told the error's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// The message says what was wrong with the request: `detail` carries it.
    Shown,
    /// The message would name internal addresses or quote Redis and HTTP
    /// client errors: there is no `detail`, and the whole cause chain goes
    /// to the service's log instead.
    Withheld,
}

/// Declares [`Code`] and its table: one line per code, its doc comment being
/// the "when" of the generated documentation.
macro_rules! catalogue {
    ($(
        $(#[doc = $when:literal])+
        $variant:ident = $code:literal, $status:ident, $title:literal, $detail:ident, [$($source:ident),+];
    )+) => {
        /// A stable problem code (`code`, and `type` = `urn:vibes:problem:<code>`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $( $(#[doc = $when])+ $variant, )+
        }

        impl Code {
            /// Every code, in the catalogue's order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)+ }
            }

            pub fn status(self) -> StatusCode {
                match self { $(Code::$variant => StatusCode::$status,)+ }
            }

            pub fn title(self) -> &'static str {
                match self { $(Code::$variant => $title,)+ }
            }

            pub fn detail(self) -> Detail {
                match self { $(Code::$variant => Detail::$detail,)+ }
            }

            /// Who answers with this code.
            pub fn sources(self) -> &'static [Source] {
                match self { $(Code::$variant => &[$(Source::$source),+],)+ }
            }

            /// When the code is answered, for the documentation.
            pub fn when(self) -> String {
                let lines: &[&str] = match self { $(Code::$variant => &[$($when),+],)+ };
                lines.iter().map(|line| line.trim()).collect::<Vec<_>>().join(" ")
            }
        }
    };
}

catalogue! {
    // The request itself.
    /// The `vibeId` in the path is outside `[A-Za-z0-9_-]{1,64}`.
    InvalidVibeId = "invalid_vibe_id", BAD_REQUEST, "Invalid vibeId", Shown, [Gateway, SessionRegistry, Ingest];
    /// An audio chunk with no bytes.
    EmptyBody = "empty_body", BAD_REQUEST, "Empty audio chunk", Shown, [Gateway, Ingest];
    /// Audio that is not a whole number of 4-byte s16le stereo frames.
    PartialFrame = "partial_frame", BAD_REQUEST, "Audio is not whole PCM frames", Shown, [Gateway, Ingest];
    /// Malformed JSON, unknown fields, a bad `participant_id`, or a leave
    /// without a participant token whose body names no `participant_id`.
    InvalidJson = "invalid_json", BAD_REQUEST, "Malformed JSON body", Shown, [Gateway, SessionRegistry, Ingest];
    /// `X-Chunk-Seq` is not one unsigned 64-bit number.
    InvalidChunkSeq = "invalid_chunk_seq", BAD_REQUEST, "Invalid X-Chunk-Seq", Shown, [Gateway, Ingest];
    /// A Lyria message whose audio is not base64.
    InvalidBase64 = "invalid_base64", BAD_REQUEST, "Audio is not valid base64", Shown, [Gateway, Ingest];
    /// A Lyria message without audio.
    NoAudio = "no_audio", BAD_REQUEST, "No audio in the message", Shown, [Gateway, Ingest];
    /// The request body broke off.
    BodyUnreadable = "body_unreadable", BAD_REQUEST, "Request body unreadable", Shown, [Gateway, SessionRegistry, Ingest];
    /// A media URL that is not exactly as the join handed it out: percent-encoding,
    /// dot or empty segments, `;`, `\`, non-ASCII or overlong.
    MediaUrlNotCanonical = "media_url_not_canonical", BAD_REQUEST, "Media URL not canonical", Shown, [Edge];
    /// Audio over 1 MiB or JSON over 2 MiB (`limit_bytes` says which); the
    /// edge refuses bodies over 2 MiB with the same code.
    BodyTooLarge = "body_too_large", PAYLOAD_TOO_LARGE, "Body too large", Shown, [Edge, Gateway, SessionRegistry, Ingest];
    /// Audio not `application/octet-stream` or `application/json`, JSON not
    /// `application/json`.
    UnsupportedContentType = "unsupported_content_type", UNSUPPORTED_MEDIA_TYPE, "Unsupported content type", Shown, [Gateway, SessionRegistry, Ingest];
    /// A Lyria chunk whose `mimeType` is not 16-bit PCM, 48 kHz, stereo.
    UnsupportedAudioFormat = "unsupported_audio_format", UNSUPPORTED_MEDIA_TYPE, "Unsupported audio format", Shown, [Gateway, Ingest];
    /// No such route (or stream path, or file of a stream).
    NotFound = "not_found", NOT_FOUND, "Not found", Shown, [Edge, Gateway, SessionRegistry, Ingest, SrsSupervisor, HlsPackager];
    /// A write to a read-only route of the edge (the engine's stats API).
    MethodNotAllowed = "method_not_allowed", METHOD_NOT_ALLOWED, "Method not allowed", Shown, [Edge];

    // Who is asking.
    /// No bearer token.
    TokenMissing = "token_missing", UNAUTHORIZED, "Token missing", Shown, [Gateway];
    /// A token that is malformed, forged, or breaks the rules; `reason` says
    /// which: `unverifiable`, `claim_missing` (with `claim`), `wrong_audience`,
    /// `wrong_issuer`, `lifetime_too_long`, `issued_in_future`.
    TokenInvalid = "token_invalid", UNAUTHORIZED, "Token invalid", Shown, [Gateway];
    /// An expired token.
    TokenExpired = "token_expired", UNAUTHORIZED, "Token expired", Shown, [Gateway];
    /// A token of the other role (a creator joining, a participant sending audio).
    WrongRole = "wrong_role", FORBIDDEN, "Token of the wrong role", Shown, [Gateway];
    /// A creator token for another stream.
    WrongVibe = "wrong_vibe", FORBIDDEN, "Token for another stream", Shown, [Gateway];
    /// A body naming another participant than the token.
    WrongParticipant = "wrong_participant", FORBIDDEN, "Not your participant id", Shown, [Gateway];
    /// The client's budget for this kind of request is spent; `Retry-After`
    /// says when to come back (the edge limits some routes itself).
    RateLimited = "rate_limited", TOO_MANY_REQUESTS, "Too many requests", Shown, [Edge, Gateway];

    // Streams and seats.
    /// Join on a stream that is not live; an LL-HLS playlist of a stream
    /// the packager cannot read from the engine.
    StreamNotLive = "stream_not_live", NOT_FOUND, "Stream is not live", Shown, [SessionRegistry, HlsPackager];
    /// The stream has `max_participants` listeners (`participant_count` and
    /// `max_participants` included).
    StreamFull = "stream_full", CONFLICT, "Stream is full", Shown, [SessionRegistry];
    /// Internal, from the edge's FLV relay: a batched seat re-check whose
    /// stream header, body or number of tokens is wrong.
    InvalidSeatCheck = "invalid_seat_check", BAD_REQUEST, "Invalid seat check", Shown, [SessionRegistry];
    /// The registry's playback check: the token's participant left the stream.
    ParticipantLeft = "participant_left", FORBIDDEN, "Participant left", Shown, [SessionRegistry];
    /// A media URL without a genuine, unexpired playback token for that stream.
    PlaybackTokenInvalid = "playback_token_invalid", UNAUTHORIZED, "Playback token refused", Shown, [Edge, SessionRegistry];
    /// The participant left, the stream ended or is full: join again. The
    /// registry answers the engine's play hook with it too.
    PlaybackForbidden = "playback_forbidden", FORBIDDEN, "Playback not allowed", Shown, [Edge, SessionRegistry];

    // Audio.
    /// `X-Chunk-Seq` lower than the last accepted one (`last_seq` included).
    StaleChunkSeq = "stale_chunk_seq", CONFLICT, "Chunk already superseded", Shown, [Ingest];
    /// Audio for a stream that is being ended; send again to start a new one.
    StreamEnding = "stream_ending", CONFLICT, "Stream is ending", Shown, [Ingest];
    /// The stream's queue (16 chunks by default) is full; `Retry-After` says
    /// when to retry. Nothing of the chunk was accepted.
    BufferFull = "buffer_full", TOO_MANY_REQUESTS, "Audio buffer full", Shown, [Ingest];
    /// Internal, between ingest and the gateway, which then asks the owner
    /// (`owner`, `owner_url`): another ingest pod publishes the stream.
    NotOwner = "not_owner", MISDIRECTED_REQUEST, "Another ingest pod publishes this stream", Shown, [Ingest];
    /// Internal, between ingest and the gateway, which then asks another pod:
    /// this pod is shutting down and takes no new streams.
    Draining = "draining", MISDIRECTED_REQUEST, "Ingest pod shutting down", Shown, [Ingest];

    // LL-HLS (the packager).
    /// An LL-HLS playlist request whose `_HLS_msn`/`_HLS_part` are not decimal
    /// integers, or `_HLS_part` without `_HLS_msn`.
    InvalidReloadDirective = "invalid_reload_directive", BAD_REQUEST, "Invalid playlist delivery directive", Shown, [HlsPackager];
    /// A blocking playlist reload for more than the playlist may wait for
    /// (RFC 8216bis 6.2.5.2).
    ReloadTooFarAhead = "reload_too_far_ahead", BAD_REQUEST, "Blocking reload too far ahead", Shown, [HlsPackager];
    /// A blocking reload whose part did not come within three target
    /// durations; `Retry-After` says when to ask again.
    PlaylistNotReady = "playlist_not_ready", SERVICE_UNAVAILABLE, "Playlist not ready", Shown, [HlsPackager];
    /// A part that was not made within three target durations; `Retry-After`.
    PartNotReady = "part_not_ready", SERVICE_UNAVAILABLE, "Part not ready", Shown, [HlsPackager];
    /// The stream has no audio yet; `Retry-After` says when to retry.
    StreamStarting = "stream_starting", SERVICE_UNAVAILABLE, "Stream starting", Shown, [HlsPackager];
    /// This packager packages as many streams as it may; `Retry-After`.
    PackagerFull = "packager_full", SERVICE_UNAVAILABLE, "Packager at capacity", Shown, [HlsPackager];

    // Parts of the stack that are down; nothing was changed, `Retry-After` says when to retry.
    /// The session registry or its Redis cannot be reached: the registry
    /// answers it when Redis is down, ingest when it cannot register a new
    /// stream (its audio was not accepted), the gateway when the registry
    /// does not answer.
    RegistryUnavailable = "registry_unavailable", SERVICE_UNAVAILABLE, "Session registry unavailable", Withheld, [Gateway, SessionRegistry, Ingest];
    /// No ingest pod answered, or none took the stream.
    IngestUnavailable = "ingest_unavailable", SERVICE_UNAVAILABLE, "No ingest pod available", Withheld, [Gateway];
    /// The gateway cannot read the ingest pool (Redis) and has no earlier
    /// route for the stream.
    IngestPoolUnavailable = "ingest_pool_unavailable", SERVICE_UNAVAILABLE, "Ingest pool unavailable", Withheld, [Gateway];
    /// Ingest cannot claim a new stream (Redis unreachable); its audio was not accepted.
    OwnershipUnavailable = "ownership_unavailable", SERVICE_UNAVAILABLE, "Stream ownership unavailable", Withheld, [Ingest];
    /// A service's answer broke off on its way through the gateway.
    UpstreamBroken = "upstream_broken", BAD_GATEWAY, "Backend answer broken", Withheld, [Gateway];
    /// The media engine's own API did not answer the stats API.
    EngineApiUnavailable = "engine_api_unavailable", BAD_GATEWAY, "Engine API unavailable", Withheld, [SrsSupervisor];
    /// nginx cannot reach the gateway (or the stats API).
    EdgeUpstreamUnavailable = "edge_upstream_unavailable", SERVICE_UNAVAILABLE, "Service unavailable", Withheld, [Edge];
}

impl Code {
    /// `urn:vibes:problem:<code>`.
    pub fn problem_type(self) -> String {
        format!("urn:vibes:problem:{}", self.as_str())
    }

    /// The code named `text`, if the catalogue has it.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|code| code.as_str() == text)
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_lowercase_and_errors() {
        let mut seen = HashSet::new();
        for code in Code::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} twice");
            assert!(
                text.bytes()
                    .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_'),
                "{text}"
            );
            assert!(
                code.status().is_client_error() || code.status().is_server_error(),
                "{text}: {}",
                code.status()
            );
            assert_eq!(Code::parse(text), Some(*code));
            assert!(!code.when().is_empty() && !code.title().is_empty());
        }
    }

    #[test]
    fn codes_of_parts_that_are_down_never_show_their_cause() {
        for code in Code::ALL {
            if code.as_str().ends_with("_unavailable") || code.status().as_u16() == 502 {
                assert_eq!(code.detail(), Detail::Withheld, "{code}");
            }
        }
    }

    #[test]
    fn the_when_of_a_code_joins_its_doc_lines() {
        assert_eq!(
            Code::BodyTooLarge.when(),
            "Audio over 1 MiB or JSON over 2 MiB (`limit_bytes` says which); the \
             edge refuses bodies over 2 MiB with the same code."
        );
    }
}
