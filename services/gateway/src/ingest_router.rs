//! Sends a stream's requests to the ingest pod that owns it, found in the
//! pool in Redis; a new stream goes to the least-loaded live pod, which claims
//! it. A pod that does not answer, or answers 421 (another pod owns the stream,
//! or it is shutting down), is skipped and the request goes to the next: that
//! is safe because neither case accepted the chunk. When Redis cannot be read,
//! the stream's last route is used, so live streams outlast a Redis outage.

use crate::error::{Backend, GatewayError};
use crate::upstream::{self, Body};
use actix_web::http::{Method, StatusCode};
use actix_web::HttpResponse;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Mutex;
use vibes_domain::api::PartHealth;
use vibes_domain::VibeId;
use vibes_redis::ownership::{LivePod, OwnershipScripts, PodDirectory};
use vibes_redis::{RedisConnector, RedisError};

/// Pods tried for one request: the owner, and after a refusal or a dead pod,
/// the owner named in the refusal or the next least-loaded pod.
const MAX_ATTEMPTS: usize = 3;
/// Streams whose last route is remembered for Redis outages.
const REMEMBERED_ROUTES: usize = 10_000;

pub struct IngestRouter {
    redis: RedisConnector,
    scripts: OwnershipScripts,
    pool: PodDirectory,
    pool_name: String,
    http: reqwest::Client,
    last_routes: Mutex<HashMap<VibeId, Target>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    pod: String,
    url: String,
}

/// The parts of an ingest 421 answer that say where to go instead.
#[derive(Debug, Deserialize)]
struct Misdirected {
    owner: Option<String>,
    owner_url: Option<String>,
}

impl IngestRouter {
    pub fn new(redis: RedisConnector, pool: &str, http: reqwest::Client) -> Self {
        Self {
            redis,
            scripts: OwnershipScripts::default(),
            pool: PodDirectory::new(pool),
            pool_name: pool.to_owned(),
            http,
            last_routes: Mutex::default(),
        }
    }

    /// Forwards a request about `vibe` to its pod and relays the answer.
    pub async fn forward(
        &self,
        vibe: &VibeId,
        method: Method,
        path: &str,
        body: Option<Body>,
    ) -> Result<HttpResponse, GatewayError> {
        let mut skipped: Vec<String> = Vec::new();
        let mut unreachable: Vec<String> = Vec::new();
        let mut named_owner: Option<Target> = None;
        let mut last_error = None;
        for _ in 0..MAX_ATTEMPTS {
            let target = match named_owner.take() {
                Some(owner) => owner,
                None => match self.route(vibe, &skipped).await? {
                    Some(target) => target,
                    None => break,
                },
            };
            let url = format!("{}{path}", target.url);
            let response = match upstream::send(&self.http, method.clone(), &url, body.clone())
                .await
            {
                Ok(response) => response,
                Err(error) if error.is_connect() => {
                    tracing::warn!(vibe_id = %vibe, pod = %target.pod, %error, "ingest pod unreachable; trying another");
                    last_error = Some(upstream::unreachable(Backend::Ingest, error));
                    unreachable.push(target.pod.clone());
                    skipped.push(target.pod);
                    continue;
                }
                Err(error) => return Err(upstream::unreachable(Backend::Ingest, error)),
            };
            if response.status().as_u16() != StatusCode::MISDIRECTED_REQUEST.as_u16() {
                self.remember(vibe, target);
                return upstream::relay(Backend::Ingest, response).await;
            }
            let misdirected: Option<Misdirected> = response.json().await.ok();
            tracing::info!(vibe_id = %vibe, pod = %target.pod, ?misdirected, "ingest pod sent the request elsewhere");
            skipped.push(target.pod);
            let owner = misdirected.and_then(|answer| Some((answer.owner?, answer.owner_url)));
            match owner {
                // The owner is gone but its heartbeat has not expired yet:
                // no pod may take the stream before it does, so asking more
                // pods now only makes them refuse too.
                Some((pod, _)) if unreachable.contains(&pod) => break,
                Some((pod, Some(url))) if !skipped.contains(&pod) => {
                    named_owner = Some(Target { pod, url });
                }
                _ => {}
            }
        }
        Err(last_error.unwrap_or_else(|| self.no_pod(vibe)))
    }

    /// The stream's owner if it is live, else the least-loaded live pod.
    async fn route(
        &self,
        vibe: &VibeId,
        skipped: &[String],
    ) -> Result<Option<Target>, GatewayError> {
        match self.route_from_pool(vibe, skipped).await {
            Ok(target) => Ok(target),
            Err(error) => {
                let remembered = self
                    .last_routes
                    .lock()
                    .expect("routes lock")
                    .get(vibe)
                    .cloned();
                match remembered {
                    Some(target) if !skipped.contains(&target.pod) => {
                        tracing::warn!(vibe_id = %vibe, %error, "ingest pool unreadable; using the stream's last route");
                        Ok(Some(target))
                    }
                    _ => Err(GatewayError::IngestPoolUnreadable(error)),
                }
            }
        }
    }

    async fn route_from_pool(
        &self,
        vibe: &VibeId,
        skipped: &[String],
    ) -> Result<Option<Target>, RedisError> {
        let mut redis = self.redis.connection().await?;
        let holder = self.scripts.holder(&mut redis, vibe).await?;
        let pods = self.pool.live_pods(&mut redis).await?;
        let owner = holder
            .and_then(|lease| pods.iter().find(|pod| pod.id == lease.pod))
            .filter(|pod| !skipped.contains(&pod.id));
        Ok(owner
            .or_else(|| LivePod::least_loaded(&pods, skipped))
            .map(|pod| Target {
                pod: pod.id.clone(),
                url: pod.info.url.clone(),
            }))
    }

    fn remember(&self, vibe: &VibeId, target: Target) {
        let mut routes = self.last_routes.lock().expect("routes lock");
        if routes.len() >= REMEMBERED_ROUTES && !routes.contains_key(vibe) {
            routes.clear();
        }
        routes.insert(vibe.clone(), target);
    }

    fn no_pod(&self, vibe: &VibeId) -> GatewayError {
        tracing::warn!(vibe_id = %vibe, pool = %self.pool_name, "no live ingest pod can take the stream");
        GatewayError::NoIngestPod {
            pool: self.pool_name.clone(),
        }
    }

    /// Up when at least one live pod of the pool reports itself ready.
    pub async fn readiness(&self) -> PartHealth {
        let pods = match self.redis.connection().await {
            Ok(mut redis) => self.pool.live_pods(&mut redis).await,
            Err(error) => Err(error),
        };
        let pods = match pods {
            Ok(pods) => pods,
            Err(error) => {
                tracing::warn!(%error, "the ingest pool is unreadable");
                return PartHealth::down("ingest pool unreadable");
            }
        };
        let mut reasons = Vec::new();
        for pod in &pods {
            let health = upstream::readiness(&self.http, &pod.info.url).await;
            if health.is_up() {
                return PartHealth::up();
            }
            let why = health.detail.unwrap_or_default();
            reasons.push(format!("{}: {why}", pod.id));
        }
        if reasons.is_empty() {
            return PartHealth::down(format!("no live ingest pod in pool '{}'", self.pool_name));
        }
        PartHealth::down(reasons.join("; "))
    }
}
