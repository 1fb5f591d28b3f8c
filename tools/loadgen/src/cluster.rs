//! A cluster of edges keeps one stream's cap when an edge goes away.
//!
//! Several independent edges (nginx master and workers each), each in front
//! of a gateway and a registry of its own, all on one Redis, one ingest and
//! one engine. A creator posts audio in real time through the last edge.
//! `--listeners` listeners join one after another (`--ramp` per second),
//! listener `i` through edge `i mod edges` (so through its gateway and
//! registry), from a loopback address shared by `--listeners-per-address`
//! of them; each plays the FLV URL its join handed out, which names that
//! edge. Exactly `--cap` must get a seat (the rest `409 stream_full`), and
//! every registry must count exactly that many.
//!
//! Then the first edge is stopped (SIGTERM to its master). Its listeners'
//! responses end, and they reconnect like players to the next edge with the
//! URL path they have (the same playback token); `--leaving-percent` of them
//! do not come back (closed the app). Throughout, the edges' own FLV
//! listener gauges, the registries' counts and the listeners' own view are
//! sampled: none may ever exceed the cap. The leavers' seats must free
//! within one lease (`--lease-seconds`), and then the refused listeners try
//! once more: exactly the freed seats may go to them.
//!
//! Measured: time until the moved listeners hear audio again (from the stop,
//! and from their reconnect), the edges' CPU per listener-second and memory
//! per listener with every edge up, and again on the remaining edges.

use crate::args::Arguments;
use crate::edge;
use crate::edge_metrics::EdgeMetrics;
use crate::listener::{self, FrameSink, Plan};
use crate::percentiles::Percentiles;
use crate::procstat::{
    open_files_limit, pss_kbytes, rss_kbytes, with_descendants, CpuWindow, MachineWindow,
};
use crate::seats::JoinRefused;
use crate::tokens::Minter;
use serde::Serialize;
use std::error::Error;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::time::{sleep, sleep_until, Instant};
use vibes_domain::api::PlaybackUrls;

/// The edge that is stopped; its listeners move to the next ones.
const STOPPED: usize = 0;
/// Between the last listener joining and a measurement window.
const SETTLE: Duration = Duration::from_secs(3);
/// No address (between two responses).
const NOWHERE: usize = usize::MAX;
/// How long the moved listeners get to hear audio again before the
/// scenario gives up on the ones that did not.
const MOVE_LIMIT: Duration = Duration::from_secs(30);
/// Beyond one lease: the registries are read this often, and the last
/// renewal of a leaver's seat may come a moment after the stop.
const LEASE_SLACK: Duration = Duration::from_secs(2);
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

#[derive(Debug, Serialize)]
struct Joins {
    offered: usize,
    seated: usize,
    refused_full: usize,
    /// Anything else, by answer.
    failed: Vec<(String, usize)>,
    /// Seats per edge joined on.
    seated_per_edge: Vec<usize>,
    /// What each registry counted once everyone had joined.
    counted_by_registries: Vec<u64>,
}

/// CPU and memory of the edges over one measurement window.
#[derive(Debug, Serialize)]
struct Window {
    edges: Vec<usize>,
    /// FLV listeners each of those edges was writing to at the window's end.
    listeners_per_edge: Vec<u64>,
    listeners: u64,
    /// Listeners hearing audio at the window's end, as they saw it.
    hearing: u64,
    seconds: f64,
    edge_cpu_percent: f64,
    edge_cpu_us_per_listener_second: f64,
    /// Resident memory of those edges (masters and workers) before any
    /// listener connected and at the window's end, and the growth per listener.
    rss_mbytes_before: f64,
    rss_mbytes: f64,
    rss_kbytes_per_listener: f64,
    /// The same as PSS (shared pages split between master and workers).
    pss_mbytes: f64,
    loadgen_cpu_percent: f64,
    machine_busy_percent: f64,
}

#[derive(Debug, Serialize)]
struct Move {
    /// Listeners whose edge was stopped: coming back, and leaving for good.
    returning: usize,
    leaving: usize,
    /// Leavers cut before the stop (they would free their seats early).
    leavers_gone_before_stop: usize,
    heard_again: usize,
    /// From the stop to the first audio through another edge.
    stop_to_audio: Percentiles,
    /// From the listener's reconnect to that audio (what the stack takes;
    /// the rest is the listener's own reconnect delay, 0.3–1.0 s).
    reconnect_to_audio: Percentiles,
    /// From the stop until the registries counted only the returners'
    /// seats (None: not within one lease and the slack).
    seats_freed_after_ms: Option<f64>,
    lease_seconds: u64,
    /// Refused listeners that tried again once the seats were freed, and
    /// how many got one.
    retried: usize,
    readmitted: usize,
    counted_by_registries_at_end: Vec<u64>,
}

