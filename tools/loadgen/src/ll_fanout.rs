//! `./scripts/bench ll-fanout`: what LL-HLS listeners cost. One stream fed to
//! ingest in real time, `--listeners` seats, and as many listeners through
//! the TLS edge that follow the packager's low-latency playlist as players
//! do: a blocking reload (`_HLS_msn`/`_HLS_part`) for each next part, then
//! the parts it lists. They count parts and bytes and decode nothing, so the
//! load generator can keep a thousand of them. Over a window once all have
//! joined: the edge's CPU per listener-second and the packager's CPU for the
//! stream, with the parts each listener got per second.

use crate::fanout::{per_listener_second, FedStream};
use crate::ll_hls::{self, Part};
use crate::procstat::{open_files_limit, with_descendants, CpuWindow, MachineWindow};
use reqwest::Url;
use serde::Serialize;
use std::error::Error;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::sleep;

/// A blocking reload waits at most 3 target durations at the packager.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
const RETRY_PAUSE: Duration = Duration::from_millis(200);

/// What every listener adds to.
#[derive(Default)]
struct Counters {
    parts: AtomicU64,
    bytes: AtomicU64,
    reloads: AtomicU64,
    failures: AtomicU64,
    /// Listeners that got at least one part.
    playing: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> [u64; 4] {
        [
            self.parts.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
            self.reloads.load(Ordering::Relaxed),
            self.failures.load(Ordering::Relaxed),
        ]
    }
}

#[derive(Debug, Serialize)]
struct Report {
    scenario: &'static str,
    engine: String,
    listeners: usize,
    playing: u64,
    window_s: f64,
    parts_per_listener_second: f64,
    kbytes_per_listener_second: f64,
    reloads_per_listener_second: f64,
    failed_requests: u64,
    edge_cpu_percent: f64,
    edge_cpu_us_per_listener_second: f64,
    packager_cpu_percent: f64,
    load_generator_cpu_percent: f64,
    machine_busy_percent: f64,
    open_files_limit: Option<u64>,
}

pub async fn run(arguments: &crate::args::Arguments) -> Result<(), Box<dyn Error>> {
    let (ingest_url, registry_url) = (arguments.url("ingest-url")?, arguments.url("registry-url")?);
    let edge_url = arguments.url("edge-url")?;
    let certificate = arguments.text("ca-cert")?.to_owned();
    let edge_pid: u32 = arguments.number("edge-pid", 0)?.try_into()?;
    let packager_pid: u32 = arguments.number("packager-pid", 0)?.try_into()?;
    let listeners = arguments.number("listeners", 1000)? as usize;
    let joins_per_second = arguments.number("ramp", 100)?.max(1);
    let window = Duration::from_secs(arguments.number("seconds", 20)?);
    let out = arguments.out_dir()?;
    let engine = arguments.engine();

    let vibe = format!("bench-ll-fanout-{}", std::process::id());
    let plain = crate::clients::plain()?;
    let edge = crate::clients::edge(&edge_url, std::path::Path::new(&certificate))?;
    eprintln!(
        "ll-fanout: {listeners} LL-HLS listeners, {joins_per_second} joins/s, {window:?} measured"
    );
    let stream = FedStream::start(&plain, &ingest_url, &registry_url, &vibe, listeners).await?;

    let counters = Arc::new(Counters::default());
    let running = Arc::new(AtomicBool::new(true));
    let mut readers = Vec::with_capacity(listeners);
    for seat in &stream.seats {
        let playlist = Url::parse(&low_latency_url(&seat.edge_flv, &vibe)?)?;
        let (edge, counters, running) = (edge.clone(), counters.clone(), running.clone());
        readers.push(tokio::spawn(follow(edge, playlist, counters, running)));
        sleep(Duration::from_secs(1) / joins_per_second as u32).await;
    }
    // Until the last listener's first parts are in.
    sleep(Duration::from_secs(3)).await;

    let edge_pids = with_descendants(edge_pid);
    let own_pid = [std::process::id()];
    let (edge_cpu, packager_cpu, own_cpu) = (
        CpuWindow::start(&edge_pids),
        CpuWindow::start(&[packager_pid]),
        CpuWindow::start(&own_pid),
    );
    let machine = MachineWindow::start();
    let before = counters.snapshot();
    sleep(window).await;
    let after = counters.snapshot();
    let (edge_percent, elapsed) = edge_cpu.percent(&edge_pids);
    let (packager_percent, _) = packager_cpu.percent(&[packager_pid]);
    let (own_percent, _) = own_cpu.percent(&own_pid);
    let machine_busy = machine.busy_percent();

    running.store(false, Ordering::Release);
    for reader in readers {
        let _ = tokio::time::timeout(REQUEST_TIMEOUT * 2, reader).await;
    }
    stream.end(&plain, &ingest_url, &vibe).await?;

    let listener_seconds = listeners.max(1) as f64 * elapsed.as_secs_f64();
    let per_listener = |index: usize| (after[index] - before[index]) as f64 / listener_seconds;
    let report = Report {
        scenario: "ll-fanout",
        engine,
        listeners,
        playing: counters.playing.load(Ordering::Relaxed),
        window_s: elapsed.as_secs_f64(),
        parts_per_listener_second: per_listener(0),
        kbytes_per_listener_second: per_listener(1) / 1000.0,
        reloads_per_listener_second: per_listener(2),
        failed_requests: after[3],
        edge_cpu_percent: edge_percent,
        edge_cpu_us_per_listener_second: per_listener_second(edge_percent, listeners),
        packager_cpu_percent: packager_percent,
        load_generator_cpu_percent: own_percent,
        machine_busy_percent: machine_busy,
        open_files_limit: open_files_limit(),
    };
    crate::report::write(&out, "ll-fanout", &report, &markdown(&report))?;
    Ok(())
}

