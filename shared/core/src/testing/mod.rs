//! In-memory ports, for testing use cases without SQLite or moto (feature `testing`).
//!
//! Each keeps the semantics the conformance suite holds both backends to: conditional
//! writes, all-or-nothing transactions, ordered queries with cursors on the table and
//! its index, visibility timeouts and redelivery on the queue. They are not built for
//! speed or size, and nothing outside tests uses them.

mod blobs;
pub mod contract;
mod events;
mod harness;
mod queue;
mod sealer;
mod source;
mod table;
mod vectors;

pub use blobs::MemoryBlobs;
pub use events::MemoryEvents;
pub use harness::Memory;
pub use queue::MemoryQueue;
pub use sealer::MemorySealer;
pub use source::{MemoryConnectors, MemoryStorage};
pub use table::MemoryTable;
pub use vectors::MemoryVectors;

use std::sync::Mutex;

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The in-memory ports keep the contracts the backends keep.
#[cfg(test)]
mod memory_keeps_the_contracts {
    async fn ctx() -> Option<(crate::context::AppContext, ())> {
        Some((
            super::Memory::with_config(super::contract::config()).ctx,
            (),
        ))
    }

    crate::port_contract_tests!(ctx);
}
