//! Per-stream cost of ingest: N streams fed in real time through the ingest
//! service (its pacing, queues and ffmpeg children), against N bare ffmpeg
//! processes with the same arguments fed the same PCM in real time, in the
//! same run. Both publish to the same engine.

use crate::args::Arguments;
use crate::procstat::{pss_kbytes, with_descendants, CpuWindow};
use bytes::Bytes;
use serde::Serialize;
use std::error::Error;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::time::{interval, sleep, Instant, MissedTickBehavior};
use vibes_domain::audio::BYTES_PER_SECOND;

/// Chunk length creators send in this scenario (the app sends ~2 s; shorter
/// chunks make every stream reach steady state sooner).
const CHUNK: Duration = Duration::from_millis(500);
const WARMUP: Duration = Duration::from_secs(4);

#[derive(Debug, Serialize)]
struct Side {
    streams: u64,
    cpu_percent_of_one_core: f64,
    cpu_percent_per_stream: f64,
    pss_mbytes: f64,
    pss_mbytes_per_stream: f64,
    measured_seconds: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    scenario: &'static str,
    through_ingest: Side,
    bare_ffmpeg: Side,
    /// Ingest + its ffmpeg children ÷ bare ffmpeg, CPU (goal ≤ 1.10).
    cpu_ratio: f64,
    /// Memory of the ingest process itself beyond its ffmpeg children, per stream.
    ingest_pss_mbytes_per_stream_beyond_ffmpeg: f64,
    chunks_refused: u64,
}

