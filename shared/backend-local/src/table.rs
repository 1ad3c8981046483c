//! The single table on SQLite: one row per item, its key attributes in columns and the
//! rest of its JSON in `doc` (compressed when long: see [`COMPRESS_FROM`]).

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

use super::sqlite::{sql_err, statement, Db};
use sluice_core::ports::{
    apply_updates, cond_holds, Cond, CursorPos, Item, Key, Page, Query, StoreError, StoreResult,
    Table, Write,
};

/// The table's schema, applied when the database opens (after [`upgrade`]).
///
/// A rowid table with a unique index on the key, not `WITHOUT ROWID`: a `WITHOUT ROWID`
/// row keeps at most about a quarter of a page inline, so a 1 KB item (an object with its
/// blob) took an overflow page of its own, 4 KB on disk for each. A rowid table keeps
/// rows up to a page inline and fills its pages in insertion order.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
  id INTEGER PRIMARY KEY, pk TEXT NOT NULL, sk TEXT NOT NULL, gsi1pk TEXT, gsi1sk TEXT,
  doc TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS items_key ON items (pk, sk);
CREATE INDEX IF NOT EXISTS items_gsi1 ON items (gsi1pk, gsi1sk, pk, sk) WHERE gsi1pk IS NOT NULL;
";

/// The attributes kept in columns of their own, and so left out of `doc`.
const KEY_ATTRS: [&str; 4] = ["pk", "sk", "gsi1pk", "gsi1sk"];

