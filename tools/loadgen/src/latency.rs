//! POST → heard: how long after a creator hands over a moment of audio a
//! listener has it decoded, against a bare ffmpeg → engine (SRS) → FLV
//! baseline measured at the same time in the same way.
//!
//! Both paths carry the same click track (a 2 ms burst every 200 ms in
//! silence). A click's *nominal* time is when its audio was handed over at
//! the source: the start of the POST of the chunk holding it plus its offset
//! in that chunk (the stack), or the moment the 20 ms slice starting with it
//! was written to ffmpeg's stdin (the baseline). A click is *heard* when the
//! listener has decoded (AAC, in-process) the first frame in which it shows.
//! Latency = heard − nominal: what a listener hears, including the encoder's
//! own delay, the engine, the edge (TLS) and, for the stack, the API path and
//! ingest's real-time pacer.

use crate::aac::Decoder;
use crate::args::Arguments;
use crate::click::{self, ClickDetector, ClickMatcher, ClickTrack, HandOvers, SPACING};
use crate::edge::{self, Creator, Posting};
use crate::edge_metrics::{EdgeMetrics, FlvWrites, WritesWindow};
use crate::listener::{self, FrameSink, Plan};
use crate::percentiles::Percentiles;
use crate::seats;
use crate::tokens::Minter;
use serde::Serialize;
use std::error::Error;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::oneshot;
use tokio::time::{interval, sleep, Instant};

const SLICE: Duration = Duration::from_millis(20);
/// Audio the listener decodes before the clicks start.
const READY_FRAMES: u64 = 50;
/// After the source's last audio, time for the last click to reach the listener.
const LAST_CLICK_GRACE: Duration = Duration::from_millis(1500);
/// AAC-LC, 48 kHz, stereo: for a stream whose sequence header was not seen.
const DEFAULT_AUDIO_SPECIFIC_CONFIG: [u8; 2] = [0x11, 0x90];

#[derive(Debug, Serialize)]
struct PathReport {
    path: String,
    clicks_sent: u64,
    clicks_heard: u64,
    /// Heard before it was sent, or with no send time: matching went wrong.
    clicks_mismatched: u64,
    listener_connections: u64,
    decode_errors: u64,
    latency: Option<Percentiles>,
}

#[derive(Debug, Serialize)]
struct Report {
    scenario: &'static str,
    engine: String,
    chunk_ms: u64,
    click_spacing_ms: u64,
    direct: PathReport,
    through_stack: PathReport,
    /// Stack p50 ÷ direct p50 (goal ≤ 1.5).
    p50_ratio: Option<f64>,
    /// Goal: stack p99 ≤ 100 ms.
    p99_ms: Option<f64>,
    /// The edge's FLV write window (EDGE_FLV_MERGE_MS) this run had, if told.
    edge_merge_ms: Option<u64>,
    /// Tags and writes to the edge's listeners over the run (the stack's listener).
    edge_writes: Option<FlvWrites>,
    edge_tags_per_write: Option<f64>,
}

/// When each click was handed over and when it was heard.
#[derive(Clone)]
struct Clicks {
    track: ClickTrack,
    sent: HandOvers,
    heard: Arc<Mutex<Vec<(u64, Instant)>>>,
    /// Set once the listener decodes audio: the source starts the track.
    listening: Arc<AtomicBool>,
    decode_errors: Arc<AtomicU64>,
    connections: Arc<AtomicU64>,
}

impl Clicks {
    fn new(track: ClickTrack) -> Self {
        Self {
            track,
            sent: HandOvers::new(track),
            heard: Arc::new(Mutex::new(Vec::new())),
            listening: Arc::new(AtomicBool::new(false)),
            decode_errors: Arc::new(AtomicU64::new(0)),
            connections: Arc::new(AtomicU64::new(0)),
        }
    }

    fn report(&self, path: String) -> PathReport {
        let heard = self.heard.lock().expect("click log");
        let mut latencies = Vec::new();
        let mut mismatched = 0;
        for (index, heard_at) in heard.iter() {
            match self.sent.of(*index) {
                Some(sent_at) if *heard_at >= sent_at => latencies.push(*heard_at - sent_at),
                _ => mismatched += 1,
            }
        }
        PathReport {
            path,
            clicks_sent: self.sent.sent(),
            clicks_heard: heard.len() as u64,
            clicks_mismatched: mismatched,
            listener_connections: self.connections.load(Ordering::Relaxed),
            decode_errors: self.decode_errors.load(Ordering::Relaxed),
            latency: (!latencies.is_empty()).then(|| Percentiles::of(latencies)),
        }
    }
}

