//! The table: conditional writes, all-or-nothing transactions, ordered queries with cursors on the table and its index.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::Value;

use crate::ports::{
    apply_updates, cond_holds, Cond, CursorPos, Index, Item, Key, Page, Query, StoreError,
    StoreResult, Table, Write,
};

use super::lock;

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
