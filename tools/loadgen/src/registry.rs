//! Join stampede against one stream: distinct participants join through the
//! registry's HTTP API at a fixed concurrency, then the same number of calls
//! of the same seat script go straight to Redis in the same run, so the
//! report can give the registry's rate as a ratio of the raw script rate.
//! Then an open-loop phase: joins started at a fixed rate whatever the
//! answers do, each timed from its scheduled start (a sender that falls
//! behind cannot hide latency), against a stream with room for all of them.

use crate::args::Arguments;
use crate::percentiles::Percentiles;
use serde::Serialize;
use serde_json::json;
use session_registry::redis::{JoinOutcome, SeatRequest, SeatTerms, SessionScripts};
use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use vibes_domain::{ParticipantId, VibeId};
use vibes_redis::RedisConnector;

#[derive(Debug, Serialize)]
struct Phase {
    calls: u64,
    admitted: u64,
    refused_full: u64,
    failed: u64,
    seconds: f64,
    calls_per_second: f64,
    latency: Percentiles,
}

#[derive(Debug, Serialize)]
struct FixedRate {
    offered_per_second: u64,
    seconds: f64,
    calls: u64,
    admitted: u64,
    failed: u64,
    achieved_per_second: f64,
    latency: Percentiles,
}

#[derive(Debug, Serialize)]
struct Report {
    scenario: &'static str,
    cap: u64,
    concurrency: u64,
    through_registry: Phase,
    raw_redis_script: Phase,
    /// Registry joins/s ÷ raw script calls/s, both measured in this run.
    rate_ratio: f64,
    /// Whether exactly `cap` participants were admitted through the registry.
    cap_exact: bool,
    /// Joins at a fixed offered rate (goal: p99 ≤ 20 ms at 2000/s).
    fixed_rate: FixedRate,
}

pub async fn run(arguments: &Arguments) -> Result<(), Box<dyn Error>> {
    let registry_url = arguments.url("registry-url")?;
    let redis_url = arguments.text("redis-url")?;
    let joins = arguments.number("joins", 5000)?;
    let cap = arguments.number("cap", 1000)?;
    let concurrency = arguments.number("concurrency", 64)?.max(1);
    let rate = arguments.number("rate", 2000)?.max(1);
    let rate_seconds = arguments.number("rate-seconds", 5)?.max(1);
    let out = arguments.out_dir()?;

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency as usize)
        .timeout(Duration::from_secs(10))
        .build()?;
    let vibe = format!("bench-registry-{}", std::process::id());
    eprintln!("registry: {joins} joins against cap {cap}, {concurrency} in flight");
    open_stream(&http, &registry_url, &vibe, cap).await?;
    let through_registry = http_phase(&http, &registry_url, &vibe, joins, concurrency).await;
    http.delete(format!("{registry_url}/internal/streams/{vibe}"))
        .send()
        .await?;

    eprintln!("registry: the same seat script straight to Redis");
    let raw_redis_script = raw_phase(redis_url, joins, cap, concurrency).await?;

    eprintln!("registry: {rate} joins/s for {rate_seconds} s, each timed from its scheduled start");
    let fixed_rate = fixed_rate_phase(&http, &registry_url, rate, rate_seconds).await?;

    let report = Report {
        scenario: "registry",
        cap,
        concurrency,
        rate_ratio: through_registry.calls_per_second / raw_redis_script.calls_per_second,
        cap_exact: through_registry.admitted == cap.min(joins),
        through_registry,
        raw_redis_script,
        fixed_rate,
    };
    crate::report::write(&out, "registry", &report, &markdown(&report))?;
    if !report.cap_exact {
        return Err(format!(
            "admitted {} participants, the cap is {cap}",
            report.through_registry.admitted
        )
        .into());
    }
    Ok(())
}

