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

use crate::ports::Key;

pub fn api_key(hash: &str) -> Key {
    Key::new(format!("KEY#{hash}"), "KEY")
}
pub fn org(org: &str) -> Key {
    Key::new(org_pk(org), "ORG")
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
    Key::new(ns_pk(ns), format!("BKT#{bkt}"))
}
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
/// The index partition of pending uploads, sorted by expiry, for the sweeper.
pub const PENDING_UPLOADS: &str = "UPLOADS#PENDING";
pub fn upload_storage_key(ns: &str, bkt: &str, upl: &str, filename: &str) -> String {
    format!("{ns}/{bkt}/uploads/{upl}/{filename}")
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
pub fn object_documents_prefix(obj: &str) -> String {
    format!("DOC#{obj}#")
}
pub fn collection_index_pk(col: &str) -> String {
    format!("COL#{col}")
}
pub fn webhook(org: &str, wh: &str) -> Key {
    Key::new(org_pk(org), format!("WH#{wh}"))
}
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