pub async fn run(arguments: &Arguments) -> Result<(), Box<dyn Error>> {
    let ingest_url = arguments
        .text("ingest-url")?
        .trim_end_matches('/')
        .to_owned();
    let ingest_pid: u32 = arguments.number("ingest-pid", 0)?.try_into()?;
    let rtmp_base = arguments
        .text("rtmp-base-url")?
        .trim_end_matches('/')
        .to_owned();
    let streams = arguments.number("streams", 20)?;
    let seconds = Duration::from_secs(arguments.number("seconds", 20)?);
    let out = arguments.out_dir()?;
    let pcm = Bytes::from(tone(CHUNK));

    eprintln!(
        "ingest: {streams} streams through the service for {seconds:?} (after {WARMUP:?} warm-up)"
    );
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let run_for = WARMUP + seconds + Duration::from_secs(1);
    let mut feeders = Vec::new();
    for index in 0..streams {
        let (http, pcm) = (http.clone(), pcm.clone());
        let url = format!("{ingest_url}/stream/bench-ingest-{index}/audio");
        feeders.push(tokio::spawn(feed_service(http, url, pcm, run_for)));
    }
    sleep(WARMUP).await;
    let pids = with_descendants(ingest_pid);
    let window = CpuWindow::start(&pids);
    sleep(seconds).await;
    let (cpu, measured) = window.percent(&pids);
    let children_pss: u64 = pids.iter().skip(1).map(|pid| pss_kbytes(*pid)).sum();
    let ingest_pss = pss_kbytes(ingest_pid);
    let mut refused = 0;
    for feeder in feeders {
        refused += feeder.await?;
    }
    for index in 0..streams {
        let _ = http
            .delete(format!("{ingest_url}/stream/bench-ingest-{index}"))
            .send()
            .await;
    }
    let through_ingest = side(streams, cpu, ingest_pss + children_pss, measured);
    if pids.len() as u64 != streams + 1 {
        eprintln!(
            "ingest: expected {streams} ffmpeg children, found {}",
            pids.len() - 1
        );
    }

    eprintln!("ingest: {streams} bare ffmpeg processes, same arguments, same PCM");
    let mut children = Vec::new();
    for index in 0..streams {
        let destination = format!("{rtmp_base}/bench-bare-{index}");
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
    let mut writers = Vec::new();
    for child in &mut children {
        let stdin = child.stdin.take().expect("stdin piped");
        writers.push(tokio::spawn(feed_ffmpeg(stdin, pcm.clone(), run_for)));
    }
    sleep(WARMUP).await;
    let window = CpuWindow::start(&bare_pids);
    sleep(seconds).await;
    let (bare_cpu, bare_measured) = window.percent(&bare_pids);
    let bare_pss: u64 = bare_pids.iter().map(|pid| pss_kbytes(*pid)).sum();
    for writer in writers {
        writer.await?;
    }
    drop(children);
    let bare_ffmpeg = side(streams, bare_cpu, bare_pss, bare_measured);

    let report = Report {
        scenario: "ingest",
        cpu_ratio: through_ingest.cpu_percent_of_one_core / bare_ffmpeg.cpu_percent_of_one_core,
        ingest_pss_mbytes_per_stream_beyond_ffmpeg: (ingest_pss as f64 / 1024.0) / streams as f64,
        chunks_refused: refused,
        through_ingest,
        bare_ffmpeg,
    };
    std::fs::create_dir_all(&out)?;
    std::fs::write(
        out.join("ingest.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    std::fs::write(out.join("ingest.md"), markdown(&report))?;
    eprintln!("ingest: written to {}", out.display());
    Ok(())
}

/// A creator: one chunk per chunk length, numbered. Returns chunks refused.
async fn feed_service(http: reqwest::Client, url: String, pcm: Bytes, run_for: Duration) -> u64 {
    let deadline = Instant::now() + run_for;
    let mut ticker = interval(CHUNK);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let (mut seq, mut refused) = (0u64, 0);
    while Instant::now() < deadline {
        ticker.tick().await;
        let sent = http
            .post(&url)
            .header("content-type", "application/octet-stream")
            .header("x-chunk-seq", seq.to_string())
            .body(pcm.clone())
            .send()
            .await;
        if !sent.is_ok_and(|response| response.status().is_success()) {
            refused += 1;
        }
        seq += 1;
    }
    refused
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
fn tone(length: Duration) -> Vec<u8> {
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

fn side(streams: u64, cpu: f64, pss_kbytes: u64, measured: Duration) -> Side {
    let pss_mbytes = pss_kbytes as f64 / 1024.0;
    Side {
        streams,
        cpu_percent_of_one_core: cpu,
        cpu_percent_per_stream: cpu / streams as f64,
        pss_mbytes,
        pss_mbytes_per_stream: pss_mbytes / streams as f64,
        measured_seconds: measured.as_secs_f64(),
    }
}

fn markdown(report: &Report) -> String {
    let row = |name: &str, side: &Side| {
        format!(
            "| {name} | {} | {:.1} | {:.2} | {:.1} | {:.2} |\n",
            side.streams,
            side.cpu_percent_of_one_core,
            side.cpu_percent_per_stream,
            side.pss_mbytes,
            side.pss_mbytes_per_stream
        )
    };
    format!(
        "## ingest: per-stream cost\n\n\
         Each stream gets a {chunk_ms} ms tone chunk every {chunk_ms} ms (real time), encoded to AAC 128 kb/s and \
         published to the engine; both rows measured in the same run over {:.0} s after a {:.0} s warm-up.\n\n\
         | path | streams | CPU % of a core | CPU % per stream | PSS MB | PSS MB per stream |\n\
         |---|---|---|---|---|---|\n{}{}\n\
         CPU ratio (ingest + its ffmpeg ÷ bare ffmpeg): **{:.3}** (goal ≤ 1.10). \
         Ingest's own memory per stream beyond ffmpeg: **{:.2} MB** (goal ≤ 2). Chunks refused: {}.\n",
        report.through_ingest.measured_seconds,
        WARMUP.as_secs_f64(),
        row("POST → ingest → ffmpeg → engine", &report.through_ingest),
        row("bare ffmpeg, same arguments", &report.bare_ffmpeg),
        report.cpu_ratio,
        report.ingest_pss_mbytes_per_stream_beyond_ffmpeg,
        report.chunks_refused,
        chunk_ms = CHUNK.as_millis(),
    )
}
