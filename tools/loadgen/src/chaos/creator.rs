//! A creator app: one 2 s chunk of the symbol track every 2 s, POSTed
//! through the edge with `X-Chunk-Seq`; a chunk that is not accepted is
//! sent again with the same number (after `Retry-After`, or 0.5 s), as an
//! app that must not lose a moment of its music would, until it is more
//! than `GIVE_UP` old; then the app moves on and that chunk is not counted
//! as accepted. What it saw goes into [`Posted`].

use super::analysis::Posted;
use super::track::{render_chunk, CHUNK};
use bytes::Bytes;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::{sleep, sleep_until, Instant};

/// Five chunks behind real time: the app drops the oldest (ingest would
/// refuse a longer queue anyway).
const GIVE_UP: Duration = Duration::from_secs(10);
const RETRY_DELAY: Duration = Duration::from_millis(500);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(2);
/// One attempt; the gateway's own ingest timeout is shorter.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Creator {
    pub client: reqwest::Client,
    pub audio_url: String,
    pub authorization: String,
}

/// How one attempt ended.
enum Answer {
    Accepted,
    Duplicate,
    /// Not accepted: what came back, and how long to wait before retrying.
    Failed(String, Duration),
}

impl Creator {
    /// Posts until `posting` clears, recording into `posted`; `first`
    /// turns true once the first chunk is accepted (the stream is live).
    pub async fn run(
        self,
        posting: Arc<AtomicBool>,
        posted: Arc<Mutex<Posted>>,
        first: Arc<AtomicBool>,
    ) {
        let started = Instant::now();
        for seq in 0u64.. {
            sleep_until(started + CHUNK * seq as u32).await;
            if !posting.load(Ordering::Acquire) {
                return;
            }
            let pcm = Bytes::from(render_chunk(seq));
            let first_attempt = Instant::now();
            let handover = loop {
                if !posting.load(Ordering::Acquire) {
                    return;
                }
                let attempt = Instant::now();
                match self.post(seq, pcm.clone()).await {
                    Answer::Accepted => break Some(attempt),
                    Answer::Duplicate => {
                        posted
                            .lock()
                            .expect("posted")
                            .duplicates
                            .push(Instant::now());
                        break Some(first_attempt);
                    }
                    Answer::Failed(what, wait) => {
                        let now = Instant::now();
                        posted.lock().expect("posted").errors.push((now, what));
                        if now + wait > first_attempt + GIVE_UP {
                            posted.lock().expect("posted").given_up.push(now);
                            break None;
                        }
                        sleep(wait).await;
                    }
                }
            };
            if handover.is_some() {
                first.store(true, Ordering::Release);
            }
            let mut posted = posted.lock().expect("posted");
            let chunks = &mut posted.handovers.chunks;
            chunks.resize(seq as usize, None);
            chunks.push(handover);
        }
    }

    async fn post(&self, seq: u64, pcm: Bytes) -> Answer {
        let sent = self
            .client
            .post(&self.audio_url)
            .header("authorization", &self.authorization)
            .header("content-type", "application/octet-stream")
            .header("x-chunk-seq", seq.to_string())
            .timeout(ATTEMPT_TIMEOUT)
            .body(pcm)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => {
                let kind = if error.is_timeout() {
                    "no answer within 5 s"
                } else if error.is_connect() {
                    "could not connect"
                } else {
                    "connection failed"
                };
                return Answer::Failed(kind.to_owned(), RETRY_DELAY);
            }
        };
        match response.status().as_u16() {
            202 => return Answer::Accepted,
            200 => return Answer::Duplicate,
            _ => {}
        }
        let status = response.status().as_u16();
        let wait = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok()?.parse::<u64>().ok())
            .map_or(RETRY_DELAY, |seconds| {
                Duration::from_secs(seconds).min(MAX_RETRY_DELAY)
            });
        let body = response.bytes().await.unwrap_or_default();
        Answer::Failed(answer_name(status, &body), wait)
    }
}

/// `503 code` from a problem+json body, or the bare status.
pub fn answer_name(status: u16, body: &[u8]) -> String {
    let code = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|problem| problem.get("code")?.as_str().map(str::to_owned));
    match code {
        Some(code) => format!("{status} {code}"),
        None => format!("{status}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_answers_are_named_by_status_and_problem_code() {
        let problem = br#"{"type":"urn:vibes:problem:stream_owner_unavailable","status":503,"code":"stream_owner_unavailable"}"#;
        assert_eq!(answer_name(503, problem), "503 stream_owner_unavailable");
        assert_eq!(answer_name(502, b"<html>bad gateway</html>"), "502");
        assert_eq!(answer_name(500, br#"{"code":7}"#), "500");
    }
}
