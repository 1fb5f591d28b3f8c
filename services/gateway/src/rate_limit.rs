//! Rate limits shared by every gateway instance (one Redis script, GCRA):
//! each request counts against its client address (`client_address`: the
//! edge's `X-Real-IP` only from a trusted proxy) and, where a token names the
//! caller, against the caller too. Refusals are `429 rate_limited` with
//! `Retry-After`; every answer, refusals and failures included, carries
//! `RateLimit-Limit/-Remaining/-Reset` ([`quota_headers`]). If Redis is down
//! the request passes (logged): the stream matters more.

use crate::client_address::TrustedProxies;
use crate::configuration::{Budget, RateLimitSettings};
use crate::error::GatewayError;
use crate::redis::keys;
use crate::redis::scripts::{RateDecision, RateLimitScript};
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest};
use std::time::Duration;
use vibes_config::RedisSettings;
use vibes_redis::{RedisConnector, RedisSettingsError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestClass {
    Audio,
    Membership,
    Reads,
}

impl RequestClass {
    fn name(self) -> &'static str {
        match self {
            Self::Audio => "audio",
            Self::Membership => "membership",
            Self::Reads => "reads",
        }
    }
}

pub struct RateLimiter {
    redis: RedisConnector,
    script: RateLimitScript,
    settings: RateLimitSettings,
    proxies: TrustedProxies,
}

/// What to tell the client about its budget.
#[derive(Debug, Clone, Copy)]
pub struct Quota {
    limit: u64,
    remaining: u64,
    reset: Duration,
}

impl Quota {
    fn headers(&self) -> [(&'static str, String); 3] {
        [
            ("ratelimit-limit", self.limit.to_string()),
            ("ratelimit-remaining", self.remaining.to_string()),
            (
                "ratelimit-reset",
                self.reset.as_secs_f64().ceil().to_string(),
            ),
        ]
    }

    /// Adds the budget headers to an answer.
    fn apply(&self, headers: &mut HeaderMap) {
        for (name, value) in self.headers() {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(name), value);
            }
        }
    }
}

/// Middleware: the answer carries the budget [`RateLimiter::admit`] counted
/// the request against, whatever the handler answered.
pub async fn quota_headers(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut response = next.call(request).await?;
    let quota = response.request().extensions().get::<Quota>().copied();
    if let Some(quota) = quota {
        quota.apply(response.headers_mut());
    }
    Ok(response)
}

impl RateLimiter {
    pub fn new(
        redis: &RedisSettings,
        settings: RateLimitSettings,
        proxies: TrustedProxies,
    ) -> Result<Self, RedisSettingsError> {
        let redis = RedisConnector::new(&redis.url, redis.timeout)?;
        Ok(Self {
            redis,
            script: RateLimitScript::default(),
            settings,
            proxies,
        })
    }

    fn budget(&self, class: RequestClass) -> Budget {
        match class {
            RequestClass::Audio => self.settings.audio,
            RequestClass::Membership => self.settings.membership,
            RequestClass::Reads => self.settings.reads,
        }
    }

    /// Counts the request and leaves its budget for [`quota_headers`];
    /// `Err` is the 429 to answer with.
    pub async fn admit(
        &self,
        class: RequestClass,
        request: &HttpRequest,
        caller: Option<&str>,
    ) -> Result<(), GatewayError> {
        if !self.settings.enabled {
            return Ok(());
        }
        let budget = self.budget(class);
        let client = self
            .proxies
            .client_address(request)
            .map_or_else(|| "unknown".to_owned(), |address| address.to_string());
        let mut subjects = vec![format!("ip:{client}")];
        subjects.extend(caller.map(|caller| format!("caller:{caller}")));
        let mut tightest: Option<RateDecision> = None;
        for subject in subjects {
            let key = keys::rate_limit(class.name(), &subject);
            let decision = match self.count(&key, budget).await {
                Some(decision) => decision,
                None => return Ok(()),
            };
            if !decision.allowed {
                request.extensions_mut().insert(Quota {
                    limit: budget.burst,
                    remaining: 0,
                    reset: decision.reset,
                });
                return Err(GatewayError::RateLimited {
                    class: class.name(),
                    per_second: budget.per_second,
                    burst: budget.burst,
                    retry_after: decision.retry_after,
                });
            }
            if tightest.is_none_or(|known| decision.remaining < known.remaining) {
                tightest = Some(decision);
            }
        }
        if let Some(decision) = tightest {
            request.extensions_mut().insert(Quota {
                limit: budget.burst,
                remaining: decision.remaining,
                reset: decision.reset,
            });
        }
        Ok(())
    }

    async fn count(&self, key: &str, budget: Budget) -> Option<RateDecision> {
        let outcome = async {
            let mut connection = self.redis.connection().await?;
            self.script
                .check(&mut connection, key, budget.per_second, budget.burst)
                .await
        };
        match outcome.await {
            Ok(decision) => Some(decision),
            Err(error) => {
                tracing::warn!(%error, "rate limits unavailable; letting the request through");
                None
            }
        }
    }
}
