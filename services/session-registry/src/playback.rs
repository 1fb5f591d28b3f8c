//! Playback URLs and the tokens inside them.
//!
//! A listener's URLs put the token in the path, before the engine's own path:
//! `/live/<token>/<vibe>.flv`, `/live/<token>/<vibe>/<vibe>.m3u8` and the
//! hls-packager's `/live/<token>/<vibe>/index.ll.m3u8`. HLS media URLs are
//! relative to their playlist, so they carry the token too.
//! The edge parses a media URL once and asks with exactly the token and the
//! stream it will serve (it never forwards the path for a second parse here),
//! then strips the token before asking the engine.

use std::time::SystemTime;
use vibes_domain::api::PlaybackUrls;
use vibes_domain::{ParticipantId, VibeId};
use vibes_tokens::{EdgeRelayKey, PlaybackTokenError, PlaybackTokens};

pub struct Playback {
    base_url: String,
    tokens: PlaybackTokens,
    edge_relay_key: Option<EdgeRelayKey>,
}

impl Playback {
    pub fn new(
        public_base_url: &str,
        tokens: PlaybackTokens,
        edge_relay_key: Option<EdgeRelayKey>,
    ) -> Self {
        Self {
            base_url: public_base_url.trim_end_matches('/').to_owned(),
            tokens,
            edge_relay_key,
        }
    }

    pub fn tokens(&self) -> &PlaybackTokens {
        &self.tokens
    }

    /// Whether `key` is the edge's relay key (never, when none is configured).
    pub fn is_edge_relay_key(&self, key: &str) -> bool {
        self.edge_relay_key
            .as_ref()
            .is_some_and(|configured| configured.accepts(key))
    }

    /// The URLs a participant plays, with a fresh token.
    pub fn urls_for(&self, vibe: &VibeId, participant: &ParticipantId) -> PlaybackUrls {
        let token = self.tokens.mint(vibe, participant, SystemTime::now());
        urls(&format!("{}/live/{token}", self.base_url), vibe)
    }

    /// The URLs without a token, for listings: they show where a stream
    /// plays, and only work after a join.
    pub fn public_urls(&self, vibe: &VibeId) -> PlaybackUrls {
        urls(&format!("{}/live", self.base_url), vibe)
    }

    /// Checks `token` for `vibe`, the two values the edge parsed from one
    /// media URL, and returns who may play what.
    pub fn authorize(
        &self,
        token: &str,
        vibe: &str,
    ) -> Result<(VibeId, ParticipantId), PlaybackTokenError> {
        let vibe = VibeId::parse(vibe).map_err(|_| PlaybackTokenError::Malformed)?;
        let participant = self.tokens.verify(&vibe, token, SystemTime::now())?;
        Ok((vibe, participant))
    }
}

fn urls(prefix: &str, vibe: &VibeId) -> PlaybackUrls {
    PlaybackUrls {
        flv: format!("{prefix}/{vibe}.flv"),
        hls: format!("{prefix}/{vibe}/{vibe}.m3u8"),
        ll_hls: format!("{prefix}/{vibe}/index.ll.m3u8"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;
    use std::time::Duration;

    fn playback() -> Playback {
        let secret = SecretString::from("a test secret of at least 32 bytes".to_owned());
        let tokens = PlaybackTokens::new(secret, Duration::from_secs(60)).unwrap();
        Playback::new("https://edge.example:8443/", tokens, None)
    }

    #[test]
    fn participant_urls_carry_a_token_that_authorizes_flv_playlist_and_segments() {
        let playback = playback();
        let vibe = VibeId::parse("v1").unwrap();
        let participant = ParticipantId::parse("p1").unwrap();
        let urls = playback.urls_for(&vibe, &participant);
        let flv_path = urls.flv.strip_prefix("https://edge.example:8443").unwrap();
        let token = flv_path.split('/').nth(2).unwrap();
        assert_eq!(flv_path, format!("/live/{token}/v1.flv"));
        assert!(urls.hls.ends_with(&format!("/live/{token}/v1/v1.m3u8")));
        assert!(urls
            .ll_hls
            .ends_with(&format!("/live/{token}/v1/index.ll.m3u8")));

        assert_eq!(
            playback.authorize(token, "v1"),
            Ok((vibe.clone(), participant.clone()))
        );
        assert_eq!(
            playback.authorize(token, "v2"),
            Err(PlaybackTokenError::BadSignature),
            "a token plays only its own stream"
        );
    }

    #[test]
    fn a_stream_that_is_no_stream_id_or_a_token_of_another_shape_is_malformed() {
        let playback = playback();
        let token = playback
            .urls_for(
                &VibeId::parse("v1").unwrap(),
                &ParticipantId::parse("p1").unwrap(),
            )
            .flv;
        let token = token.split('/').nth(4).unwrap();
        for (token, vibe) in [
            (token, "bad.id"),
            (token, "v1/../v2"),
            (token, ""),
            ("t", "v1"),
            ("", "v1"),
        ] {
            assert_eq!(
                playback.authorize(token, vibe),
                Err(PlaybackTokenError::Malformed),
                "{token} {vibe}"
            );
        }
    }

    #[test]
    fn listings_show_urls_without_tokens() {
        let urls = playback().public_urls(&VibeId::parse("v1").unwrap());
        assert_eq!(urls.flv, "https://edge.example:8443/live/v1.flv");
        assert_eq!(urls.hls, "https://edge.example:8443/live/v1/v1.m3u8");
        assert_eq!(
            urls.ll_hls,
            "https://edge.example:8443/live/v1/index.ll.m3u8"
        );
    }
}