/// The most listeners counted at one moment, over the whole run.
#[derive(Debug, Serialize, Default)]
struct Peaks {
    samples: u64,
    /// Sum of the edges' `vibes_edge_flv_listeners`.
    edges: u64,
    /// Highest count any registry listed.
    registries: u64,
    /// Listeners whose current response was delivering audio, as they saw it.
    listeners: u64,
}

#[derive(Debug, Serialize)]
struct Report {
    scenario: &'static str,
    engine: String,
    edges: usize,
    edge_workers: Option<u64>,
    edge_merge_ms: Option<u64>,
    cap: u64,
    listeners_per_address: usize,
    joins_per_second: u64,
    open_files_limit: Option<u64>,
    joins: Joins,
    all_edges: Window,
    after_stop: Window,
    moved: Move,
    peaks: Peaks,
    /// What did not hold (empty: the cap held throughout).
    broken: Vec<String>,
}

pub async fn run(arguments: &Arguments) -> Result<(), Box<dyn Error>> {
    let listeners = arguments.number("listeners", 1500)? as usize;
    let cap = arguments.number("cap", 1000)?;
    let joins_per_second = arguments.number("ramp", 100)?.max(1);
    let window = Duration::from_secs(arguments.number("seconds", 20)?);
    let leaving_percent = arguments.number("leaving-percent", 10)?.min(100) as usize;
    let lease = Duration::from_secs(arguments.number("lease-seconds", 30)?);
    let out = arguments.out_dir()?;
    let cluster = Cluster::new(arguments)?;
    let edges = cluster.edge_urls.len();
    eprintln!(
        "cluster: {edges} edges, {listeners} listeners for {cap} seats, {joins_per_second} joins/s, \
         {} client addresses",
        cluster.clients.len()
    );

    // The creator posts through the last edge, which stays up (a creator's
    // own failover is ingest's business).
    let feeding = Arc::new(AtomicBool::new(true));
    let feeder = tokio::spawn(crate::fanout::feed(
        crate::clients::edge(&cluster.edge_urls[0], &cluster.certificate)?,
        format!(
            "{}/stream/{}/audio",
            cluster.edge_urls[edges - 1],
            cluster.vibe
        ),
        Some(cluster.minter.creator(&cluster.vibe)),
        feeding.clone(),
    ));
    cluster.wait_until_listed().await?;
    let sampler_running = Arc::new(AtomicBool::new(true));
    let sampler = tokio::spawn(sample_peaks(cluster.clone(), sampler_running.clone()));

    // Joins and plays, one listener after another.
    let started = Instant::now();
    let joining: Vec<_> = (0..listeners)
        .map(|index| {
            let at = started + Duration::from_secs_f64(index as f64 / joins_per_second as f64);
            cluster.join(index, index % edges, at)
        })
        .collect();
    let mut seats: Vec<Arc<Seat>> = Vec::new();
    let mut refused: Vec<usize> = Vec::new();
    let mut failed: Vec<String> = Vec::new();
    let mut playing = Vec::new();
    let leaving_every = (leaving_percent > 0).then(|| 100 / leaving_percent);
    for (index, joined) in joining.into_iter().enumerate() {
        let home = index % edges;
        match joined.await? {
            Ok(playback) => {
                let seated_here = seats.iter().filter(|seat| seat.home == home).count();
                let leaves = home == STOPPED
                    && leaving_every.is_some_and(|every| seated_here % every == every - 1);
                match cluster.play(index, home, &playback.flv, leaves) {
                    Ok((seat, listening)) => {
                        seats.push(seat);
                        playing.push(listening);
                    }
                    Err(wrong) => failed.push(wrong),
                }
            }
            Err(error) => match error.downcast_ref::<JoinRefused>() {
                Some(refusal) if refusal.status == 409 && refusal.what.contains("stream_full") => {
                    refused.push(index)
                }
                _ => failed.push(error.to_string()),
            },
        }
        if index % 250 == 249 {
            eprintln!("cluster: {} listeners joined", index + 1);
        }
    }
    let joins = Joins {
        offered: listeners,
        seated: seats.len(),
        refused_full: refused.len(),
        failed: listener::tally(failed),
        seated_per_edge: (0..edges)
            .map(|edge| seats.iter().filter(|seat| seat.home == edge).count())
            .collect(),
        counted_by_registries: cluster.counts().await,
    };
    eprintln!(
        "cluster: {} seated ({:?} per edge), {} refused as full; registries count {:?}",
        joins.seated, joins.seated_per_edge, joins.refused_full, joins.counted_by_registries
    );

    sleep(SETTLE).await;
    let every_edge: Vec<usize> = (0..edges).collect();
    let all_edges = cluster.measure(&every_edge, window).await;

    let stopped_at = cluster.stop(STOPPED)?;
    let moving: Vec<&Arc<Seat>> = seats.iter().filter(|seat| seat.home == STOPPED).collect();
    let returning: Vec<&Arc<Seat>> = moving.iter().copied().filter(|seat| !seat.leaves).collect();
    let leaving = moving.len() - returning.len();
    let deadline = stopped_at + MOVE_LIMIT;
    while Instant::now() < deadline && !returning.iter().all(|seat| seat.resumed().is_some()) {
        sleep(SAMPLE_EVERY).await;
    }
    let resumed: Vec<(Duration, Duration)> =
        returning.iter().filter_map(|seat| seat.resumed()).collect();
    eprintln!(
        "cluster: {} of {} moved listeners hear audio again",
        resumed.len(),
        returning.len()
    );

    // The leavers' seats lapse: the registries count only those still there.
    let remaining = joins.seated.saturating_sub(leaving) as u64;
    let seats_freed_after = cluster
        .counted_down_to(remaining, stopped_at + lease + LEASE_SLACK)
        .await
        .then(|| stopped_at.elapsed());
    eprintln!("cluster: seats of the {leaving} who left freed after {seats_freed_after:?}");

    // The refused try once more, through the remaining edges: at most the
    // freed seats may go to them.
    let retries: Vec<_> = refused
        .iter()
        .enumerate()
        .map(|(turn, index)| {
            let home = STOPPED + 1 + turn % (edges - 1);
            (*index, home, cluster.join(*index, home, Instant::now()))
        })
        .collect();
    let mut readmitted = 0;
    for (index, home, retry) in retries {
        let Ok(playback) = retry.await? else {
            continue;
        };
        if let Ok((_, listening)) = cluster.play(index, home, &playback.flv, false) {
            readmitted += 1;
            playing.push(listening);
        }
    }
    sleep(SETTLE).await;
    let remaining_edges: Vec<usize> = (0..edges).filter(|edge| *edge != STOPPED).collect();
    let after_stop = cluster.measure(&remaining_edges, window).await;
    let counted_at_end = cluster.counts().await;

    sampler_running.store(false, Ordering::Release);
    let peaks = sampler.await?;
    for listening in playing {
        listening.abort();
    }
    feeding.store(false, Ordering::Release);
    feeder.await?;

    let moved = Move {
        returning: returning.len(),
        leaving,
        leavers_gone_before_stop: moving
            .iter()
            .filter(|seat| seat.leaves && seat.cut_before_stop.load(Ordering::Acquire))
            .count(),
        heard_again: resumed.len(),
        stop_to_audio: Percentiles::of(resumed.iter().map(|(from_stop, _)| *from_stop).collect()),
        reconnect_to_audio: Percentiles::of(
            resumed.iter().map(|(_, from_retry)| *from_retry).collect(),
        ),
        seats_freed_after_ms: seats_freed_after.map(|after| after.as_secs_f64() * 1000.0),
        lease_seconds: lease.as_secs(),
        retried: refused.len(),
        readmitted,
        counted_by_registries_at_end: counted_at_end,
    };
    let broken = verdict(cap, &joins, [&all_edges, &after_stop], &moved, &peaks);
    let report = Report {
        scenario: "cluster",
        engine: arguments.engine(),
        edges,
        edge_workers: arguments.optional_number("edge-workers")?,
        edge_merge_ms: arguments.optional_number("edge-merge-ms")?,
        cap,
        listeners_per_address: cluster.per_address,
        joins_per_second,
        open_files_limit: open_files_limit(),
        joins,
        all_edges,
        after_stop,
        moved,
        peaks,
        broken,
    };
    crate::report::write(&out, "cluster", &report, &markdown(&report))?;
    if !report.broken.is_empty() {
        return Err(format!(
            "the cluster did not keep the cap: {}",
            report.broken.join("; ")
        )
        .into());
    }
    Ok(())
}

