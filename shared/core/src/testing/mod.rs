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
pub mod source_contract;
mod table;
mod vectors;

pub use blobs::MemoryBlobs;
pub use events::{MemoryEvents, MemoryMetrics};
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

/// The in-memory source keeps the `Source` contract the providers keep.
#[cfg(test)]
mod memory_source_keeps_the_contract {
    use std::sync::Arc;

    use async_trait::async_trait;
    use serde_json::json;

    use super::source_contract::SourceFixture;
    use crate::domain::connections::{Credentials, ProviderConfig};
    use crate::ports::{Connectors, Source};

    struct Fixture(Arc<super::MemoryStorage>);

    impl Fixture {
        async fn open(&self, secret: &str) -> Arc<dyn Source> {
            let config = ProviderConfig {
                provider_type: "s3".into(),
                settings: Default::default(),
                credentials: Credentials::from_request(
                    &json!({"access_key_id": "id", "secret_access_key": secret}),
                    "access_key",
                )
                .unwrap(),
            };
            super::MemoryConnectors(self.0.clone())
                .open(&config, "bucket")
                .await
                .unwrap()
        }
    }

    #[async_trait]
    impl SourceFixture for Fixture {
        async fn source(&self) -> Arc<dyn Source> {
            self.open("right").await
        }
        async fn put(&self, key: &str, bytes: &[u8]) {
            self.0.put("bucket", key, bytes.to_vec());
        }
        async fn remove(&self, key: &str) {
            self.0.remove("bucket", key);
        }
        async fn refused(&self) -> Arc<dyn Source> {
            self.open("wrong").await
        }
        async fn throttled(&self, n: usize) -> Arc<dyn Source> {
            self.0
                .throttle
                .store(n, std::sync::atomic::Ordering::SeqCst);
            self.source().await
        }
    }

    async fn fixture() -> Option<Fixture> {
        let storage = Arc::new(super::MemoryStorage::default());
        storage.accept_only("id", "right");
        Some(Fixture(storage))
    }

    crate::source_contract_tests!(fixture);
}
