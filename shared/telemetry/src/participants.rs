//! Participant ids are personal data (a listener's account id, the token's
//! `sub`), and traces and logs travel to stores with other retention and
//! access rules than Redis. So spans and log fields carry a participant id
//! the way the process is configured to show it: hashed (the default), plain,
//! or not at all.
//!
//! The hash is the first 16 hex digits of SHA-256 over the id, so on-call can
//! compute it for a known participant without any secret:
//! `printf %s "$PARTICIPANT" | sha256sum | cut -c1-16`. It keeps ids out of
//! sight and lets one participant's traces be found; it does not stop someone
//! who can guess ids from confirming a guess — choose `omitted` for that.

use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicU8, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParticipantIds {
    #[default]
    Hashed,
    Plain,
    Omitted,
}

static SHOWN_AS: AtomicU8 = AtomicU8::new(ParticipantIds::Hashed as u8);

/// Sets how this process shows participant ids from now on.
pub fn show_participant_ids(mode: ParticipantIds) {
    SHOWN_AS.store(mode as u8, Ordering::Relaxed);
}

fn shown_as() -> ParticipantIds {
    match SHOWN_AS.load(Ordering::Relaxed) {
        mode if mode == ParticipantIds::Plain as u8 => ParticipantIds::Plain,
        mode if mode == ParticipantIds::Omitted as u8 => ParticipantIds::Omitted,
        _ => ParticipantIds::Hashed,
    }
}

/// The value for a `participant_id` span or log field; `None` leaves the
/// field out.
pub fn participant_field(participant_id: &str) -> Option<String> {
    shown_as().show(participant_id)
}

impl ParticipantIds {
    pub fn show(self, participant_id: &str) -> Option<String> {
        match self {
            Self::Hashed => Some(hash(participant_id)),
            Self::Plain => Some(participant_id.to_owned()),
            Self::Omitted => None,
        }
    }
}

fn hash(participant_id: &str) -> String {
    let digest = Sha256::digest(participant_id.as_bytes());
    digest[..8]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_mode_shows_the_id_its_own_way() {
        // `printf %s listener-1 | sha256sum | cut -c1-16`
        assert_eq!(
            ParticipantIds::Hashed.show("listener-1").as_deref(),
            Some("93c4d64a4743bde5")
        );
        assert_eq!(
            ParticipantIds::Plain.show("listener-1").as_deref(),
            Some("listener-1")
        );
        assert_eq!(ParticipantIds::Omitted.show("listener-1"), None);
    }

    #[test]
    fn the_mode_is_read_from_settings_by_name() {
        #[derive(Deserialize)]
        struct Settings {
            participant_ids: ParticipantIds,
        }
        let parsed: Settings = serde_json::from_str(r#"{"participant_ids":"omitted"}"#).unwrap();
        assert_eq!(parsed.participant_ids, ParticipantIds::Omitted);
    }
}