async fn open_stream(
    http: &reqwest::Client,
    registry_url: &str,
    vibe: &str,
    cap: u64,
) -> Result<(), Box<dyn Error>> {
    let stream_url = format!("{registry_url}/internal/streams/{vibe}");
    http.put(&stream_url)
        .json(&json!({ "owner": "bench" }))
        .send()
        .await?
        .error_for_status()?;
    let cap_url = format!("{stream_url}/max-participants");
    http.put(cap_url)
        .json(&json!({ "max_participants": cap }))
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

async fn http_phase(
    http: &reqwest::Client,
    registry_url: &str,
    vibe: &str,
    joins: u64,
    concurrency: u64,
) -> Phase {
    let limit = Arc::new(Semaphore::new(concurrency as usize));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(joins as usize);
    for index in 0..joins {
        let (http, limit) = (http.clone(), limit.clone());
        let url = format!("{registry_url}/stream/{vibe}/join");
        tasks.push(tokio::spawn(async move {
            let _permit = limit.acquire_owned().await.expect("semaphore open");
            let sent = Instant::now();
            let status = join(&http, url, &format!("listener-{index}")).await;
            (status, sent.elapsed())
        }));
    }
    let mut outcomes = Vec::with_capacity(tasks.len());
    for task in tasks {
        outcomes.push(task.await.expect("join task"));
    }
    phase(outcomes, started.elapsed(), |status| match status {
        200 => Outcome::Admitted,
        409 => Outcome::Full,
        _ => Outcome::Failed,
    })
}

/// One join through the registry's API: its status, 0 when it got no answer.
async fn join(http: &reqwest::Client, url: String, participant: &str) -> u16 {
    let body = json!({ "participant_id": participant });
    let response = http.post(url).json(&body).send().await;
    response.map_or(0, |response| response.status().as_u16())
}

async fn fixed_rate_phase(
    http: &reqwest::Client,
    registry_url: &str,
    rate: u64,
    seconds: u64,
) -> Result<FixedRate, Box<dyn Error>> {
    let calls = rate * seconds;
    let vibe = format!("bench-registry-rate-{}", std::process::id());
    open_stream(http, registry_url, &vibe, calls).await?;
    let started = Instant::now() + Duration::from_millis(100);
    let mut tasks = Vec::with_capacity(calls as usize);
    for index in 0..calls {
        let http = http.clone();
        let url = format!("{registry_url}/stream/{vibe}/join");
        let scheduled = started + Duration::from_secs_f64(index as f64 / rate as f64);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(scheduled.into()).await;
            let status = join(&http, url, &format!("steady-{index}")).await;
            (status, scheduled.elapsed())
        }));
    }
    let mut outcomes = Vec::with_capacity(tasks.len());
    for task in tasks {
        outcomes.push(task.await?);
    }
    let elapsed = started.elapsed();
    http.delete(format!("{registry_url}/internal/streams/{vibe}"))
        .send()
        .await?;
    let admitted = outcomes.iter().filter(|(status, _)| *status == 200).count() as u64;
    Ok(FixedRate {
        offered_per_second: rate,
        seconds: elapsed.as_secs_f64(),
        calls,
        admitted,
        failed: calls - admitted,
        achieved_per_second: calls as f64 / elapsed.as_secs_f64(),
        latency: Percentiles::of(outcomes.into_iter().map(|(_, latency)| latency).collect()),
    })
}

