//! Audio chunks in, one RTMP stream per live stream out. `streams` holds the
//! streams this pod publishes; each has a `pipeline`: a bounded queue of
//! accepted PCM and one task that writes it into that stream's ffmpeg
//! (`encoder`) at real-time pace (`pacer`), filling gaps with silence and
//! restarting ffmpeg when it fails. A stream is owned by exactly one ingest
//! pod at a time (`ownership`: a fenced lease in Redis, the pod's heartbeat
//! in the pool); its first chunk registers it with the session registry
//! (`registry_client`).
//!
//! Routes, ports and settings: `services/ingest/README.md`.

pub mod configuration;
pub mod encoder;
pub mod error;
pub mod ownership;
pub mod pacer;
pub mod pipeline;
pub mod publish_target;
pub mod registry_client;
pub mod routes;
pub mod sequence;
pub mod startup;
pub mod streams;
