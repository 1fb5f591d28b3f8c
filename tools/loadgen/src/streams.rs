//! Many concurrent streams: what each costs in ingest, whether listeners hear
//! them continuously, and what Lyria's JSON bodies cost the gateway.
//!
//! 1. N creators POST raw PCM in real time through the gateway: CPU and
//!    memory of ingest + its ffmpeg children, and the gateway's CPU.
//! 2. The same creators switch to Lyria JSON bodies (the same PCM in base64):
//!    the gateway's CPU again.
//! 3. N bare ffmpeg processes with ingest's arguments, fed the same PCM in
//!    real time: the baseline for (1).
//!
//! One listener per stream plays it straight from the engine (SRS, with its
//! seat's `?token=`) through (1) and (2) and checks the audio is continuous:
//! no jump over 100 ms in its FLV tag times.

use crate::args::Arguments;
use crate::listener::{self, Outcome, Plan, AUDIBLE_GAP_MS};
use crate::percentiles::{nearest_rank, Percentiles};
use crate::procstat::{pss_kbytes, with_descendants, CpuWindow};
use crate::tokens::Minter;
use base64::Engine as _;
use bytes::Bytes;
use serde::Serialize;
use std::error::Error;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::time::{interval, sleep, Instant, MissedTickBehavior};
use vibes_domain::audio::BYTES_PER_SECOND;

/// Chunk length creators send in this scenario (the app sends ~2 s; shorter
/// chunks make every stream reach steady state sooner).
/// How long a listener waits for its stream to go live before the scenario fails.
const STREAM_START_WAIT: Duration = Duration::from_secs(15);
const CHUNK: Duration = Duration::from_millis(500);
const WARMUP: Duration = Duration::from_secs(4);
/// Between switching the creators to JSON and measuring the gateway again.
const SWITCH_WARMUP: Duration = Duration::from_secs(2);
const LYRIA_MIME_TYPE: &str = "audio/l16;rate=48000;channels=2";

#[derive(Debug, Serialize)]
struct Side {
    streams: u64,
    /// ffmpeg processes still running at the end of the window (one per
    /// stream when all is well; a baseline whose publishes SRS refused, or
    /// whose ffmpegs died, has fewer, and its CPU means little).
    ffmpeg_running: u64,
    cpu_percent_of_one_core: f64,
    cpu_percent_per_stream: f64,
    pss_mbytes: f64,
    pss_mbytes_per_stream: f64,
    measured_seconds: f64,
}

#[derive(Debug, Serialize)]
struct Gateway {
    raw_cpu_percent: f64,
    json_cpu_percent: f64,
    /// Extra gateway CPU per stream for JSON bodies, % of a core.
    json_extra_cpu_percent_per_stream: f64,
}

#[derive(Debug, Serialize)]
struct Listeners {
    listeners: usize,
    delivered: usize,
    reconnects: u64,
    /// Listeners that heard a jump over 100 ms in tag timestamps.
    with_gaps: usize,
    gaps: u64,
    max_timestamp_step_ms: u32,
    /// Longest wait between two tags, per listener.
    max_arrival_gap: Percentiles,
    /// Share of the measured time's audio each listener received: lowest, median.
    received_share_min: f64,
    received_share_p50: f64,
    /// The last problem of each listener that had one, counted.
    problems: Vec<(String, usize)>,
}

#[derive(Debug, Serialize)]
struct Report {
    scenario: &'static str,
    engine: String,
    through_ingest: Side,
    bare_ffmpeg: Side,
    /// Ingest + its ffmpeg children ÷ bare ffmpeg, CPU (goal ≤ 1.10).
    cpu_ratio: f64,
    /// Memory of the ingest process itself beyond its ffmpeg children, per stream.
    ingest_pss_mbytes_per_stream_beyond_ffmpeg: f64,
    /// CPU of the ingest process alone (its ffmpeg children left out), in
    /// the same window: steadier than the ratio, whose two sides are
    /// measured one after the other on a shared machine.
    ingest_own_cpu_percent: f64,
    ingest_own_cpu_percent_per_stream: f64,
    chunks_refused: u64,
    gateway: Gateway,
    listeners: Listeners,
}

/// Where the creators are and which body they send.
#[derive(Clone)]
struct Creators {
    http: reqwest::Client,
    gateway_url: String,
    raw: Bytes,
    lyria_json: Bytes,
    json: Arc<AtomicBool>,
    refused: Arc<AtomicU64>,
}

