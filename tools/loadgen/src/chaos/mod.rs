//! Faults under load (`./scripts/chaos`, issue 22): creators and listeners
//! on many streams while the script kills and restarts one part of the
//! stack after another.
//!
//! The script owns the processes (it started them and knows how to restart
//! each), so the faults are its job; this side is the audience. The two
//! meet through three files: this side writes `--ready-file` once every
//! listener hears audio, the script then works through its faults, noting
//! each SIGKILL and restart in `--timeline`, and writes `--done-file` at the
//! end. Both clocks are the machine's wall clock (epoch milliseconds).
//!
//! `--streams` creators post the symbol track (`track`) through the edge in
//! real time with `X-Chunk-Seq`, retrying what is not accepted
//! (`creator`). `--listeners` per stream join through the edge and play the
//! URL they are given, every `--hls-every`th HLS and the rest FLV (`ears`).
//! The registries' counts are sampled every second. Afterwards every heard
//! symbol is matched to the click it was, and each fault's window is
//! measured (`analysis`): recovery, missed and lost audio, audio heard
//! twice, creators' errors, peak count against the cap.

mod analysis;
mod creator;
mod ears;
mod report;
mod track;

use crate::args::Arguments;
use crate::browser::WallClock;
use analysis::{Bounds, Handovers, Heard, Posted};
use std::error::Error;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::task::JoinHandle;
use tokio::time::{sleep, Instant};
use vibes_domain::api::ActiveStreams;

/// Every stream's first chunk, and every listener's first click, within this.
const START_LIMIT: Duration = Duration::from_secs(60);
const JOINS_PER_SECOND: f64 = 20.0;
const JOIN_TRIES: u32 = 5;
/// After the creators stop: the last accepted chunk plays (2 s) and reaches
/// the HLS listeners (segments of 1 s, a few behind live).
const LAST_AUDIO_GRACE: Duration = Duration::from_secs(10);
const COUNT_EVERY: Duration = Duration::from_secs(1);
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// One simulated listener.
struct Listener {
    stream: usize,
    hls: bool,
    notes: ears::Shared,
}