/// Moves the items of a database made before [`SCHEMA`] (a `WITHOUT ROWID` table) into
/// the current one, in one transaction, then gives the old table's pages back to the file
/// system. A database without `items`, or with the current table, is left alone.
pub fn upgrade(path: &std::path::Path) -> anyhow::Result<()> {
    let conn = Connection::open(path)?;
    let sql: Option<String> = conn
        .query_row(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'items'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if !sql.is_some_and(|s| s.to_ascii_uppercase().contains("WITHOUT ROWID")) {
        return Ok(());
    }
    conn.execute_batch(&format!(
        "BEGIN IMMEDIATE;
         DROP INDEX IF EXISTS items_gsi1;
         ALTER TABLE items RENAME TO items_without_rowid;
         {SCHEMA}
         INSERT INTO items (pk, sk, gsi1pk, gsi1sk, doc)
           SELECT pk, sk, gsi1pk, gsi1sk, doc FROM items_without_rowid ORDER BY pk, sk;
         DROP TABLE items_without_rowid;
         COMMIT;
         VACUUM;"
    ))?;
    tracing::info!(path = %path.display(), "table moved to the current layout");
    Ok(())
}

/// Sorts after every valid sort key that starts with a prefix.
const PREFIX_END: char = '\u{10FFFF}';

pub struct LocalTable {
    db: Db,
}

impl LocalTable {
    /// The table in `db`, which must have been opened with [`SCHEMA`].
    pub fn new(db: Db) -> Self {
        LocalTable { db }
    }
}

/// Queries of at most this many rows run on the calling task (see `query`).
const INLINE_QUERY_ROWS: usize = 10;

/// The columns a read selects, in the order [`item_of`] takes them.
const COLUMNS: &str = "pk, sk, gsi1pk, gsi1sk, doc";

/// Docs of this many bytes or more are stored compressed, as a BLOB; shorter ones as
/// JSON text. An object's doc (some 800 bytes of ids, hashes and field names) compresses
/// to under half, most of what a tiny object costs on disk beyond its bytes; a short doc
/// (a pointer, a counter) would gain little and stays readable in `sqlite3`.
const COMPRESS_FROM: usize = 256;

/// The first byte of a doc compressed with LZ4 against [`DICTIONARY_1`], before its
/// length (u32, little-endian) and the LZ4 block. No raw deflate stream, which is how
/// earlier versions stored long docs, starts with it: its block-type bits are 11, a type
/// deflate reserves. LZ4 rather than deflate: on an 800-byte doc it compresses about ten
/// times and decompresses about twenty times faster (deflate's per-doc state is the cost),
/// and with the dictionary it also ends smaller.
const TAG_LZ4_DICTIONARY_1: u8 = 0x06;

/// The field names and shapes of the commonest docs (a namespace, a bucket, an object):
/// a doc's first field names match here instead of being stored again. Frozen: what was
/// written with it reads only with it; a better dictionary needs a new tag.
const DICTIONARY_1: &[u8] = include_bytes!("doc_dictionary.json");

/// The `doc` column's value for an item's JSON.
fn doc_column(json: String) -> rusqlite::types::Value {
    if json.len() < COMPRESS_FROM {
        return rusqlite::types::Value::Text(json);
    }
    let Ok(len) = u32::try_from(json.len()) else {
        return rusqlite::types::Value::Text(json);
    };
    let block = lz4_flex::block::compress_with_dict(json.as_bytes(), DICTIONARY_1);
    let mut stored = Vec::with_capacity(5 + block.len());
    stored.push(TAG_LZ4_DICTIONARY_1);
    stored.extend_from_slice(&len.to_le_bytes());
    stored.extend_from_slice(&block);
    rusqlite::types::Value::Blob(stored)
}

/// An item's JSON from a compressed `doc`.
fn decompress(stored: &[u8]) -> StoreResult<Vec<u8>> {
    decode_doc(stored)
}

/// An item's JSON from the `doc` column's BLOB form (LZ4 against the dictionary, or
/// the raw deflate of earlier versions), for tools that read `sluice.db` directly.
pub fn decode_doc(stored: &[u8]) -> StoreResult<Vec<u8>> {
    match stored {
        [TAG_LZ4_DICTIONARY_1, l0, l1, l2, l3, block @ ..] => {
            let len = u32::from_le_bytes([*l0, *l1, *l2, *l3]) as usize;
            // LZ4 expands at most about 255 to 1: a larger length is a damaged doc, and
            // is refused before it is allocated.
            if len > block.len().saturating_mul(255) + 16 {
                return Err(StoreError::backend(format!(
                    "a compressed doc claims {len} bytes from {}",
                    block.len()
                )));
            }
            lz4_flex::block::decompress_with_dict(block, len, DICTIONARY_1)
                .map_err(StoreError::backend)
        }
        deflated => inflate(deflated),
    }
}

/// Docs that earlier versions stored as raw deflate.
fn inflate(deflated: &[u8]) -> StoreResult<Vec<u8>> {
    let mut d = flate2::Decompress::new(false);
    let mut out = Vec::with_capacity(deflated.len() * 4);
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.capacity());
        }
        let before = (d.total_in(), d.total_out());
        let read = before.0 as usize;
        match d.decompress_vec(&deflated[read..], &mut out, flate2::FlushDecompress::None) {
            Ok(flate2::Status::StreamEnd) => return Ok(out),
            Ok(_) if (d.total_in(), d.total_out()) != before => {}
            Ok(_) => return Err(StoreError::backend("a deflated doc ends early")),
            Err(e) => return Err(StoreError::backend(e)),
        }
    }
}

/// An item's JSON from its `doc` column: text as it is, a BLOB decompressed.
fn doc_json(row: &rusqlite::Row, i: usize) -> rusqlite::Result<StoreResult<Vec<u8>>> {
    Ok(match row.get_ref(i)? {
        rusqlite::types::ValueRef::Text(json) => Ok(json.to_vec()),
        rusqlite::types::ValueRef::Blob(stored) => decompress(stored),
        other => Err(StoreError::backend(format!(
            "doc is {:?}, not JSON",
            other.data_type()
        ))),
    })
}