/// Decodes what the listener receives and notes when each click shows.
struct ClickEar {
    clicks: Clicks,
    decoder: Option<Decoder>,
    detector: ClickDetector,
    matcher: ClickMatcher,
    decoded_frames: u64,
}

impl ClickEar {
    fn new(clicks: Clicks) -> Self {
        Self {
            matcher: ClickMatcher::new(&clicks.track),
            detector: ClickDetector::new(SPACING / 2),
            clicks,
            decoder: None,
            decoded_frames: 0,
        }
    }
}

impl FrameSink for ClickEar {
    fn connected(&mut self) {
        self.clicks.connections.fetch_add(1, Ordering::Relaxed);
    }

    fn sequence_header(&mut self, audio_specific_config: &[u8]) {
        if self.decoder.is_none() {
            self.decoder = Decoder::new(audio_specific_config).ok();
        }
    }

    fn frame(&mut self, _arrived: Instant, frame: &[u8]) {
        if self.decoder.is_none() {
            self.decoder = Decoder::new(&DEFAULT_AUDIO_SPECIFIC_CONFIG).ok();
        }
        let Some(decoder) = self.decoder.as_mut() else {
            return;
        };
        let channels = decoder.channels();
        let onsets = match decoder.decode(frame) {
            Ok(samples) => self.detector.feed(samples, channels),
            Err(_) => {
                self.clicks.decode_errors.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        let decoded_at = Instant::now();
        if !onsets.is_empty() {
            let mut heard = self.clicks.heard.lock().expect("click log");
            for onset in onsets {
                heard.push((self.matcher.index_of(onset), decoded_at));
            }
        }
        self.decoded_frames += 1;
        if self.decoded_frames == READY_FRAMES {
            self.clicks.listening.store(true, Ordering::Release);
        }
    }
}

pub async fn run(arguments: &Arguments) -> Result<(), Box<dyn Error>> {
    let edge_url = arguments.url("edge-url")?;
    let certificate = arguments.text("ca-cert")?.to_owned();
    let rtmp_base = arguments.url("rtmp-base-url")?;
    let engine_flv = arguments.url("engine-flv-url")?;
    let registry_url = arguments.url("registry-url")?;
    let seconds = arguments.number("seconds", 60)?;
    let chunk = click::slice_aligned(Duration::from_millis(arguments.number("chunk-ms", 2000)?));
    let out = arguments.out_dir()?;
    let minter = Minter::from_env()?;
    let engine = arguments.engine();
    let merge_ms = arguments.optional_number("edge-merge-ms")?;
    let metrics = EdgeMetrics::new(arguments.optional_url("edge-metrics-url"))?;
    let writes_window = WritesWindow::start(metrics.as_ref()).await;

    let track = click::track_over(seconds);
    let count = track.count();
    eprintln!(
        "latency: {count} clicks over {seconds} s on two paths at once: \
         POST through the edge (chunks of {} ms) and bare ffmpeg → {engine}",
        chunk.as_millis()
    );
    let tag = std::process::id();
    let direct = Clicks::new(track);
    let stack = Clicks::new(track);
    let direct_vibe = format!("bench-latency-direct-{tag}");
    let direct_run = tokio::spawn(direct_path(
        direct.clone(),
        format!("{rtmp_base}/{direct_vibe}"),
        registry_url,
        engine_flv,
        direct_vibe,
    ));
    let edge = crate::clients::edge(&edge_url, std::path::Path::new(&certificate))?;
    let stack_run = tokio::spawn(stack_path(
        stack.clone(),
        edge,
        edge_url,
        format!("bench-latency-{tag}"),
        chunk,
        minter,
    ));
    let progress = tokio::spawn(progress(direct.clone(), stack.clone()));
    direct_run.await?.map_err(|error| error as Box<dyn Error>)?;
    stack_run.await?.map_err(|error| error as Box<dyn Error>)?;
    progress.abort();
    let edge_writes = writes_window.finish().await;

    let direct = direct.report(format!("bare ffmpeg → {engine} → FLV (no edge)"));
    let through_stack = stack.report(format!(
        "POST via edge → gateway → ingest → {engine} → edge (TLS) FLV"
    ));
    let p50 = |side: &PathReport| side.latency.as_ref().map(|latency| latency.p50_ms);
    let report = Report {
        scenario: "latency",
        engine,
        chunk_ms: chunk.as_millis() as u64,
        click_spacing_ms: SPACING.as_millis() as u64,
        p50_ratio: p50(&through_stack)
            .zip(p50(&direct))
            .map(|(stack, direct)| stack / direct),
        p99_ms: through_stack.latency.as_ref().map(|latency| latency.p99_ms),
        edge_merge_ms: merge_ms,
        edge_tags_per_write: edge_writes.and_then(FlvWrites::tags_per_write),
        edge_writes,
        direct,
        through_stack,
    };
    crate::report::write(&out, "latency", &report, &markdown(&report))?;
    if report.direct.latency.is_none() || report.through_stack.latency.is_none() {
        return Err("a path heard no click".into());
    }
    Ok(())
}

async fn progress(direct: Clicks, stack: Clicks) {
    let started = Instant::now();
    loop {
        sleep(Duration::from_secs(5)).await;
        let heard = |clicks: &Clicks| clicks.heard.lock().expect("click log").len();
        eprintln!(
            "latency: {:>3} s, clicks heard: direct {}/{}, stack {}/{}",
            started.elapsed().as_secs(),
            heard(&direct),
            direct.track.count(),
            heard(&stack),
            stack.track.count()
        );
    }
}

/// ffmpeg with ingest's arguments fed in 20 ms slices, read straight from the engine.
async fn direct_path(
    clicks: Clicks,
    rtmp_url: String,
    registry_url: String,
    engine_flv: String,
    vibe: String,
) -> Result<(), Box<dyn Error + Send + Sync>> {
    let client = crate::clients::plain()?;
    seats::register_stream(&client, &registry_url, &vibe).await?;
    let seat = seats::join(&client, &registry_url, &vibe, "bench-latency-direct").await?;
    let mut ffmpeg = tokio::process::Command::new("ffmpeg")
        .args(::ingest::encoder::ffmpeg_arguments("128k", &rtmp_url))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let stdin = ffmpeg.stdin.take().ok_or("ffmpeg stdin")?;
    let source_until = Instant::now()
        + Duration::from_secs(5)
        + click::duration_of(clicks.track.length_frames()) * 2;
    let writer = tokio::spawn(write_clicks(stdin, clicks.clone(), source_until));
    // SRS holds a player that comes before the publisher until it publishes.
    let plan = Plan {
        url: seat.engine_flv(&engine_flv, &vibe),
        alternates: Vec::new(),
        leaves_when_cut: false,
        until: source_until,
        window: None,
        max_tries: 10,
        stall: Duration::from_secs(3),
        retry_delay: Duration::from_millis(500),
    };
    let listening = tokio::spawn({
        let client = client.clone();
        async move {
            let mut ear = ClickEar::new(clicks);
            listener::listen(&client, &plan, &mut ear).await
        }
    });
    writer.await?;
    sleep(LAST_CLICK_GRACE).await;
    listening.abort();
    let _ = client
        .delete(format!("{registry_url}/internal/streams/{vibe}"))
        .send()
        .await;
    Ok(())
}

/// Silence until the listener hears the stream, then the track, then a
/// second of silence so the last click is flushed through the encoder.
async fn write_clicks(mut stdin: tokio::process::ChildStdin, clicks: Clicks, until: Instant) {
    let slice_frames = click::frames(SLICE);
    let silence = vec![0u8; click::pcm_bytes(slice_frames)];
    let mut ticker = interval(SLICE);
    let mut position: Option<u64> = None;
    let end = clicks.track.length_frames() + click::frames(Duration::from_secs(1));
    while Instant::now() < until {
        ticker.tick().await;
        if position.is_none() && clicks.listening.load(Ordering::Acquire) {
            position = Some(0);
        }
        let Some(start) = position else {
            if stdin.write_all(&silence).await.is_err() {
                return;
            }
            continue;
        };
        if start >= end {
            return;
        }
        let pcm = clicks.track.render(start, slice_frames);
        let written_at = Instant::now();
        if stdin.write_all(&pcm).await.is_err() {
            return;
        }
        clicks.sent.record(start, slice_frames, written_at);
        position = Some(start + slice_frames);
    }
}

/// A creator POSTing chunks in real time through the edge; a participant
/// joins through the edge and plays the FLV URL it is given.
async fn stack_path(
    clicks: Clicks,
    edge: reqwest::Client,
    edge_url: String,
    vibe: String,
    chunk: Duration,
    minter: Minter,
) -> Result<(), Box<dyn Error + Send + Sync>> {
    let creator = Creator::new(edge.clone(), &edge_url, &vibe, &minter);
    let end = clicks.track.length_frames() + click::frames(chunk);
    let posting = Posting {
        chunk,
        tail: chunk,
        give_up: Instant::now() + Duration::from_secs(20) + click::duration_of(end) * 2,
    };
    let (first_post, posted) = oneshot::channel();
    let listener = async {
        posted.await?;
        let playback =
            edge::join(&edge, &edge_url, &vibe, "bench-latency-listener", &minter).await?;
        let plan = Plan {
            url: playback.flv,
            alternates: Vec::new(),
            leaves_when_cut: false,
            until: posting.give_up,
            window: None,
            max_tries: 10,
            stall: Duration::from_secs(3),
            retry_delay: Duration::from_millis(500),
        };
        let (client, clicks) = (edge.clone(), clicks.clone());
        Ok::<_, Box<dyn Error + Send + Sync>>(tokio::spawn(async move {
            let mut ear = ClickEar::new(clicks);
            listener::listen(&client, &plan, &mut ear).await
        }))
    };
    let posting_run = async {
        Ok(creator
            .post_track(&clicks.sent, &clicks.listening, &posting, first_post)
            .await)
    };
    let outcome = tokio::try_join!(posting_run, listener);
    if let Ok((_, listening)) = &outcome {
        sleep(LAST_CLICK_GRACE).await;
        listening.abort();
    }
    creator.end().await;
    let (refused, _) = outcome?;
    if refused > 0 {
        eprintln!("latency: {refused} chunks were not accepted");
    }
    Ok(())
}

fn markdown(report: &Report) -> String {
    let row = |side: &PathReport| match &side.latency {
        Some(latency) => format!(
            "| {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} |\n",
            side.path,
            side.clicks_sent,
            side.clicks_heard,
            side.clicks_mismatched,
            latency.p50_ms,
            latency.p95_ms,
            latency.p99_ms,
            latency.max_ms
        ),
        None => format!(
            "| {} | {} | {} | {} | – | – | – | – |\n",
            side.path, side.clicks_sent, side.clicks_heard, side.clicks_mismatched
        ),
    };
    let number = |value: Option<f64>, digits: usize| {
        value.map_or("–".to_owned(), |value| format!("{value:.digits$}"))
    };
    format!(
        "## latency: POST → heard at an FLV listener\n\n\
         Both paths at the same time, on {engine}, each carrying a click track (a 2 ms burst every {spacing} ms in silence). \
         Latency = when the listener has decoded (AAC, in-process) the first frame showing a click − when that \
         click's audio was handed over: the POST's start + the click's offset in its {chunk} ms chunk (stack), \
         or the write of its 20 ms slice to ffmpeg's stdin (direct). The edge's FLV relay: {merge}.\n\n\
         | path | clicks sent | heard | mismatched | p50 ms | p95 ms | p99 ms | max ms |\n\
         |---|---|---|---|---|---|---|---|\n{}{}\n\
         Stack p50 ÷ direct p50: **{}** (goal ≤ 1.5). Stack p99: **{} ms** (goal ≤ 100). \
         Listener connections: direct {}, stack {}; AAC decode errors: {} / {}.\n",
        row(&report.direct),
        row(&report.through_stack),
        number(report.p50_ratio, 2),
        number(report.p99_ms, 1),
        report.direct.listener_connections,
        report.through_stack.listener_connections,
        report.direct.decode_errors,
        report.through_stack.decode_errors,
        engine = report.engine,
        spacing = report.click_spacing_ms,
        chunk = report.chunk_ms,
        merge = crate::edge_metrics::describe(report.edge_merge_ms, report.edge_writes),
    )
}