async fn raw_phase(
    redis_url: &str,
    calls: u64,
    cap: u64,
    concurrency: u64,
) -> Result<Phase, Box<dyn Error>> {
    let connection = RedisConnector::new(redis_url, Duration::from_secs(5))?
        .connection()
        .await?;
    let scripts = Arc::new(SessionScripts::default());
    let vibe = VibeId::parse(&format!("bench-raw-{}", std::process::id()))?;
    let mut setup = connection.clone();
    scripts
        .register_stream(&mut setup, &vibe, "bench", None)
        .await?;
    scripts.set_cap(&mut setup, &vibe, cap).await?;
    let terms = SeatTerms {
        lease: Duration::from_secs(30),
        remember_leave: Duration::from_secs(60),
        default_cap: cap,
        unconfirmed_grace: Duration::from_secs(15),
    };
    let limit = Arc::new(Semaphore::new(concurrency as usize));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(calls as usize);
    for index in 0..calls {
        let (mut connection, scripts, vibe, limit) = (
            connection.clone(),
            scripts.clone(),
            vibe.clone(),
            limit.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let _permit = limit.acquire_owned().await.expect("semaphore open");
            let participant = ParticipantId::parse(&format!("listener-{index}")).expect("valid id");
            let sent = Instant::now();
            let outcome = scripts
                .seat(
                    &mut connection,
                    &vibe,
                    &participant,
                    &terms,
                    SeatRequest::Join,
                )
                .await;
            (outcome.ok(), sent.elapsed())
        }));
    }
    let mut outcomes = Vec::with_capacity(tasks.len());
    for task in tasks {
        outcomes.push(task.await.expect("script task"));
    }
    let elapsed = started.elapsed();
    session_registry::redis::scripts::end_stream(&mut setup, &vibe, terms.remember_leave).await?;
    Ok(phase(outcomes, elapsed, |outcome| match outcome {
        Some(JoinOutcome::Admitted { .. }) => Outcome::Admitted,
        Some(JoinOutcome::Full { .. }) => Outcome::Full,
        _ => Outcome::Failed,
    }))
}

enum Outcome {
    Admitted,
    Full,
    Failed,
}

fn phase<T>(
    outcomes: Vec<(T, Duration)>,
    elapsed: Duration,
    classify: impl Fn(&T) -> Outcome,
) -> Phase {
    let (mut admitted, mut refused_full, mut failed) = (0, 0, 0);
    let mut latencies = Vec::with_capacity(outcomes.len());
    for (outcome, latency) in &outcomes {
        match classify(outcome) {
            Outcome::Admitted => admitted += 1,
            Outcome::Full => refused_full += 1,
            Outcome::Failed => failed += 1,
        }
        latencies.push(*latency);
    }
    let calls = outcomes.len() as u64;
    Phase {
        calls,
        admitted,
        refused_full,
        failed,
        seconds: elapsed.as_secs_f64(),
        calls_per_second: calls as f64 / elapsed.as_secs_f64(),
        latency: Percentiles::of(latencies),
    }
}

fn markdown(report: &Report) -> String {
    let row = |name: &str, phase: &Phase| {
        format!(
            "| {name} | {} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} |\n",
            phase.calls,
            phase.admitted,
            phase.refused_full,
            phase.failed,
            phase.calls_per_second,
            phase.latency.p50_ms,
            phase.latency.p95_ms,
            phase.latency.p99_ms
        )
    };
    format!(
        "## registry: join stampede\n\n\
         Cap {cap}, {concurrency} requests in flight, one stream; both rows measured in the same run.\n\n\
         | path | calls | admitted | full | failed | calls/s | p50 ms | p95 ms | p99 ms |\n\
         |---|---|---|---|---|---|---|---|---|\n{}{}\n\
         Registry rate ÷ raw script rate: **{:.3}**. Exactly {cap} admitted through the registry: **{}**.\n\n\
         At a fixed {} joins/s offered for {:.1} s (open loop, each join timed from its scheduled start, a stream \
         with room for all): {} calls, {} admitted, {} failed; join latency p50 {:.2} ms, p95 {:.2} ms, \
         **p99 {:.2} ms** (goal ≤ 20), max {:.2} ms.\n",
        row("POST /stream/{id}/join (registry HTTP)", &report.through_registry),
        row("seat.lua via EVALSHA (raw Redis)", &report.raw_redis_script),
        report.rate_ratio,
        if report.cap_exact { "yes" } else { "NO" },
        report.fixed_rate.offered_per_second,
        report.fixed_rate.seconds,
        report.fixed_rate.calls,
        report.fixed_rate.admitted,
        report.fixed_rate.failed,
        report.fixed_rate.latency.p50_ms,
        report.fixed_rate.latency.p95_ms,
        report.fixed_rate.latency.p99_ms,
        report.fixed_rate.latency.max_ms,
        cap = report.cap,
        concurrency = report.concurrency,
    )
}