/// An item from a row: its `doc` with the key attributes put back.
fn item_of(row: &rusqlite::Row) -> rusqlite::Result<StoreResult<Item>> {
    let doc = match doc_json(row, 4)? {
        Ok(doc) => doc,
        Err(e) => return Ok(Err(e)),
    };
    let mut item: Item = match serde_json::from_slice(&doc) {
        Ok(item) => item,
        Err(e) => return Ok(Err(StoreError::backend(e))),
    };
    for (i, attr) in KEY_ATTRS.iter().enumerate() {
        if let Some(value) = row.get::<_, Option<String>>(i)? {
            item.insert((*attr).into(), Value::from(value));
        }
    }
    Ok(Ok(item))
}

fn read(conn: &Connection, key: &Key) -> StoreResult<Option<Item>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM items WHERE pk = ?1 AND sk = ?2"
    ))
    .and_then(|mut s| s.query_row(params![key.pk, key.sk], item_of).optional())
    .map_err(sql_err)?
    .transpose()
}

/// An item's JSON without its key attributes, which the row keeps in columns.
struct Doc<'a>(&'a Item);

impl serde::Serialize for Doc<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        for (name, value) in self.0 {
            if !KEY_ATTRS.contains(&name.as_str()) {
                map.serialize_entry(name, value)?;
            }
        }
        map.end()
    }
}

fn str_attr<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(Value::as_str)
}

/// An item as its row stores it: key columns and the encoded doc.
struct Row {
    key: Key,
    gsi1pk: Option<String>,
    gsi1sk: Option<String>,
    doc: rusqlite::types::Value,
}

impl Row {
    fn of(item: &Item) -> StoreResult<Row> {
        let key = Key::of(item).ok_or_else(|| StoreError::backend("item has no pk/sk"))?;
        let doc = serde_json::to_string(&Doc(item)).map_err(StoreError::backend)?;
        Ok(Row {
            key,
            gsi1pk: str_attr(item, "gsi1pk").map(str::to_string),
            gsi1sk: str_attr(item, "gsi1sk").map(str::to_string),
            doc: doc_column(doc),
        })
    }
}

/// A write with its put's row encoded already: callers encode on their own task, so the
/// one writer thread, which every write waits on, spends its time on SQLite alone.
enum Prepared {
    Put { row: Row, cond: Cond },
    Other(Write),
}

fn prepare(op: Write) -> StoreResult<Prepared> {
    Ok(match op {
        Write::Put { item, cond } => Prepared::Put {
            row: Row::of(&item)?,
            cond,
        },
        other => Prepared::Other(other),
    })
}

fn prepare_all(ops: Vec<Write>) -> StoreResult<Vec<Prepared>> {
    ops.into_iter().map(prepare).collect()
}

fn store_row(conn: &Connection, row: Row, insert_only: bool) -> StoreResult<()> {
    let sql = if insert_only {
        "INSERT INTO items (pk, sk, gsi1pk, gsi1sk, doc) VALUES (?1, ?2, ?3, ?4, ?5)"
    } else {
        // An update in place keeps the row where it is (REPLACE would delete and append it).
        "INSERT INTO items (pk, sk, gsi1pk, gsi1sk, doc) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (pk, sk) DO UPDATE SET
           gsi1pk = excluded.gsi1pk, gsi1sk = excluded.gsi1sk, doc = excluded.doc"
    };
    let result = conn.prepare_cached(sql).and_then(|mut s| {
        s.execute(params![
            row.key.pk, row.key.sk, row.gsi1pk, row.gsi1sk, row.doc
        ])
    });
    match result {
        Ok(_) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(f, _))
            if insert_only && f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Err(StoreError::ConditionFailed { index: None })
        }
        Err(e) => Err(sql_err(e)),
    }
}

fn check(conn: &Connection, key: &Key, cond: &Cond) -> StoreResult<Option<Item>> {
    let current = read(conn, key)?;
    if cond_holds(cond, current.as_ref()) {
        Ok(current)
    } else {
        Err(StoreError::ConditionFailed { index: None })
    }
}

