//! The core of Sluice: what the service is, independent of where it runs.
//!
//! `domain` (pure types and rules) and `ports` (traits the backends implement) are at the
//! centre; `store` is the only module that knows the single table's keys and attribute
//! names; `app` holds the use cases; `jobs` maps queue messages to use cases. This crate
//! names no AWS SDK, no HTTP framework and no media library: the compiler holds that,
//! since it does not depend on them.

pub mod app;
pub mod config;
pub mod context;
pub mod domain;
pub mod error;
pub mod jobs;
pub mod net;
pub mod ports;
pub mod store;
pub mod telemetry;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use config::Config;
pub use context::AppContext;
pub use error::Error;