pub async fn run(arguments: &Arguments) -> Result<(), Box<dyn Error>> {
    let gateway_url = arguments.url("gateway-url")?;
    let registry_url = arguments.url("registry-url")?;
    let engine_flv = arguments.url("engine-flv-url")?;
    let rtmp_base = arguments.url("rtmp-base-url")?;
    let gateway_pid: u32 = arguments.number("gateway-pid", 0)?.try_into()?;
    let ingest_pid: u32 = arguments.number("ingest-pid", 0)?.try_into()?;
    let streams = arguments.number("streams", 30)?;
    let seconds = Duration::from_secs(arguments.number("seconds", 20)?);
    let out = arguments.out_dir()?;
    let minter = Minter::from_env()?;
    let pcm = Bytes::from(tone(CHUNK));

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let creators = Creators {
        http: http.clone(),
        gateway_url: gateway_url.clone(),
        lyria_json: lyria_message(&pcm),
        raw: pcm.clone(),
        json: Arc::new(AtomicBool::new(false)),
        refused: Arc::new(AtomicU64::new(0)),
    };
    let tag = std::process::id();
    let vibes: Vec<String> = (0..streams)
        .map(|index| format!("bench-streams-{tag}-{index}"))
        .collect();
    let feeding_for = WARMUP + seconds + SWITCH_WARMUP + seconds + Duration::from_secs(1);
    eprintln!(
        "streams: {streams} streams through the gateway and ingest: raw bodies for {seconds:?}, \
         then Lyria JSON for {seconds:?} (after {WARMUP:?} warm-up), 1 listener each"
    );
    let mut feeders = Vec::new();
    for vibe in &vibes {
        feeders.push(tokio::spawn(feed_gateway(
            creators.clone(),
            vibe.clone(),
            minter.creator(vibe),
            feeding_for,
        )));
    }
    // The first chunks register the streams and start their encoders.
    sleep(Duration::from_secs(2)).await;
    let listen_until = Instant::now() + feeding_for - Duration::from_secs(3);
    let measured_from = Instant::now() + WARMUP - Duration::from_secs(2);
    let listening = start_listeners(
        &http,
        &registry_url,
        &engine_flv,
        &vibes,
        measured_from,
        listen_until,
    )
    .await?;
    sleep(WARMUP - Duration::from_secs(2)).await;

    eprintln!("streams: measuring ingest and the gateway with raw bodies");
    let pids = with_descendants(ingest_pid);
    let window = CpuWindow::start(&pids);
    let ingest_alone = [ingest_pid];
    let ingest_window = CpuWindow::start(&ingest_alone);
    let gateway_pids = [gateway_pid];
    let gateway_window = CpuWindow::start(&gateway_pids);
    sleep(seconds).await;
    let (cpu, measured) = window.percent(&pids);
    let (ingest_own_cpu, _) = ingest_window.percent(&ingest_alone);
    let (gateway_raw_cpu, _) = gateway_window.percent(&gateway_pids);
    let children_pss: u64 = pids.iter().skip(1).map(|pid| pss_kbytes(*pid)).sum();
    let ingest_pss = pss_kbytes(ingest_pid);
    if pids.len() as u64 != streams + 1 {
        eprintln!(
            "streams: expected {streams} ffmpeg children, found {}",
            pids.len() - 1
        );
    }
    let through_ingest = side(
        streams,
        running(&pids[1..]),
        cpu,
        ingest_pss + children_pss,
        measured,
    );

    eprintln!("streams: the same creators send Lyria JSON bodies; measuring the gateway");
    creators.json.store(true, Ordering::Release);
    sleep(SWITCH_WARMUP).await;
    let gateway_window = CpuWindow::start(&gateway_pids);
    sleep(seconds).await;
    let (gateway_json_cpu, _) = gateway_window.percent(&gateway_pids);
    for feeder in feeders {
        feeder.await?;
    }
    let mut outcomes = Vec::new();
    for listener in listening {
        outcomes.push(listener.await.unwrap_or_default());
    }
    let measured_listening = listen_until - measured_from;
    for (vibe, index) in vibes.iter().zip(0..) {
        let _ = http
            .delete(format!("{gateway_url}/stream/{vibe}"))
            .header("authorization", minter.creator(vibe))
            .send()
            .await;
        if index == 0 {
            eprintln!("streams: ending the streams");
        }
    }

    eprintln!("streams: {streams} bare ffmpeg processes, same arguments, same PCM");
    let bare_ffmpeg = bare_ffmpeg(&rtmp_base, streams, seconds, &pcm).await?;

    let report = Report {
        scenario: "streams",
        engine: arguments.engine(),
        cpu_ratio: through_ingest.cpu_percent_of_one_core / bare_ffmpeg.cpu_percent_of_one_core,
        ingest_pss_mbytes_per_stream_beyond_ffmpeg: (ingest_pss as f64 / 1024.0) / streams as f64,
        ingest_own_cpu_percent: ingest_own_cpu,
        ingest_own_cpu_percent_per_stream: ingest_own_cpu / streams as f64,
        chunks_refused: creators.refused.load(Ordering::Relaxed),
        gateway: Gateway {
            raw_cpu_percent: gateway_raw_cpu,
            json_cpu_percent: gateway_json_cpu,
            json_extra_cpu_percent_per_stream: (gateway_json_cpu - gateway_raw_cpu)
                / streams as f64,
        },
        listeners: listeners_summary(&outcomes, measured_listening),
        through_ingest,
        bare_ffmpeg,
    };
    crate::report::write(&out, "streams", &report, &markdown(&report, seconds))?;
    Ok(())
}