/// Puts a row, under its condition.
fn put(conn: &Connection, row: Row, cond: &Cond) -> StoreResult<()> {
    match cond {
        // A fresh insert needs no read: the primary key refuses a duplicate.
        Cond::NotExists => store_row(conn, row, true),
        Cond::None => store_row(conn, row, false),
        cond => {
            check(conn, &row.key, cond)?;
            store_row(conn, row, false)
        }
    }
}

/// Applies one write inside the caller's transaction.
fn apply(conn: &Connection, op: Prepared) -> StoreResult<Option<Item>> {
    let op = match op {
        Prepared::Put { row, cond } => return put(conn, row, &cond).map(|_| None),
        Prepared::Other(op) => op,
    };
    match op {
        Write::Put { item, cond } => put(conn, Row::of(&item)?, &cond).map(|_| None),
        Write::Update { key, updates, cond } => {
            let mut item = check(conn, &key, &cond)?.unwrap_or_else(|| {
                let mut fresh = Item::new();
                fresh.insert("pk".into(), Value::from(key.pk.clone()));
                fresh.insert("sk".into(), Value::from(key.sk.clone()));
                fresh
            });
            apply_updates(&mut item, &updates);
            store_row(conn, Row::of(&item)?, false)?;
            Ok(Some(item))
        }
        Write::Delete { key, cond } => {
            if cond != Cond::None {
                check(conn, &key, &cond)?;
            }
            conn.prepare_cached("DELETE FROM items WHERE pk = ?1 AND sk = ?2")
                .and_then(|mut s| s.execute(params![key.pk, key.sk]))
                .map_err(sql_err)?;
            Ok(None)
        }
        Write::Check { key, cond } => check(conn, &key, &cond).map(|_| None),
    }
}

fn with_index(e: StoreError, index: usize) -> StoreError {
    match e {
        StoreError::ConditionFailed { .. } => StoreError::ConditionFailed { index: Some(index) },
        other => other,
    }
}

fn run_query(conn: &Connection, q: &Query) -> StoreResult<Page> {
    let cursor = q
        .cursor
        .as_deref()
        .map(|c| CursorPos::decode(c, q))
        .transpose()?;
    let (pk_col, sk_col) = (q.partition_attr(), q.sort_key_attr());
    let mut sql = format!("SELECT {COLUMNS} FROM items WHERE {pk_col} = ?1");
    let mut args: Vec<String> = vec![q.pk.clone()];
    let mut bind = |sql: &mut String, clause: &str, value: String| {
        args.push(value);
        sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
    };
    if let Some(prefix) = &q.sk_prefix {
        bind(&mut sql, &format!(" AND {sk_col} >= ?"), prefix.clone());
        bind(
            &mut sql,
            &format!(" AND {sk_col} < ?"),
            format!("{prefix}{PREFIX_END}"),
        );
    }
    if let Some(max) = &q.sk_max {
        bind(&mut sql, &format!(" AND {sk_col} <= ?"), max.clone());
    }
    let op = if q.descending { "<" } else { ">" };
    if let Some(pos) = &cursor {
        match q.index {
            None => bind(&mut sql, &format!(" AND sk {op} ?"), pos.sk.clone()),
            Some(_) => {
                let isk = pos.isk.clone().unwrap_or_default();
                let pk = pos.pk.clone().unwrap_or_default();
                args.push(isk);
                args.push(pk);
                args.push(pos.sk.clone());
                let n = args.len();
                sql.push_str(&format!(
                    " AND ({sk_col}, pk, sk) {op} (?{}, ?{}, ?{})",
                    n - 2,
                    n - 1,
                    n
                ));
            }
        }
    }
    let dir = if q.descending { "DESC" } else { "ASC" };
    match q.index {
        None => sql.push_str(&format!(" ORDER BY sk {dir}")),
        Some(_) => sql.push_str(&format!(" ORDER BY {sk_col} {dir}, pk {dir}, sk {dir}")),
    }
    sql.push_str(&format!(" LIMIT {}", q.limit + 1));

    let mut stmt = conn.prepare_cached(&sql).map_err(sql_err)?;
    let mut items = stmt
        .query_map(rusqlite::params_from_iter(args.iter()), item_of)
        .map_err(sql_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sql_err)?
        .into_iter()
        .collect::<StoreResult<Vec<_>>>()?;
    let cursor = if items.len() > q.limit {
        items.truncate(q.limit);
        items
            .last()
            .and_then(|last| CursorPos::after(last, q))
            .map(|p| p.encode())
    } else {
        None
    };
    Ok(Page { items, cursor })
}

