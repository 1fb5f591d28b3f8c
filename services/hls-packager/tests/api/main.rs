mod decode;
mod engine_restart;
mod helpers;
mod lifecycle;
mod playlist_rules;
