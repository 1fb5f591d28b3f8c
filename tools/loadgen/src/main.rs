//! `vibes-loadgen <scenario> --option value …` (see `args::USAGE`).
//!
//! Every scenario is bounded in requests and time, talks to loopback
//! addresses only, prints a progress line while it runs, and writes
//! `<scenario>.json` and `<scenario>.md` to `--out`.

mod aac;
mod args;
mod browser;
mod chaos;
mod click;
mod clients;
mod cluster;
mod edge;
mod edge_metrics;
mod fanout;
mod hls;
mod latency;
mod listener;
mod ll_fanout;
mod ll_hls;
mod merge_window;
mod percentiles;
mod playlist;
mod procstat;
mod registry;
mod report;
mod seats;
mod streams;
mod tokens;
mod ts;

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let arguments = match args::Arguments::parse(std::env::args().skip(1)) {
        Ok(arguments) => arguments,
        Err(message) => {
            eprintln!("{message}\n\n{}", args::USAGE);
            return ExitCode::from(2);
        }
    };
    let outcome = match arguments.scenario.as_str() {
        "registry" => registry::run(&arguments).await,
        "streams" | "ingest" => streams::run(&arguments).await,
        "latency" => latency::run(&arguments).await,
        "fanout" => fanout::run(&arguments).await,
        "cluster" => cluster::run(&arguments).await,
        "chaos" => chaos::run(&arguments).await,
        "hls" => hls::run(&arguments).await,
        "ll-fanout" => ll_fanout::run(&arguments).await,
        "merge-window" => merge_window::run(&arguments),
        other => Err(format!("unknown scenario {other:?}\n\n{}", args::USAGE).into()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("loadgen: {error}");
            ExitCode::FAILURE
        }
    }
}
