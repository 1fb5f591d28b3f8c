//! The registry's Redis code: its keys and its Lua scripts (streams, seats,
//! leaves, caps, FLV connections), each loaded once and called by SHA.

pub mod keys;
pub mod scripts;

pub use scripts::{
    FlvConnection, JoinOutcome, LeaveOutcome, SeatRequest, SeatTerms, SessionScripts,
};
