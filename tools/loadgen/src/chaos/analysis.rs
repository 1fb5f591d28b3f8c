//! What the run's logs say about each fault: pure functions of the
//! creators' and listeners' records and the script's timeline, so they are
//! tested without a stack.
//!
//! A fault's window runs from its SIGKILL to the next fault (the last one to
//! the creators' stop); the baseline runs from "every listener hears audio"
//! to the first fault, and is the yardstick for the rest. Clicks belong to
//! the window in which they were handed over (the start of the POST that
//! was accepted, plus the click's offset in the chunk), shifted one chunk
//! earlier: what a pod accepted just before it was killed is still queued.

use super::track::{click_offset, CHUNK, CLICKS_PER_CHUNK, SPACING, SYMBOLS};
use crate::listener;
use crate::percentiles::Percentiles;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use tokio::time::Instant;

/// When each accepted chunk of one stream was handed over (None: not accepted).
#[derive(Debug, Clone, Default)]
pub struct Handovers {
    pub chunks: Vec<Option<Instant>>,
}

impl Handovers {
    pub fn click(&self, click: u64) -> Option<Instant> {
        let chunk = self.chunks.get((click / CLICKS_PER_CHUNK) as usize)?;
        chunk.map(|at| at + click_offset(click % CLICKS_PER_CHUNK))
    }

    /// The click a listener heard as `symbol` at `heard_at`: the latest
    /// one with that symbol handed over before it (see `track`).
    pub fn identify(&self, symbol: u64, heard_at: Instant) -> Option<u64> {
        let total = self.chunks.len() as u64 * CLICKS_PER_CHUNK;
        if symbol >= SYMBOLS || total == 0 {
            return None;
        }
        let mut candidate = symbol + (total - 1).saturating_sub(symbol) / SYMBOLS * SYMBOLS;
        loop {
            if candidate < total && self.click(candidate).is_some_and(|at| at <= heard_at) {
                return Some(candidate);
            }
            candidate = candidate.checked_sub(SYMBOLS)?;
        }
    }

    /// Accepted clicks handed over in `[start, end)`.
    pub fn clicks_within(&self, start: Instant, end: Instant) -> Vec<u64> {
        (0..self.chunks.len() as u64 * CLICKS_PER_CHUNK)
            .filter(|click| self.click(*click).is_some_and(|at| at >= start && at < end))
            .collect()
    }
}

/// What one listener heard: clicks (identified) and when, and when each of
/// its connections (FLV) or playlist streaks (HLS) began.
#[derive(Debug, Clone, Default)]
pub struct Heard {
    pub stream: usize,
    pub hls: bool,
    pub clicks: Vec<(u64, Instant)>,
    pub connects: Vec<Instant>,
}

/// What one creator saw.
#[derive(Debug, Clone, Default)]
pub struct Posted {
    pub handovers: Handovers,
    /// Failed attempts: when, and what came back.
    pub errors: Vec<(Instant, String)>,
    /// Retries answered `200` as the chunk already accepted.
    pub duplicates: Vec<Instant>,
    /// Chunks given up after retrying for too long, when.
    pub given_up: Vec<Instant>,
}

#[derive(Debug, Clone)]
pub struct Window {
    pub fault: String,
    pub start: Instant,
    pub end: Instant,
    /// The accepted audio that belongs to it: from one chunk before the
    /// SIGKILL (what a killed pod may still hold queued) to one chunk
    /// before the next fault.
    pub audio_start: Instant,
    pub audio_end: Instant,
    /// From the timeline: the SIGKILL to the restart (None: the process was
    /// respawned by its parent, or this is the baseline).
    pub restarted_after: Option<Duration>,
}

/// The script's timeline: `<epoch ms> fault <name>` and `<epoch ms> restarted <name>` lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub epoch_ms: f64,
    pub fault: bool,
    pub name: String,
}

pub fn parse_timeline(text: &str) -> Result<Vec<Event>, String> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let mut words = line.split_whitespace();
            let (Some(epoch), Some(kind), Some(name), None) =
                (words.next(), words.next(), words.next(), words.next())
            else {
                return Err(format!(
                    "timeline line {line:?} is not `<epoch ms> <kind> <name>`"
                ));
            };
            let epoch_ms = epoch
                .parse()
                .map_err(|_| format!("timeline line {line:?}: {epoch:?} is not a time"))?;
            let fault = match kind {
                "fault" => true,
                "restarted" => false,
                other => return Err(format!("timeline line {line:?}: unknown kind {other:?}")),
            };
            Ok(Event {
                epoch_ms,
                fault,
                name: name.to_owned(),
            })
        })
        .collect()
}

