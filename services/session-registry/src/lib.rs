//! Who is live and who is listening, kept in Redis (`store`): a record per
//! stream and a sorted set of participant leases whose join is one Lua
//! script, so the cap is exact across any number of instances. It issues
//! and checks playback tokens (`playback`) for the edge's `auth_request`,
//! answers SRS's HTTP hooks and ties each FLV player to its participant
//! (`players`), and runs two background tasks: the `warden` (renews
//! connected players' leases and disconnects those whose seat is gone,
//! through SRS's API, `engine`), the `census` (the participants-per-stream
//! gauges) and the `reaper` (ends streams whose ingest or publisher is gone).
//!
//! Routes, ports and settings: `services/session-registry/README.md`.

pub mod census;
pub mod configuration;
pub mod engine;
pub mod error;
pub mod playback;
pub mod players;
pub mod reaper;
pub mod redis;
pub mod routes;
pub mod startup;
pub mod store;
pub mod warden;
