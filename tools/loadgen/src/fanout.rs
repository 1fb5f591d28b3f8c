//! One stream, many FLV listeners: first all straight from the engine (SRS),
//! then all through the TLS edge, in the same run, with the same playback
//! tokens (`?token=` straight, so SRS's on_play hook admits them). Reports
//! delivery (first try / only after retries / never), the audio each listener
//! received in a measurement window, arrival jitter, and CPU: engine alone vs
//! edge + engine, also per listener-second.
//!
//! Listeners join at a fixed rate (`--ramp`, 100/s): a real audience arrives
//! over time, and a thousand TLS handshakes plus as many seat checks (SRS's
//! on_play hook straight, the edge's auth_request through it) at one instant
//! would measure a stampede on two cores, not the fan-out. The window starts
//! after everyone joined and settled, so the pace is not in the numbers.

use crate::args::Arguments;
use crate::edge_metrics::{EdgeMetrics, FlvWrites, WritesWindow};
use crate::listener::{self, FrameSink, Outcome, Plan};
use crate::percentiles::{nearest_rank, Percentiles};
use crate::procstat::{open_files_limit, with_descendants, CpuWindow, MachineWindow};
use crate::seats::{self, Seat};
use bytes::Bytes;
use serde::Serialize;
use std::error::Error;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::{interval, sleep, sleep_until, Instant};

/// Between the last listener joining and the measurement window.
const SETTLE: Duration = Duration::from_secs(3);
const FEED_CHUNK: Duration = Duration::from_millis(500);
/// A listener that received at least this share of the window's audio was served.
const SERVED_SHARE: f64 = 0.95;

#[derive(Debug, Serialize)]
struct Side {
    path: String,
    listeners: usize,
    first_try: usize,
    only_after_retry: usize,
    never: usize,
    connected_at_end: usize,
    reconnects: u64,
    /// Listeners that received ≥ 95 % of the window's audio.
    served: usize,
    window_seconds: f64,
    /// Share of the window's audio each listener received: lowest, 1st percentile, median.
    received_share_min: f64,
    received_share_p1: f64,
    received_share_p50: f64,
    /// Spread of arrival time against the stream's own clock, per listener.
    jitter: Percentiles,
    /// Longest wait between two tags, per listener.
    max_arrival_gap: Percentiles,
    engine_cpu_percent: f64,
    edge_cpu_percent: f64,
    loadgen_cpu_percent: f64,
    machine_busy_percent: f64,
    /// Engine + edge CPU per listener, in µs per second of audio.
    cpu_us_per_listener_second: f64,
    problems: Vec<(String, usize)>,
}

#[derive(Debug, Serialize)]
struct Report {
    scenario: &'static str,
    engine: String,
    listeners: usize,
    joins_per_second: u64,
    open_files_limit: Option<u64>,
    direct: Side,
    through_edge: Side,
    /// (edge + engine) ÷ engine alone, CPU (goal ≤ 1.5).
    cpu_ratio: f64,
    /// The edge's CPU per listener in µs per second of audio.
    edge_cpu_us_per_listener_second: f64,
    /// The engine's CPU per listener straight from it, µs per second of audio.
    engine_cpu_us_per_listener_second: f64,
    /// The edge's FLV write window (EDGE_FLV_MERGE_MS) this run had, if told.
    edge_merge_ms: Option<u64>,
    /// Tags and writes to the edge's listeners over its measurement window.
    edge_writes: Option<FlvWrites>,
    edge_tags_per_write: Option<f64>,
}

