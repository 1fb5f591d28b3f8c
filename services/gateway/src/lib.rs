//! The public API behind the edge: every creator and listener request comes
//! in here, is authenticated (`auth`: creator and participant JWTs),
//! validated (ids, content types, whole PCM frames, sizes) and rate-limited
//! (`rate_limit`: shared GCRA budgets in Redis, per client address from
//! `client_address`), then forwarded: audio and stream ends to the ingest pod
//! that owns the stream (`ingest_router`), joins, leaves and listings to the
//! session registry (`upstream`). `GET /health` aggregates every part;
//! `openapi` serves the generated OpenAPI document.
//!
//! Routes, ports and settings: `services/gateway/README.md`.

pub mod auth;
pub mod client_address;
pub mod configuration;
pub mod cors;
pub mod error;
pub mod ingest_router;
pub mod rate_limit;
pub mod redis;
pub mod routes;
pub mod startup;
pub mod upstream;
