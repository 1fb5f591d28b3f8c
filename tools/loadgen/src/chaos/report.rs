//! `chaos.json` and `chaos.md`: one row per fault, next to the baseline
//! measured in the same run.

use super::analysis::{Bounds, Row};
use crate::percentiles::Percentiles;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct TimelineEntry {
    /// Seconds after every listener heard audio.
    pub at_s: f64,
    pub what: String,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub scenario: &'static str,
    pub engine: String,
    pub streams: usize,
    pub listeners_per_stream: usize,
    pub flv_listeners: usize,
    pub hls_listeners: usize,
    pub bounds: Bounds,
    pub join_failures: Vec<(String, usize)>,
    /// Listeners that never heard audio before the first fault (joins that
    /// failed included).
    pub deaf_before_faults: usize,
    /// Symbols heard that matched no accepted click (should be 0).
    pub unidentified_symbols: usize,
    pub timeline: Vec<TimelineEntry>,
    pub rows: Vec<Row>,
    pub broken: Vec<String>,
}

fn seconds(percentiles: &Option<Percentiles>) -> String {
    percentiles.as_ref().map_or("–".to_owned(), |p| {
        format!("{:.1} / {:.1}", p.p50_ms / 1000.0, p.max_ms / 1000.0)
    })
}

fn p50_seconds(percentiles: &Option<Percentiles>) -> String {
    percentiles
        .as_ref()
        .map_or("–".to_owned(), |p| format!("{:.1}", p.p50_ms / 1000.0))
}

fn row_line(row: &Row, cap: u64) -> String {
    let errors = if row.creator_errors.is_empty() {
        "none".to_owned()
    } else {
        crate::listener::problems_text(&row.creator_errors)
    };
    format!(
        "| {} | {} | {:.0} | {} | {} | {} | {} / {} | {:.0} / {:.0} | {:.0} / {:.0} | {} / {} | {} | {} | {} | {} | {} | {} / {cap} |\n",
        row.fault,
        row.restarted_after_s
            .map_or("–".to_owned(), |after| format!("{after:.1}")),
        row.window_s,
        seconds(&row.recovery_flv),
        seconds(&row.recovery_hls),
        row.not_recovered,
        p50_seconds(&row.latency_flv),
        p50_seconds(&row.latency_hls),
        row.missed_ms.p50_ms,
        row.missed_ms.max_ms,
        row.lost_ms_total,
        row.lost_ms_worst_stream,
        row.heard_twice,
        row.listeners_heard_twice,
        row.reconnects,
        row.chunks_accepted,
        errors,
        row.retries_answered_duplicate,
        row.chunks_given_up,
        row.peak_count
            .map_or("–".to_owned(), |peak| peak.to_string()),
    )
}

pub fn markdown(report: &Report) -> String {
    let bounds = &report.bounds;
    let rows: String = report
        .rows
        .iter()
        .map(|row| row_line(row, bounds.cap))
        .collect();
    let timeline = report
        .timeline
        .iter()
        .map(|entry| format!("{:.1} s {}", entry.at_s, entry.what))
        .collect::<Vec<_>>()
        .join("; ");
    let deaf_list: String = report
        .rows
        .iter()
        .flat_map(|row| {
            row.not_recovered_listeners
                .iter()
                .map(move |listener| format!("- not recovered after {}: {listener}\n", row.fault))
        })
        .collect();
    let deaf_list = if deaf_list.is_empty() {
        deaf_list
    } else {
        format!("{deaf_list}\n")
    };
    let verdict = if report.broken.is_empty() {
        format!(
            "**Every limit held**: every listener heard new audio within {} s of each fault, no \
             stream lost more than {} ms of accepted audio in a fault's window, and no registry \
             counted more than {} participants in a stream.",
            bounds.recovery_limit_s, bounds.lost_bound_ms, bounds.cap
        )
    } else {
        format!("**Broken**: {}.", report.broken.join("; "))
    };
    format!(
        "## chaos: faults under load\n\n\
         {streams} streams on {engine}, each with a creator posting a 2 s chunk every 2 s through \
         the edge (`X-Chunk-Seq`, a refused chunk retried with the same number for up to 10 s) and \
         {per_stream} listeners who joined through the edge: {flv} play HTTP-FLV, {hls} HLS (a \
         playlist poll every 0.5 s). Every 200 ms of each stream is a click that says which it is \
         (a 30 ms chord of two tones out of 128 pairs), so each listener's decoded audio tells \
         which accepted audio it heard, missed or heard twice. A fault's window runs from its \
         SIGKILL to the next fault; accepted audio belongs to it from one chunk (2 s) before its \
         SIGKILL (what a killed pod may still hold queued) to one chunk before the next fault.\n\n\
         - **recovery**: from the SIGKILL until the listener heard audio handed over after it \
           (for the baseline: from its start, the stack's plain latency), p50 / max in seconds; \
           HLS counts a segment as heard once it is downloaded.\n\
         - **behind live**: p50 of hand-over → first heard for the window's audio, FLV / HLS \
           (seconds): how far behind the creator the stream plays after the fault.\n\
         - **missed**: per listener, accepted audio of the window it never heard (p50 / max ms).\n\
         - **lost**: per stream, accepted audio of the window that none of its listeners heard \
           (total / worst stream, ms); bound {lost_bound} ms per stream and fault.\n\
         - **heard twice**: listener × 200 ms of audio decoded more than once (pairs / listeners): \
           a chunk played twice, or audio replayed to a reconnecting player.\n\
         - **creator errors**: failed POST attempts by status and problem code; \"dup\" = retries \
           answered `200` (already accepted, not played again); \"given up\" = chunks the app \
           dropped after 10 s of retries (never accepted, not counted as lost).\n\
         - **peak**: the most participants a registry counted in one stream, sampled each second.\n\n\
         | fault | restart s | window s | FLV recovery s | HLS recovery s | not recovered | behind live s | missed ms | lost ms | heard twice | reconnects | chunks accepted | creator errors | dup | given up | peak / cap |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n{rows}\n{deaf_list}\
         Timeline (from when every listener heard audio): {timeline}.\n\n\
         Joins that failed: {joins}; listeners deaf before the first fault: {deaf}; symbols that \
         matched no accepted click: {unidentified}. Recovery limit {limit} s.\n\n{verdict}\n",
        streams = report.streams,
        engine = report.engine,
        per_stream = report.listeners_per_stream,
        flv = report.flv_listeners,
        hls = report.hls_listeners,
        lost_bound = bounds.lost_bound_ms,
        joins = crate::listener::problems_text(&report.join_failures),
        deaf = report.deaf_before_faults,
        unidentified = report.unidentified_symbols,
        limit = bounds.recovery_limit_s,
    )
}
