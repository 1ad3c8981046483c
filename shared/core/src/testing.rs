//! In-memory ports, for testing use cases without SQLite or moto (feature `testing`).
//!
//! Each keeps the semantics the conformance suite holds both backends to: conditional
//! writes, all-or-nothing transactions, ordered queries with cursors on the table and
//! its index, visibility timeouts and redelivery on the queue. They are not built for
//! speed or size, and nothing outside tests uses them.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::context::AppContext;
use crate::domain::vector_filter::{dot, normalized, CompiledFilter};
use crate::error::Error;
use crate::jobs;
use crate::ports::{
    apply_updates, cond_holds, BlobMeta, BlobStore, Cond, CursorPos, Event, EventBus, Index, Item,
    Key, Page, PutConstraints, Query, Queue, QueueName, Received, StoreError, StoreResult,
    StoredPart, Table, VectorIndex, VectorMatch, VectorRecord, Write,
};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A context on fresh in-memory ports, and handles to look inside them.
pub struct Memory {
    pub ctx: AppContext,
    pub table: Arc<MemoryTable>,
    pub blobs: Arc<MemoryBlobs>,
    pub queue: Arc<MemoryQueue>,
    pub events: Arc<MemoryEvents>,
    pub vectors: Arc<MemoryVectors>,
    /// What syncs read.
    pub storage: Arc<MemoryStorage>,
}

impl Memory {
    pub fn new() -> Self {
        Self::with_config(Config {
            purge_settle: Duration::ZERO,
            ..Config::default()
        })
    }

    pub fn with_config(config: Config) -> Self {
        let table = Arc::new(MemoryTable::default());
        let blobs = Arc::new(MemoryBlobs::default());
        let queue = Arc::new(MemoryQueue::default());
        let events = Arc::new(MemoryEvents {
            published: Mutex::default(),
            rule_target: queue.clone(),
        });
        let vectors = Arc::new(MemoryVectors::default());
        let storage = Arc::new(MemoryStorage::default());
        let ctx = AppContext::new(
            table.clone(),
            blobs.clone(),
            queue.clone(),
            events.clone(),
            vectors.clone(),
            config,
        )
        .with_connectors(
            Arc::new(MemoryConnectors(storage.clone())),
            Arc::new(MemorySealer::default()),
        );
        Memory {
            ctx,
            table,
            blobs,
            queue,
            events,
            vectors,
            storage,
        }
    }

    /// Works every queued message, delayed ones included (as if their delay passed),
    /// until the queues are empty; a retryable failure is redelivered, as SQS would.
    /// Returns the failures that were final.
    pub async fn run_queues(&self) -> Vec<Error> {
        let mut dropped = Vec::new();
        for _ in 0..1000 {
            let Some((queue, msg)) = self.queue.next_any() else {
                return dropped;
            };
            match jobs::handle(&self.ctx, queue, &msg.body, msg.receive_count).await {
                Ok(()) => self.queue.forget(queue, &msg.receipt),
                Err(e) if e.retryable() && msg.receive_count < 10 => {}
                Err(e) => {
                    self.queue.forget(queue, &msg.receipt);
                    dropped.push(e);
                }
            }
        }
        panic!("the queues did not drain in 1000 messages")
    }
}

impl Default for Memory {
    fn default() -> Self {
        Self::new()
    }
}

/// The single table as a sorted map; the index is found by scanning.
#[derive(Default)]
pub struct MemoryTable {
    items: Mutex<BTreeMap<(String, String), Item>>,
}

type Items = BTreeMap<(String, String), Item>;

fn key_of(item: &Item) -> StoreResult<Key> {
    Key::of(item).ok_or_else(|| StoreError::backend("item has no pk/sk"))
}