pub async fn run(arguments: &Arguments) -> Result<(), Box<dyn Error>> {
    let edge_url = arguments.url("edge-url")?;
    let certificate = PathBuf::from(arguments.text("ca-cert")?);
    let registry_url = arguments.url("registry-url")?;
    let streams = arguments.number("streams", 20)?.max(1) as usize;
    let per_stream = arguments.number("listeners", 10)? as usize;
    let hls_every = arguments.number("hls-every", 2)? as usize;
    let bounds = Bounds {
        cap: arguments.number("cap", per_stream as u64)?,
        recovery_limit_s: arguments.number("recovery-limit-seconds", 20)? as f64,
        lost_bound_ms: arguments.number("lost-bound-ms", 4000)? as f64,
    };
    let timeline = PathBuf::from(arguments.text("timeline")?);
    let ready_file = PathBuf::from(arguments.text("ready-file")?);
    let done_file = PathBuf::from(arguments.text("done-file")?);
    let give_up = Instant::now() + Duration::from_secs(arguments.number("max-seconds", 900)?);
    let out = arguments.out_dir()?;
    let minter = crate::tokens::Minter::from_env()?;
    let tag = std::process::id();
    let vibes: Vec<String> = (0..streams).map(|s| format!("chaos-{tag}-{s}")).collect();
    eprintln!(
        "chaos: {streams} streams × {per_stream} listeners (every {hls_every}th HLS), cap {}",
        bounds.cap
    );

    // Creators, each from a loopback address of its own: the edge and the
    // gateways limit requests per address, as for separate phones.
    let posting = Arc::new(AtomicBool::new(true));
    let mut posted = Vec::new();
    let mut live = Vec::new();
    let mut creators: Vec<JoinHandle<()>> = Vec::new();
    for (index, vibe) in vibes.iter().enumerate() {
        let client = crate::clients::edge_from(
            &edge_url,
            &certificate,
            Some(crate::clients::loopback_source(index)),
        )?;
        let creator = creator::Creator {
            client,
            audio_url: format!("{edge_url}/stream/{vibe}/audio"),
            authorization: minter.creator(vibe),
        };
        let record = Arc::new(Mutex::new(Posted::default()));
        let first = Arc::new(AtomicBool::new(false));
        creators.push(tokio::spawn(creator.run(
            posting.clone(),
            record.clone(),
            first.clone(),
        )));
        posted.push(record);
        live.push(first);
    }
    let started = Instant::now();
    while !live.iter().all(|first| first.load(Ordering::Acquire)) {
        if started.elapsed() > START_LIMIT {
            return Err("not every stream had a chunk accepted within 60 s".into());
        }
        sleep(Duration::from_millis(200)).await;
    }
    eprintln!("chaos: every stream is live");

    // Listeners join through the edge and play what they are handed.
    let stop = Arc::new(AtomicBool::new(false));
    let until = give_up + LAST_AUDIO_GRACE;
    let mut listeners = Vec::new();
    let mut playing: Vec<JoinHandle<()>> = Vec::new();
    let mut join_failures = Vec::new();
    for (stream, vibe) in vibes.iter().enumerate() {
        for seat in 0..per_stream {
            let index = stream * per_stream + seat;
            sleep(Duration::from_secs_f64(1.0 / JOINS_PER_SECOND)).await;
            let source = crate::clients::loopback_source(streams + index);
            let client = crate::clients::edge_from(&edge_url, &certificate, Some(source))?;
            let participant = format!("{vibe}-listener-{seat}");
            let Some(playback) = join(
                &client,
                &edge_url,
                vibe,
                &participant,
                &minter,
                &mut join_failures,
            )
            .await
            else {
                continue;
            };
            let hls = hls_every > 0 && seat % hls_every == hls_every - 1;
            let notes = ears::Shared::default();
            playing.push(if hls {
                let url = reqwest::Url::parse(&playback.hls)?;
                tokio::spawn(ears::listen_hls(client, url, stop.clone(), notes.clone()))
            } else {
                tokio::spawn(ears::listen_flv(
                    client,
                    playback.flv,
                    index,
                    until,
                    notes.clone(),
                ))
            });
            listeners.push(Listener { stream, hls, notes });
        }
    }
    eprintln!(
        "chaos: {} listeners playing, {} joins failed",
        listeners.len(),
        join_failures.len()
    );
    let hearing_started = Instant::now();
    while hearing_started.elapsed() < START_LIMIT && deaf(&listeners) > 0 {
        sleep(Duration::from_millis(500)).await;
    }
    let deaf_before_faults = deaf(&listeners) + join_failures.len();
    let ready = Instant::now();
    let clock = WallClock::now();
    std::fs::write(&ready_file, format!("{}\n", epoch_ms()))?;
    eprintln!("chaos: ready ({deaf_before_faults} listeners hear nothing); the faults may begin");

    let counts = Arc::new(Mutex::new(Vec::new()));
    let sampler = tokio::spawn(sample_counts(
        crate::clients::plain()?,
        registry_url,
        vibes.clone(),
        counts.clone(),
    ));
    let progress = tokio::spawn(progress(
        posted.clone(),
        listeners
            .iter()
            .map(|listener| listener.notes.clone())
            .collect(),
        counts.clone(),
    ));
    let finished = wait_for(&done_file, give_up).await;
    let end = Instant::now();
    posting.store(false, Ordering::Release);
    eprintln!("chaos: the faults are over; {LAST_AUDIO_GRACE:?} for the last audio to arrive");
    sleep(LAST_AUDIO_GRACE).await;
    stop.store(true, Ordering::Release);
    for task in playing.iter().chain(&creators) {
        task.abort();
    }
    sampler.abort();
    progress.abort();

    let events = analysis::parse_timeline(&std::fs::read_to_string(&timeline).unwrap_or_default())?;
    let windows = analysis::windows(&events, ready, end, |epoch_ms| clock.instant_at(epoch_ms));
    let posted: Vec<Posted> = posted
        .iter()
        .map(|record| record.lock().expect("posted").clone())
        .collect();
    let (heard, unidentified) = identify(&listeners, &posted);
    let counts = counts.lock().expect("counts").clone();
    let limit = Duration::from_secs_f64(bounds.recovery_limit_s);
    let rows: Vec<analysis::Row> = windows
        .iter()
        .map(|window| analysis::row(window, &posted, &heard, &counts, limit))
        .collect();
    let mut broken = analysis::verdict(&rows, &bounds, deaf_before_faults);
    if !finished {
        broken.push("the script did not finish its faults within --max-seconds".to_owned());
    }
    let report = report::Report {
        scenario: "chaos",
        engine: arguments.engine(),
        streams,
        listeners_per_stream: per_stream,
        flv_listeners: heard.iter().filter(|listener| !listener.hls).count(),
        hls_listeners: heard.iter().filter(|listener| listener.hls).count(),
        bounds,
        join_failures: crate::listener::tally(join_failures),
        deaf_before_faults,
        unidentified_symbols: unidentified,
        timeline: events
            .iter()
            .map(|event| report::TimelineEntry {
                at_s: (clock
                    .instant_at(event.epoch_ms)
                    .saturating_duration_since(ready))
                .as_secs_f64(),
                what: format!(
                    "{} {}",
                    if event.fault { "SIGKILL" } else { "restarted" },
                    event.name
                ),
            })
            .collect(),
        rows,
        broken,
    };
    crate::report::write(&out, "chaos", &report, &report::markdown(&report))?;
    if !report.broken.is_empty() {
        return Err(format!("chaos: {}", report.broken.join("; ")).into());
    }
    Ok(())
}

