//! The key the edge shows the media engine when it opens its one connection
//! per stream that it fans out to its listeners. Such a connection holds no
//! seat: each listener holds its own and the edge re-checks it while it plays.

use secrecy::{ExposeSecret, SecretString};

use crate::key::KeyDigest;
use crate::playback::MIN_SECRET_BYTES;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the edge relay key must be at least {MIN_SECRET_BYTES} bytes (or empty: no relays)")]
pub struct WeakRelayKey;

pub struct EdgeRelayKey {
    digest: KeyDigest,
}

impl EdgeRelayKey {
    /// `None` for an empty key: then no connection counts as a relay.
    pub fn new(key: &SecretString) -> Result<Option<Self>, WeakRelayKey> {
        let key = key.expose_secret();
        match key.len() {
            0 => Ok(None),
            length if length < MIN_SECRET_BYTES => Err(WeakRelayKey),
            _ => Ok(Some(Self {
                digest: KeyDigest::of(key),
            })),
        }
    }

    /// Compares digests, so the time taken says nothing about the key.
    pub fn accepts(&self, presented: &str) -> bool {
        self.digest.accepts(presented)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(raw: &str) -> Result<Option<EdgeRelayKey>, WeakRelayKey> {
        EdgeRelayKey::new(&SecretString::from(raw.to_owned()))
    }

    #[test]
    fn only_the_configured_key_is_accepted() {
        let configured = "k".repeat(MIN_SECRET_BYTES);
        let relay = key(&configured).unwrap().expect("a key is set");
        assert!(relay.accepts(&configured));
        assert!(!relay.accepts(&"k".repeat(MIN_SECRET_BYTES - 1)));
        assert!(!relay.accepts(""));
    }

    #[test]
    fn an_empty_key_means_no_relays_and_a_short_one_is_refused() {
        assert!(key("").unwrap().is_none());
        assert_eq!(key("short").err(), Some(WeakRelayKey));
    }
}