/// `{"serverContent":{"audioChunks":[{"data":…,"mimeType":…}]}}`, as Lyria RealTime sends.
fn lyria_message(pcm: &[u8]) -> Bytes {
    let data = base64::engine::general_purpose::STANDARD.encode(pcm);
    let message = serde_json::json!({
        "serverContent": { "audioChunks": [{ "data": data, "mimeType": LYRIA_MIME_TYPE }] }
    });
    Bytes::from(message.to_string())
}

/// A creator: one chunk per chunk length, numbered, raw or JSON as told.
async fn feed_gateway(creators: Creators, vibe: String, authorization: String, run_for: Duration) {
    let url = format!("{}/stream/{vibe}/audio", creators.gateway_url);
    let deadline = Instant::now() + run_for;
    let mut ticker = interval(CHUNK);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut seq = 0u64;
    while Instant::now() < deadline {
        ticker.tick().await;
        let (content_type, body) = if creators.json.load(Ordering::Acquire) {
            ("application/json", creators.lyria_json.clone())
        } else {
            ("application/octet-stream", creators.raw.clone())
        };
        let sent = creators
            .http
            .post(&url)
            .header("authorization", &authorization)
            .header("content-type", content_type)
            .header("x-chunk-seq", seq.to_string())
            .body(body)
            .send()
            .await;
        if !sent.is_ok_and(|response| response.status().is_success()) {
            creators.refused.fetch_add(1, Ordering::Relaxed);
        }
        seq += 1;
    }
}

async fn start_listeners(
    http: &reqwest::Client,
    registry_url: &str,
    engine_flv: &str,
    vibes: &[String],
    measured_from: Instant,
    until: Instant,
) -> Result<Vec<tokio::task::JoinHandle<Outcome>>, Box<dyn Error>> {
    let client = crate::clients::plain()?;
    let mut listening = Vec::new();
    for (index, vibe) in vibes.iter().enumerate() {
        let participant = format!("streams-listener-{index}");
        let seat = join_once_live(http, registry_url, vibe, &participant).await?;
        let plan = Plan {
            url: seat.engine_flv(engine_flv, vibe),
            alternates: Vec::new(),
            leaves_when_cut: false,
            until,
            window: Some((measured_from, until)),
            max_tries: 5,
            stall: Duration::from_secs(3),
            retry_delay: listener::spread_retry_delay(index),
        };
        let client = client.clone();
        listening.push(tokio::spawn(async move {
            listener::listen(&client, &plan, &mut listener::Counting).await
        }));
    }
    Ok(listening)
}

/// Joins `vibe`, waiting up to `STREAM_START_WAIT` for it to go live: with
/// many streams starting at once, the last first chunks are still queued.
async fn join_once_live(
    http: &reqwest::Client,
    registry_url: &str,
    vibe: &str,
    participant: &str,
) -> Result<crate::seats::Seat, Box<dyn Error>> {
    let give_up_at = Instant::now() + STREAM_START_WAIT;
    loop {
        match crate::seats::join(http, registry_url, vibe, participant).await {
            Ok(seat) => return Ok(seat),
            Err(error) if Instant::now() < give_up_at && not_live_yet(error.as_ref()) => {
                sleep(Duration::from_millis(250)).await
            }
            Err(error) => return Err(error as Box<dyn Error>),
        }
    }
}