pub async fn run(arguments: &Arguments) -> Result<(), Box<dyn Error>> {
    let text = |name: &str| arguments.url(name);
    let (ingest_url, registry_url) = (text("ingest-url")?, text("registry-url")?);
    let (edge_url, engine_flv) = (text("edge-url")?, text("engine-flv-url")?);
    let certificate = arguments.text("ca-cert")?.to_owned();
    let edge_pid: u32 = arguments.number("edge-pid", 0)?.try_into()?;
    let supervisor_pid: u32 = arguments.number("supervisor-pid", 0)?.try_into()?;
    let listeners = arguments.number("listeners", 1000)? as usize;
    let joins_per_second = arguments.number("ramp", 100)?.max(1);
    let window = Duration::from_secs(arguments.number("seconds", 20)?);
    let out = arguments.out_dir()?;
    let engine = arguments.engine();
    let merge_ms = arguments.optional_number("edge-merge-ms")?;
    let metrics = EdgeMetrics::new(arguments.optional_url("edge-metrics-url"))?;

    let vibe = format!("bench-fanout-{}", std::process::id());
    let plain = crate::clients::plain()?;
    let edge = crate::clients::edge(&edge_url, std::path::Path::new(&certificate))?;
    eprintln!(
        "fanout: {listeners} listeners per side, {joins_per_second} joins/s, {window:?} measured"
    );

    let stream = FedStream::start(&plain, &ingest_url, &registry_url, &vibe, listeners).await?;
    let seats = &stream.seats;

    let engine_pids = || {
        with_descendants(supervisor_pid)
            .into_iter()
            .filter(|pid| *pid != supervisor_pid)
            .collect::<Vec<u32>>()
    };
    let direct_urls = seats
        .iter()
        .map(|seat| seat.engine_flv(&engine_flv, &vibe))
        .collect();
    let (direct, _) = side(
        format!("straight from {engine} (HTTP)"),
        &plain,
        direct_urls,
        joins_per_second,
        window,
        engine_pids(),
        Vec::new(),
        None,
    )
    .await;
    sleep(Duration::from_secs(2)).await;
    let edge_urls = seats.iter().map(|seat| seat.edge_flv.clone()).collect();
    let (through_edge, edge_writes) = side(
        format!("through the edge (HTTPS, HTTP/1.1) from {engine}"),
        &edge,
        edge_urls,
        joins_per_second,
        window,
        engine_pids(),
        with_descendants(edge_pid),
        metrics.as_ref(),
    )
    .await;

    stream.end(&plain, &ingest_url, &vibe).await?;

    let report = Report {
        scenario: "fanout",
        engine,
        listeners,
        joins_per_second,
        open_files_limit: open_files_limit(),
        cpu_ratio: (through_edge.engine_cpu_percent + through_edge.edge_cpu_percent)
            / direct.engine_cpu_percent,
        edge_cpu_us_per_listener_second: per_listener_second(
            through_edge.edge_cpu_percent,
            through_edge.listeners,
        ),
        engine_cpu_us_per_listener_second: per_listener_second(
            direct.engine_cpu_percent,
            direct.listeners,
        ),
        edge_merge_ms: merge_ms,
        edge_tags_per_write: edge_writes.and_then(FlvWrites::tags_per_write),
        edge_writes,
        direct,
        through_edge,
    };
    crate::report::write(&out, "fanout", &report, &markdown(&report))?;
    Ok(())
}

/// One stream fed to ingest in real time, with seats taken for its listeners.
pub struct FedStream {
    feeding: Arc<AtomicBool>,
    feeder: tokio::task::JoinHandle<()>,
    pub seats: Vec<Seat>,
}

impl FedStream {
    pub async fn start(
        plain: &reqwest::Client,
        ingest_url: &str,
        registry_url: &str,
        vibe: &str,
        listeners: usize,
    ) -> Result<Self, Box<dyn Error>> {
        let feeding = Arc::new(AtomicBool::new(true));
        let feeder = tokio::spawn(feed(
            plain.clone(),
            format!("{ingest_url}/stream/{vibe}/audio"),
            None,
            feeding.clone(),
        ));
        // The first chunk registers the stream; its encoder publishes a moment later.
        sleep(Duration::from_secs(2)).await;
        let seats = take_seats(plain, registry_url, vibe, listeners).await?;
        Ok(Self {
            feeding,
            feeder,
            seats,
        })
    }

    /// Stops feeding and ends the stream at ingest.
    pub async fn end(
        self,
        plain: &reqwest::Client,
        ingest_url: &str,
        vibe: &str,
    ) -> Result<(), Box<dyn Error>> {
        self.feeding.store(false, Ordering::Release);
        self.feeder.await?;
        let _ = plain
            .delete(format!("{ingest_url}/stream/{vibe}"))
            .send()
            .await;
        Ok(())
    }
}

/// CPU as % of one core over a window, spread over `listeners`: µs of CPU
/// per listener and second.
pub fn per_listener_second(cpu_percent: f64, listeners: usize) -> f64 {
    cpu_percent / 100.0 * 1e6 / listeners.max(1) as f64
}

/// A creator sending a tone in real time to `url` (ingest's own port, or
/// the edge with the creator's `authorization`) until told to stop.
pub async fn feed(
    http: reqwest::Client,
    url: String,
    authorization: Option<String>,
    feeding: Arc<AtomicBool>,
) {
    let pcm = Bytes::from(crate::streams::tone(FEED_CHUNK));
    let mut ticker = interval(FEED_CHUNK);
    let mut seq = 0u64;
    // Bounded even if nobody says stop: no scenario runs for an hour.
    let give_up = Instant::now() + Duration::from_secs(3600);
    while feeding.load(Ordering::Acquire) && Instant::now() < give_up {
        ticker.tick().await;
        let mut post = http.post(&url);
        if let Some(authorization) = &authorization {
            post = post.header("authorization", authorization);
        }
        let sent = post
            .header("content-type", "application/octet-stream")
            .header("x-chunk-seq", seq.to_string())
            .body(pcm.clone())
            .send()
            .await;
        if !sent.is_ok_and(|response| response.status().is_success()) {
            eprintln!("a chunk of the stream to {url} was not accepted");
        }
        seq += 1;
    }
}

