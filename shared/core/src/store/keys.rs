//! The single-table layout: every partition and sort key Sluice writes.
//!
//! | entity      | pk              | sk                  |
//! |-------------|-----------------|---------------------|
//! | api key     | `KEY#<sha256>`  | `KEY`               |
//! | org         | `ORG#<org>`     | `ORG`, `APIKEY#<id>`|
//! | namespace   | `ORG#<org>`     | `NS#<id>`, `NSNAME#<name>` |
//! | task        | `ORG#<org>`     | `TASK#<id>`         |
//! | bucket      | `NS#<ns>`       | `BKT#<id>`, `BKTNAME#<name>` |
//! | object      | `BKT#<bkt>`     | `OBJ#<id>`, `FP#<fingerprint>`, `UK#<hash>`, `IDEM#<hash>` |
//! | upload      | `BKT#<bkt>`     | `UPL#<id>`, `UPLHASH#<sha256>`; pending ones in gsi1 `UPLOADS#PENDING` / `<expires_at>#<id>` |
//! | collection  | `NS#<ns>`       | `COL#<id>` (one per configured extractor, id derived from both) |
//! | batch       | `BKT#<bkt>`     | `BTCH#<id>`; results `BTCHRES#<id>#<obj>`; `ORG#<org>` / `BTCHREF#<id>` points at its namespace and bucket; active ones in gsi1 `BATCHES#ACTIVE` / `<last_activity>#<id>` |
//! | document    | `BKT#<bkt>`     | `DOC#<obj>#<col>#<n>`; gsi1 `COL#<col>` / `<obj>#<n>`; `NS#<ns>` / `DOCREF#<id>` finds it by id |
//! | webhook     | `ORG#<org>`     | `WH#<id>`; deliveries `WH#<id>` / `DLV#<id>` |
//! | idempotency | `ORG#<org>`     | `IDEMKEY#<sha256 of key>` (Idempotency-Key header, expires) |
//! | connection  | `ORG#<org>`     | `CONN#<id>`, `CONNNAME#<name>` |
//! | sync        | `BKT#<bkt>`     | `SYNC#<id>`; due ones in gsi1 `SYNCS#DUE` / `<epoch>#<id>` |
//! | sync state  | `SYNC#<id>`     | manifest `SRC#<source key>`, runs `RUN#<id>`, deletion candidates `GONE#<run>#<key>`, dead letters `DLQ#<sha256 of key>` |

use crate::ports::Key;

pub fn api_key(hash: &str) -> Key {
    Key::new(format!("KEY#{hash}"), "KEY")
}
pub fn org(org: &str) -> Key {
    Key::new(org_pk(org), "ORG")
}
/// The organisation's external id for roles it asks Sluice to assume (`external_id`).
pub fn org_external_id(org: &str) -> Key {
    Key::new(org_pk(org), "ORG#EXTERNAL_ID")
}
pub fn org_pk(org: &str) -> String {
    format!("ORG#{org}")
}
pub fn org_api_key(org: &str, key_id: &str) -> Key {
    Key::new(org_pk(org), format!("APIKEY#{key_id}"))
}
pub fn namespace(org: &str, ns: &str) -> Key {
    Key::new(org_pk(org), format!("NS#{ns}"))
}
pub fn namespace_name(org: &str, name: &str) -> Key {
    Key::new(org_pk(org), format!("NSNAME#{name}"))
}
pub fn task(org: &str, task: &str) -> Key {
    Key::new(org_pk(org), format!("TASK#{task}"))
}
pub fn ns_pk(ns: &str) -> String {
    format!("NS#{ns}")
}
pub fn bucket(ns: &str, bkt: &str) -> Key {
    Key::new(ns_pk(ns), format!("{BUCKETS_PREFIX}{bkt}"))
}
/// The sort-key prefix of a namespace's buckets, in the namespace's partition.
pub const BUCKETS_PREFIX: &str = "BKT#";
pub fn bucket_name(ns: &str, name: &str) -> Key {
    Key::new(ns_pk(ns), format!("BKTNAME#{name}"))
}
pub fn bkt_pk(bkt: &str) -> String {
    format!("BKT#{bkt}")
}
pub fn object(bkt: &str, obj: &str) -> Key {
    Key::new(bkt_pk(bkt), format!("OBJ#{obj}"))
}
pub fn fingerprint(bkt: &str, fp: &str) -> Key {
    Key::new(bkt_pk(bkt), format!("FP#{fp}"))
}
pub fn upload(bkt: &str, upl: &str) -> Key {
    Key::new(bkt_pk(bkt), format!("UPL#{upl}"))
}
/// A completed upload's content hash, for `skip_duplicates`.
pub fn upload_hash(bkt: &str, sha256: &str) -> Key {
    Key::new(bkt_pk(bkt), format!("UPLHASH#{sha256}"))
}
/// The index partition of soft-deleted objects, sorted by the end of their restore
/// window, for the sweeper.
pub const RETIRED_OBJECTS: &str = "OBJECTS#RETIRED";
/// The index partition of pending uploads, sorted by expiry, for the sweeper.
pub const PENDING_UPLOADS: &str = "UPLOADS#PENDING";
pub fn upload_storage_key(ns: &str, bkt: &str, upl: &str, filename: &str) -> String {
    format!("{ns}/{bkt}/uploads/{upl}/{filename}")
}
/// Where a confirmed single-PUT upload's bytes move: no presigned URL names it, and it is
/// outside `*/uploads/*`, so the store's notifications ignore it.
pub fn upload_blob_key(ns: &str, bkt: &str, upl: &str, filename: &str) -> String {
    format!("{ns}/{bkt}/files/{upl}/{filename}")
}
/// Reads `(bucket_id, upload_id)` back from an upload's storage key.
pub fn parse_upload_storage_key(key: &str) -> Option<(&str, &str)> {
    let mut parts = key.splitn(5, '/');
    let (_ns, bkt, kind, upl) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    parts.next()?;
    (kind == "uploads" && bkt.starts_with("bkt_") && upl.starts_with("upl_")).then_some((bkt, upl))
}
pub fn idempotency(bkt: &str, hash: &str) -> Key {
    Key::new(bkt_pk(bkt), format!("IDEM#{hash}"))
}
pub fn unique(bkt: &str, hash: &str) -> Key {
    Key::new(bkt_pk(bkt), format!("UK#{hash}"))
}