/// The LL-HLS playlist URL of a seat: beside its FLV URL, as a join hands out
/// (`…/live/<token>/<vibe>.flv` → `…/live/<token>/<vibe>/index.ll.m3u8`).
fn low_latency_url(edge_flv: &str, vibe: &str) -> Result<String, String> {
    edge_flv
        .strip_suffix(".flv")
        .filter(|stem| stem.ends_with(&format!("/{vibe}")))
        .map(|stem| format!("{stem}/index.ll.m3u8"))
        .ok_or(format!("{edge_flv} is not a FLV URL of {vibe}"))
}

/// One listener: the playlist once, then for each next part a blocking
/// reload and the parts it lists, until told to stop.
async fn follow(
    client: reqwest::Client,
    playlist_url: Url,
    counters: Arc<Counters>,
    running: Arc<AtomicBool>,
) {
    let mut last: Option<(u64, u64)> = None;
    let mut playing = false;
    while running.load(Ordering::Acquire) {
        let url = match last {
            None => playlist_url.clone(),
            Some((msn, index)) => {
                let mut url = playlist_url.clone();
                url.set_query(Some(&format!("_HLS_msn={msn}&_HLS_part={}", index + 1)));
                counters.reloads.fetch_add(1, Ordering::Relaxed);
                url
            }
        };
        let Some(body) = get(&client, &url).await else {
            counters.failures.fetch_add(1, Ordering::Relaxed);
            sleep(RETRY_PAUSE).await;
            continue;
        };
        let playlist = ll_hls::parse(&String::from_utf8_lossy(&body), &playlist_url);
        if playlist.ended {
            return;
        }
        // A new listener starts at the live edge, as a player a moment after PART-HOLD-BACK does.
        let newer: Vec<Part> = match last {
            None => playlist.parts.last().cloned().into_iter().collect(),
            Some(seen) => playlist
                .parts
                .into_iter()
                .filter(|part| (part.msn, part.index) > seen)
                .collect(),
        };
        for part in newer {
            match get(&client, &part.url).await {
                Some(bytes) => {
                    counters.parts.fetch_add(1, Ordering::Relaxed);
                    counters
                        .bytes
                        .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                    if !playing {
                        playing = true;
                        counters.playing.fetch_add(1, Ordering::Relaxed);
                    }
                }
                None => {
                    counters.failures.fetch_add(1, Ordering::Relaxed);
                }
            }
            last = Some((part.msn, part.index));
        }
    }
}

async fn get(client: &reqwest::Client, url: &Url) -> Option<bytes::Bytes> {
    crate::clients::body_of_ok(client, url, REQUEST_TIMEOUT).await
}

fn markdown(report: &Report) -> String {
    format!(
        "## ll-fanout: one stream, {listeners} LL-HLS listeners through the edge\n\n\
         One stream on {engine} fed to ingest in real time; {listeners} seats, and as many \
         listeners through the TLS edge that follow the hls-packager's low-latency playlist as \
         players do (a blocking reload for each next part, then the parts it lists; nothing \
         decoded). The edge coalesces their identical requests (`nginx/lua/vibes/llhls.lua`) and \
         caches parts, so the packager sees about one request per part and worker. Measured over \
         {window:.1} s once all had joined.\n\n\
         | listeners | playing | parts per listener-s | kB per listener-s | reloads per listener-s | \
         failed requests | edge CPU % | edge CPU µs per listener-second | packager CPU % (the \
         stream) | load generator CPU % | machine busy % |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n\
         | {listeners} | {playing} | {parts:.2} | {kbytes:.1} | {reloads:.2} | {failed} | {edge:.1} | \
         **{per_listener:.0}** | **{packager:.1}** | {own:.0} | {busy:.0} |\n\n\
         Open files limit: {limit}.\n",
        listeners = report.listeners,
        engine = report.engine,
        window = report.window_s,
        playing = report.playing,
        parts = report.parts_per_listener_second,
        kbytes = report.kbytes_per_listener_second,
        reloads = report.reloads_per_listener_second,
        failed = report.failed_requests,
        edge = report.edge_cpu_percent,
        per_listener = report.edge_cpu_us_per_listener_second,
        packager = report.packager_cpu_percent,
        own = report.load_generator_cpu_percent,
        busy = report.machine_busy_percent,
        limit = report
            .open_files_limit
            .map_or("unknown".to_owned(), |limit| limit.to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_low_latency_playlist_sits_beside_the_seats_flv_url() {
        assert_eq!(
            low_latency_url("https://localhost:8443/live/tok.1.abc/v1.flv", "v1").unwrap(),
            "https://localhost:8443/live/tok.1.abc/v1/index.ll.m3u8"
        );
        assert!(low_latency_url("https://localhost:8443/live/tok/other.flv", "v1").is_err());
        assert!(low_latency_url("https://localhost:8443/live/tok/v1.m3u8", "v1").is_err());
    }
}
