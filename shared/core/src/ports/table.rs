//! A small single-table interface: what both DynamoDB and SQLite can do atomically.

use async_trait::async_trait;
use base64::Engine;
use serde_json::{Map, Value};

use super::{StoreError, StoreResult};

/// An item: top-level attributes, including `pk`, `sk` and optional `gsi1pk`/`gsi1sk`.
pub type Item = Map<String, Value>;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Key {
            pk: pk.into(),
            sk: sk.into(),
        }
    }

    /// Reads the key attributes of an item.
    pub fn of(item: &Item) -> Option<Key> {
        Some(Key::new(
            item.get("pk")?.as_str()?,
            item.get("sk")?.as_str()?,
        ))
    }
}

/// A write's precondition, on the item's current state.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    None,
    NotExists,
    Exists,
    /// The item exists and its top-level attribute equals the value.
    Equals(String, Value),
    /// The item exists and its top-level attribute is one of the values.
    In(String, Vec<Value>),
    /// The item is missing, or its numeric attribute is below the bound (a newer
    /// attempt may replace an older one; the same attempt may not write twice).
    MissingOrBelow(String, i64),
}

/// One change to an attribute; `Add` on a missing attribute starts from 0.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    Set(String, Value),
    Add(String, i64),
    Remove(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    Put {
        item: Item,
        cond: Cond,
    },
    /// Creates the item when missing (unless the condition says otherwise), as DynamoDB does.
    Update {
        key: Key,
        updates: Vec<Update>,
        cond: Cond,
    },
    Delete {
        key: Key,
        cond: Cond,
    },
    Check {
        key: Key,
        cond: Cond,
    },
}

impl Write {
    pub fn put(item: Item) -> Self {
        Write::Put {
            item,
            cond: Cond::None,
        }
    }
    pub fn create(item: Item) -> Self {
        Write::Put {
            item,
            cond: Cond::NotExists,
        }
    }
    pub fn delete(key: Key) -> Self {
        Write::Delete {
            key,
            cond: Cond::None,
        }
    }
    pub fn key(&self) -> Option<Key> {
        match self {
            Write::Put { item, .. } => Key::of(item),
            Write::Update { key, .. } | Write::Delete { key, .. } | Write::Check { key, .. } => {
                Some(key.clone())
            }
        }
    }
}

/// The one secondary index: `gsi1pk` / `gsi1sk` (sparse).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    Gsi1,
}

#[derive(Debug, Clone)]
pub struct Query {
    pub index: Option<Index>,
    pub pk: String,
    pub sk_prefix: Option<String>,
    /// Only items whose sort key is `<=` this (inclusive upper bound), e.g. "due by now".
    pub sk_max: Option<String>,
    pub limit: usize,
    pub cursor: Option<String>,
    pub descending: bool,
}

impl Query {
    pub fn partition(pk: impl Into<String>) -> Self {
        Query {
            index: None,
            pk: pk.into(),
            sk_prefix: None,
            sk_max: None,
            limit: 100,
            cursor: None,
            descending: false,
        }
    }
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.sk_prefix = Some(prefix.into());
        self
    }
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }
    pub fn cursor(mut self, cursor: Option<String>) -> Self {
        self.cursor = cursor;
        self
    }
    pub fn descending(mut self, descending: bool) -> Self {
        self.descending = descending;
        self
    }
    pub fn on(mut self, index: Index) -> Self {
        self.index = Some(index);
        self
    }
    pub fn sort_key_attr(&self) -> &'static str {
        match self.index {
            None => "sk",
            Some(Index::Gsi1) => "gsi1sk",
        }
    }
    pub fn partition_attr(&self) -> &'static str {
        match self.index {
            None => "pk",
            Some(Index::Gsi1) => "gsi1pk",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Page {
    pub items: Vec<Item>,
    pub cursor: Option<String>,
}

/// The position after the last item of a page, opaque to clients: the key attributes
/// of that item, base64url JSON. The partition is never taken from the cursor.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CursorPos {
    pub sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isk: Option<String>,
}