fn apply(items: &mut Items, op: &Write) -> StoreResult<Option<Item>> {
    let check = |items: &Items, key: &Key, cond: &Cond| {
        let current = items.get(&(key.pk.clone(), key.sk.clone()));
        if cond_holds(cond, current) {
            Ok(current.cloned())
        } else {
            Err(StoreError::ConditionFailed { index: None })
        }
    };
    match op {
        Write::Put { item, cond } => {
            let key = key_of(item)?;
            check(items, &key, cond)?;
            items.insert((key.pk, key.sk), item.clone());
            Ok(None)
        }
        Write::Update { key, updates, cond } => {
            let mut item = check(items, key, cond)?.unwrap_or_else(|| {
                let mut fresh = Item::new();
                fresh.insert("pk".into(), Value::from(key.pk.clone()));
                fresh.insert("sk".into(), Value::from(key.sk.clone()));
                fresh
            });
            apply_updates(&mut item, updates);
            items.insert((key.pk.clone(), key.sk.clone()), item.clone());
            Ok(Some(item))
        }
        Write::Delete { key, cond } => {
            check(items, key, cond)?;
            items.remove(&(key.pk.clone(), key.sk.clone()));
            Ok(None)
        }
        Write::Check { key, cond } => check(items, key, cond).map(|_| None),
    }
}

/// All of `ops` or none of them; a failed condition names its write.
fn apply_all(items: &mut Items, ops: &[Write]) -> StoreResult<()> {
    let mut next = items.clone();
    for (i, op) in ops.iter().enumerate() {
        apply(&mut next, op).map_err(|e| match e {
            StoreError::ConditionFailed { .. } => StoreError::ConditionFailed { index: Some(i) },
            other => other,
        })?;
    }
    *items = next;
    Ok(())
}

impl MemoryTable {
    /// Every item, for assertions.
    pub fn all(&self) -> Vec<Item> {
        lock(&self.items).values().cloned().collect()
    }
}