/// The baseline and one window per fault, with `at` turning the timeline's
/// epoch milliseconds into instants.
pub fn windows(
    events: &[Event],
    ready: Instant,
    end: Instant,
    at: impl Fn(f64) -> Instant,
) -> Vec<Window> {
    let faults: Vec<&Event> = events.iter().filter(|event| event.fault).collect();
    let queued = |at: Instant| at.checked_sub(CHUNK).unwrap_or(at).max(ready);
    let first_end = faults.first().map_or(end, |first| at(first.epoch_ms));
    let mut windows = vec![Window {
        fault: "baseline".to_owned(),
        start: ready,
        end: first_end,
        audio_start: ready,
        audio_end: if faults.is_empty() {
            end
        } else {
            queued(first_end)
        },
        restarted_after: None,
    }];
    for (index, fault) in faults.iter().enumerate() {
        let start = at(fault.epoch_ms);
        let restarted = events
            .iter()
            .find(|event| {
                !event.fault && event.name == fault.name && event.epoch_ms >= fault.epoch_ms
            })
            .map(|event| Duration::from_secs_f64((event.epoch_ms - fault.epoch_ms) / 1000.0));
        let next = faults.get(index + 1).map(|next| at(next.epoch_ms));
        windows.push(Window {
            fault: fault.name.clone(),
            start,
            end: next.unwrap_or(end),
            audio_start: queued(start),
            audio_end: next.map_or(end, queued),
            restarted_after: restarted,
        });
    }
    windows
}

/// One line of the report: what one fault did.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub fault: String,
    pub window_s: f64,
    pub restarted_after_s: Option<f64>,
    pub listeners: usize,
    /// From the fault until each listener heard a click handed over after
    /// it (for the baseline: from its start, the stack's own latency).
    pub recovery_flv: Option<Percentiles>,
    pub recovery_hls: Option<Percentiles>,
    /// Listeners who heard no such click within the limit, and which.
    pub not_recovered: usize,
    pub not_recovered_listeners: Vec<String>,
    /// Hand-over → first heard, for the window's clicks (how far behind
    /// live the stream plays after the fault).
    pub latency_flv: Option<Percentiles>,
    pub latency_hls: Option<Percentiles>,
    /// Per listener: accepted audio handed over in the window that it never heard.
    pub missed_ms: Percentiles,
    /// Per stream: accepted audio of the window that none of its listeners heard.
    pub lost_ms_total: f64,
    pub lost_ms_worst_stream: f64,
    /// Listener × click pairs heard more than once, and by how many listeners.
    pub heard_twice: u64,
    pub listeners_heard_twice: usize,
    /// New connections (FLV) or playlist streaks (HLS) begun in the window.
    pub reconnects: usize,
    pub chunks_accepted: u64,
    /// Retries answered `200 duplicate`: accepted once, not played again.
    pub retries_answered_duplicate: usize,
    pub chunks_given_up: usize,
    /// Failed POST attempts, by answer.
    pub creator_errors: Vec<(String, usize)>,
    /// The most participants any registry counted for one stream.
    pub peak_count: Option<u64>,
}

