mod capacity;
mod census;
mod health;
mod helpers;
mod participants;
mod playback_auth;
mod srs_hooks;
mod streams;
