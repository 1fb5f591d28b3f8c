mod alone;
mod auth;
mod client_address;
mod helpers;
mod metrics;
mod openapi;
mod settings;