/// What the scenario's steps share: the cluster's addresses, the clients,
/// the stream, and what the listeners report.
#[derive(Clone)]
struct Cluster {
    edge_urls: Vec<String>,
    /// Each edge's nginx master.
    edge_pids: Vec<u32>,
    metrics: Vec<EdgeMetrics>,
    /// Each registry's own port, one per edge.
    registry_urls: Vec<String>,
    certificate: PathBuf,
    /// For the registries' own ports.
    plain: reqwest::Client,
    /// One client per loopback source address, `per_address` listeners each.
    clients: Vec<reqwest::Client>,
    per_address: usize,
    minter: Arc<Minter>,
    vibe: String,
    audience: Arc<Audience>,
    /// Resident memory of each edge (master and workers) before anyone
    /// listened, in kB.
    rss_before: Vec<u64>,
}

impl Cluster {
    fn new(arguments: &Arguments) -> Result<Self, Box<dyn Error>> {
        let list = |name: &str| -> Result<Vec<String>, String> {
            Ok(arguments
                .text(name)?
                .split(',')
                .map(|item| item.trim().trim_end_matches('/').to_owned())
                .collect())
        };
        let edge_urls = list("edge-urls")?;
        let edge_pids: Vec<u32> = list("edge-pids")?
            .iter()
            .map(|pid| pid.parse())
            .collect::<Result<_, _>>()?;
        let mut metrics = Vec::new();
        for url in list("edge-metrics-urls")? {
            metrics.push(EdgeMetrics::new(Some(url))?.ok_or("an edge metrics URL")?);
        }
        let registry_urls = list("registry-urls")?;
        let edges = edge_urls.len();
        if edges < 2 || [metrics.len(), edge_pids.len(), registry_urls.len()] != [edges; 3] {
            return Err(
                "give at least two edges, and as many pids, metrics and registry URLs".into(),
            );
        }
        let certificate = PathBuf::from(arguments.text("ca-cert")?);
        let listeners = arguments.number("listeners", 1500)? as usize;
        let per_address = (arguments.number("listeners-per-address", 25)? as usize).max(1);
        let clients = (0..listeners.div_ceil(per_address))
            .map(|group| {
                let source = crate::clients::loopback_source(group);
                crate::clients::edge_from(&edge_urls[0], &certificate, Some(source))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let rss_before = edge_pids
            .iter()
            .map(|pid| kbytes(&with_descendants(*pid), rss_kbytes))
            .collect();
        Ok(Self {
            plain: crate::clients::plain()?,
            minter: Arc::new(Minter::from_env()?),
            vibe: format!("bench-cluster-{}", std::process::id()),
            audience: Arc::new(Audience::default()),
            edge_urls,
            edge_pids,
            metrics,
            registry_urls,
            certificate,
            clients,
            per_address,
            rss_before,
        })
    }

    /// The stream is registered (its first chunk was accepted) and has had
    /// a moment to publish.
    async fn wait_until_listed(&self) -> Result<(), Box<dyn Error>> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let listed =
                crate::seats::participant_count(&self.plain, &self.registry_urls[0], &self.vibe);
            if listed.await.is_ok_and(|count| count.is_some()) {
                sleep(Duration::from_secs(1)).await;
                return Ok(());
            }
            sleep(Duration::from_millis(200)).await;
        }
        Err(format!(
            "{} was not listed within 20 s: the creator's audio did not start it",
            self.vibe
        )
        .into())
    }