/// Blob-store key prefix for everything a bucket stores.
pub fn bucket_blob_prefix(ns: &str, bkt: &str) -> String {
    format!("{ns}/{bkt}/")
}
pub fn namespace_blob_prefix(ns: &str) -> String {
    format!("{ns}/")
}
/// Where one export of a collection writes its shards (and manifest).
pub fn export_prefix(ns: &str, col: &str, export: &str) -> String {
    format!("{ns}/exports/{col}/{export}/")
}
pub fn blob_storage_key(ns: &str, bkt: &str, obj: &str, blob: &str) -> String {
    format!("{ns}/{bkt}/objects/{obj}/{blob}")
}

pub fn collection(ns: &str, col: &str) -> Key {
    Key::new(ns_pk(ns), format!("COL#{col}"))
}
pub fn batch(bkt: &str, batch: &str) -> Key {
    Key::new(bkt_pk(bkt), format!("BTCH#{batch}"))
}
pub fn batch_ref(org: &str, batch: &str) -> Key {
    Key::new(org_pk(org), format!("BTCHREF#{batch}"))
}
pub fn batch_result(bkt: &str, batch: &str, obj: &str) -> Key {
    Key::new(bkt_pk(bkt), format!("BTCHRES#{batch}#{obj}"))
}
pub fn batch_results_prefix(batch: &str) -> String {
    format!("BTCHRES#{batch}#")
}
/// The index partition of batches still in flight, sorted by last activity (stall sweep).
pub const ACTIVE_BATCHES: &str = "BATCHES#ACTIVE";
pub fn document(bkt: &str, obj: &str, col: &str, n: usize) -> Key {
    Key::new(bkt_pk(bkt), format!("DOC#{obj}#{col}#{n:04}"))
}
/// A document created through the API: in its collection's own partition, apart from
/// what extractors write per object (which a reprocessing replaces).
pub fn created_document(col: &str, doc: &str) -> Key {
    Key::new(format!("COLDOC#{col}"), format!("DOC#{doc}"))
}
pub fn object_documents_prefix(obj: &str) -> String {
    format!("DOC#{obj}#")
}
pub fn collection_index_pk(col: &str) -> String {
    format!("COL#{col}")
}
pub fn webhook(org: &str, wh: &str) -> Key {
    Key::new(org_pk(org), format!("{WEBHOOKS_PREFIX}{wh}"))
}
/// The sort-key prefix of an org's webhooks, in the org's partition.
pub const WEBHOOKS_PREFIX: &str = "WH#";
pub fn webhook_pk(wh: &str) -> String {
    format!("WH#{wh}")
}
pub fn delivery(wh: &str, dlv: &str) -> Key {
    Key::new(webhook_pk(wh), format!("DLV#{dlv}"))
}
pub fn idempotency_key(org: &str, hash: &str) -> Key {
    Key::new(org_pk(org), format!("IDEMKEY#{hash}"))
}
pub fn document_ref(ns: &str, doc: &str) -> Key {
    Key::new(ns_pk(ns), format!("DOCREF#{doc}"))
}

pub fn connection(org: &str, conn: &str) -> Key {
    Key::new(org_pk(org), format!("CONN#{conn}"))
}
/// Which org a connection belongs to, for requests that name only the connection (a
/// provider's webhook).
pub fn connection_owner(conn: &str) -> Key {
    Key::new(format!("CONNID#{conn}"), "OWNER")
}
pub fn connection_name(org: &str, name: &str) -> Key {
    Key::new(org_pk(org), format!("CONNNAME#{name}"))
}
pub fn sync(bkt: &str, sync: &str) -> Key {
    Key::new(bkt_pk(bkt), format!("SYNC#{sync}"))
}
pub fn sync_pk(sync: &str) -> String {
    format!("SYNC#{sync}")
}
/// The index partition of syncs with a next run; sort key `<epoch, 12 digits>#<id>`.
pub const DUE_SYNCS: &str = "SYNCS#DUE";
pub fn due_sort_key(epoch: i64, sync: &str) -> String {
    format!("{epoch:012}#{sync}")
}
pub const MANIFEST_PREFIX: &str = "SRC#";
pub fn manifest(sync: &str, source_key: &str) -> Key {
    Key::new(sync_pk(sync), format!("{MANIFEST_PREFIX}{source_key}"))
}
pub fn sync_run(sync: &str, run: &str) -> Key {
    Key::new(sync_pk(sync), format!("RUN#{run}"))
}
pub fn gone_prefix(run: &str) -> String {
    format!("GONE#{run}#")
}
pub fn gone(sync: &str, run: &str, source_key: &str) -> Key {
    Key::new(sync_pk(sync), format!("{}{source_key}", gone_prefix(run)))
}
pub fn dead_letter(sync: &str, key_hash: &str) -> Key {
    Key::new(sync_pk(sync), format!("DLQ#{key_hash}"))
}