#[async_trait]
impl Table for LocalTable {
    async fn get(&self, key: &Key) -> StoreResult<Option<Item>> {
        self.db.read_point(|conn| read(conn, key))
    }

    async fn write(&self, op: Write) -> StoreResult<Option<Item>> {
        let op = prepare(op)?;
        self.db.write(move |conn| apply(conn, op)).await
    }

    async fn transact(&self, ops: Vec<Write>) -> StoreResult<()> {
        if ops.len() > 100 {
            return Err(StoreError::backend(
                "a transaction holds at most 100 writes",
            ));
        }
        let ops = prepare_all(ops)?;
        self.db
            .write(move |conn| {
                for (i, op) in ops.into_iter().enumerate() {
                    apply(conn, op).map_err(|e| with_index(e, i))?;
                }
                Ok(())
            })
            .await
    }

    async fn transact_each(&self, groups: Vec<Vec<Write>>) -> Vec<StoreResult<()>> {
        let count = groups.len();
        // A group that cannot be encoded fails alone, as one whose condition fails does.
        let groups: Vec<StoreResult<Vec<Prepared>>> = groups.into_iter().map(prepare_all).collect();
        let outcome = self
            .db
            .write(move |conn| {
                let mut results = Vec::with_capacity(groups.len());
                for group in groups {
                    let group = match group {
                        Ok(group) => group,
                        Err(e) => {
                            results.push(Err(e));
                            continue;
                        }
                    };
                    // Cached statements: a savepoint per group must not cost a parse.
                    statement(conn, "SAVEPOINT grp")?;
                    let mut result = Ok(());
                    for (i, op) in group.into_iter().enumerate() {
                        if let Err(e) = apply(conn, op) {
                            result = Err(with_index(e, i));
                            break;
                        }
                    }
                    if result.is_err() {
                        statement(conn, "ROLLBACK TO grp")?;
                    }
                    statement(conn, "RELEASE grp")?;
                    results.push(result);
                }
                Ok(results)
            })
            .await;
        match outcome {
            Ok(results) => results,
            Err(e) => (0..count)
                .map(|_| Err(StoreError::Backend(e.to_string())))
                .collect(),
        }
    }

    async fn query(&self, query: &Query) -> StoreResult<Page> {
        // A query of a few rows is an index seek and a short walk, as cheap as a lookup
        // by key: it runs on the calling task, like one. Longer ones may scan.
        if query.limit <= INLINE_QUERY_ROWS {
            return self.db.read_point(|conn| run_query(conn, query));
        }
        let query = query.clone();
        self.db.read(move |conn| run_query(conn, &query)).await
    }

