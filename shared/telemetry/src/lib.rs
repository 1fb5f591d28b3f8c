//! Telemetry is set up the same way in every service:
//! - JSON log lines on stderr with the fields of the span that led to each
//!   event and its `trace_id` and `span_id` (`RUST_LOG` overrides the
//!   configured level);
//! - spans get W3C trace and span ids whether or not they are exported, so
//!   logs of one request correlate across services even without a collector;
//! - OTLP traces over HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//!   `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, honouring the standard
//!   `OTEL_SERVICE_NAME`, `OTEL_EXPORTER_OTLP_PROTOCOL` (`http/protobuf`,
//!   default, or `http/json`) and `OTEL_TRACES_SAMPLER[_ARG]` variables;
//! - W3C trace context (`traceparent`, `tracestate`) across service calls;
//! - participant ids shown hashed unless configured otherwise.

mod capture;
mod json_lines;
mod participants;
mod propagation;

pub use capture::{captured, CapturedSpan, LogCapture, SpanCapture};
pub use participants::{participant_field, show_participant_ids, ParticipantIds};
pub use propagation::{adopt_remote_parent, trace_headers};

use json_lines::JsonLines;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing::Subscriber;
use tracing_subscriber::fmt::format::JsonFields;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{layer::SubscriberExt, EnvFilter, Layer, Registry};

/// Keeps the trace exporter alive; dropping it sends what is still buffered.
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    /// Sends every finished span now (tests use it before they look).
    pub fn flush(&self) {
        if let Some(provider) = &self.provider {
            let _ = provider.force_flush();
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
        }
    }
}

/// Builds a subscriber that logs (with trace ids) but exports nothing;
/// `sink` is stderr, or a discard or capture sink in tests.
pub fn subscriber<Sink>(default_level: &str, sink: Sink) -> impl Subscriber + Send + Sync
where
    Sink: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    let provider = SdkTracerProvider::builder().build();
    subscriber_with(default_level, sink, &provider, "vibes")
}

/// Logs into `sink` and traces into `provider` under the instrumentation scope `scope`.
fn subscriber_with<Sink>(
    default_level: &str,
    sink: Sink,
    provider: &SdkTracerProvider,
    scope: &'static str,
) -> impl Subscriber + Send + Sync
where
    Sink: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    Registry::default()
        .with(log_layer(default_level, sink))
        .with(trace_layer(provider, scope))
}

fn log_layer<S, Sink>(default_level: &str, sink: Sink) -> impl Layer<S>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
    Sink: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    tracing_subscriber::fmt::layer()
        .fmt_fields(JsonFields::new())
        .event_format(JsonLines)
        .with_writer(sink)
        .with_filter(filter)
}

/// Gives every span at `info` or above its OpenTelemetry ids, and hands
/// finished spans to the provider's exporter, if it has one.
fn trace_layer<S>(provider: &SdkTracerProvider, scope: &'static str) -> impl Layer<S>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(scope))
        .with_filter(EnvFilter::new("info"))
}

/// Installs logs and, when configured, trace export for the whole process;
/// call once from `main` (or a test) and keep the guard until exit.
pub fn init(service_name: &'static str, default_level: &str) -> TelemetryGuard {
    init_with_sink(service_name, default_level, std::io::stderr)
}

pub fn init_with_sink<Sink>(
    service_name: &'static str,
    default_level: &str,
    sink: Sink,
) -> TelemetryGuard
where
    Sink: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    let exporting = trace_provider(service_name);
    let exports = exporting.is_some();
    let provider = exporting.unwrap_or_else(|| SdkTracerProvider::builder().build());
    let subscriber = subscriber_with(default_level, sink, &provider, service_name);
    if tracing::subscriber::set_global_default(subscriber).is_err() {
        eprintln!("{service_name}: a tracing subscriber was already installed");
    }
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    tracing::info!(
        service = service_name,
        version = env!("CARGO_PKG_VERSION"),
        traces_exported = exports,
        "starting"
    );
    TelemetryGuard {
        provider: Some(provider),
    }
}

fn trace_provider(service_name: &str) -> Option<SdkTracerProvider> {
    let configured = [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .iter()
    .any(|name| std::env::var(name).is_ok_and(|value| !value.is_empty()));
    if !configured {
        return None;
    }
    let protocol = match std::env::var("OTEL_EXPORTER_OTLP_PROTOCOL").as_deref() {
        Ok("http/json") => Protocol::HttpJson,
        _ => Protocol::HttpBinary,
    };
    let exporter = match SpanExporter::builder()
        .with_http()
        .with_protocol(protocol)
        .build()
    {
        Ok(exporter) => exporter,
        Err(error) => {
            eprintln!("{service_name}: OTLP trace export is off: {error}");
            return None;
        }
    };
    let name = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| service_name.to_owned());
    Some(
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(Resource::builder().with_service_name(name).build())
            .build(),
    )
}
