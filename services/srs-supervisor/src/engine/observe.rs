//! `observe` mode (Kubernetes): the engine belongs to someone else (the
//! kubelet restarts it). The supervisor only probes it, so readiness and the
//! stats API reflect it, and never restarts it.

use crate::engine::supervisor::{Context, Outcome};
use crate::engine::EngineState;

pub(crate) async fn supervise(mut context: Context) {
    let mut restarts = context.restarts();
    loop {
        match context
            .watch(&mut restarts, std::future::pending::<String>())
            .await
        {
            Outcome::StopRequested => {
                context.stopped(&mut restarts);
                tracing::info!("stopped observing the engine");
                return;
            }
            Outcome::Failed(reason) => {
                metrics::gauge!("vibes_engine_up").set(0.0);
                tracing::warn!(%reason, "engine down; waiting for it to come back");
                context.update(|status| {
                    status.state = EngineState::Down;
                    status.last_failure = Some(reason);
                });
                let pause = context.settings.health.probe_interval;
                if context.sleep_unless_stopped(pause).await {
                    context.stopped(&mut restarts);
                    return;
                }
            }
        }
    }
}
