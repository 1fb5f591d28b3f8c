pub mod auth;
pub mod configuration;
pub mod cors;
pub mod ingest_router;
pub mod rate_limit;
pub mod routes;
pub mod startup;
pub mod upstream;
