//! Stand-ins for ports a process was not given. A Lambda builds only the clients its
//! route is granted (the route table's permissions); these answer for the rest, and a
//! call to one is a bug in the table, reported as such rather than as a missing client.
//! The conformance flows run every route through them, so a missing grant fails there.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use super::{
    BlobMeta, BlobStore, Connectors, Event, EventBus, Item, Key, Page, PutConstraints, Query,
    Queue, QueueName, Received, SealContext, SealError, Sealer, Source, SourceError, SourceResult,
    StoreError, StoreResult, StoredPart, Table, VectorIndex, VectorMatch, VectorRecord, Write,
};

/// A port this process does not have; `what` names it in the error.
pub struct Absent(pub &'static str);

impl Absent {
    fn refuse<T>(&self) -> StoreResult<T> {
        Err(StoreError::Backend(format!(
            "this function is not granted {}: add the permission to its route",
            self.0
        )))
    }
}

#[async_trait]
impl BlobStore for Absent {
    async fn put(&self, _: &str, _: Bytes, _: Option<&str>) -> StoreResult<BlobMeta> {
        self.refuse()
    }
    async fn get(&self, _: &str) -> StoreResult<Option<Bytes>> {
        self.refuse()
    }
    async fn head(&self, _: &str) -> StoreResult<Option<BlobMeta>> {
        self.refuse()
    }
    async fn delete(&self, _: &str) -> StoreResult<()> {
        self.refuse()
    }
    async fn sha256(&self, _: &str) -> StoreResult<Option<String>> {
        self.refuse()
    }
    async fn list(
        &self,
        _: &str,
        _: Option<String>,
        _: usize,
    ) -> StoreResult<(Vec<String>, Option<String>)> {
        self.refuse()
    }
    async fn promote(&self, _: &str, _: &str, _: &str) -> StoreResult<BlobMeta> {
        self.refuse()
    }
    async fn retire(&self, _: &str) -> StoreResult<()> {
        self.refuse()
    }
    async fn presign_get(&self, _: &str, _: Duration) -> StoreResult<String> {
        self.refuse()
    }
    async fn create_multipart(&self, _: &str, _: &str) -> StoreResult<String> {
        self.refuse()
    }
    async fn list_parts(&self, _: &str, _: &str) -> StoreResult<Vec<StoredPart>> {
        self.refuse()
    }
    async fn complete_multipart(&self, _: &str, _: &str, _: &[StoredPart]) -> StoreResult<()> {
        self.refuse()
    }
    async fn abort_multipart(&self, _: &str, _: &str) -> StoreResult<()> {
        self.refuse()
    }
    async fn presign_put(&self, _: &str, _: &PutConstraints, _: Duration) -> StoreResult<String> {
        self.refuse()
    }
}

#[async_trait]
impl Queue for Absent {
    async fn send(&self, _: QueueName, _: Vec<String>, _: Duration) -> StoreResult<()> {
        self.refuse()
    }
    async fn receive(&self, _: QueueName, _: usize, _: Duration) -> StoreResult<Vec<Received>> {
        self.refuse()
    }
    async fn ack(&self, _: QueueName, _: &str) -> StoreResult<()> {
        self.refuse()
    }
}

#[async_trait]
impl EventBus for Absent {
    async fn publish(&self, _: Vec<Event>) -> StoreResult<()> {
        self.refuse()
    }
}

#[async_trait]
impl VectorIndex for Absent {
    async fn ensure_index(&self, _: &str, _: usize) -> StoreResult<()> {
        self.refuse()
    }
    async fn put(&self, _: &str, _: Vec<VectorRecord>) -> StoreResult<()> {
        self.refuse()
    }
    async fn get(&self, _: &str, _: &[String]) -> StoreResult<Vec<VectorRecord>> {
        self.refuse()
    }
    async fn delete(&self, _: &str, _: &[String]) -> StoreResult<()> {
        self.refuse()
    }
    async fn query(
        &self,
        _: &str,
        _: &[f32],
        _: usize,
        _: Option<&serde_json::Value>,
    ) -> StoreResult<Vec<VectorMatch>> {
        self.refuse()
    }
    async fn drop_index(&self, _: &str) -> StoreResult<()> {
        self.refuse()
    }
}

/// A queue port that sends only to the queues a function is granted.
pub struct OnlyQueues {
    pub allowed: Vec<QueueName>,
    pub inner: Arc<dyn Queue>,
}

#[async_trait]
impl Queue for OnlyQueues {
    async fn send(
        &self,
        queue: QueueName,
        bodies: Vec<String>,
        delay: Duration,
    ) -> StoreResult<()> {
        if !self.allowed.contains(&queue) {
            return Absent("sqs:SendMessage on this queue").refuse();
        }
        self.inner.send(queue, bodies, delay).await
    }
    async fn receive(
        &self,
        queue: QueueName,
        max: usize,
        visibility: Duration,
    ) -> StoreResult<Vec<Received>> {
        self.inner.receive(queue, max, visibility).await
    }
    async fn ack(&self, queue: QueueName, receipt: &str) -> StoreResult<()> {
        self.inner.ack(queue, receipt).await
    }
}

/// A table port that reads only (a function granted no table writes).
pub struct ReadOnly {
    pub inner: Arc<dyn Table>,
}

#[async_trait]
impl Table for ReadOnly {
    async fn get(&self, key: &Key) -> StoreResult<Option<Item>> {
        self.inner.get(key).await
    }
    async fn write(&self, _: Write) -> StoreResult<Option<Item>> {
        Absent("table writes").refuse()
    }
    async fn transact(&self, _: Vec<Write>) -> StoreResult<()> {
        Absent("table writes").refuse()
    }
    async fn transact_each(&self, groups: Vec<Vec<Write>>) -> Vec<StoreResult<()>> {
        groups
            .iter()
            .map(|_| Absent("table writes").refuse())
            .collect()
    }
    async fn count(&self, query: &Query) -> StoreResult<u64> {
        self.inner.count(query).await
    }
    async fn query(&self, query: &Query) -> StoreResult<Page> {
        self.inner.query(query).await
    }
    async fn delete_many(&self, _: Vec<Key>) -> StoreResult<()> {
        Absent("table writes").refuse()
    }
    async fn get_many(&self, keys: Vec<Key>) -> StoreResult<Vec<Item>> {
        self.inner.get_many(keys).await
    }
    async fn put_many(&self, _: Vec<Item>) -> StoreResult<()> {
        Absent("table writes").refuse()
    }
}

#[async_trait]
impl Connectors for Absent {
    fn check(
        &self,
        _: &str,
        _: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<crate::domain::connections::ProviderConfig, crate::domain::schema::FieldError> {
        Err(crate::domain::schema::FieldError::new(
            "provider_type",
            format!("this process has no {}", self.0),
        ))
    }
    fn rules(&self, _: &str) -> crate::domain::connections::ProviderRules {
        crate::domain::connections::ProviderRules::S3
    }
    async fn open_kept(
        &self,
        _: &crate::domain::connections::ProviderConfig,
        _: &str,
        _: Arc<dyn crate::ports::CredentialKeeper>,
    ) -> SourceResult<Arc<dyn Source>> {
        Err(SourceError::Invalid(format!(
            "this process has no {}",
            self.0
        )))
    }
}

#[async_trait]
impl Sealer for Absent {
    async fn seal(&self, _: &[u8], _: &SealContext<'_>) -> Result<String, SealError> {
        Err(SealError(format!("this process has no {}", self.0)))
    }
    async fn open(&self, _: &str, _: &SealContext<'_>) -> Result<Vec<u8>, SealError> {
        Err(SealError(format!("this process has no {}", self.0)))
    }
}