/// The registry's `404 stream_not_live`: its first chunk is not through yet.
fn not_live_yet(error: &(dyn Error + Send + Sync + 'static)) -> bool {
    error
        .downcast_ref::<crate::seats::JoinRefused>()
        .is_some_and(|refused| refused.status == 404)
}

fn listeners_summary(outcomes: &[Outcome], measured: Duration) -> Listeners {
    let mut shares: Vec<f64> = outcomes
        .iter()
        .map(|outcome| outcome.audio_seconds_in_window() / measured.as_secs_f64())
        .collect();
    shares.sort_unstable_by(f64::total_cmp);
    Listeners {
        listeners: outcomes.len(),
        delivered: outcomes.iter().filter(|outcome| outcome.delivered).count(),
        reconnects: outcomes
            .iter()
            .map(|outcome| u64::from(outcome.tries.saturating_sub(1)))
            .sum(),
        with_gaps: outcomes
            .iter()
            .filter(|outcome| outcome.timestamp_gaps > 0)
            .count(),
        gaps: outcomes.iter().map(|outcome| outcome.timestamp_gaps).sum(),
        max_timestamp_step_ms: outcomes
            .iter()
            .map(|outcome| outcome.max_timestamp_step_ms)
            .max()
            .unwrap_or(0),
        max_arrival_gap: Percentiles::of(
            outcomes
                .iter()
                .map(|outcome| outcome.max_arrival_gap)
                .collect(),
        ),
        received_share_min: nearest_rank(&shares, 0.0),
        received_share_p50: nearest_rank(&shares, 0.5),
        problems: listener::problems(outcomes),
    }
}

async fn bare_ffmpeg(
    rtmp_base: &str,
    streams: u64,
    seconds: Duration,
    pcm: &Bytes,
) -> Result<Side, Box<dyn Error>> {
    let tag = std::process::id();
    let mut children = Vec::new();
    for index in 0..streams {
        let destination = format!("{rtmp_base}/bench-bare-{tag}-{index}");
        let child = tokio::process::Command::new("ffmpeg")
            .args(::ingest::encoder::ffmpeg_arguments("128k", &destination))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        children.push(child);
    }
    let bare_pids: Vec<u32> = children.iter().filter_map(|child| child.id()).collect();
    let run_for = WARMUP + seconds + Duration::from_secs(1);
    let mut writers = Vec::new();
    for child in &mut children {
        let stdin = child.stdin.take().ok_or("ffmpeg stdin")?;
        writers.push(tokio::spawn(feed_ffmpeg(stdin, pcm.clone(), run_for)));
    }
    sleep(WARMUP).await;
    let window = CpuWindow::start(&bare_pids);
    sleep(seconds).await;
    let (bare_cpu, bare_measured) = window.percent(&bare_pids);
    let bare_pss: u64 = bare_pids.iter().map(|pid| pss_kbytes(*pid)).sum();
    let bare_running = running(&bare_pids);
    for writer in writers {
        writer.await?;
    }
    drop(children);
    Ok(side(
        streams,
        bare_running,
        bare_cpu,
        bare_pss,
        bare_measured,
    ))
}

/// The bare baseline's feeder: the same PCM, 20 ms at a time, in real time.
async fn feed_ffmpeg(mut stdin: tokio::process::ChildStdin, pcm: Bytes, run_for: Duration) {
    let slice = BYTES_PER_SECOND / 50;
    let deadline = Instant::now() + run_for;
    let mut ticker = interval(Duration::from_millis(20));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut offset = 0;
    while Instant::now() < deadline {
        ticker.tick().await;
        let end = (offset + slice).min(pcm.len());
        if stdin.write_all(&pcm[offset..end]).await.is_err() {
            return;
        }
        offset = if end == pcm.len() { 0 } else { end };
    }
}

/// A 440 Hz tone, s16le stereo 48 kHz.
pub fn tone(length: Duration) -> Vec<u8> {
    let frames = (length.as_secs_f64() * 48_000.0) as usize;
    let mut pcm = Vec::with_capacity(frames * 4);
    for frame in 0..frames {
        let sample =
            ((frame as f64 * 440.0 * std::f64::consts::TAU / 48_000.0).sin() * 12_000.0) as i16;
        pcm.extend_from_slice(&sample.to_le_bytes());
        pcm.extend_from_slice(&sample.to_le_bytes());
    }
    pcm
}

/// How many of `pids` are still running (not gone, not a zombie).
fn running(pids: &[u32]) -> u64 {
    pids.iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                // The state follows the command name's closing parenthesis.
                stat.rsplit_once(") ")
                    .is_some_and(|(_, rest)| !rest.starts_with('Z'))
            })
        })
        .count() as u64
}

