//! `merge-window`: folds the latency and fanout reports that `./scripts/bench
//! merge` wrote for each edge FLV write window (`EDGE_FLV_MERGE_MS`) into one
//! table — window → edge CPU per listener-second, the CPU ratio against SRS
//! alone, POST → heard through the edge, tags per write — and names the
//! largest window whose POST → heard p50 stays within the goal in every round.
//!
//! Input: `--runs DIR` holding one folder per measurement, `<window>ms-r<round>`,
//! each with the `latency.json` and `fanout.json` those scenarios wrote (a
//! missing or failed one leaves its cells empty).

use crate::args::Arguments;
use serde::Serialize;
use serde_json::Value;
use std::error::Error;
use std::path::Path;

#[derive(Debug, Serialize)]
struct Row {
    window_ms: u64,
    round: u64,
    /// The window the edge reported it ran with (from the runs' own reports).
    reported_window_ms: Option<u64>,
    edge_cpu_us_per_listener_second: Option<f64>,
    engine_cpu_us_per_listener_second: Option<f64>,
    /// (edge + SRS) through the edge ÷ SRS alone straight, CPU.
    cpu_ratio: Option<f64>,
    listeners: Option<u64>,
    edge_served: Option<u64>,
    fanout_tags_per_write: Option<f64>,
    edge_machine_busy_percent: Option<f64>,
    loadgen_cpu_percent_edge: Option<f64>,
    heard_p50_ms: Option<f64>,
    heard_p95_ms: Option<f64>,
    heard_p99_ms: Option<f64>,
    heard_max_ms: Option<f64>,
    clicks_heard: Option<u64>,
    clicks_sent: Option<u64>,
    direct_p50_ms: Option<f64>,
    direct_p99_ms: Option<f64>,
    latency_tags_per_write: Option<f64>,
}

#[derive(Debug, Serialize)]
struct Goals {
    heard_p50_ms: f64,
    heard_p99_ms: f64,
    edge_cpu_us_per_listener_second: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    scenario: &'static str,
    goals: Goals,
    rows: Vec<Row>,
    /// The largest window whose POST → heard p50 met the goal in every round.
    chosen_window_ms: Option<u64>,
    /// The runs' own reports, as written.
    runs: Vec<Value>,
}

pub fn run(arguments: &Arguments) -> Result<(), Box<dyn Error>> {
    let runs_dir = std::path::PathBuf::from(arguments.text("runs")?);
    let goals = Goals {
        heard_p50_ms: arguments.number("p50-goal-ms", 100)? as f64,
        heard_p99_ms: arguments.number("p99-goal-ms", 200)? as f64,
        edge_cpu_us_per_listener_second: arguments.number("cpu-goal-us", 150)? as f64,
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&runs_dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some((window, round)) = parse_run_name(&name) {
            found.push((window, round, entry.path()));
        }
    }
    if found.is_empty() {
        return Err(format!("no <window>ms-r<round> folders in {}", runs_dir.display()).into());
    }
    found.sort();
    let mut rows = Vec::new();
    let mut runs = Vec::new();
    for (window, round, path) in found {
        let latency = read_json(&path.join("latency.json"));
        let fanout = read_json(&path.join("fanout.json"));
        rows.push(row(window, round, latency.as_ref(), fanout.as_ref()));
        runs.push(serde_json::json!({
            "window_ms": window, "round": round, "latency": latency, "fanout": fanout,
        }));
    }
    let report = Report {
        scenario: "merge-window",
        chosen_window_ms: choose(&rows, goals.heard_p50_ms),
        goals,
        rows,
        runs,
    };
    crate::report::write(
        &arguments.out_dir()?,
        "merge-window",
        &report,
        &markdown(&report),
    )?;
    Ok(())
}

/// `50ms-r1` → (50, 1).
fn parse_run_name(name: &str) -> Option<(u64, u64)> {
    let (window, round) = name.split_once("ms-r")?;
    Some((window.parse().ok()?, round.parse().ok()?))
}

