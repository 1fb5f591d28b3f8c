//! `vibes-loadgen registry --registry-url URL --redis-url URL --out DIR`
//! `vibes-loadgen ingest --ingest-url URL --ingest-pid PID --rtmp-base-url URL --out DIR`
//!
//! Every scenario is bounded in requests and time, talks to loopback
//! addresses only, and writes `<scenario>.json` and `<scenario>.md` to `--out`.

mod args;
mod ingest;
mod latency;
mod procstat;
mod registry;

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
        "ingest" => ingest::run(&arguments).await,
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