    fn client(&self, listener: usize) -> reqwest::Client {
        self.clients[listener / self.per_address].clone()
    }

    /// Listener `index` joins through edge `home` at `at`.
    fn join(
        &self,
        index: usize,
        home: usize,
        at: Instant,
    ) -> tokio::task::JoinHandle<Result<PlaybackUrls, Box<dyn Error + Send + Sync>>> {
        let (http, minter) = (self.client(index), self.minter.clone());
        let (edge_url, vibe) = (self.edge_urls[home].clone(), self.vibe.clone());
        tokio::spawn(async move {
            sleep_until(at).await;
            let participant = format!("{vibe}-{index}");
            edge::join(&http, &edge_url, &vibe, &participant, &minter).await
        })
    }

    /// Listener `index` plays `flv`, the URL its join through edge `home`
    /// handed out (Err if it does not name that edge).
    fn play(
        &self,
        index: usize,
        home: usize,
        flv: &str,
        leaves: bool,
    ) -> Result<(Arc<Seat>, tokio::task::JoinHandle<()>), String> {
        let path = flv
            .strip_prefix(&self.edge_urls[home])
            .ok_or_else(|| format!("a join through edge {home} handed out {flv}"))?;
        let seat = Arc::new(Seat::new(home, leaves));
        let plan = plan_for(&self.edge_urls, home, path, leaves, index);
        let mut ear = Ear {
            seat: seat.clone(),
            audience: self.audience.clone(),
            address: 0,
            tried_at: Instant::now(),
            playing: false,
        };
        let http = self.client(index);
        let listening = tokio::spawn(async move {
            listener::listen(&http, &plan, &mut ear).await;
        });
        Ok((seat, listening))
    }

    /// Each registry's count of the stream (0 where it does not answer).
    async fn counts(&self) -> Vec<u64> {
        let mut counts = Vec::with_capacity(self.registry_urls.len());
        for registry in &self.registry_urls {
            let counted = crate::seats::participant_count(&self.plain, registry, &self.vibe).await;
            counts.push(counted.ok().flatten().unwrap_or(0));
        }
        counts
    }

