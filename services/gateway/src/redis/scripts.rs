//! The gateway's rate-limit script: GCRA, one script shared by every
//! gateway instance. `redis::Script` sends EVALSHA and loads the script only
//! when Redis answers NOSCRIPT (e.g. after a restart).

use redis::aio::ConnectionLike;
use redis::{RedisError, Script};
use std::time::Duration;
use vibes_redis::redis_span;
use vibes_redis::traced::traced;

/// The verdict of one rate-limited request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    pub retry_after: Duration,
    pub remaining: u64,
    /// Until the client's budget is whole again.
    pub reset: Duration,
}

/// GCRA rate limiting.
pub struct RateLimitScript(Script);

impl Default for RateLimitScript {
    fn default() -> Self {
        Self(Script::new(include_str!("scripts/rate_limit.lua")))
    }
}

impl RateLimitScript {
    /// Counts one request of `client` against `per_second` with `burst`.
    pub async fn check<C: ConnectionLike>(
        &self,
        connection: &mut C,
        key: &str,
        per_second: f64,
        burst: u64,
    ) -> Result<RateDecision, RedisError> {
        let interval_ms = (1000.0 / per_second).ceil().max(1.0) as u64;
        let call = async {
            let (allowed, retry_after_ms, remaining, reset_ms): (u64, u64, u64, u64) = self
                .0
                .key(key)
                .arg(interval_ms)
                .arg(burst.max(1))
                .invoke_async(connection)
                .await?;
            Ok(RateDecision {
                allowed: allowed == 1,
                retry_after: Duration::from_millis(retry_after_ms),
                remaining,
                reset: Duration::from_millis(reset_ms),
            })
        };
        traced(
            redis_span!("redis_rate_limit"),
            call,
            |decision| match decision.allowed {
                true => "allowed",
                false => "limited",
            },
        )
        .await
    }
}
