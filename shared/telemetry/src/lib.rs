//! Logging is set up the same way in every service: JSON lines on stderr, one
//! object per event with the span fields that led to it, so on-call can filter
//! by `vibe_id` or `participant_id`. `RUST_LOG` overrides the configured level.

use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::{layer::SubscriberExt, EnvFilter, Registry};

/// Builds the subscriber; `sink` is stderr in services and a discard sink in tests.
pub fn subscriber<Sink>(default_level: &str, sink: Sink) -> impl Subscriber + Send + Sync
where
    Sink: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let json = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_writer(sink);
    Registry::default().with(filter).with(json)
}

/// Installs the subscriber for the whole process; call once from `main`.
pub fn init(service_name: &'static str, default_level: &str) {
    let installed =
        tracing::subscriber::set_global_default(subscriber(default_level, std::io::stderr));
    if installed.is_err() {
        eprintln!("{service_name}: a tracing subscriber was already installed");
    }
    tracing::info!(
        service = service_name,
        version = env!("CARGO_PKG_VERSION"),
        "starting"
    );
}