fn read_json(path: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

fn row(window_ms: u64, round: u64, latency: Option<&Value>, fanout: Option<&Value>) -> Row {
    let float = |value: Option<&Value>, pointer: &str| value?.pointer(pointer)?.as_f64();
    let whole = |value: Option<&Value>, pointer: &str| value?.pointer(pointer)?.as_u64();
    Row {
        window_ms,
        round,
        reported_window_ms: whole(fanout, "/edge_merge_ms")
            .or_else(|| whole(latency, "/edge_merge_ms")),
        edge_cpu_us_per_listener_second: float(fanout, "/edge_cpu_us_per_listener_second"),
        engine_cpu_us_per_listener_second: float(fanout, "/engine_cpu_us_per_listener_second"),
        cpu_ratio: float(fanout, "/cpu_ratio"),
        listeners: whole(fanout, "/through_edge/listeners"),
        edge_served: whole(fanout, "/through_edge/served"),
        fanout_tags_per_write: float(fanout, "/edge_tags_per_write"),
        edge_machine_busy_percent: float(fanout, "/through_edge/machine_busy_percent"),
        loadgen_cpu_percent_edge: float(fanout, "/through_edge/loadgen_cpu_percent"),
        heard_p50_ms: float(latency, "/through_stack/latency/p50_ms"),
        heard_p95_ms: float(latency, "/through_stack/latency/p95_ms"),
        heard_p99_ms: float(latency, "/through_stack/latency/p99_ms"),
        heard_max_ms: float(latency, "/through_stack/latency/max_ms"),
        clicks_heard: whole(latency, "/through_stack/clicks_heard"),
        clicks_sent: whole(latency, "/through_stack/clicks_sent"),
        direct_p50_ms: float(latency, "/direct/latency/p50_ms"),
        direct_p99_ms: float(latency, "/direct/latency/p99_ms"),
        latency_tags_per_write: float(latency, "/edge_tags_per_write"),
    }
}

/// The largest window whose every round measured POST → heard p50 within the goal.
fn choose(rows: &[Row], p50_goal_ms: f64) -> Option<u64> {
    let mut windows: Vec<u64> = rows.iter().map(|row| row.window_ms).collect();
    windows.dedup();
    windows.into_iter().rev().find(|window| {
        rows.iter()
            .filter(|row| row.window_ms == *window)
            .all(|row| row.heard_p50_ms.is_some_and(|p50| p50 <= p50_goal_ms))
    })
}

fn markdown(report: &Report) -> String {
    let number = |value: Option<f64>, digits: usize| {
        value.map_or("–".to_owned(), |value| format!("{value:.digits$}"))
    };
    let count = |value: Option<u64>| value.map_or("–".to_owned(), |value| value.to_string());
    let mut table = String::new();
    for row in &report.rows {
        table.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} / {} | {} | {} / {} / {} | {} / {} | {} / {} | {} | {} |\n",
            row.window_ms,
            row.round,
            number(row.edge_cpu_us_per_listener_second, 0),
            number(row.engine_cpu_us_per_listener_second, 0),
            number(row.cpu_ratio, 2),
            count(row.edge_served),
            count(row.listeners),
            number(row.fanout_tags_per_write, 2),
            number(row.heard_p50_ms, 1),
            number(row.heard_p95_ms, 1),
            number(row.heard_p99_ms, 1),
            count(row.clicks_heard),
            count(row.clicks_sent),
            number(row.direct_p50_ms, 1),
            number(row.direct_p99_ms, 1),
            number(row.latency_tags_per_write, 2),
            number(row.edge_machine_busy_percent, 0),
        ));
    }
    let goals = &report.goals;
    let chosen = match report.chosen_window_ms {
        Some(window) => {
            let rows: Vec<&Row> = report
                .rows
                .iter()
                .filter(|row| row.window_ms == window)
                .collect();
            let worst = |pick: fn(&Row) -> Option<f64>| {
                rows.iter()
                    .filter_map(|row| pick(row))
                    .fold(None, |worst: Option<f64>, value| {
                        Some(worst.map_or(value, |worst| worst.max(value)))
                    })
            };
            let p99 = worst(|row| row.heard_p99_ms);
            let cpu = worst(|row| row.edge_cpu_us_per_listener_second);
            format!(
                "Largest window whose POST → heard p50 stayed ≤ {:.0} ms in every round: **{window} ms** \
                 (worst round: p50 {} ms, p99 {} ms — goal ≤ {:.0}: {}; edge CPU {} µs per listener-second — \
                 goal ≤ {:.0}: {}).",
                goals.heard_p50_ms,
                number(worst(|row| row.heard_p50_ms), 1),
                number(p99, 1),
                goals.heard_p99_ms,
                met(p99, goals.heard_p99_ms),
                number(cpu, 0),
                goals.edge_cpu_us_per_listener_second,
                met(cpu, goals.edge_cpu_us_per_listener_second),
            )
        }
        None => format!(
            "No window kept POST → heard p50 ≤ {:.0} ms in every round.",
            goals.heard_p50_ms
        ),
    };
    format!(
        "## merge window: the edge's FLV write window against CPU and POST → heard\n\n\
         One stack, the edge restarted with each `EDGE_FLV_MERGE_MS` in turn (nothing else changes); at each \
         window the `latency` scenario (POST → heard at one FLV listener through the TLS edge, next to bare \
         ffmpeg → SRS → FLV, a click every 200 ms) and then the `fanout` scenario (1 stream, the listeners \
         straight from SRS, then as many through the edge; CPU from /proc over the measurement window) run as \
         they do in `./scripts/bench`. Edge CPU per listener-second = the edge's (nginx master + workers) CPU ÷ \
         listeners; SRS straight = SRS's CPU ÷ listeners with them all on SRS; CPU ratio = (edge + SRS) through \
         the edge ÷ SRS alone. Tags per write = `vibes_edge_flv_listener_tags_total` ÷ `..._writes_total` \
         over the fanout's measurement window (all its edge listeners) and over the latency run (its one edge listener). \
         Rounds after the first go through the windows in the opposite order, so a drift in the machine's \
         load does not line up with the window.\n\n\
         | window ms | round | edge CPU µs per listener-second | SRS straight µs per listener-second | CPU ratio (edge + SRS ÷ SRS) | served ≥ 95 % through the edge | tags per write (fanout) | POST → heard p50 / p95 / p99 ms | clicks heard / sent | bare ffmpeg → SRS p50 / p99 ms | tags per write (latency) | machine busy % (edge side) |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|\n{table}\n\
         {chosen}\n",
    )
}

