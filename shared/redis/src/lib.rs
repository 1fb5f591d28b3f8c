//! What every service that talks to Redis shares: a connection that
//! reconnects by itself after Redis restarts, a client span per call
//! ([`traced`]), and stream ownership and the ingest pool, which ingest
//! writes and the gateway reads (their keys and Lua scripts). A script or
//! key only one service uses lives in that service (`src/redis/`).

pub mod connection;
pub mod keys;
pub mod ownership;
pub mod traced;

pub use connection::{RedisConnector, RedisSettingsError};
pub use redis::aio::ConnectionManager;
pub use redis::RedisError;

#[doc(hidden)]
pub use tracing as __tracing;
