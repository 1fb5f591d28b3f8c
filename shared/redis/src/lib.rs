//! The Redis side of stream and participant state: the key layout, the Lua
//! scripts (each loaded once and called by SHA), and a connection that
//! reconnects by itself after Redis restarts.

pub mod connection;
pub mod keys;
pub mod ownership;
pub mod scripts;
mod traced;

pub use connection::{RedisConnector, RedisSettingsError};
pub use redis::aio::ConnectionManager;
pub use redis::RedisError;
pub use scripts::{
    FlvConnection, JoinOutcome, LeaveOutcome, SeatRequest, SeatTerms, SessionScripts,
};