impl CursorPos {
    pub fn after(item: &Item, query: &Query) -> Option<Self> {
        let sk = item.get("sk")?.as_str()?.to_string();
        Some(match query.index {
            None => CursorPos {
                sk,
                pk: None,
                isk: None,
            },
            Some(_) => CursorPos {
                sk,
                pk: Some(item.get("pk")?.as_str()?.to_string()),
                isk: Some(item.get(query.sort_key_attr())?.as_str()?.to_string()),
            },
        })
    }

    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).expect("cursor serializes");
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    /// Decodes a client's cursor and checks it belongs to this query.
    pub fn decode(cursor: &str, query: &Query) -> StoreResult<Self> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(cursor)
            .map_err(|_| StoreError::InvalidCursor)?;
        let pos: CursorPos =
            serde_json::from_slice(&bytes).map_err(|_| StoreError::InvalidCursor)?;
        let sort_value = match query.index {
            None => &pos.sk,
            Some(_) => pos.isk.as_ref().ok_or(StoreError::InvalidCursor)?,
        };
        if query.index.is_some() && pos.pk.is_none() {
            return Err(StoreError::InvalidCursor);
        }
        if let Some(prefix) = &query.sk_prefix {
            if !sort_value.starts_with(prefix.as_str()) {
                return Err(StoreError::InvalidCursor);
            }
        }
        Ok(pos)
    }
}

#[async_trait]
pub trait Table: Send + Sync {
    async fn get(&self, key: &Key) -> StoreResult<Option<Item>>;
    /// One conditional write; an `Update` returns the item as it is after the write.
    async fn write(&self, op: Write) -> StoreResult<Option<Item>>;
    /// All or nothing (at most 100 ops, as DynamoDB allows).
    async fn transact(&self, ops: Vec<Write>) -> StoreResult<()>;
    /// Many independent transactions; each group is atomic on its own. Adapters may
    /// run them together (one SQLite transaction, concurrent DynamoDB calls).
    async fn transact_each(&self, groups: Vec<Vec<Write>>) -> Vec<StoreResult<()>>;
    async fn query(&self, query: &Query) -> StoreResult<Page>;
    /// How many items the query matches (its cursor and limit ignored). Adapters count
    /// without reading the items; this default pages through them.
    async fn count(&self, query: &Query) -> StoreResult<u64> {
        let mut q = query.clone().limit(1000);
        q.cursor = None;
        let mut n = 0;
        loop {
            let page = self.query(&q).await?;
            n += page.items.len() as u64;
            match page.cursor {
                Some(c) => q.cursor = Some(c),
                None => return Ok(n),
            }
        }
    }
    /// Unconditional deletes, batched by the adapter.
    async fn delete_many(&self, keys: Vec<Key>) -> StoreResult<()>;
    /// The items that exist among `keys` (any order), batched by the adapter.
    async fn get_many(&self, keys: Vec<Key>) -> StoreResult<Vec<Item>>;
    /// Unconditional puts, batched by the adapter (25 per DynamoDB request): for items
    /// whose keys are fresh ids or whose rewrite is idempotent. Not atomic as a whole.
    async fn put_many(&self, items: Vec<Item>) -> StoreResult<()>;
}

/// Evaluates a condition against the current item (used by adapters that have no
/// native conditions, and by tests).
pub fn cond_holds(cond: &Cond, current: Option<&Item>) -> bool {
    match cond {
        Cond::None => true,
        Cond::NotExists => current.is_none(),
        Cond::Exists => current.is_some(),
        Cond::Equals(attr, value) => current.and_then(|item| item.get(attr)) == Some(value),
        Cond::In(attr, values) => current
            .and_then(|item| item.get(attr))
            .is_some_and(|v| values.contains(v)),
        Cond::MissingOrBelow(attr, bound) => match current {
            None => true,
            Some(item) => item
                .get(attr)
                .and_then(Value::as_i64)
                .is_some_and(|v| v < *bound),
        },
    }
}

/// Applies updates to an item in place (adapters without native updates).
pub fn apply_updates(item: &mut Item, updates: &[Update]) {
    for update in updates {
        match update {
            Update::Set(attr, value) => {
                item.insert(attr.clone(), value.clone());
            }
            Update::Add(attr, delta) => {
                let now = item.get(attr).and_then(Value::as_i64).unwrap_or(0);
                item.insert(attr.clone(), Value::from(now + delta));
            }
            Update::Remove(attr) => {
                item.remove(attr);
            }
        }
    }
}