    /// Waits until the first registry counts at most `remaining` before
    /// `deadline`; whether it did.
    async fn counted_down_to(&self, remaining: u64, deadline: Instant) -> bool {
        while Instant::now() < deadline {
            let registry = &self.registry_urls[0];
            let counted = crate::seats::participant_count(&self.plain, registry, &self.vibe).await;
            if counted
                .ok()
                .flatten()
                .is_some_and(|counted| counted <= remaining)
            {
                return true;
            }
            sleep(Duration::from_millis(200)).await;
        }
        false
    }

    /// Stops edge `index` as an orchestrator does: SIGTERM to its master.
    fn stop(&self, index: usize) -> Result<Instant, Box<dyn Error>> {
        let master = self.edge_pids[index];
        eprintln!("cluster: stopping edge {index} (SIGTERM to nginx master {master})");
        let stopped_at = Instant::now();
        let _ = self.audience.stopped_at.set(stopped_at);
        let signalled = std::process::Command::new("kill")
            .args(["-TERM", &master.to_string()])
            .status()?;
        if !signalled.success() {
            return Err(format!("could not signal nginx master {master}").into());
        }
        Ok(stopped_at)
    }

    /// CPU and memory of `edges` (masters and workers) over `window`.
    async fn measure(&self, edges: &[usize], window: Duration) -> Window {
        eprintln!("cluster: measuring edges {edges:?} for {window:?}");
        let pids: Vec<u32> = edges
            .iter()
            .flat_map(|edge| with_descendants(self.edge_pids[*edge]))
            .collect();
        let loadgen = [std::process::id()];
        let edge_cpu = CpuWindow::start(&pids);
        let loadgen_cpu = CpuWindow::start(&loadgen);
        let machine = MachineWindow::start();
        sleep(window).await;
        let (edge_cpu_percent, elapsed) = edge_cpu.percent(&pids);
        let (loadgen_cpu_percent, _) = loadgen_cpu.percent(&loadgen);
        let machine_busy_percent = machine.busy_percent();
        let mut listeners_per_edge = Vec::with_capacity(edges.len());
        for edge in edges {
            listeners_per_edge.push(self.metrics[*edge].listeners().await.unwrap_or(0));
        }
        let listeners: u64 = listeners_per_edge.iter().sum();
        let rss = kbytes(&pids, rss_kbytes);
        let before: u64 = edges.iter().map(|edge| self.rss_before[*edge]).sum();
        let per_listener = |total: f64| total / listeners.max(1) as f64;
        Window {
            edges: edges.to_vec(),
            listeners_per_edge,
            listeners,
            hearing: self.audience.now.load(Ordering::Acquire),
            seconds: elapsed.as_secs_f64(),
            edge_cpu_percent,
            edge_cpu_us_per_listener_second: per_listener(edge_cpu_percent / 100.0 * 1e6),
            rss_mbytes_before: before as f64 / 1024.0,
            rss_mbytes: rss as f64 / 1024.0,
            rss_kbytes_per_listener: per_listener(rss.saturating_sub(before) as f64),
            pss_mbytes: kbytes(&pids, pss_kbytes) as f64 / 1024.0,
            loadgen_cpu_percent,
            machine_busy_percent,
        }
    }
}

/// A listener's plan: the URL its join handed out (through `home`), then
/// the same path on the other edges in turn.
fn plan_for(edge_urls: &[String], home: usize, path: &str, leaves: bool, index: usize) -> Plan {
    let edges = edge_urls.len();
    Plan {
        url: format!("{}{path}", edge_urls[home]),
        alternates: (1..edges)
            .map(|step| format!("{}{path}", edge_urls[(home + step) % edges]))
            .collect(),
        leaves_when_cut: leaves,
        // Listening ends when the scenario aborts the task.
        until: Instant::now() + Duration::from_secs(3600),
        window: None,
        max_tries: 40,
        stall: Duration::from_secs(3),
        retry_delay: listener::spread_retry_delay(index),
    }
}

/// Sum of `read` over `pids`, in kB.
fn kbytes(pids: &[u32], read: fn(u32) -> u64) -> u64 {
    pids.iter().map(|pid| read(*pid)).sum()
}

/// A seated listener, as the scenario follows it.
struct Seat {
    /// The edge it joined on.
    home: usize,
    leaves: bool,
    /// The edge (address in its plan) whose response gives it audio now.
    playing_on: AtomicUsize,
    /// It lost a response that played before the stop.
    cut_before_stop: AtomicBool,
    /// After the stop, through another edge: (since the stop, since its
    /// reconnect) when the first audio arrived.
    resumed: OnceLock<(Duration, Duration)>,
}

impl Seat {
    fn new(home: usize, leaves: bool) -> Self {
        Self {
            home,
            leaves,
            playing_on: AtomicUsize::new(NOWHERE),
            cut_before_stop: AtomicBool::new(false),
            resumed: OnceLock::new(),
        }
    }

    fn resumed(&self) -> Option<(Duration, Duration)> {
        self.resumed.get().copied()
    }
}

