pub mod configuration;
pub mod engine;
pub mod routes;
pub mod startup;
