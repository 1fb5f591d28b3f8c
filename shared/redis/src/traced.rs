//! Every Redis call is a client span (`redis_<call>`) with the stream it
//! concerns and its outcome; a failed call marks its span as an error with
//! the cause, so a slow or failing Redis shows up inside the request's trace.

use redis::RedisError;
use std::future::Future;
use tracing::Instrument;

/// A client span for one Redis call; `vibe_id` and `outcome` are recorded later.
#[macro_export]
macro_rules! redis_span {
    ($name:literal) => {
        $crate::__tracing::info_span!(
            $name,
            otel.kind = "client",
            db.system.name = "redis",
            vibe_id = $crate::__tracing::field::Empty,
            outcome = $crate::__tracing::field::Empty,
            otel.status_code = $crate::__tracing::field::Empty,
            otel.status_description = $crate::__tracing::field::Empty,
        )
    };
    ($name:literal, $vibe:expr) => {{
        let span = $crate::redis_span!($name);
        span.record("vibe_id", $vibe.as_str());
        span
    }};
}

/// Runs `call` inside `span` and records how it ended: `describe` names the
/// outcome of a success; an error sets the span's status to error.
pub async fn traced<T>(
    span: tracing::Span,
    call: impl Future<Output = Result<T, RedisError>>,
    describe: impl FnOnce(&T) -> &'static str,
) -> Result<T, RedisError> {
    let result = call.instrument(span.clone()).await;
    match &result {
        Ok(value) => {
            span.record("outcome", describe(value));
        }
        Err(error) => {
            span.record("outcome", "error");
            span.record("otel.status_code", "ERROR");
            span.record("otel.status_description", error.to_string());
        }
    }
    result
}
