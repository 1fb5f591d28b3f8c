pub mod configuration;
pub mod encoder;
pub mod error;
pub mod pipeline;
pub mod registry_client;
pub mod routes;
pub mod startup;
pub mod streams;
