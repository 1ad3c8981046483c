//! The store layer: the only code that knows the single table's partition and sort keys,
//! its index keys and its TTL attribute. `keys` lists every key Sluice writes; `lists`
//! pages through one partition.

pub mod index;
pub mod keys;
pub mod lists;

use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;

use crate::error::Error;
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
pub fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, Error> {
    serde_json::from_value(Value::Object(item))
        .map_err(|e| Error::Internal(anyhow::anyhow!("corrupt item: {e}")))
}

/// A small pointer item: `{pk, sk, <attr>: value}`.
pub fn pointer(key: &Key, attr: &str, value: &str) -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), Value::from(key.pk.clone()));
    item.insert("sk".into(), Value::from(key.sk.clone()));
    item.insert(attr.into(), Value::from(value));
    item
}

/// The attribute the table's time-to-live reads (`TimeToLiveSpecification` in
/// `template.yaml`). Every expiring item sets it through [`set_expiry`]. DynamoDB deletes
/// expired items only eventually (typically within days) and the local table not at all,
/// so a reader for which age matters checks [`expired`].
pub const TTL_ATTRIBUTE: &str = "expires_at_epoch";

/// Marks `item` to expire at `at` (unix seconds).
pub fn set_expiry(item: &mut Item, at: time::OffsetDateTime) {
    item.insert(TTL_ATTRIBUTE.into(), Value::from(at.unix_timestamp()));
}

/// Whether `item` has passed its expiry (an item without one never expires).
pub fn expired(item: &Item, now: time::OffsetDateTime) -> bool {
    item.get(TTL_ATTRIBUTE)
        .and_then(Value::as_i64)
        .is_some_and(|at| at <= now.unix_timestamp())
}
