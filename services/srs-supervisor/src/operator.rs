//! Operators and the public: SRS's stats carry its pid, memory, load and exact
//! build, which help an attacker more than a listener. The edge serves this
//! API publicly, so those parts are only for whoever shows the operators' key.

use crate::configuration::OperatorSettings;
use actix_web::http::header::AUTHORIZATION;
use actix_web::HttpRequest;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use vibes_tokens::KeyDigest;

pub struct OperatorKey {
    digest: Option<KeyDigest>,
}

impl OperatorKey {
    pub fn new(settings: &OperatorSettings) -> Self {
        let token = settings.token.expose_secret();
        Self {
            digest: (!token.is_empty()).then(|| KeyDigest::of(token)),
        }
    }

    /// Whether `request` shows the key (`Authorization: Bearer <key>`).
    pub fn shown_by(&self, request: &HttpRequest) -> bool {
        let Some(digest) = &self.digest else {
            return false;
        };
        request
            .headers()
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .is_some_and(|presented| digest.accepts(presented.trim()))
    }
}

/// What the public sees of an SRS answer: no pid in the envelope; for
/// `versions` only the major version, for `summaries` only whether SRS is up
/// and its clock.
pub fn public_view(resource: &str, mut answer: Value) -> Value {
    if let Some(envelope) = answer.as_object_mut() {
        envelope.remove("pid");
    }
    match resource {
        "versions" => answer["data"] = json!({ "major": answer["data"]["major"] }),
        "summaries" => {
            answer["data"] = json!({
                "ok": answer["data"]["ok"],
                "now_ms": answer["data"]["now_ms"],
            })
        }
        _ => {}
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_sees_no_pid_memory_load_or_exact_build() {
        let versions = json!({"code": 0, "pid": "42", "data": {"major": 6, "minor": 0, "revision": 157, "version": "6.0.157"}});
        assert_eq!(
            public_view("versions", versions),
            json!({"code": 0, "data": {"major": 6}})
        );
        let summaries = json!({"code": 0, "pid": "42", "data": {"ok": true, "now_ms": 7,
            "self": {"pid": 42, "mem_kbyte": 1}, "system": {"load_1m": 0.5}}});
        assert_eq!(
            public_view("summaries", summaries),
            json!({"code": 0, "data": {"ok": true, "now_ms": 7}})
        );
        let streams = json!({"code": 0, "pid": "42", "streams": []});
        assert_eq!(
            public_view("streams", streams),
            json!({"code": 0, "streams": []})
        );
    }
}
