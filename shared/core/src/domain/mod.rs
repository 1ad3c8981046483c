//! Entities, validation and rules. No I/O.

pub mod aggregate;
pub mod batch;
pub mod chunking;
pub mod collection;
pub mod connections;
pub mod embedding;
pub mod entities;
pub mod events;
pub mod extractors;
pub mod ids;
pub mod names;
pub mod schema;
pub mod status;
pub mod sync;
pub mod time;
pub mod vector_filter;
pub mod webhook;
mod wire;