/// Joins `vibe` as `participant`, trying again a few times (a join may meet
/// a fault too); None after the last try, with why in `failures`.
async fn join(
    client: &reqwest::Client,
    edge_url: &str,
    vibe: &str,
    participant: &str,
    minter: &crate::tokens::Minter,
    failures: &mut Vec<String>,
) -> Option<vibes_domain::api::PlaybackUrls> {
    let mut last = String::new();
    for _ in 0..JOIN_TRIES {
        match crate::edge::join(client, edge_url, vibe, participant, minter).await {
            Ok(playback) => return Some(playback),
            Err(error) => last = error.to_string(),
        }
        sleep(Duration::from_secs(1)).await;
    }
    failures.push(last);
    None
}

/// Listeners that have heard no symbol yet.
fn deaf(listeners: &[Listener]) -> usize {
    listeners
        .iter()
        .filter(|listener| listener.notes.lock().expect("notes").symbols.is_empty())
        .count()
}

/// Each listener's symbols as clicks; and how many symbols matched no click.
fn identify(listeners: &[Listener], posted: &[Posted]) -> (Vec<Heard>, usize) {
    let mut unidentified = 0;
    let heard = listeners
        .iter()
        .map(|listener| {
            let notes = listener.notes.lock().expect("notes");
            let handovers: &Handovers = &posted[listener.stream].handovers;
            let clicks: Vec<(u64, Instant)> = notes
                .symbols
                .iter()
                .filter_map(|(symbol, at)| {
                    let click = handovers.identify(*symbol, *at);
                    unidentified += usize::from(click.is_none());
                    click.map(|click| (click, *at))
                })
                .collect();
            Heard {
                stream: listener.stream,
                hls: listener.hls,
                clicks,
                connects: notes.connects.clone(),
            }
        })
        .collect();
    (heard, unidentified)
}

/// Waits for the script's `done` file; false if `give_up` came first.
async fn wait_for(file: &Path, give_up: Instant) -> bool {
    while Instant::now() < give_up {
        if file.exists() {
            return true;
        }
        sleep(Duration::from_millis(500)).await;
    }
    false
}

fn epoch_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis())
}

/// Every second: the most participants the registries (through their
/// Service address) count for any one of `vibes`.
async fn sample_counts(
    http: reqwest::Client,
    registry_url: String,
    vibes: Vec<String>,
    counts: Arc<Mutex<Vec<(Instant, u64)>>>,
) {
    loop {
        let answer = http
            .get(format!("{registry_url}/streams/active"))
            .timeout(Duration::from_secs(2))
            .send()
            .await;
        if let Ok(response) = answer {
            if let Ok(active) = response.json::<ActiveStreams>().await {
                let most = active
                    .streams
                    .iter()
                    .filter(|stream| vibes.iter().any(|vibe| vibe == stream.vibe_id.as_str()))
                    .map(|stream| stream.participant_count)
                    .max();
                if let Some(most) = most {
                    counts.lock().expect("counts").push((Instant::now(), most));
                }
            }
        }
        sleep(COUNT_EVERY).await;
    }
}

/// A line every 10 s: chunks accepted and failed, listeners hearing now.
async fn progress(
    posted: Vec<Arc<Mutex<Posted>>>,
    notes: Vec<ears::Shared>,
    counts: Arc<Mutex<Vec<(Instant, u64)>>>,
) {
    let started = Instant::now();
    loop {
        sleep(PROGRESS_EVERY).await;
        let (mut accepted, mut errors) = (0, 0);
        for record in &posted {
            let record = record.lock().expect("posted");
            accepted += record.handovers.chunks.iter().flatten().count();
            errors += record.errors.len();
        }
        let recent = Instant::now() - Duration::from_secs(5);
        let hearing = notes
            .iter()
            .filter(|notes| {
                let notes = notes.lock().expect("notes");
                notes.symbols.last().is_some_and(|(_, at)| *at >= recent)
            })
            .count();
        let count = counts
            .lock()
            .expect("counts")
            .last()
            .map(|(_, count)| *count);
        eprintln!(
            "chaos: {:>4} s, chunks accepted {accepted}, failed attempts {errors}, \
             listeners hearing (last 5 s) {hearing}/{}, largest count {count:?}",
            started.elapsed().as_secs(),
            notes.len()
        );
    }
}
