mod capacity;
mod health;
mod helpers;
mod participants;
mod playback_auth;
mod streams;
