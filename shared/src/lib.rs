//! Sluice: a self-hosted implementation of the ingestion side of Mixpeek's API.
//!
//! Layers point inward: `api` (route table + handlers) → `services` (use cases and
//! the single-table key layout) → `domain` (no I/O) and `ports` (traits), with
//! `adapters` implementing the ports for AWS and for one machine.

pub mod adapters;
pub mod api;
pub mod context;
pub mod domain;
pub mod error;
pub mod net;
pub mod ports;
pub mod services;
pub mod telemetry;
pub mod worker;

pub use context::{AppContext, Config};
pub use error::ApiError;
