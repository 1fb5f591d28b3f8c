//! The gateway's own Redis code: the rate-limit script and its key. The
//! ingest pool and stream owners it reads are `vibes_redis::ownership`'s.

pub mod keys;
pub mod scripts;