/// Listeners with audio flowing now, as they see it, and the most at once.
#[derive(Default)]
struct Audience {
    now: AtomicU64,
    most: AtomicU64,
    stopped_at: OnceLock<Instant>,
}

/// Follows one listener's responses for [`Seat`] and [`Audience`].
struct Ear {
    seat: Arc<Seat>,
    audience: Arc<Audience>,
    address: usize,
    tried_at: Instant,
    playing: bool,
}

impl FrameSink for Ear {
    fn trying(&mut self, address: usize) {
        self.address = address;
        self.tried_at = Instant::now();
    }

    fn frame(&mut self, arrived: Instant, _frame: &[u8]) {
        if self.playing {
            return;
        }
        self.playing = true;
        let now = self.audience.now.fetch_add(1, Ordering::AcqRel) + 1;
        self.audience.most.fetch_max(now, Ordering::AcqRel);
        self.seat.playing_on.store(self.address, Ordering::Release);
        if let Some(stopped_at) = self.audience.stopped_at.get() {
            if self.address != 0 && arrived > *stopped_at {
                let _ = self
                    .seat
                    .resumed
                    .set((arrived - *stopped_at, arrived - self.tried_at));
            }
        }
    }

    fn disconnected(&mut self) {
        if !self.playing {
            return;
        }
        self.playing = false;
        self.audience.now.fetch_sub(1, Ordering::AcqRel);
        self.seat.playing_on.store(NOWHERE, Ordering::Release);
        if self.audience.stopped_at.get().is_none() {
            self.seat.cut_before_stop.store(true, Ordering::Release);
        }
    }
}

/// Samples every `SAMPLE_EVERY` until `running` clears: the edges' listener
/// gauges (summed), each registry's count in turn, the listeners' own view.
async fn sample_peaks(cluster: Cluster, running: Arc<AtomicBool>) -> Peaks {
    let mut peaks = Peaks::default();
    let registries = &cluster.registry_urls;
    while running.load(Ordering::Acquire) {
        // Listeners move away from the stopped edge: reading the others
        // first never counts a moving listener twice (at worst not at all).
        let mut on_edges = 0;
        for (index, edge) in cluster.metrics.iter().enumerate().rev() {
            if index != STOPPED {
                on_edges += edge.listeners().await.unwrap_or(0);
            }
        }
        on_edges += cluster.metrics[STOPPED].listeners().await.unwrap_or(0);
        peaks.edges = peaks.edges.max(on_edges);
        let registry = &registries[peaks.samples as usize % registries.len()];
        let counted = crate::seats::participant_count(&cluster.plain, registry, &cluster.vibe);
        if let Ok(Some(counted)) = counted.await {
            peaks.registries = peaks.registries.max(counted);
        }
        peaks.samples += 1;
        sleep(SAMPLE_EVERY).await;
    }
    peaks.listeners = cluster.audience.most.load(Ordering::Acquire);
    peaks
}

/// What did not hold, in words (empty: everything did).
fn verdict(
    cap: u64,
    joins: &Joins,
    [all_edges, after_stop]: [&Window; 2],
    moved: &Move,
    peaks: &Peaks,
) -> Vec<String> {
    let mut broken = Vec::new();
    if joins.seated as u64 != cap {
        broken.push(format!("{} listeners got a seat, not {cap}", joins.seated));
    }
    // Everyone seated plays: before the stop all of them, after it all
    // but the leavers and with those who took their seats.
    let after = (joins.seated + moved.readmitted).saturating_sub(moved.leaving) as u64;
    for (when, window, expected) in [
        ("before", all_edges, joins.seated as u64),
        ("after", after_stop, after),
    ] {
        if window.hearing != expected || window.listeners != expected {
            broken.push(format!(
                "{} listeners heard audio and the edges wrote to {} {when} the stop, not {expected}",
                window.hearing, window.listeners
            ));
        }
    }
    if !joins.failed.is_empty() {
        broken.push(format!(
            "joins failed: {}",
            listener::problems_text(&joins.failed)
        ));
    }
    for (index, counted) in joins.counted_by_registries.iter().enumerate() {
        if *counted != cap {
            broken.push(format!(
                "registry {index} counted {counted} after the joins, not {cap}"
            ));
        }
    }
    for (what, most) in [
        ("the edges' listener gauges", peaks.edges),
        ("a registry's count", peaks.registries),
        ("the listeners' own view", peaks.listeners),
    ] {
        if most > cap {
            broken.push(format!("{what} reached {most}, over the cap of {cap}"));
        }
    }
    if moved.heard_again != moved.returning {
        broken.push(format!(
            "{} of {} moved listeners heard audio again within {MOVE_LIMIT:?}",
            moved.heard_again, moved.returning
        ));
    }
    if moved.seats_freed_after_ms.is_none() {
        broken.push(format!(
            "the seats of those who left were not freed within one lease ({} s) and {LEASE_SLACK:?}",
            moved.lease_seconds
        ));
    }
    if moved.readmitted > moved.leaving {
        broken.push(format!(
            "{} refused listeners got a seat afterwards, but only {} were freed",
            moved.readmitted, moved.leaving
        ));
    }
    for (index, counted) in moved.counted_by_registries_at_end.iter().enumerate() {
        if *counted > cap {
            broken.push(format!(
                "registry {index} counted {counted} at the end, over {cap}"
            ));
        }
    }
    broken
}