/// What `window` did to everyone, given the listeners' recovery `limit`.
pub fn row(
    window: &Window,
    posted: &[Posted],
    heard: &[Heard],
    counts: &[(Instant, u64)],
    limit: Duration,
) -> Row {
    let within = |at: &Instant| *at >= window.start && *at < window.end;
    let accepted: Vec<Vec<u64>> = posted
        .iter()
        .map(|creator| {
            creator
                .handovers
                .clicks_within(window.audio_start, window.audio_end)
        })
        .collect();
    let click_ms = SPACING.as_secs_f64() * 1000.0;

    let (mut recovery_flv, mut recovery_hls, mut not_recovered) = (Vec::new(), Vec::new(), 0);
    let (mut latency_flv, mut latency_hls, mut deaf) = (Vec::new(), Vec::new(), Vec::new());
    let mut missed = Vec::new();
    let (mut heard_twice, mut listeners_heard_twice, mut reconnects) = (0, 0, 0);
    let mut heard_by_stream: Vec<HashSet<u64>> = vec![HashSet::new(); posted.len()];
    for listener in heard {
        let handovers = &posted[listener.stream].handovers;
        let recovered = listener
            .clicks
            .iter()
            .filter(|(click, _)| handovers.click(*click).is_some_and(|at| at >= window.start))
            .map(|(_, at)| at.saturating_duration_since(window.start))
            .min();
        match recovered {
            Some(after) if after <= limit => {
                if listener.hls {
                    recovery_hls.push(after);
                } else {
                    recovery_flv.push(after);
                }
            }
            _ => {
                not_recovered += 1;
                deaf.push(describe(listener, window.start));
            }
        }
        let mut times: HashMap<u64, u32> = HashMap::new();
        for (click, at) in &listener.clicks {
            let count = times.entry(*click).or_default();
            *count += 1;
            heard_by_stream[listener.stream].insert(*click);
            let handed_over = handovers
                .click(*click)
                .filter(|handed| *handed >= window.audio_start && *handed < window.audio_end);
            if let Some(handed_over) = handed_over.filter(|_| *count == 1) {
                let latency = at.saturating_duration_since(handed_over);
                if listener.hls {
                    latency_hls.push(latency);
                } else {
                    latency_flv.push(latency);
                }
            }
        }
        let expected = &accepted[listener.stream];
        let unheard = expected
            .iter()
            .filter(|click| !times.contains_key(*click))
            .count();
        missed.push(unheard as f64 * click_ms);
        let twice = expected
            .iter()
            .filter(|click| times.get(*click).is_some_and(|count| *count > 1))
            .count() as u64;
        heard_twice += twice;
        listeners_heard_twice += usize::from(twice > 0);
        reconnects += listener.connects.iter().filter(|at| within(at)).count();
    }
    let lost: Vec<f64> = accepted
        .iter()
        .zip(&heard_by_stream)
        .map(|(clicks, heard)| {
            clicks
                .iter()
                .filter(|click| !heard.contains(*click))
                .count() as f64
                * click_ms
        })
        .collect();
    let errors = posted
        .iter()
        .flat_map(|creator| creator.errors.iter())
        .filter(|(at, _)| within(at))
        .map(|(_, what)| what.clone());
    let count_in = |times: &[Instant]| times.iter().filter(|at| within(at)).count();
    let percentiles =
        |samples: Vec<Duration>| (!samples.is_empty()).then(|| Percentiles::of(samples));
    Row {
        fault: window.fault.clone(),
        window_s: (window.end - window.start).as_secs_f64(),
        restarted_after_s: window.restarted_after.map(|after| after.as_secs_f64()),
        listeners: heard.len(),
        recovery_flv: percentiles(recovery_flv),
        recovery_hls: percentiles(recovery_hls),
        not_recovered,
        not_recovered_listeners: deaf,
        latency_flv: percentiles(latency_flv),
        latency_hls: percentiles(latency_hls),
        missed_ms: Percentiles::of_ms(missed),
        lost_ms_total: lost.iter().sum(),
        lost_ms_worst_stream: lost.iter().copied().fold(0.0, f64::max),
        heard_twice,
        listeners_heard_twice,
        reconnects,
        chunks_accepted: accepted
            .iter()
            .map(|clicks| clicks.len() as u64)
            .sum::<u64>()
            / CLICKS_PER_CHUNK,
        retries_answered_duplicate: posted
            .iter()
            .map(|creator| count_in(&creator.duplicates))
            .sum(),
        chunks_given_up: posted
            .iter()
            .map(|creator| count_in(&creator.given_up))
            .sum(),
        creator_errors: listener::tally(errors),
        peak_count: counts
            .iter()
            .filter(|(at, _)| within(at))
            .map(|(_, count)| *count)
            .max(),
    }
}

/// A listener that did not recover, for the report: which, and what it last heard.
fn describe(listener: &Heard, since: Instant) -> String {
    let last = listener.clicks.iter().map(|(_, at)| *at).max();
    let connects = listener.connects.iter().filter(|at| **at >= since).count();
    format!(
        "stream {} {} listener: last audio {}, {connects} (re)connections since the fault",
        listener.stream,
        if listener.hls { "HLS" } else { "FLV" },
        match last {
            Some(at) if at >= since =>
                format!("{:.1} s after the fault", (at - since).as_secs_f64()),
            Some(at) => format!("{:.1} s before the fault", (since - at).as_secs_f64()),
            None => "never".to_owned(),
        }
    )
}

/// The run's limits, as documented in docs/benchmarks.md.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Bounds {
    pub cap: u64,
    pub recovery_limit_s: f64,
    pub lost_bound_ms: f64,
}

