//! The app's side of the stack, through the TLS edge: a creator POSTing a
//! click track in real time, and a participant's join, which hands out the
//! playback URLs.

use crate::click::{self, HandOvers};
use crate::seats::JoinRefused;
use crate::tokens::Minter;
use std::error::Error;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::{interval, Instant};
use vibes_domain::api::{JoinResponse, PlaybackUrls};

type Failure = Box<dyn Error + Send + Sync>;

pub struct Creator {
    edge: reqwest::Client,
    edge_url: String,
    vibe: String,
    authorization: String,
}

/// How a creator posts its track.
pub struct Posting {
    pub chunk: Duration,
    /// Silence after the track, so its last clicks get through the encoder
    /// (and, for HLS, into a closed segment).
    pub tail: Duration,
    /// Posting stops here, wherever it is in the track.
    pub give_up: Instant,
}

impl Creator {
    pub fn new(edge: reqwest::Client, edge_url: &str, vibe: &str, minter: &Minter) -> Self {
        Self {
            edge,
            edge_url: edge_url.to_owned(),
            vibe: vibe.to_owned(),
            authorization: minter.creator(vibe),
        }
    }

    /// POSTs one chunk per `posting.chunk`, in real time: silence until
    /// `start` is set, then the click track (noting when each click was
    /// handed over: the POST's start + its offset in the chunk), then
    /// `posting.tail` of silence. `first_post` fires once the first chunk
    /// was answered (the stream exists). Returns how many chunks were refused.
    pub async fn post_track(
        &self,
        hand_overs: &HandOvers,
        start: &AtomicBool,
        posting: &Posting,
        first_post: oneshot::Sender<()>,
    ) -> u32 {
        let chunk_frames = click::frames(posting.chunk);
        let silence = vec![0u8; click::pcm_bytes(chunk_frames)];
        let end = hand_overs.track().length_frames() + click::frames(posting.tail);
        let audio_url = format!("{}/stream/{}/audio", self.edge_url, self.vibe);
        let mut ticker = interval(posting.chunk);
        let mut position: Option<u64> = None;
        let mut first_post = Some(first_post);
        let mut refused = 0;
        while Instant::now() < posting.give_up {
            ticker.tick().await;
            if position.is_none() && start.load(Ordering::Acquire) {
                position = Some(0);
            }
            let (pcm, track_start) = match position {
                Some(at) if at >= end => break,
                Some(at) => (hand_overs.track().render(at, chunk_frames), Some(at)),
                None => (silence.clone(), None),
            };
            let posted_at = Instant::now();
            let answer = self
                .edge
                .post(&audio_url)
                .header("authorization", &self.authorization)
                .header("content-type", "application/octet-stream")
                .body(pcm)
                .send()
                .await;
            match answer {
                Ok(response) if response.status() == 202 => {}
                Ok(response) => {
                    refused += 1;
                    eprintln!(
                        "creator of {}: chunk refused: {} {}",
                        self.vibe,
                        response.status(),
                        response.text().await.unwrap_or_default()
                    );
                }
                Err(error) => {
                    refused += 1;
                    eprintln!("creator of {}: chunk not sent: {error}", self.vibe);
                }
            }
            if let Some(at) = track_start {
                hand_overs.record(at, chunk_frames, posted_at);
                position = Some(at + chunk_frames);
            }
            if let Some(first_post) = first_post.take() {
                let _ = first_post.send(());
            }
        }
        refused
    }

    /// Ends the stream (`DELETE /stream/{id}`), as the app does.
    pub async fn end(&self) {
        let _ = self
            .edge
            .delete(format!("{}/stream/{}", self.edge_url, self.vibe))
            .header("authorization", &self.authorization)
            .send()
            .await;
    }
}

/// `POST /stream/{id}/join` as participant `participant`: its playback URLs,
/// or a [`JoinRefused`] with the status (e.g. 409 when the stream is full).
pub async fn join(
    edge: &reqwest::Client,
    edge_url: &str,
    vibe: &str,
    participant: &str,
    minter: &Minter,
) -> Result<PlaybackUrls, Failure> {
    let response = edge
        .post(format!("{edge_url}/stream/{vibe}/join"))
        .header("authorization", minter.participant(participant))
        .send()
        .await?;
    let status = response.status();
    if status != 200 {
        let body = response.text().await.unwrap_or_default();
        return Err(Box::new(JoinRefused {
            status: status.as_u16(),
            what: format!("join: {status} {body}"),
        }));
    }
    let joined: JoinResponse = response.json().await?;
    Ok(joined.playback)
}