fn markdown(report: &Report) -> String {
    let joins = &report.joins;
    let moved = &report.moved;
    let peaks = &report.peaks;
    let window_row = |name: &str, window: &Window| {
        format!(
            "| {name} | {} | {} | {:?} | {:.0} | {:.1} | **{:.0}** | {:.1} → {:.1} | **{:.1}** | {:.1} | {:.0} | {:.0} |\n",
            window.listeners,
            window.hearing,
            window.listeners_per_edge,
            window.seconds,
            window.edge_cpu_percent,
            window.edge_cpu_us_per_listener_second,
            window.rss_mbytes_before,
            window.rss_mbytes,
            window.rss_kbytes_per_listener,
            window.pss_mbytes,
            window.loadgen_cpu_percent,
            window.machine_busy_percent,
        )
    };
    let timing = |name: &str, percentiles: &Percentiles| {
        format!(
            "| {name} | {:.0} | {:.0} | {:.0} |\n",
            percentiles.p50_ms, percentiles.p95_ms, percentiles.max_ms
        )
    };
    let workers = report
        .edge_workers
        .map_or("its".to_owned(), |workers| workers.to_string());
    let merge = crate::edge_metrics::describe(report.edge_merge_ms, None);
    let verdict = if report.broken.is_empty() {
        "**The cap held**: exactly the cap got seats and were counted by every registry, nothing \
         ever counted more, the moved listeners all heard audio again and the leavers' seats \
         were freed within one lease."
            .to_owned()
    } else {
        format!("**Broken**: {}.", report.broken.join("; "))
    };
    let freed = moved
        .seats_freed_after_ms
        .map_or("not within one lease".to_owned(), |ms| {
            format!("{:.1} s", ms / 1000.0)
        });
    format!(
        "## cluster: {edges} edges, {offered} listeners for {cap} seats, one edge stopped\n\n\
         {edges} independent nginx edges (master and {workers} workers each, their own ports; {merge}), \
         each in front of its own gateway and registry (release builds, one Redis), one ingest, one \
         {engine}. A creator posts audio in real time through the last edge. {offered} listeners join \
         at {rate}/s, listener *i* through edge *i* mod {edges} (HTTPS API → that edge's gateway → \
         its registry), {per_address} per loopback source address (so the edges' per-address limits \
         stay at their defaults), and each plays the FLV URL its join handed out (which names that \
         edge). After a {settle} s settle, {window:.0} s are \
         measured; then edge 0 gets SIGTERM (its master). Its listeners reconnect like players \
         (0.3–1.0 s later) to the next edge with the same URL path and token, except \
         {leaving} of them, who leave. The edges' `vibes_edge_flv_listeners`, the registries' \
         counts and the listeners' own view are sampled every {sample} ms throughout. Once the \
         leavers' seats are free, the {retried} refused listeners try once more. CPU and memory \
         are the edges' masters and workers, from /proc; CPU per listener-second = edge CPU ÷ \
         listeners; memory per listener = resident growth since before anyone connected ÷ \
         listeners.\n\n\
         Joins: **{seated} seated** ({per_edge:?} per edge), {full} refused `409 stream_full`, \
         failed: {failed}; counted by the registries: {counted:?}.\n\n\
         | edges up | listeners (edges' gauges) | hearing audio | per edge | s | edge CPU % | CPU µs per listener-second | RSS MB before → during | RSS kB per listener | PSS MB | load generator CPU % | machine busy % |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|\n{all}{after}\n\
         Edge 0 stopped: {returning} of its listeners came back, {leaving} left ({early} of those \
         lost their response before the stop). **{heard} of {returning}** heard audio again through \
         another edge:\n\n\
         | moved listeners | p50 ms | p95 ms | max ms |\n|---|---|---|---|\n{from_stop}{from_retry}\n\
         The leavers' seats were free after **{freed}** (lease {lease} s); then {readmitted} of the \
         {retried} refused listeners got a seat (at most {leaving} could). Counted at the end: \
         {counted_end:?}.\n\n\
         Most at once, over {samples} samples: edges' listener gauges **{peak_edges}**, a \
         registry's count **{peak_registries}**, listeners hearing audio **{peak_listeners}** \
         (cap {cap}). {verdict} Open files limit: {files}.\n",
        all = window_row("all", &report.all_edges),
        after = window_row("after edge 0 stopped", &report.after_stop),
        from_stop = timing("from the stop to audio", &moved.stop_to_audio),
        from_retry = timing("from their reconnect to audio", &moved.reconnect_to_audio),
        edges = report.edges,
        offered = joins.offered,
        cap = report.cap,
        engine = report.engine,
        rate = report.joins_per_second,
        per_address = report.listeners_per_address,
        settle = SETTLE.as_secs(),
        window = report.all_edges.seconds,
        leaving = moved.leaving,
        sample = SAMPLE_EVERY.as_millis(),
        retried = moved.retried,
        seated = joins.seated,
        per_edge = joins.seated_per_edge,
        full = joins.refused_full,
        failed = listener::problems_text(&joins.failed),
        counted = joins.counted_by_registries,
        returning = moved.returning,
        early = moved.leavers_gone_before_stop,
        heard = moved.heard_again,
        lease = moved.lease_seconds,
        readmitted = moved.readmitted,
        counted_end = moved.counted_by_registries_at_end,
        samples = peaks.samples,
        peak_edges = peaks.edges,
        peak_registries = peaks.registries,
        peak_listeners = peaks.listeners,
        files = report
            .open_files_limit
            .map_or("unknown".to_owned(), |limit| limit.to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listener_plays_where_it_joined_then_the_same_path_on_the_next_edges() {
        let edges = [
            "https://localhost:1",
            "https://localhost:2",
            "https://localhost:3",
        ]
        .map(str::to_owned);
        let plan = plan_for(&edges, 1, "/live/p.1.t/v.flv", true, 7);
        assert_eq!(plan.url, "https://localhost:2/live/p.1.t/v.flv");
        assert_eq!(
            plan.alternates,
            [
                "https://localhost:3/live/p.1.t/v.flv",
                "https://localhost:1/live/p.1.t/v.flv"
            ]
        );
        assert!(plan.leaves_when_cut);
    }

    fn joins(seated: usize, counted: Vec<u64>) -> Joins {
        Joins {
            offered: 15,
            seated,
            refused_full: 15 - seated,
            failed: Vec::new(),
            seated_per_edge: vec![seated / 2, seated - seated / 2],
            counted_by_registries: counted,
        }
    }

    fn moved(heard_again: usize, freed: Option<f64>, readmitted: usize) -> Move {
        let none = Percentiles::of(Vec::new());
        Move {
            returning: 4,
            leaving: 1,
            leavers_gone_before_stop: 0,
            heard_again,
            stop_to_audio: none.clone(),
            reconnect_to_audio: none,
            seats_freed_after_ms: freed,
            lease_seconds: 30,
            retried: 5,
            readmitted,
            counted_by_registries_at_end: vec![10, 10],
        }
    }

    fn window(listeners: u64, hearing: u64) -> Window {
        Window {
            edges: vec![0, 1],
            listeners_per_edge: vec![listeners],
            listeners,
            hearing,
            seconds: 20.0,
            edge_cpu_percent: 20.0,
            edge_cpu_us_per_listener_second: 200.0,
            rss_mbytes_before: 50.0,
            rss_mbytes: 150.0,
            rss_kbytes_per_listener: 100.0,
            pss_mbytes: 120.0,
            loadgen_cpu_percent: 20.0,
            machine_busy_percent: 90.0,
        }
    }

    fn peaks(edges: u64, registries: u64, listeners: u64) -> Peaks {
        Peaks {
            samples: 100,
            edges,
            registries,
            listeners,
        }
    }

    #[test]
    fn the_verdict_names_every_limit_that_broke() {
        let full = window(10, 10);
        let held = verdict(
            10,
            &joins(10, vec![10, 10]),
            [&full, &full],
            &moved(4, Some(25_000.0), 1),
            &peaks(10, 10, 10),
        );
        assert_eq!(held, Vec::<String>::new());

        let broken = verdict(
            10,
            &joins(11, vec![10, 11]),
            [&window(11, 10), &full],
            &moved(3, None, 2),
            &peaks(11, 10, 12),
        );
        assert_eq!(
            broken,
            [
                "11 listeners got a seat, not 10",
                "10 listeners heard audio and the edges wrote to 11 before the stop, not 11",
                "10 listeners heard audio and the edges wrote to 10 after the stop, not 12",
                "registry 1 counted 11 after the joins, not 10",
                "the edges' listener gauges reached 11, over the cap of 10",
                "the listeners' own view reached 12, over the cap of 10",
                "3 of 4 moved listeners heard audio again within 30s",
                "the seats of those who left were not freed within one lease (30 s) and 2s",
                "2 refused listeners got a seat afterwards, but only 1 were freed",
            ]
        );
    }
}
