pub mod configuration;
pub mod engine;
pub mod listeners;
pub mod operator;
pub mod routes;
pub mod startup;
