pub mod auth;
pub mod configuration;
pub mod routes;
pub mod startup;
pub mod upstream;