fn sort_tuple(item: &Item, q: &Query) -> (String, String, String) {
    let s = |k: &str| {
        item.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    match q.index {
        None => (s("sk"), String::new(), String::new()),
        Some(Index::Gsi1) => (s(q.sort_key_attr()), s("pk"), s("sk")),
    }
}

#[async_trait]
impl Table for MemoryTable {
    async fn get(&self, key: &Key) -> StoreResult<Option<Item>> {
        Ok(lock(&self.items)
            .get(&(key.pk.clone(), key.sk.clone()))
            .cloned())
    }

    async fn write(&self, op: Write) -> StoreResult<Option<Item>> {
        apply(&mut lock(&self.items), &op)
    }

    async fn transact(&self, ops: Vec<Write>) -> StoreResult<()> {
        if ops.len() > 100 {
            return Err(StoreError::backend(
                "a transaction holds at most 100 writes",
            ));
        }
        apply_all(&mut lock(&self.items), &ops)
    }

    async fn transact_each(&self, groups: Vec<Vec<Write>>) -> Vec<StoreResult<()>> {
        let mut items = lock(&self.items);
        groups.iter().map(|g| apply_all(&mut items, g)).collect()
    }

    async fn query(&self, q: &Query) -> StoreResult<Page> {
        let after = q
            .cursor
            .as_deref()
            .map(|c| CursorPos::decode(c, q))
            .transpose()?;
        let after = after.map(|p| match q.index {
            None => (p.sk, String::new(), String::new()),
            Some(_) => (p.isk.unwrap_or_default(), p.pk.unwrap_or_default(), p.sk),
        });
        let mut found: Vec<((String, String, String), Item)> = lock(&self.items)
            .values()
            .filter(|item| {
                item.get(q.partition_attr()).and_then(Value::as_str) == Some(q.pk.as_str())
            })
            .map(|item| (sort_tuple(item, q), item.clone()))
            .filter(|(t, _)| {
                q.sk_prefix
                    .as_ref()
                    .is_none_or(|p| t.0.starts_with(p.as_str()))
            })
            .filter(|(t, _)| q.sk_max.as_ref().is_none_or(|m| t.0 <= *m))
            .filter(|(t, _)| match &after {
                None => true,
                Some(a) if q.descending => t < a,
                Some(a) => t > a,
            })
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        if q.descending {
            found.reverse();
        }
        let more = found.len() > q.limit;
        let items: Vec<Item> = found.into_iter().take(q.limit).map(|(_, i)| i).collect();
        let cursor = more
            .then(|| items.last().and_then(|last| CursorPos::after(last, q)))
            .flatten()
            .map(|p| p.encode());
        Ok(Page { items, cursor })
    }

    async fn delete_many(&self, keys: Vec<Key>) -> StoreResult<()> {
        let mut items = lock(&self.items);
        for k in keys {
            items.remove(&(k.pk, k.sk));
        }
        Ok(())
    }

    async fn get_many(&self, keys: Vec<Key>) -> StoreResult<Vec<Item>> {
        let items = lock(&self.items);
        Ok(keys
            .into_iter()
            .filter_map(|k| items.get(&(k.pk, k.sk)).cloned())
            .collect())
    }

    async fn put_many(&self, new: Vec<Item>) -> StoreResult<()> {
        let mut items = lock(&self.items);
        for item in new {
            let key = key_of(&item)?;
            items.insert((key.pk, key.sk), item);
        }
        Ok(())
    }
}

#[derive(Clone)]
struct StoredBlob {
    bytes: Bytes,
    content_type: Option<String>,
}

/// Blobs in a map. Presigned URLs name a host that does not resolve (`.invalid`): a
/// test hands a PUT URL to [`MemoryBlobs::put_signed`] instead.
#[derive(Default)]
pub struct MemoryBlobs {
    blobs: Mutex<BTreeMap<String, StoredBlob>>,
    parts: Mutex<HashMap<(String, u32), Bytes>>,
    next_upload: Mutex<u64>,
    /// Keys that refuse writes, as the local store refuses a finished upload's URL.
    retired: Mutex<std::collections::HashSet<String>>,
}

fn meta(b: &StoredBlob) -> BlobMeta {
    let sha = hex::encode(Sha256::digest(&b.bytes));
    BlobMeta {
        size: b.bytes.len() as u64,
        content_type: b.content_type.clone(),
        etag: Some(format!("\"{}\"", &sha[..32])),
        sha256: Some(sha),
    }
}

impl MemoryBlobs {
    /// What a client's PUT to a presigned URL does: the bytes land under its key, or
    /// as a part of its multipart upload.
    pub fn put_signed(&self, url: &str, bytes: impl Into<Bytes>) -> StoreResult<String> {
        let rest = url
            .strip_prefix("http://blobs.memory.invalid/put/")
            .ok_or_else(|| StoreError::backend(format!("not a presigned PUT: {url}")))?;
        let (key, part) = match rest.split_once("?part=") {
            Some((key, part)) => (key, Some(part)),
            None => (rest, None),
        };
        let bytes = bytes.into();
        let etag = format!("\"{}\"", &hex::encode(Sha256::digest(&bytes))[..32]);
        if part.is_none() && lock(&self.retired).contains(key) {
            return Err(StoreError::backend(format!(
                "AccessDenied: {key} belongs to a finished upload"
            )));
        }
        match part {
            Some(p) => {
                let (id, n) = p
                    .split_once(':')
                    .ok_or_else(|| StoreError::backend("bad part"))?;
                let n: u32 = n.parse().map_err(StoreError::backend)?;
                lock(&self.parts).insert((id.to_string(), n), bytes);
            }
            None => {
                lock(&self.blobs).insert(
                    key.to_string(),
                    StoredBlob {
                        bytes,
                        content_type: None,
                    },
                );
            }
        }
        Ok(etag)
    }

    pub fn keys(&self) -> Vec<String> {
        lock(&self.blobs).keys().cloned().collect()
    }
}

#[async_trait]
impl BlobStore for MemoryBlobs {
    async fn put(
        &self,
        key: &str,
        bytes: Bytes,
        content_type: Option<&str>,
    ) -> StoreResult<BlobMeta> {
        let blob = StoredBlob {
            bytes,
            content_type: content_type.map(str::to_string),
        };
        let m = meta(&blob);
        lock(&self.blobs).insert(key.to_string(), blob);
        Ok(m)
    }
    async fn get(&self, key: &str) -> StoreResult<Option<Bytes>> {
        Ok(lock(&self.blobs).get(key).map(|b| b.bytes.clone()))
    }
    async fn head(&self, key: &str) -> StoreResult<Option<BlobMeta>> {
        Ok(lock(&self.blobs).get(key).map(meta))
    }
    async fn delete(&self, key: &str) -> StoreResult<()> {
        lock(&self.blobs).remove(key);
        Ok(())
    }
    async fn sha256(&self, key: &str) -> StoreResult<Option<String>> {
        Ok(lock(&self.blobs).get(key).and_then(|b| meta(b).sha256))
    }
    async fn list(
        &self,
        prefix: &str,
        after: Option<String>,
        limit: usize,
    ) -> StoreResult<(Vec<String>, Option<String>)> {
        let blobs = lock(&self.blobs);
        let mut keys: Vec<String> = blobs
            .keys()
            .filter(|k| k.starts_with(prefix) && after.as_ref().is_none_or(|a| *k > a))
            .take(limit + 1)
            .cloned()
            .collect();
        let next = (keys.len() > limit).then(|| {
            keys.truncate(limit);
            keys.last().cloned().unwrap_or_default()
        });
        Ok((keys, next))
    }
    async fn promote(&self, from: &str, to: &str, etag: &str) -> StoreResult<BlobMeta> {
        let mut blobs = lock(&self.blobs);
        let blob = blobs
            .get(from)
            .cloned()
            .ok_or(StoreError::ConditionFailed { index: None })?;
        let m = meta(&blob);
        if m.etag.as_deref() != Some(etag) {
            return Err(StoreError::ConditionFailed { index: None });
        }
        blobs.insert(to.to_string(), blob);
        Ok(m)
    }
    async fn retire(&self, key: &str) -> StoreResult<()> {
        lock(&self.retired).insert(key.to_string());
        lock(&self.blobs).remove(key);
        Ok(())
    }
    async fn presign_get(&self, key: &str, expires_in: Duration) -> StoreResult<String> {
        Ok(format!(
            "http://blobs.memory.invalid/get/{key}?expires_in={}",
            expires_in.as_secs()
        ))
    }
    async fn create_multipart(&self, _key: &str, _content_type: &str) -> StoreResult<String> {
        let mut n = lock(&self.next_upload);
        *n += 1;
        Ok(format!("mpu-{n}"))
    }
    async fn list_parts(&self, _key: &str, multipart_id: &str) -> StoreResult<Vec<StoredPart>> {
        let mut parts: Vec<StoredPart> = lock(&self.parts)
            .iter()
            .filter(|((id, _), _)| id == multipart_id)
            .map(|((_, n), b)| StoredPart {
                number: *n,
                etag: format!("\"{}\"", &hex::encode(Sha256::digest(b))[..32]),
                size: b.len() as u64,
            })
            .collect();
        parts.sort_by_key(|p| p.number);
        Ok(parts)
    }
    async fn complete_multipart(
        &self,
        key: &str,
        multipart_id: &str,
        parts: &[StoredPart],
    ) -> StoreResult<()> {
        let mut stored = lock(&self.parts);
        let mut whole = Vec::new();
        for p in parts {
            let bytes = stored
                .remove(&(multipart_id.to_string(), p.number))
                .ok_or_else(|| {
                    StoreError::backend(format!("part {} was not uploaded", p.number))
                })?;
            whole.extend_from_slice(&bytes);
        }
        lock(&self.blobs).insert(
            key.to_string(),
            StoredBlob {
                bytes: whole.into(),
                content_type: None,
            },
        );
        Ok(())
    }
    async fn abort_multipart(&self, _key: &str, multipart_id: &str) -> StoreResult<()> {
        lock(&self.parts).retain(|(id, _), _| id != multipart_id);
        Ok(())
    }
    async fn presign_put(
        &self,
        key: &str,
        constraints: &PutConstraints,
        _expires_in: Duration,
    ) -> StoreResult<String> {
        Ok(match &constraints.part {
            Some(p) => format!(
                "http://blobs.memory.invalid/put/{key}?part={}:{}",
                p.multipart_id, p.number
            ),
            None => format!("http://blobs.memory.invalid/put/{key}"),
        })
    }
}

const LONG_POLL: Duration = Duration::from_millis(100);

struct Message {
    body: String,
    receipt: String,
    receive_count: u32,
    visible_at: Instant,
}

/// Queues with SQS's visibility timeout: a received message comes back unless acked.
#[derive(Default)]
pub struct MemoryQueue {
    queues: Mutex<HashMap<QueueName, Vec<Message>>>,
    next_receipt: Mutex<u64>,
}

impl MemoryQueue {
    /// The bodies waiting on `queue`, delayed or not, for assertions.
    pub fn bodies(&self, queue: QueueName) -> Vec<String> {
        lock(&self.queues)
            .get(&queue)
            .map(|q| q.iter().map(|m| m.body.clone()).collect())
            .unwrap_or_default()
    }

    /// How long each waiting message of `queue` has until it is visible.
    pub fn delays(&self, queue: QueueName) -> Vec<Duration> {
        let now = Instant::now();
        lock(&self.queues)
            .get(&queue)
            .map(|q| {
                q.iter()
                    .map(|m| m.visible_at.saturating_duration_since(now))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Removes one waiting message by its body (a test that works messages by hand).
    pub fn drop_body(&self, queue: QueueName, body: &str) {
        if let Some(q) = lock(&self.queues).get_mut(&queue) {
            if let Some(i) = q.iter().position(|m| m.body == body) {
                q.remove(i);
            }
        }
    }

    /// The oldest message of any queue, whatever its delay, marked received.
    fn next_any(&self) -> Option<(QueueName, Received)> {
        let mut queues = lock(&self.queues);
        let mut receipt = lock(&self.next_receipt);
        for name in QueueName::ALL {
            if let Some(m) = queues.get_mut(&name).and_then(|q| q.first_mut()) {
                *receipt += 1;
                m.receipt = format!("r{receipt}");
                m.receive_count += 1;
                let got = Received {
                    body: m.body.clone(),
                    receipt: m.receipt.clone(),
                    receive_count: m.receive_count,
                };
                // Redelivered after the others, as a visibility timeout would.
                let m = queues
                    .get_mut(&name)
                    .map(|q| q.remove(0))
                    .expect("just seen");
                queues.get_mut(&name).expect("just seen").push(m);
                return Some((name, got));
            }
        }
        None
    }

    fn forget(&self, queue: QueueName, receipt: &str) {
        if let Some(q) = lock(&self.queues).get_mut(&queue) {
            q.retain(|m| m.receipt != receipt);
        }
    }
}

#[async_trait]
impl Queue for MemoryQueue {
    async fn send(
        &self,
        queue: QueueName,
        bodies: Vec<String>,
        delay: Duration,
    ) -> StoreResult<()> {
        let visible_at = Instant::now() + delay;
        lock(&self.queues)
            .entry(queue)
            .or_default()
            .extend(bodies.into_iter().map(|body| Message {
                body,
                receipt: String::new(),
                receive_count: 0,
                visible_at,
            }));
        Ok(())
    }

    async fn receive(
        &self,
        queue: QueueName,
        max: usize,
        visibility: Duration,
    ) -> StoreResult<Vec<Received>> {
        // Like SQS's long poll: with nothing visible, wait a little (up to 100 ms) for the next.
        let wake = lock(&self.queues)
            .get(&queue)
            .and_then(|q| q.iter().map(|m| m.visible_at).min())
            .map_or(Instant::now() + LONG_POLL, |t| {
                t.min(Instant::now() + LONG_POLL)
            });
        if wake > Instant::now() {
            tokio::time::sleep_until(wake.into()).await;
        }
        let now = Instant::now();
        let mut queues = lock(&self.queues);
        let mut receipt = lock(&self.next_receipt);
        let mut out = Vec::new();
        for m in queues
            .entry(queue)
            .or_default()
            .iter_mut()
            .filter(|m| m.visible_at <= now)
            .take(max)
        {
            *receipt += 1;
            m.receipt = format!("r{receipt}");
            m.receive_count += 1;
            m.visible_at = now + visibility;
            out.push(Received {
                body: m.body.clone(),
                receipt: m.receipt.clone(),
                receive_count: m.receive_count,
            });
        }
        Ok(out)
    }

    async fn ack(&self, queue: QueueName, receipt: &str) -> StoreResult<()> {
        self.forget(queue, receipt);
        Ok(())
    }
}

/// Records what is published and, like the template's rule, routes every event to the
/// webhooks queue in EventBridge's envelope.
pub struct MemoryEvents {
    published: Mutex<Vec<Event>>,
    rule_target: Arc<MemoryQueue>,
}

impl MemoryEvents {
    pub fn published(&self) -> Vec<Event> {
        lock(&self.published).clone()
    }
    pub fn types(&self) -> Vec<String> {
        self.published()
            .into_iter()
            .map(|e| e.event_type.to_string())
            .collect()
    }
}

#[async_trait]
impl EventBus for MemoryEvents {
    async fn publish(&self, events: Vec<Event>) -> StoreResult<()> {
        let bodies = events
            .iter()
            .map(|e| serde_json::json!({"version": "0", "source": "sluice", "detail-type": e.event_type, "detail": e}).to_string())
            .collect();
        self.rule_target
            .send(QueueName::Webhooks, bodies, Duration::ZERO)
            .await?;
        lock(&self.published).extend(events);
        Ok(())
    }
}

/// An index's dimensions and its records by key.
type StoredIndex = (usize, BTreeMap<String, VectorRecord>);

/// Exact nearest neighbours by cosine similarity, one map per index.
#[derive(Default)]
pub struct MemoryVectors {
    indexes: Mutex<HashMap<String, StoredIndex>>,
}

impl MemoryVectors {
    pub fn len(&self, index: &str) -> usize {
        lock(&self.indexes).get(index).map_or(0, |(_, r)| r.len())
    }
    pub fn is_empty(&self, index: &str) -> bool {
        self.len(index) == 0
    }
    pub fn has_index(&self, index: &str) -> bool {
        lock(&self.indexes).contains_key(index)
    }
}

#[async_trait]
impl VectorIndex for MemoryVectors {
    async fn ensure_index(&self, index: &str, dimensions: usize) -> StoreResult<()> {
        let mut indexes = lock(&self.indexes);
        match indexes.get(index) {
            Some((d, _)) if *d != dimensions => Err(StoreError::backend(format!(
                "index {index} has {d} dimensions, not {dimensions}"
            ))),
            Some(_) => Ok(()),
            None => {
                indexes.insert(index.to_string(), (dimensions, BTreeMap::new()));
                Ok(())
            }
        }
    }
    async fn put(&self, index: &str, records: Vec<VectorRecord>) -> StoreResult<()> {
        let mut indexes = lock(&self.indexes);
        let (d, stored) = indexes.get_mut(index).ok_or(StoreError::NotFound)?;
        for r in records {
            if r.vector.len() != *d {
                return Err(StoreError::backend(format!(
                    "vector has {} dimensions, index {d}",
                    r.vector.len()
                )));
            }
            stored.insert(
                r.key.clone(),
                VectorRecord {
                    vector: normalized(r.vector.clone()),
                    ..r
                },
            );
        }
        Ok(())
    }
    async fn delete(&self, index: &str, keys: &[String]) -> StoreResult<()> {
        if let Some((_, stored)) = lock(&self.indexes).get_mut(index) {
            for k in keys {
                stored.remove(k);
            }
        }
        Ok(())
    }
    async fn query(
        &self,
        index: &str,
        vector: &[f32],
        top_k: usize,
        filter: Option<&Value>,
    ) -> StoreResult<Vec<VectorMatch>> {
        let indexes = lock(&self.indexes);
        let Some((d, stored)) = indexes.get(index) else {
            return Ok(Vec::new());
        };
        if vector.len() != *d {
            return Err(StoreError::backend(format!(
                "query has {} dimensions, index {d}",
                vector.len()
            )));
        }
        let query = normalized(vector.to_vec());
        let filter = filter.map(CompiledFilter::new);
        let mut hits: Vec<VectorMatch> = stored
            .values()
            .filter(|r| filter.as_ref().is_none_or(|f| f.matches(&r.metadata)))
            .map(|r| VectorMatch {
                key: r.key.clone(),
                score: dot(&query, &r.vector),
                metadata: r.metadata.clone(),
            })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        hits.truncate(top_k);
        Ok(hits)
    }
    async fn drop_index(&self, index: &str) -> StoreResult<()> {
        lock(&self.indexes).remove(index);
        Ok(())
    }
}

/// A bucket's files: key → (bytes, version).
type Files = BTreeMap<String, (Bytes, u64)>;

/// External storage in memory: buckets of files, listed in key order a page at a time
/// (the token is the last key listed, as S3's start-after), read only at the version
/// listed. `deny` answers every call as bad credentials would.
#[derive(Default)]
pub struct MemoryStorage {
    buckets: Mutex<HashMap<String, Files>>,
    next_version: Mutex<u64>,
    pub deny: std::sync::atomic::AtomicBool,
    /// This many list calls answer as a throttling provider (`Retry-After: 3`).
    pub throttle: std::sync::atomic::AtomicUsize,
    /// List calls made, for tests that count requests.
    pub lists: std::sync::atomic::AtomicUsize,
    /// Every list call panics (a stand-in for a bug a provider's answer trips).
    pub panic: std::sync::atomic::AtomicBool,
    /// The only access key and secret it accepts, once set: a source opened with any
    /// other answers as bad credentials would.
    accepted: Mutex<Option<(String, String)>>,
}

impl MemoryStorage {
    /// Writes (or overwrites, with a new ETag) a file.
    pub fn put(&self, bucket: &str, key: &str, bytes: impl Into<Bytes>) {
        let mut n = lock(&self.next_version);
        *n += 1;
        lock(&self.buckets)
            .entry(bucket.to_string())
            .or_default()
            .insert(key.to_string(), (bytes.into(), *n));
    }
    /// When a file was last written, as listed: one second after the start of 2026 per
    /// write made so far, so later writes list as later.
    pub fn last_modified(&self, bucket: &str, key: &str) -> Option<String> {
        let buckets = lock(&self.buckets);
        let (_, version) = buckets.get(bucket)?.get(key)?;
        Some(modified_at(*version))
    }
    /// A file's ETag now, as a listing gives it.
    pub fn etag(&self, bucket: &str, key: &str) -> Option<String> {
        let buckets = lock(&self.buckets);
        let (_, version) = buckets.get(bucket)?.get(key)?;
        Some(etag_of(*version))
    }
    pub fn remove(&self, bucket: &str, key: &str) {
        if let Some(b) = lock(&self.buckets).get_mut(bucket) {
            b.remove(key);
        }
    }
    /// Accepts only this access key and secret from now on.
    pub fn accept_only(&self, access_key_id: &str, secret_access_key: &str) {
        *lock(&self.accepted) = Some((access_key_id.into(), secret_access_key.into()));
    }
    fn denied(
        &self,
        given: &crate::domain::connections::SpecCredentials,
    ) -> crate::ports::SourceResult<()> {
        use crate::domain::connections::SpecCredentials;
        if let Some((id, secret)) = lock(&self.accepted).as_ref() {
            let matches = matches!(given, SpecCredentials::Static { access_key_id, secret_access_key, .. }
                if access_key_id == id && secret_access_key == secret);
            if !matches {
                return Err(crate::ports::SourceError::Denied(
                    "403 SignatureDoesNotMatch".into(),
                ));
            }
        }
        if self.deny.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(crate::ports::SourceError::Denied(
                "403 InvalidAccessKeyId".into(),
            ));
        }
        Ok(())
    }
}

struct MemoryBucket {
    storage: Arc<MemoryStorage>,
    bucket: String,
    credentials: crate::domain::connections::SpecCredentials,
}

fn etag_of(version: u64) -> String {
    format!("v{version}")
}

fn modified_at(version: u64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp(1_767_225_600 + version as i64)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[async_trait]
impl crate::ports::Source for MemoryBucket {
    async fn list(
        &self,
        prefix: &str,
        token: Option<&str>,
        limit: usize,
    ) -> crate::ports::SourceResult<crate::ports::SourcePage> {
        self.storage.denied(&self.credentials)?;
        self.storage
            .lists
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if self.storage.panic.load(std::sync::atomic::Ordering::SeqCst) {
            panic!("the listing tripped a bug");
        }
        let throttled = self.storage.throttle.fetch_update(
            std::sync::atomic::Ordering::SeqCst,
            std::sync::atomic::Ordering::SeqCst,
            |n| n.checked_sub(1),
        );
        if throttled.is_ok() {
            return Err(crate::ports::SourceError::Throttled {
                message: "503 SlowDown".into(),
                retry_after: Some(std::time::Duration::from_secs(3)),
            });
        }
        let buckets = lock(&self.storage.buckets);
        let Some(files) = buckets.get(&self.bucket) else {
            return Err(crate::ports::SourceError::Missing(format!(
                "no bucket {}",
                self.bucket
            )));
        };
        let mut entries: Vec<crate::ports::SourceEntry> = files
            .iter()
            .filter(|(k, _)| k.starts_with(prefix) && token.is_none_or(|t| k.as_str() > t))
            .take(limit + 1)
            .map(|(k, (b, v))| crate::ports::SourceEntry {
                key: k.clone(),
                size: b.len() as u64,
                etag: etag_of(*v),
                version_id: None,
                last_modified: Some(modified_at(*v)),
            })
            .collect();
        let next = (entries.len() > limit).then(|| {
            entries.truncate(limit);
            entries.last().map(|e| e.key.clone()).unwrap_or_default()
        });
        Ok(crate::ports::SourcePage { entries, next })
    }

    async fn read(
        &self,
        key: &str,
        etag: &str,
        max_bytes: u64,
    ) -> crate::ports::SourceResult<crate::ports::SourceBody> {
        self.storage.denied(&self.credentials)?;
        let buckets = lock(&self.storage.buckets);
        let (bytes, version) = buckets
            .get(&self.bucket)
            .and_then(|b| b.get(key))
            .ok_or_else(|| crate::ports::SourceError::Missing(key.to_string()))?;
        if etag_of(*version) != etag {
            return Err(crate::ports::SourceError::Changed(key.to_string()));
        }
        if bytes.len() as u64 > max_bytes {
            return Err(crate::ports::SourceError::TooLarge(key.to_string()));
        }
        Ok(crate::ports::SourceBody::whole(bytes.clone()))
    }

    async fn check(&self, prefix: &str) -> crate::ports::SourceResult<()> {
        self.storage.denied(&self.credentials)?;
        if self.bucket.is_empty() {
            return Ok(());
        }
        self.list(prefix, None, 1).await.map(|_| ())
    }
}

/// Opens [`MemoryStorage`] buckets whatever the spec's provider and credentials.
pub struct MemoryConnectors(pub Arc<MemoryStorage>);

#[async_trait]
impl crate::ports::Connectors for MemoryConnectors {
    async fn open(
        &self,
        spec: &crate::domain::connections::SourceSpec,
    ) -> crate::ports::SourceResult<Arc<dyn crate::ports::Source>> {
        Ok(Arc::new(MemoryBucket {
            storage: self.0.clone(),
            bucket: spec.bucket.clone(),
            credentials: spec.credentials.clone(),
        }))
    }
}

/// Keeps sealed values in memory and stores only an opaque handle, so the table never
/// holds a plaintext credential in tests either.
#[derive(Default)]
pub struct MemorySealer {
    sealed: Mutex<HashMap<String, Vec<u8>>>,
}

#[async_trait]
impl crate::ports::Sealer for MemorySealer {
    async fn seal(&self, plaintext: &[u8]) -> Result<String, crate::ports::SealError> {
        let handle = format!("memory:{}", crate::domain::ids::IdKind::Event.new_id());
        lock(&self.sealed).insert(handle.clone(), plaintext.to_vec());
        Ok(handle)
    }
    async fn open(&self, sealed: &str) -> Result<Vec<u8>, crate::ports::SealError> {
        lock(&self.sealed)
            .get(sealed)
            .cloned()
            .ok_or_else(|| crate::ports::SealError("unknown sealed value".into()))
    }
}
