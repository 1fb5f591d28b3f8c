//! Logs and spans kept in memory, for tests that read what a service logged
//! and traced.

use opentelemetry::trace::Status;
use opentelemetry::KeyValue;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex};
use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;

/// Pass a clone as the sink; read the lines from any other clone.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    /// Every line written so far that is a JSON object.
    pub fn lines(&self) -> Vec<Value> {
        let bytes = self.0.lock().expect("log capture lock").clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }
}

impl io::Write for LogCapture {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .expect("log capture lock")
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'writer> MakeWriter<'writer> for LogCapture {
    type Writer = LogCapture;

    fn make_writer(&'writer self) -> Self::Writer {
        self.clone()
    }
}

/// What the whole process logged (at `debug`) and traced, from the first call
/// on. It is the global subscriber on purpose: tests of one binary run on many
/// threads, and with a single scoped (`set_default`) subscriber tracing
/// decides per callsite, once, on whichever thread reaches it first — a
/// callsite first reached on another test's thread would stay off for good.
pub fn captured() -> &'static (LogCapture, SpanCapture) {
    static CAPTURED: std::sync::OnceLock<(LogCapture, SpanCapture)> = std::sync::OnceLock::new();
    CAPTURED.get_or_init(|| {
        let (logs, spans) = (LogCapture::default(), SpanCapture::default());
        tracing::subscriber::set_global_default(spans.subscriber("debug", logs.clone()))
            .expect("no other global subscriber in a process that captures");
        (logs, spans)
    })
}

/// Finished spans as a trace backend would get them, kept in memory, for
/// tests that check what is traced.
#[derive(Clone, Default, Debug)]
pub struct SpanCapture(Arc<Mutex<Vec<CapturedSpan>>>);

/// One finished span, with ids in hex and values as text.
#[derive(Debug, Clone)]
pub struct CapturedSpan {
    pub name: String,
    pub trace_id: String,
    pub span_id: String,
    /// `0000000000000000` for a root span.
    pub parent_span_id: String,
    pub kind: String,
    /// The description of an error status; `None` when the span did not fail.
    pub error: Option<String>,
    pub attributes: BTreeMap<String, String>,
    /// Event names (log messages inside the span) with their attributes.
    pub events: Vec<(String, BTreeMap<String, String>)>,
    /// Span ids this span links to (`follows_from`).
    pub links: Vec<String>,
}

impl CapturedSpan {
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }
}

impl SpanCapture {
    pub fn spans(&self) -> Vec<CapturedSpan> {
        self.0.lock().expect("span capture lock").clone()
    }

    /// The finished spans called `name`, oldest first.
    pub fn named(&self, name: &str) -> Vec<CapturedSpan> {
        self.spans()
            .into_iter()
            .filter(|span| span.name == name)
            .collect()
    }

    /// A subscriber that logs into `logs` at `level` and traces into this capture.
    pub fn subscriber(&self, level: &str, logs: LogCapture) -> impl Subscriber + Send + Sync {
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(self.clone())
            .build();
        crate::subscriber_with(level, logs, &provider, "vibes")
    }
}

impl SpanExporter for SpanCapture {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let captured = batch.into_iter().map(CapturedSpan::from);
        self.0.lock().expect("span capture lock").extend(captured);
        Ok(())
    }
}

impl From<SpanData> for CapturedSpan {
    fn from(span: SpanData) -> Self {
        let text = |attributes: &[KeyValue]| {
            attributes
                .iter()
                .map(|pair| (pair.key.to_string(), pair.value.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        Self {
            name: span.name.to_string(),
            trace_id: span.span_context.trace_id().to_string(),
            span_id: span.span_context.span_id().to_string(),
            parent_span_id: span.parent_span_id.to_string(),
            kind: format!("{:?}", span.span_kind),
            error: match span.status {
                Status::Error { description } => Some(description.to_string()),
                _ => None,
            },
            attributes: text(&span.attributes),
            events: span
                .events
                .iter()
                .map(|event| (event.name.to_string(), text(&event.attributes)))
                .collect(),
            links: span
                .links
                .iter()
                .map(|link| link.span_context.span_id().to_string())
                .collect(),
        }
    }
}