async fn take_seats(
    http: &reqwest::Client,
    registry_url: &str,
    vibe: &str,
    count: usize,
) -> Result<Vec<Seat>, Box<dyn Error>> {
    let limit = Arc::new(Semaphore::new(32));
    let mut joins = Vec::with_capacity(count);
    for index in 0..count {
        let (http, limit) = (http.clone(), limit.clone());
        let (registry_url, vibe) = (registry_url.to_owned(), vibe.to_owned());
        joins.push(tokio::spawn(async move {
            let _permit = limit.acquire_owned().await.expect("semaphore open");
            seats::join(&http, &registry_url, &vibe, &format!("fanout-{index}")).await
        }));
    }
    let mut seats = Vec::with_capacity(count);
    for join in joins {
        seats.push(join.await?.map_err(|error| error as Box<dyn Error>)?);
    }
    Ok(seats)
}

/// Counts listeners that have heard anything, for the progress line.
struct Heard {
    listeners: Arc<AtomicU64>,
    counted: bool,
}

impl FrameSink for Heard {
    fn frame(&mut self, _arrived: Instant, _frame: &[u8]) {
        if !self.counted {
            self.counted = true;
            self.listeners.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// One side's listeners, CPU over the measurement window and, given the
/// edge's metrics, the tags and writes to the edge's listeners in it.
#[allow(clippy::too_many_arguments)]
async fn side(
    path: String,
    client: &reqwest::Client,
    urls: Vec<String>,
    joins_per_second: u64,
    window: Duration,
    engine_pids: Vec<u32>,
    edge_pids: Vec<u32>,
    metrics: Option<&EdgeMetrics>,
) -> (Side, Option<FlvWrites>) {
    let count = urls.len();
    let started = Instant::now();
    let ramp = Duration::from_secs_f64(count as f64 / joins_per_second as f64);
    let window_start = started + ramp + SETTLE;
    let window_end = window_start + window;
    let heard = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(count);
    for (index, url) in urls.into_iter().enumerate() {
        let plan = Plan {
            url,
            alternates: Vec::new(),
            leaves_when_cut: false,
            until: window_end,
            window: Some((window_start, window_end)),
            max_tries: 8,
            stall: Duration::from_secs(3),
            retry_delay: listener::spread_retry_delay(index),
        };
        let join_at = started + Duration::from_secs_f64(index as f64 / joins_per_second as f64);
        let (client, heard) = (client.clone(), heard.clone());
        tasks.push(tokio::spawn(async move {
            sleep_until(join_at).await;
            let mut sink = Heard {
                listeners: heard,
                counted: false,
            };
            listener::listen(&client, &plan, &mut sink).await
        }));
    }
    let progress = tokio::spawn({
        let heard = heard.clone();
        let path = path.clone();
        async move {
            loop {
                sleep(Duration::from_secs(3)).await;
                let now = Instant::now();
                let phase = if now < window_start {
                    "joining".to_owned()
                } else {
                    format!(
                        "measuring, {} s left",
                        (window_end - now.min(window_end)).as_secs()
                    )
                };
                eprintln!(
                    "fanout: {path}: {}/{count} listeners hear the stream; {phase}",
                    heard.load(Ordering::Relaxed)
                );
            }
        }
    });
    sleep_until(window_start).await;
    let writes_window = WritesWindow::start(metrics).await;
    let loadgen_pids = vec![std::process::id()];
    let engine_window = CpuWindow::start(&engine_pids);
    let edge_window = CpuWindow::start(&edge_pids);
    let loadgen_window = CpuWindow::start(&loadgen_pids);
    let machine = MachineWindow::start();
    sleep_until(window_end).await;
    let (engine_cpu, _) = engine_window.percent(&engine_pids);
    let (edge_cpu, _) = edge_window.percent(&edge_pids);
    let (loadgen_cpu, _) = loadgen_window.percent(&loadgen_pids);
    let machine_busy = machine.busy_percent();
    let writes = writes_window.finish().await;
    let mut outcomes = Vec::with_capacity(count);
    for task in tasks {
        outcomes.push(task.await.unwrap_or_default());
    }
    progress.abort();
    let side = summarize(
        path,
        &outcomes,
        window,
        [engine_cpu, edge_cpu, loadgen_cpu, machine_busy],
    );
    (side, writes)
}

fn summarize(path: String, outcomes: &[Outcome], window: Duration, cpu: [f64; 4]) -> Side {
    let [engine_cpu_percent, edge_cpu_percent, loadgen_cpu_percent, machine_busy_percent] = cpu;
    let window_seconds = window.as_secs_f64();
    let mut shares: Vec<f64> = outcomes
        .iter()
        .map(|outcome| outcome.audio_seconds_in_window() / window_seconds)
        .collect();
    shares.sort_unstable_by(f64::total_cmp);
    let problems = listener::problems(outcomes);
    Side {
        path,
        listeners: outcomes.len(),
        first_try: outcomes.iter().filter(|outcome| outcome.first_try).count(),
        only_after_retry: outcomes
            .iter()
            .filter(|outcome| outcome.delivered && !outcome.first_try)
            .count(),
        never: outcomes.iter().filter(|outcome| !outcome.delivered).count(),
        connected_at_end: outcomes
            .iter()
            .filter(|outcome| outcome.connected_at_end)
            .count(),
        reconnects: outcomes
            .iter()
            .map(|outcome| u64::from(outcome.tries.saturating_sub(1)))
            .sum(),
        served: shares
            .iter()
            .filter(|share| **share >= SERVED_SHARE)
            .count(),
        window_seconds,
        received_share_min: nearest_rank(&shares, 0.0),
        received_share_p1: nearest_rank(&shares, 0.01),
        received_share_p50: nearest_rank(&shares, 0.5),
        jitter: Percentiles::of_ms(outcomes.iter().map(|outcome| outcome.jitter_ms).collect()),
        max_arrival_gap: Percentiles::of(
            outcomes
                .iter()
                .map(|outcome| outcome.max_arrival_gap)
                .collect(),
        ),
        engine_cpu_percent,
        edge_cpu_percent,
        loadgen_cpu_percent,
        machine_busy_percent,
        cpu_us_per_listener_second: per_listener_second(
            engine_cpu_percent + edge_cpu_percent,
            outcomes.len(),
        ),
        problems,
    }
}

fn markdown(report: &Report) -> String {
    let row = |side: &Side| {
        format!(
            "| {} | {} | {} | {} | {} | {} | {:.3} / {:.3} | {:.0} / {:.0} | {:.0} | {:.1} | {:.1} | {:.1} | {:.0} | {:.0} |\n",
            side.path,
            side.listeners,
            side.first_try,
            side.only_after_retry,
            side.never,
            side.served,
            side.received_share_min,
            side.received_share_p50,
            side.jitter.p50_ms,
            side.jitter.p99_ms,
            side.max_arrival_gap.p99_ms,
            side.engine_cpu_percent,
            side.edge_cpu_percent,
            side.engine_cpu_percent + side.edge_cpu_percent,
            side.cpu_us_per_listener_second,
            side.machine_busy_percent,
        )
    };
    let problems = |side: &Side| listener::problems_text(&side.problems);
    let merge = crate::edge_metrics::describe(report.edge_merge_ms, report.edge_writes);
    format!(
        "## fanout: one stream, {listeners} FLV listeners, straight from {engine} and through the edge\n\n\
         One stream fed to ingest in real time; {listeners} seats taken from the registry, then {listeners} \
         listeners straight from {engine}'s HTTP-FLV port (each with its seat's playback token as `?token=`, \
         which {engine}'s on_play hook checks with the registry), then as many through the TLS edge (its FLV \
         relay: one {engine} connection per nginx worker; {merge}). Listeners join at {rate}/s, then {window:.0} s are \
         measured after a {settle} s settle. Both sides in the same run, the same stream and the same playback \
         tokens; CPU from /proc, as % of one core; CPU per listener-second = (engine + edge) CPU ÷ listeners; \
         machine busy is the share of both cores, other work on the machine included.\n\n\
         | path | listeners | first try | after retry | never | served ≥ 95 % | audio received min / median | jitter p50 / p99 ms | max gap p99 ms | engine CPU % | edge CPU % | total CPU % | CPU µs per listener-second | machine busy % |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n{}{}\n\
         CPU ratio (edge + engine ÷ engine alone): **{:.2}** (goal ≤ 1.5). CPU per listener-second: \
         **{:.0} µs** straight from {engine}, **{:.0} µs** in the edge. \
         Load generator CPU: {:.0} % (direct) / {:.0} % (edge). Reconnects: {} / {}. Last problems of listeners that \
         had one: direct: {}; edge: {}. Open files limit: {}.\n",
        row(&report.direct),
        row(&report.through_edge),
        report.cpu_ratio,
        report.engine_cpu_us_per_listener_second,
        report.edge_cpu_us_per_listener_second,
        report.direct.loadgen_cpu_percent,
        report.through_edge.loadgen_cpu_percent,
        report.direct.reconnects,
        report.through_edge.reconnects,
        problems(&report.direct),
        problems(&report.through_edge),
        report.open_files_limit.map_or("unknown".to_owned(), |limit| limit.to_string()),
        engine = report.engine,
        listeners = report.listeners,
        rate = report.joins_per_second,
        window = report.direct.window_seconds,
        settle = SETTLE.as_secs(),
    )
}