    async fn count(&self, query: &Query) -> StoreResult<u64> {
        let q = query.clone();
        self.db
            .read(move |conn| {
                let (pk_col, sk_col) = (q.partition_attr(), q.sort_key_attr());
                let mut sql = format!("SELECT COUNT(*) FROM items WHERE {pk_col} = ?1");
                let mut args: Vec<String> = vec![q.pk.clone()];
                if let Some(prefix) = &q.sk_prefix {
                    sql.push_str(&format!(" AND {sk_col} >= ?2 AND {sk_col} < ?3"));
                    args.push(prefix.clone());
                    args.push(format!("{prefix}{PREFIX_END}"));
                }
                if let Some(max) = &q.sk_max {
                    args.push(max.clone());
                    sql.push_str(&format!(" AND {sk_col} <= ?{}", args.len()));
                }
                let n: i64 = conn
                    .prepare_cached(&sql)
                    .map_err(sql_err)?
                    .query_row(rusqlite::params_from_iter(args.iter()), |r| r.get(0))
                    .map_err(sql_err)?;
                Ok(n.max(0) as u64)
            })
            .await
    }

    async fn delete_many(&self, keys: Vec<Key>) -> StoreResult<()> {
        self.db
            .write(move |conn| {
                {
                    let mut stmt = conn
                        .prepare_cached("DELETE FROM items WHERE pk = ?1 AND sk = ?2")
                        .map_err(sql_err)?;
                    for key in &keys {
                        stmt.execute(params![key.pk, key.sk]).map_err(sql_err)?;
                    }
                }
                Ok(())
            })
            .await
    }

    async fn get_many(&self, keys: Vec<Key>) -> StoreResult<Vec<Item>> {
        self.db
            .read(move |conn| {
                let mut found = Vec::with_capacity(keys.len());
                for key in &keys {
                    if let Some(item) = read(conn, key)? {
                        found.push(item);
                    }
                }
                Ok(found)
            })
            .await
    }

