//! One JSON object per log line: `timestamp`, `level`, `fields`, `target`,
//! `span` (the current span's name and fields) and, inside a traced span,
//! `trace_id` and `span_id` in the same hex form trace backends show, so a
//! log line leads to its trace and a trace to its log lines.

use serde::ser::{SerializeMap, Serializer as _};
use serde_json::{Map, Value};
use std::fmt;
use tracing::{Event, Subscriber};
use tracing_opentelemetry::OtelData;
use tracing_serde::fields::AsMap;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::{LookupSpan, SpanRef};

/// The event format of every service's log (fields formatted by `JsonFields`).
pub struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
    N: for<'writer> FormatFields<'writer> + 'static,
{
    fn format_event(
        &self,
        context: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut timestamp = String::new();
        SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
        let metadata = event.metadata();
        let span = event
            .parent()
            .and_then(|id| context.span(id))
            .or_else(|| context.lookup_current());
        let ids = span.as_ref().and_then(trace_ids);

        let mut line = Vec::with_capacity(256);
        let mut write = || -> Result<(), serde_json::Error> {
            let mut serializer = serde_json::Serializer::new(&mut line);
            let mut map = serializer.serialize_map(None)?;
            map.serialize_entry("timestamp", &timestamp)?;
            map.serialize_entry("level", metadata.level().as_str())?;
            map.serialize_entry("fields", &event.field_map())?;
            map.serialize_entry("target", metadata.target())?;
            if let Some(span) = &span {
                map.serialize_entry("span", &span_object::<S, N>(span))?;
            }
            if let Some((trace_id, span_id)) = &ids {
                map.serialize_entry("trace_id", trace_id)?;
                map.serialize_entry("span_id", span_id)?;
            }
            map.end()
        };
        write().map_err(|_| fmt::Error)?;
        let line = String::from_utf8(line).map_err(|_| fmt::Error)?;
        writeln!(writer, "{line}")
    }
}

/// The span's name and its fields as the fields formatter recorded them.
fn span_object<S, N>(span: &SpanRef<'_, S>) -> Value
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
    N: for<'writer> FormatFields<'writer> + 'static,
{
    let mut object = span
        .extensions()
        .get::<FormattedFields<N>>()
        .and_then(|fields| serde_json::from_str::<Map<String, Value>>(fields).ok())
        .unwrap_or_default();
    object.insert("name".to_owned(), Value::from(span.name()));
    Value::Object(object)
}

/// The trace and span id of the nearest span that is traced (a span below
/// the trace layer's level has none, so its parent's ids stand in).
fn trace_ids<S>(span: &SpanRef<'_, S>) -> Option<(String, String)>
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
{
    span.scope().find_map(|ancestor| {
        let extensions = ancestor.extensions();
        let otel = extensions.get::<OtelData>()?;
        Some((otel.trace_id()?.to_string(), otel.span_id()?.to_string()))
    })
}

#[cfg(test)]
mod tests {
    use crate::LogCapture;
    use serde_json::Value;
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    fn logged(body: impl FnOnce()) -> Vec<Value> {
        logged_at("info", body)
    }

    fn logged_at(level: &str, body: impl FnOnce()) -> Vec<Value> {
        let capture = LogCapture::default();
        let subscriber = crate::subscriber(level, capture.clone());
        tracing::subscriber::with_default(subscriber, body);
        capture.lines()
    }

    #[test]
    fn a_line_inside_a_span_carries_that_spans_trace_and_span_id() {
        let mut expected = None;
        let lines = logged(|| {
            let span = tracing::info_span!("handle", vibe_id = "v1");
            let _entered = span.enter();
            tracing::info!(bytes = 4, "inside");
            let context = span.context();
            let ids = opentelemetry::trace::TraceContextExt::span(&context)
                .span_context()
                .clone();
            expected = Some((ids.trace_id().to_string(), ids.span_id().to_string()));
        });
        let (trace_id, span_id) = expected.unwrap();
        let line = &lines[0];
        assert_eq!(line["trace_id"], trace_id.as_str());
        assert_eq!(line["span_id"], span_id.as_str());
        assert_eq!(trace_id.len(), 32);
        assert_ne!(trace_id, "0".repeat(32), "a real id");
        assert_eq!(span_id.len(), 16);
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["fields"]["message"], "inside");
        assert_eq!(line["fields"]["bytes"], 4);
        assert_eq!(line["span"]["name"], "handle");
        assert_eq!(line["span"]["vibe_id"], "v1");
    }

    #[test]
    fn a_debug_span_borrows_the_ids_of_its_traced_parent() {
        // Logged at debug, traced at info: the inner span has no ids of its own.
        let lines = logged_at("debug", || {
            let outer = tracing::info_span!("outer");
            let _outer = outer.enter();
            tracing::info!("in outer");
            let inner = tracing::debug_span!("inner");
            let _inner = inner.enter();
            tracing::warn!("in inner");
        });
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[0]["span_id"], lines[1]["span_id"]);
        assert_eq!(lines[1]["span"]["name"], "inner");
    }

    #[test]
    fn a_line_outside_any_span_has_no_ids() {
        let lines = logged(|| tracing::warn!(reason = "x", "alone"));
        assert_eq!(lines[0]["fields"]["reason"], "x");
        assert!(lines[0].get("trace_id").is_none(), "{}", lines[0]);
        assert!(lines[0].get("span").is_none());
    }
}