/// What broke, in words (empty: every limit held).
pub fn verdict(rows: &[Row], bounds: &Bounds, deaf_before_faults: usize) -> Vec<String> {
    let mut broken = Vec::new();
    if deaf_before_faults > 0 {
        broken.push(format!(
            "{deaf_before_faults} listeners heard nothing before the first fault"
        ));
    }
    for row in rows {
        if row.not_recovered > 0 {
            broken.push(format!(
                "{}: {} of {} listeners heard no new audio within {} s",
                row.fault, row.not_recovered, row.listeners, bounds.recovery_limit_s
            ));
        }
        if row.lost_ms_worst_stream > bounds.lost_bound_ms {
            broken.push(format!(
                "{}: a stream lost {} ms of accepted audio (bound {} ms)",
                row.fault, row.lost_ms_worst_stream, bounds.lost_bound_ms
            ));
        }
        if let Some(peak) = row.peak_count.filter(|peak| *peak > bounds.cap) {
            broken.push(format!(
                "{}: a registry counted {peak} participants in one stream (cap {})",
                row.fault, bounds.cap
            ));
        }
    }
    broken
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(value: u64) -> Duration {
        Duration::from_millis(value)
    }

    /// Chunks accepted every 2 s from `t0`, except those in `refused`.
    fn handovers(t0: Instant, chunks: u64, refused: &[u64]) -> Handovers {
        Handovers {
            chunks: (0..chunks)
                .map(|seq| (!refused.contains(&seq)).then(|| t0 + ms(2_000 * seq)))
                .collect(),
        }
    }

    #[test]
    fn a_symbol_is_the_latest_click_with_it_handed_over_before_it_was_heard() {
        let t0 = Instant::now();
        let posted = handovers(t0, 40, &[]);
        // Click 5 (symbol 5) handed over at 1.1 s, heard 150 ms later.
        assert_eq!(posted.identify(5, t0 + ms(1_250)), Some(5));
        // Click 133 (symbol 5) at 26.7 s.
        assert_eq!(posted.identify(5, t0 + ms(26_800)), Some(133));
        // Heard 5 s late (HLS), still click 5.
        assert_eq!(posted.identify(5, t0 + ms(6_100)), Some(5));
        // Heard before anything with that symbol was sent: matching failed.
        assert_eq!(posted.identify(9, t0 + ms(1_000)), None);
        assert_eq!(posted.identify(200, t0 + ms(1_000)), None);
        // A refused chunk's clicks are never the answer.
        let refused = handovers(t0, 40, &[13]);
        assert_eq!(refused.identify(5, t0 + ms(26_800)), Some(5));
        assert_eq!(Handovers::default().identify(0, t0), None);
    }

    #[test]
    fn the_timeline_gives_a_baseline_and_a_window_per_fault() {
        let text = "1000 fault ingest\n4000 restarted ingest\n\n31000 fault edge-worker\n";
        let events = parse_timeline(text).unwrap();
        assert_eq!(events.len(), 3);
        let t0 = Instant::now();
        let at = |epoch_ms: f64| t0 + Duration::from_secs_f64(epoch_ms / 1000.0);
        let windows = windows(&events, t0, t0 + ms(60_000), at);
        let shape: Vec<(&str, u64, u64, Option<Duration>)> = windows
            .iter()
            .map(|window| {
                (
                    window.fault.as_str(),
                    (window.start - t0).as_millis() as u64,
                    (window.end - t0).as_millis() as u64,
                    window.restarted_after,
                )
            })
            .collect();
        let audio: Vec<(u64, u64)> = windows
            .iter()
            .map(|window| {
                (
                    (window.audio_start - t0).as_millis() as u64,
                    (window.audio_end - t0).as_millis() as u64,
                )
            })
            .collect();
        assert_eq!(audio, [(0, 0), (0, 29_000), (29_000, 60_000)]);
        assert_eq!(
            shape,
            [
                ("baseline", 0, 1_000, None),
                ("ingest", 1_000, 31_000, Some(ms(3_000))),
                ("edge-worker", 31_000, 60_000, None),
            ]
        );
        assert!(parse_timeline("12 crashed ingest").is_err());
        assert!(parse_timeline("soon fault ingest").is_err());
        assert!(parse_timeline("12 fault").is_err());
    }

    #[test]
    fn a_row_measures_recovery_missed_lost_and_repeated_audio() {
        let t0 = Instant::now();
        // Two streams, 10 chunks each (20 s); the fault at 6 s to the end.
        let mut first = Posted {
            handovers: handovers(t0, 10, &[4]),
            ..Posted::default()
        };
        first.errors = vec![
            (t0 + ms(8_000), "503 edge_upstream_unavailable".to_owned()),
            (t0 + ms(8_500), "503 edge_upstream_unavailable".to_owned()),
            (t0 + ms(1_000), "before the window".to_owned()),
        ];
        first.duplicates = vec![t0 + ms(9_000)];
        first.given_up = vec![t0 + ms(18_000)];
        let second = Posted {
            handovers: handovers(t0, 10, &[]),
            ..Posted::default()
        };
        let window = Window {
            fault: "ingest".to_owned(),
            start: t0 + ms(6_000),
            end: t0 + ms(20_000),
            audio_start: t0 + ms(6_000),
            audio_end: t0 + ms(20_000),
            restarted_after: Some(ms(3_000)),
        };
        let latency = ms(100);
        let all = |handovers: &Handovers, skip: &[u64]| -> Vec<(u64, Instant)> {
            (0..100)
                .filter(|click| !skip.contains(click))
                .filter_map(|click| handovers.click(click).map(|at| (click, at + latency)))
                .collect()
        };
        // Listener 0 (FLV) hears everything of stream 0, click 60 twice.
        let mut clicks = all(&first.handovers, &[]);
        clicks.push((60, t0 + ms(15_000)));
        let flv = Heard {
            stream: 0,
            hls: false,
            clicks,
            connects: vec![t0, t0 + ms(7_000)],
        };
        // Listener 1 (HLS) misses clicks 30–39 (the window's first chunk) and 61.
        let skip: Vec<u64> = (30..40).chain([61]).collect();
        let hls = Heard {
            stream: 0,
            hls: true,
            clicks: all(&first.handovers, &skip),
            connects: vec![t0],
        };
        // Listener 2 on stream 1 hears nothing after 5 s: never recovers.
        let deaf = Heard {
            stream: 1,
            hls: false,
            clicks: all(&second.handovers, &(25..100).collect::<Vec<_>>()),
            connects: vec![t0],
        };
        let counts = [(t0 + ms(7_000), 9), (t0 + ms(12_000), 11), (t0, 30)];
        let row = row(
            &window,
            &[first, second],
            &[flv, hls, deaf],
            &counts,
            ms(10_000),
        );
        // Stream 0 accepted chunks 3, 5–9 in the window (4 refused); stream 1 3–9.
        assert_eq!(row.chunks_accepted, 6 + 7);
        let recovery_flv = row
            .recovery_flv
            .as_ref()
            .expect("one FLV listener recovered");
        // Click 30 (chunk 3) was handed over at 6.1 s, heard at 6.2 s.
        assert_eq!(recovery_flv.max_ms, 200.0);
        // The HLS listener's first click after the fault is 50 (chunk 5, 10.1 s).
        assert_eq!(
            row.recovery_hls.as_ref().expect("HLS recovered").max_ms,
            4_200.0
        );
        assert_eq!(row.not_recovered, 1);
        assert_eq!(
            row.not_recovered_listeners,
            ["stream 1 FLV listener: last audio 1.0 s before the fault, 0 (re)connections since the fault"]
        );
        // Every click was heard 100 ms after its hand-over.
        assert_eq!(row.latency_flv.as_ref().map(|p| p.max_ms), Some(100.0));
        // Missed: 0 ms, 11 clicks, all 70 clicks of stream 1 in the window.
        assert_eq!(row.missed_ms.p50_ms, 2_200.0);
        assert_eq!(row.missed_ms.max_ms, 14_000.0);
        // Lost: clicks 30–39 of stream 0 were heard by listener 0; all of stream 1 lost.
        assert_eq!(row.lost_ms_total, 14_000.0);
        assert_eq!(row.lost_ms_worst_stream, 14_000.0);
        assert_eq!((row.heard_twice, row.listeners_heard_twice), (1, 1));
        assert_eq!(row.reconnects, 1);
        assert_eq!(row.retries_answered_duplicate, 1);
        assert_eq!(row.chunks_given_up, 1);
        assert_eq!(
            row.creator_errors,
            [("503 edge_upstream_unavailable".to_owned(), 2)]
        );
        assert_eq!(row.peak_count, Some(11));
        assert_eq!(row.restarted_after_s, Some(3.0));

        let bounds = Bounds {
            cap: 10,
            recovery_limit_s: 10.0,
            lost_bound_ms: 4_000.0,
        };
        assert_eq!(
            verdict(std::slice::from_ref(&row), &bounds, 2),
            [
                "2 listeners heard nothing before the first fault",
                "ingest: 1 of 3 listeners heard no new audio within 10 s",
                "ingest: a stream lost 14000 ms of accepted audio (bound 4000 ms)",
                "ingest: a registry counted 11 participants in one stream (cap 10)",
            ]
        );
        let fine = Row {
            not_recovered: 0,
            lost_ms_worst_stream: 4_000.0,
            peak_count: Some(10),
            ..row
        };
        assert!(verdict(&[fine], &bounds, 0).is_empty());
    }
}