fn met(value: Option<f64>, goal: f64) -> &'static str {
    match value {
        Some(value) if value <= goal => "met",
        Some(_) => "not met",
        None => "not measured",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(window_ms: u64, round: u64, p50: f64) -> Row {
        let latency = serde_json::json!({
            "edge_merge_ms": window_ms,
            "through_stack": { "clicks_sent": 300, "clicks_heard": 300,
                "latency": { "p50_ms": p50, "p95_ms": p50 + 20.0, "p99_ms": p50 + 40.0, "max_ms": p50 + 60.0 } },
            "direct": { "latency": { "p50_ms": 41.0, "p99_ms": 60.0 } },
            "edge_tags_per_write": 3.0,
        });
        let fanout = serde_json::json!({
            "edge_merge_ms": window_ms, "edge_cpu_us_per_listener_second": 300.0,
            "engine_cpu_us_per_listener_second": 800.0, "cpu_ratio": 0.5,
            "edge_tags_per_write": 2.9,
            "through_edge": { "listeners": 1000, "served": 1000, "machine_busy_percent": 70.0,
                "loadgen_cpu_percent": 30.0 },
        });
        row(window_ms, round, Some(&latency), Some(&fanout))
    }

    #[test]
    fn run_folders_name_window_and_round() {
        assert_eq!(parse_run_name("50ms-r1"), Some((50, 1)));
        assert_eq!(parse_run_name("0ms-r2"), Some((0, 2)));
        assert_eq!(parse_run_name("latency.json"), None);
        assert_eq!(parse_run_name("xms-r1"), None);
    }

    #[test]
    fn rows_read_the_runs_reports() {
        let row = measured(50, 1, 80.0);
        assert_eq!(row.reported_window_ms, Some(50));
        assert_eq!(row.heard_p99_ms, Some(120.0));
        assert_eq!(row.edge_cpu_us_per_listener_second, Some(300.0));
        assert_eq!(row.fanout_tags_per_write, Some(2.9));
        assert_eq!(row.edge_served, Some(1000));
        let missing = super::row(20, 1, None, None);
        assert_eq!(missing.heard_p50_ms, None);
        assert!(markdown(&Report {
            scenario: "merge-window",
            goals: Goals {
                heard_p50_ms: 100.0,
                heard_p99_ms: 200.0,
                edge_cpu_us_per_listener_second: 150.0
            },
            rows: vec![missing, row],
            chosen_window_ms: Some(50),
            runs: Vec::new(),
        })
        .contains(
            "**50 ms** (worst round: p50 80.0 ms, p99 120.0 ms — goal ≤ 200: met; edge CPU 300 µs"
        ));
    }

    #[test]
    fn the_largest_window_within_the_goal_in_every_round_is_chosen() {
        let rows = vec![
            measured(0, 1, 60.0),
            measured(50, 1, 80.0),
            measured(50, 2, 95.0),
            measured(100, 1, 99.0),
            measured(100, 2, 104.0),
            measured(200, 1, 150.0),
        ];
        assert_eq!(choose(&rows, 100.0), Some(50));
        assert_eq!(choose(&rows, 40.0), None);
        let unmeasured = vec![measured(0, 1, 60.0), super::row(20, 1, None, None)];
        assert_eq!(choose(&unmeasured, 100.0), Some(0));
    }
}