    async fn put_many(&self, items: Vec<Item>) -> StoreResult<()> {
        let rows = items.iter().map(Row::of).collect::<StoreResult<Vec<_>>>()?;
        self.db
            .write(move |conn| {
                for row in rows {
                    store_row(conn, row, false)?;
                }
                Ok(())
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(value: Value) -> Item {
        value.as_object().cloned().unwrap()
    }

    /// Puts a new item and checks that it reads back as it was.
    async fn put_new(table: &LocalTable, stored: &Item) {
        table
            .write(Write::Put {
                item: stored.clone(),
                cond: Cond::NotExists,
            })
            .await
            .unwrap();
        let key = Key::of(stored).unwrap();
        assert_eq!(table.get(&key).await.unwrap().as_ref(), Some(stored));
    }

    fn open(path: &std::path::Path) -> LocalTable {
        upgrade(path).unwrap();
        LocalTable::new(Db::open(path, &[SCHEMA], 1).unwrap())
    }

    #[tokio::test]
    async fn key_attributes_live_in_columns_not_in_the_doc() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let table = open(&path);
        let stored = item(json!({"pk": "A", "sk": "B", "gsi1pk": "G", "gsi1sk": "H", "n": 1}));
        put_new(&table, &stored).await;
        let doc: String = Connection::open(&path)
            .unwrap()
            .query_row("SELECT doc FROM items", [], |r| r.get(0))
            .unwrap();
        assert_eq!(doc, r#"{"n":1}"#);
    }

    #[test]
    fn a_cut_or_damaged_doc_is_an_error_and_a_large_one_reads_whole() {
        let json = json!({"text": "a long doc, ".repeat(5000)}).to_string();
        let rusqlite::types::Value::Blob(stored) = doc_column(json.clone()) else {
            panic!("compressed")
        };
        assert_eq!(stored[0], TAG_LZ4_DICTIONARY_1);
        assert!(stored.len() < json.len() / 20, "{} bytes", stored.len());
        assert_eq!(decompress(&stored).unwrap(), json.as_bytes());
        assert!(decompress(&stored[..stored.len() / 2]).is_err());
        // A length no block of this size can hold is refused before it is allocated.
        let mut claims_too_much = stored.clone();
        claims_too_much[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decompress(&claims_too_much).is_err());
    }

    /// An object's doc, the commonest long one, is stored in well under half its JSON.
    #[test]
    fn an_object_doc_compresses_to_under_half() {
        let json = json!({"blobs": [{"blob_id": "blob_01m9693v0k84zhpgh078dfwh52", "details": {"filename": null, "hash": "c4cc995a3d47e37f2dbd11ce2b40a7c5f314d3abb4b5e4953d50ec13b9552f6e", "mime_type": "text/plain", "size_bytes": 13}, "key_prefix": null, "properties": {"source": "inline", "storage_key": "ns_01m9693tqfw3wf44qah2ftv5gy/bkt_01m9693tvmeyjfjzqgbm7geh82/objects/obj_01m9693v0k84zhpgh078dfwh51/blob_01m9693v0k84zhpgh078dfwh52"}, "property": "body", "type": "text"}], "bucket_id": "bkt_01m9693tvmeyjfjzqgbm7geh82", "created_at": "2026-12-06T18:16:01.299536594Z", "fingerprint": "3192d8264ab2a895cb08599769b8d916efc84703e18326bdc31609d749131412", "metadata": {}, "namespace_id": "ns_01m9693tqfw3wf44qah2ftv5gy", "object_id": "obj_01m9693v0k84zhpgh078dfwh51", "size_bytes": 13, "status": "PENDING", "updated_at": "2026-12-06T18:16:01.299536594Z", "version": 1}).to_string();
        let rusqlite::types::Value::Blob(stored) = doc_column(json.clone()) else {
            panic!("compressed")
        };
        assert!(
            stored.len() * 2 < json.len(),
            "{} of {} bytes",
            stored.len(),
            json.len()
        );
        assert_eq!(decompress(&stored).unwrap(), json.as_bytes());
    }

    /// Docs written with the dictionary read only with it: changing it is a new tag.
    #[test]
    fn the_dictionary_is_frozen() {
        use sha2::Digest;
        assert_eq!(
            hex::encode(sha2::Sha256::digest(DICTIONARY_1)),
            "168c56c194c95597e481b5b55ff76a09ca960225ffe24e3930780a3f58927899"
        );
    }

    /// Earlier versions stored long docs as raw deflate; they still read, and no deflate
    /// stream is taken for the LZ4 tag.
    #[test]
    fn deflated_docs_of_earlier_versions_still_read() {
        use std::io::Write as _;
        let json = json!({"text": "an older long doc, ".repeat(40)}).to_string();
        let mut encoder =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(json.as_bytes()).unwrap();
        let deflated = encoder.finish().unwrap();
        assert_ne!(deflated[0], TAG_LZ4_DICTIONARY_1);
        assert_eq!(decompress(&deflated).unwrap(), json.as_bytes());
        // The tag's block-type bits are deflate's reserved type.
        assert!(inflate(&[TAG_LZ4_DICTIONARY_1, 0, 0, 0, 0]).is_err());
    }

    /// A long doc is stored compressed and reads back whole, through a put and an update;
    /// a doc written as text (short, or by an earlier version) reads as before.
    #[tokio::test]
    async fn long_docs_are_compressed_and_text_docs_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let table = open(&path);
        let long = "obj_01m94xzjd7ffaaqms1rdcqa9d6/".repeat(20);
        let stored = item(json!({"pk": "A", "sk": "L", "path": long, "n": 1}));
        put_new(&table, &stored).await;
        let key = Key::new("A", "L");
        let raw = || -> (String, i64) {
            Connection::open(&path)
                .unwrap()
                .query_row(
                    "SELECT typeof(doc), length(doc) FROM items WHERE sk = 'L'",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap()
        };
        let (kind, stored_len) = raw();
        assert_eq!(kind, "blob");
        assert!(stored_len < long.len() as i64 / 4, "{stored_len} bytes");
        table
            .write(Write::Update {
                key: key.clone(),
                updates: vec![sluice_core::ports::Update::Set("n".into(), json!(2))],
                cond: Cond::Exists,
            })
            .await
            .unwrap();
        let mut updated = stored;
        updated.insert("n".into(), json!(2));
        assert_eq!(table.get(&key).await.unwrap(), Some(updated));
        assert_eq!(raw().0, "blob");
        // A row of an earlier version: its long doc is JSON text.
        let text = json!({"path": long, "n": 3}).to_string();
        Connection::open(&path)
            .unwrap()
            .execute(
                "INSERT INTO items (pk, sk, doc) VALUES ('A', 'T', ?1)",
                params![text],
            )
            .unwrap();
        let old = table.get(&Key::new("A", "T")).await.unwrap().unwrap();
        assert_eq!(
            (old["path"].as_str(), old["n"].as_i64()),
            (Some(long.as_str()), Some(3))
        );
    }

    #[tokio::test]
    async fn a_without_rowid_table_is_moved_whole_to_the_current_layout() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        {
            // The layout before this one, its docs holding their key attributes too.
            let old = Connection::open(&path).unwrap();
            old.execute_batch(
                "CREATE TABLE items (
                   pk TEXT NOT NULL, sk TEXT NOT NULL, gsi1pk TEXT, gsi1sk TEXT, doc TEXT NOT NULL,
                   PRIMARY KEY (pk, sk)) WITHOUT ROWID;
                 CREATE INDEX items_gsi1 ON items (gsi1pk, gsi1sk, pk, sk) WHERE gsi1pk IS NOT NULL;",
            )
            .unwrap();
            for n in 0..50 {
                let doc = json!({"pk": "P", "sk": format!("S#{n:03}"), "gsi1pk": "G", "gsi1sk": format!("{}", 99 - n), "n": n});
                old.execute(
                    "INSERT INTO items VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        "P",
                        format!("S#{n:03}"),
                        "G",
                        format!("{}", 99 - n),
                        doc.to_string()
                    ],
                )
                .unwrap();
            }
        }
        let table = open(&path);
        let sql: String = Connection::open(&path)
            .unwrap()
            .query_row(
                "SELECT sql FROM sqlite_master WHERE name = 'items'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(!sql.to_uppercase().contains("WITHOUT ROWID"), "{sql}");
        let page = table.query(&Query::partition("P")).await.unwrap();
        assert_eq!(page.items.len(), 50);
        assert_eq!(page.items[7]["n"], 7);
        assert_eq!(page.items[7]["sk"], "S#007");
        // The index came along: the index query orders by gsi1sk.
        let by_index = Query::partition("G")
            .on(sluice_core::ports::Index::Gsi1)
            .limit(1);
        assert_eq!(table.query(&by_index).await.unwrap().items[0]["n"], 49);
        // A second open finds nothing to move.
        drop(table);
        upgrade(&path).unwrap();
    }

    /// A query is planned once, not on every use: a plan that depended on the bound
    /// values was thrown away each time the statement went back to the cache.
    #[tokio::test]
    async fn a_query_is_not_planned_again_on_each_use() {
        let dir = tempfile::tempdir().unwrap();
        let table = open(&dir.path().join("t.db"));
        put_new(&table, &item(json!({"pk": "P", "sk": "WH#1", "n": 1}))).await;
        for pk in ["P", "Q", "P", "R"] {
            let q = Query::partition(pk).prefix("WH#").limit(1);
            table.query(&q).await.unwrap();
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM items WHERE pk = ?1 AND sk >= ?2 AND sk < ?3 ORDER BY sk ASC LIMIT 2"
        );
        let (runs, plans) = table
            .db
            .read_point(|c| {
                let stmt = c.prepare_cached(&sql).map_err(sql_err)?;
                Ok((
                    stmt.get_status(rusqlite::StatementStatus::Run),
                    stmt.get_status(rusqlite::StatementStatus::RePrepare),
                ))
            })
            .unwrap();
        assert_eq!(
            (runs, plans),
            (4, 0),
            "the query's SQL is not the one run_query builds, or it was planned again"
        );
    }
}
