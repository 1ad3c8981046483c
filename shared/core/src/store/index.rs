//! The sparse secondary index (`gsi1`): what sits in it and under which keys. Use cases
//! name an [`Entry`]; only this module spells the index's attributes and key formats.

use serde_json::Value;

use crate::ports::{Index, Item, Query, Update};

use super::keys;

const PK: &str = "gsi1pk";
const SK: &str = "gsi1sk";

/// One item's place in the index.
#[derive(Debug, Clone)]
pub enum Entry<'a> {
    /// A batch still in flight, by last activity (the stall sweep).
    ActiveBatch { batch_id: &'a str, at: &'a str },
    /// A pending upload, by expiry (the sweeper).
    PendingUpload {
        upload_id: &'a str,
        expires_epoch: i64,
    },
    /// A soft-deleted object, by the end of its restore window (the sweeper purges it).
    RetiredObject {
        bucket_id: &'a str,
        object_id: &'a str,
        purge_epoch: i64,
    },
    /// A sync with a next run, by when it is due (the poller).
    DueSync { sync_id: &'a str, epoch: i64 },
    /// A document in its collection, by object and chunk.
    Document {
        collection_id: &'a str,
        object_id: &'a str,
        n: usize,
    },
}

impl Entry<'_> {
    fn partition(&self) -> String {
        match self {
            Entry::ActiveBatch { .. } => keys::ACTIVE_BATCHES.into(),
            Entry::PendingUpload { .. } => keys::PENDING_UPLOADS.into(),
            Entry::DueSync { .. } => keys::DUE_SYNCS.into(),
            Entry::RetiredObject { .. } => keys::RETIRED_OBJECTS.into(),
            Entry::Document { collection_id, .. } => keys::collection_index_pk(collection_id),
        }
    }

    fn sort(&self) -> String {
        match self {
            Entry::ActiveBatch { batch_id, at } => format!("{at}#{batch_id}"),
            Entry::PendingUpload {
                upload_id,
                expires_epoch,
            } => {
                format!("{expires_epoch:012}#{upload_id}")
            }
            Entry::DueSync { sync_id, epoch } => keys::due_sort_key(*epoch, sync_id),
            Entry::RetiredObject {
                bucket_id,
                object_id,
                purge_epoch,
            } => format!("{purge_epoch:012}#{bucket_id}#{object_id}"),
            Entry::Document { object_id, n, .. } => format!("{object_id}#{n:04}"),
        }
    }

    /// Puts a new item in the index.
    pub fn insert_into(&self, item: &mut Item) {
        item.insert(PK.into(), Value::from(self.partition()));
        item.insert(SK.into(), Value::from(self.sort()));
    }

    /// Re-sorts an item already in this entry's partition (never adds one that left it).
    pub fn resort(&self) -> Update {
        Update::Set(SK.into(), Value::from(self.sort()))
    }

    /// Moves an existing item to this place in the index.
    pub fn set(&self) -> [Update; 2] {
        [
            Update::Set(PK.into(), Value::from(self.partition())),
            Update::Set(SK.into(), Value::from(self.sort())),
        ]
    }
}

/// Takes an item out of the index.
pub fn remove() -> [Update; 2] {
    [Update::Remove(PK.into()), Update::Remove(SK.into())]
}

/// The batches in flight with no activity after `cutoff` (RFC 3339), oldest first.
pub fn batches_idle_since(cutoff: &str) -> Query {
    let mut query = Query::partition(keys::ACTIVE_BATCHES).on(Index::Gsi1);
    query.sk_max = Some(format!("{cutoff}#~"));
    query
}

/// The pending uploads expired by `epoch`, soonest expiry first.
pub fn uploads_expired_by(epoch: i64) -> Query {
    let mut query = Query::partition(keys::PENDING_UPLOADS).on(Index::Gsi1);
    query.sk_max = Some(format!("{epoch:012}~"));
    query
}

/// The soft-deleted objects whose restore window ended by `epoch`, soonest first.
pub fn objects_retired_until(epoch: i64) -> Query {
    let mut query = Query::partition(keys::RETIRED_OBJECTS).on(Index::Gsi1);
    query.sk_max = Some(format!("{epoch:012}~"));
    query
}

/// The documents of a collection.
pub fn collection_documents(collection_id: &str) -> Query {
    Query::partition(keys::collection_index_pk(collection_id)).on(Index::Gsi1)
}

/// The syncs due by `epoch` (inclusive), soonest first.
pub fn due_syncs(epoch: i64) -> Query {
    let mut query = Query::partition(keys::DUE_SYNCS).on(Index::Gsi1);
    query.sk_max = Some(keys::due_sort_key(epoch, "~"));
    query
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_attributes_are_the_ones_queries_read() {
        let q = due_syncs(5);
        assert_eq!(q.partition_attr(), PK);
        assert_eq!(q.sort_key_attr(), SK);
        let mut item = Item::new();
        Entry::DueSync {
            sync_id: "sync_a",
            epoch: 5,
        }
        .insert_into(&mut item);
        assert_eq!(item[PK], keys::DUE_SYNCS);
        assert!(item[SK].as_str().unwrap() <= q.sk_max.as_deref().unwrap());
    }
}
