pub mod auth;
pub mod configuration;
pub mod cors;
pub mod rate_limit;
pub mod routes;
pub mod startup;
pub mod upstream;
