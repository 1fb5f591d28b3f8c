//! Keeps the media engine (SRS) running and says how it is: in `child` mode
//! it renders SRS's config and runs SRS as its child, in `docker` mode it
//! manages the SRS container through the Docker Engine API, in `observe`
//! mode (Kubernetes) it only probes (`engine`). It also serves SRS's
//! read-only stats API with listener counts from the registry's leases
//! (`routes`, `listeners`), the whole answers only to operators
//! (`operator`).
//!
//! Routes, ports and settings: `services/srs-supervisor/README.md`.

pub mod configuration;
pub mod engine;
pub mod error;
pub mod listeners;
pub mod operator;
pub mod routes;
pub mod startup;
