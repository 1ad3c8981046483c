//! Use cases over the ports. The single-table key layout lives here, once.

pub mod audio;
pub mod auth;
pub mod batches;
pub mod buckets;
pub mod collections;
pub mod documents;
pub mod extract;
pub mod extractors;
pub mod idempotency;
pub mod keys;
pub mod lists;
pub mod namespaces;
pub mod objects;
pub mod pipeline;
pub mod purge;
pub mod search;
pub mod tasks;
pub mod tools;
pub mod uploads;
pub mod webhooks;

use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;

use crate::error::ApiError;
use crate::ports::{Item, Key};

/// A record as a table item under `key`.
pub fn to_item<T: Serialize>(key: &Key, record: &T) -> Item {
    let mut item = match serde_json::to_value(record) {
        Ok(Value::Object(m)) => m,
        _ => Item::new(),
    };
    item.insert("pk".into(), Value::from(key.pk.clone()));
    item.insert("sk".into(), Value::from(key.sk.clone()));
    item
}

/// A table item as a record (key attributes are ignored).
pub fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, ApiError> {
    serde_json::from_value(Value::Object(item))
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("corrupt item: {e}")))
}

/// A small pointer item: `{pk, sk, <attr>: value}`.
pub fn pointer(key: &Key, attr: &str, value: &str) -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), Value::from(key.pk.clone()));
    item.insert("sk".into(), Value::from(key.sk.clone()));
    item.insert(attr.into(), Value::from(value));
    item
}
