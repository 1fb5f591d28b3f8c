//! What every restart of the engine shares, whichever mode restarts it: the
//! backoff, crash-loop detection, the metric, a log line and an
//! `engine_restart` span that lasts from the failure until the engine runs again.

use crate::configuration::{EngineMode, HealthSettings};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;
use tracing::field::Empty;
use tracing::Span;

pub struct Restarts {
    mode: EngineMode,
    health: HealthSettings,
    failures_in_a_row: u32,
    recent_failures: VecDeque<Instant>,
    /// The restart under way: its span and when the engine failed.
    open: Option<(Span, Instant)>,
}

/// What the caller does about one failure.
pub struct RestartPlan {
    pub backoff: Duration,
    pub crash_loop: bool,
}

impl Restarts {
    pub fn new(mode: EngineMode, health: HealthSettings) -> Self {
        Self {
            mode,
            health,
            failures_in_a_row: 0,
            recent_failures: VecDeque::new(),
            open: None,
        }
    }

    /// Records a failure of the engine; `was_running` resets the backoff (the
    /// engine had recovered since the last failure).
    pub fn failed(&mut self, reason: &str, was_running: bool) -> RestartPlan {
        if was_running {
            self.failures_in_a_row = 0;
        }
        let backoff = self.health.wait_before_restart(self.failures_in_a_row);
        self.failures_in_a_row += 1;
        let crash_loop = self.note_failure();
        metrics::counter!("vibes_engine_restarts_total").increment(1);
        metrics::gauge!("vibes_engine_up").set(0.0);
        if let Some((span, _)) = self.open.take() {
            span.record("outcome", "failed_again");
        }
        let span = tracing::info_span!(
            "engine_restart",
            engine.mode = self.mode.name(),
            reason,
            attempt = self.failures_in_a_row,
            backoff_ms = backoff.as_millis() as u64,
            crash_loop,
            outcome = Empty,
            downtime_ms = Empty,
        );
        span.in_scope(|| {
            tracing::warn!(
                engine.mode = self.mode.name(),
                %reason,
                ?backoff,
                failures_in_a_row = self.failures_in_a_row,
                crash_loop,
                "engine failed; restarting"
            );
        });
        self.open = Some((span, Instant::now()));
        RestartPlan {
            backoff,
            crash_loop,
        }
    }

    /// The engine answers its probes again: closes the restart under way.
    pub fn recovered(&mut self) {
        metrics::gauge!("vibes_engine_up").set(1.0);
        if let Some((span, failed_at)) = self.open.take() {
            let downtime_ms = failed_at.elapsed().as_millis() as u64;
            span.record("outcome", "running");
            span.record("downtime_ms", downtime_ms);
            span.in_scope(|| {
                tracing::info!(
                    engine.mode = self.mode.name(),
                    downtime_ms,
                    "engine running again after a restart"
                );
            });
        }
    }

    /// The supervisor stops: a restart under way ends unfinished.
    pub fn stopped(&mut self) {
        if let Some((span, _)) = self.open.take() {
            span.record("outcome", "stopped");
        }
    }

    /// True when the crash-loop window now holds enough failures.
    fn note_failure(&mut self) -> bool {
        let now = Instant::now();
        let window = self.health.crash_loop_window;
        self.recent_failures.push_back(now);
        while self
            .recent_failures
            .front()
            .is_some_and(|failed| now.duration_since(*failed) > window)
        {
            self.recent_failures.pop_front();
        }
        self.recent_failures.len() >= self.health.crash_loop_failures
    }
}
