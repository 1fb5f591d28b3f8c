pub mod configuration;
pub mod error;
pub mod playback;
pub mod routes;
pub mod startup;
pub mod store;
