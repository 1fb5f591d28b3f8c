//! The listeners: FLV through the edge's relay (the shared FLV listener,
//! reconnecting like a player) and HLS through the edge (a playlist poller),
//! both decoding what they get and noting each click's symbol with the
//! moment it was heard. Which click a symbol was is settled after the run,
//! once every hand-over is known (`analysis::Handovers::identify`).

use super::track::SymbolEar;
use crate::aac::Decoder;
use crate::listener::{self, FrameSink, Plan};
use crate::playlist;
use crate::ts::TsDemuxer;
use reqwest::Url;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::{interval, Instant, MissedTickBehavior};

/// AAC-LC, 48 kHz, stereo: for a response whose sequence header was not seen.
const DEFAULT_AUDIO_SPECIFIC_CONFIG: [u8; 2] = [0x11, 0x90];
/// An HLS player reloads its playlist about once per target duration (1 s
/// segments here); twice as often keeps "heard" close to "playable".
const PLAYLIST_POLL: Duration = Duration::from_millis(500);
const HLS_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// A player starts this many segments behind the newest (hls.js: 3 target durations).
const HLS_START_SEGMENTS: usize = 3;

/// What a listener noted while it ran.
#[derive(Debug, Default)]
pub struct Notes {
    /// (symbol, when it was decoded).
    pub symbols: Vec<(u64, Instant)>,
    /// When each FLV response began delivering, or HLS playlists came back.
    pub connects: Vec<Instant>,
}

pub type Shared = Arc<Mutex<Notes>>;

/// Decodes FLV audio as it arrives.
struct FlvEar {
    notes: Shared,
    decoder: Option<Decoder>,
    ear: SymbolEar,
}

impl FrameSink for FlvEar {
    fn connected(&mut self) {
        self.notes
            .lock()
            .expect("notes")
            .connects
            .push(Instant::now());
        self.decoder = None;
        self.ear.reset();
    }

    fn sequence_header(&mut self, audio_specific_config: &[u8]) {
        self.decoder = Decoder::new(audio_specific_config).ok();
    }

    fn frame(&mut self, _arrived: Instant, frame: &[u8]) {
        if self.decoder.is_none() {
            self.decoder = Decoder::new(&DEFAULT_AUDIO_SPECIFIC_CONFIG).ok();
        }
        let Some(decoder) = self.decoder.as_mut() else {
            return;
        };
        let channels = decoder.channels();
        let Ok(samples) = decoder.decode(frame) else {
            self.ear.reset();
            return;
        };
        let symbols = self.ear.feed(samples, channels);
        if !symbols.is_empty() {
            let now = Instant::now();
            let mut notes = self.notes.lock().expect("notes");
            notes
                .symbols
                .extend(symbols.into_iter().map(|symbol| (symbol, now)));
        }
    }
}

/// Plays `url` until `until`, reconnecting like a player (0.3–1.0 s after
/// a failure, spread by `index`).
pub async fn listen_flv(
    client: reqwest::Client,
    url: String,
    index: usize,
    until: Instant,
    notes: Shared,
) {
    let plan = Plan {
        url,
        alternates: Vec::new(),
        leaves_when_cut: false,
        until,
        window: None,
        max_tries: u32::MAX,
        stall: Duration::from_secs(3),
        retry_delay: listener::spread_retry_delay(index),
    };
    let mut ear = FlvEar {
        notes,
        decoder: None,
        ear: SymbolEar::default(),
    };
    listener::listen(&client, &plan, &mut ear).await;
}

/// Polls the playlist at `url` until `stop`, fetching each new segment once
/// (after an engine restart the numbering starts again: so does the reader).
pub async fn listen_hls(client: reqwest::Client, url: Url, stop: Arc<AtomicBool>, notes: Shared) {
    let mut ticker = interval(PLAYLIST_POLL);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last: Option<u64> = None;
    let mut streak = false;
    let mut decoder: Option<(Decoder, [u8; 2])> = None;
    let mut ear = SymbolEar::default();
    while !stop.load(Ordering::Acquire) {
        ticker.tick().await;
        let Some(body) = crate::clients::body_of_ok(&client, &url, HLS_REQUEST_TIMEOUT).await
        else {
            streak = false;
            continue;
        };
        if !streak {
            streak = true;
            notes.lock().expect("notes").connects.push(Instant::now());
        }
        let listed = playlist::parse(&String::from_utf8_lossy(&body), &url);
        let newest = listed.segments.last().map(|segment| segment.sequence);
        if newest.zip(last).is_some_and(|(newest, last)| newest < last) {
            last = None;
        }
        let skip = if last.is_none() {
            listed.segments.len().saturating_sub(HLS_START_SEGMENTS)
        } else {
            0
        };
        for segment in listed.segments.iter().skip(skip) {
            if last.is_some_and(|last| segment.sequence <= last) {
                continue;
            }
            if last.is_none_or(|last| segment.sequence != last + 1) {
                ear.reset();
            }
            last = Some(segment.sequence);
            let mut body = None;
            for _ in 0..2 {
                body = crate::clients::body_of_ok(&client, &segment.url, HLS_REQUEST_TIMEOUT).await;
                if body.is_some() {
                    break;
                }
            }
            let Some(body) = body else {
                ear.reset();
                continue;
            };
            let symbols = decode_segment(&body, &mut decoder, &mut ear);
            let now = Instant::now();
            let mut notes = notes.lock().expect("notes");
            notes
                .symbols
                .extend(symbols.into_iter().map(|symbol| (symbol, now)));
        }
    }
}

/// The symbols in one MPEG-TS segment's audio, continuing `ear`.
fn decode_segment(
    segment: &[u8],
    decoder: &mut Option<(Decoder, [u8; 2])>,
    ear: &mut SymbolEar,
) -> Vec<u64> {
    let mut demuxer = TsDemuxer::default();
    let mut frames = demuxer.push(segment);
    frames.extend(demuxer.finish());
    let mut symbols = Vec::new();
    for frame in frames {
        let config = frame.audio_specific_config;
        if decoder.as_ref().map(|(_, known)| *known) != Some(config) {
            *decoder = Decoder::new(&config).ok().map(|made| (made, config));
        }
        let Some((decoder, _)) = decoder.as_mut() else {
            continue;
        };
        let channels = decoder.channels();
        match decoder.decode(&frame.payload) {
            Ok(samples) => symbols.extend(ear.feed(samples, channels)),
            Err(_) => ear.reset(),
        }
    }
    symbols
}