fn side(streams: u64, ffmpeg_running: u64, cpu: f64, pss_kbytes: u64, measured: Duration) -> Side {
    let pss_mbytes = pss_kbytes as f64 / 1024.0;
    Side {
        streams,
        ffmpeg_running,
        cpu_percent_of_one_core: cpu,
        cpu_percent_per_stream: cpu / streams as f64,
        pss_mbytes,
        pss_mbytes_per_stream: pss_mbytes / streams as f64,
        measured_seconds: measured.as_secs_f64(),
    }
}

fn markdown(report: &Report, seconds: Duration) -> String {
    let row = |name: &str, side: &Side| {
        format!(
            "| {name} | {} | {} | {:.1} | {:.2} | {:.1} | {:.2} |\n",
            side.streams,
            side.ffmpeg_running,
            side.cpu_percent_of_one_core,
            side.cpu_percent_per_stream,
            side.pss_mbytes,
            side.pss_mbytes_per_stream
        )
    };
    let listeners = &report.listeners;
    let gateway = &report.gateway;
    format!(
        "## streams: per-stream cost, continuity, Lyria JSON\n\n\
         Each stream gets a {chunk_ms} ms tone chunk every {chunk_ms} ms (real time) through the gateway, encoded \
         to AAC 128 kb/s and published to {engine}; both rows measured in the same run over {:.0} s after a \
         {:.0} s warm-up.\n\n\
         | path | streams | ffmpeg running at the end | CPU % of a core | CPU % per stream | PSS MB | PSS MB per stream |\n\
         |---|---|---|---|---|---|---|\n{}{}\n\
         CPU ratio (ingest + its ffmpeg ÷ bare ffmpeg): **{:.3}** (goal ≤ 1.10). \
         Ingest's own memory per stream beyond ffmpeg: **{:.2} MB** (goal ≤ 2). Chunks refused: {}. \
         The ingest process alone (its ffmpeg children left out, same window): {:.1} % of a core, \
         {:.3} % per stream.\n\n\
         Listeners (1 per stream, straight from {engine}, over both gateway phases): {} of {} heard their stream, \
         **{}** heard a jump over {gap} ms in tag timestamps ({} jumps; largest step {} ms); audio received \
         min {:.3} / median {:.3} of the time; longest wait between two tags p50 {:.0} ms, max {:.0} ms; \
         reconnects {}; last problems of listeners that had one: {}.\n\n\
         Gateway CPU with the same creators sending raw PCM: {:.1} % of a core; sending Lyria JSON (base64): \
         {:.1} %; JSON costs {:.3} % of a core more per stream (measured {:.0} s each).\n",
        report.through_ingest.measured_seconds,
        WARMUP.as_secs_f64(),
        row(
            &format!("POST → gateway → ingest → ffmpeg → {}", report.engine),
            &report.through_ingest,
        ),
        row("bare ffmpeg, same arguments", &report.bare_ffmpeg),
        report.cpu_ratio,
        report.ingest_pss_mbytes_per_stream_beyond_ffmpeg,
        report.chunks_refused,
        report.ingest_own_cpu_percent,
        report.ingest_own_cpu_percent_per_stream,
        listeners.delivered,
        listeners.listeners,
        listeners.with_gaps,
        listeners.gaps,
        listeners.max_timestamp_step_ms,
        listeners.received_share_min,
        listeners.received_share_p50,
        listeners.max_arrival_gap.p50_ms,
        listeners.max_arrival_gap.max_ms,
        listeners.reconnects,
        listener::problems_text(&listeners.problems),
        gateway.raw_cpu_percent,
        gateway.json_cpu_percent,
        gateway.json_extra_cpu_percent_per_stream,
        seconds.as_secs_f64(),
        engine = report.engine,
        chunk_ms = CHUNK.as_millis(),
        gap = AUDIBLE_GAP_MS,
    )
}
