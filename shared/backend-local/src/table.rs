//! The single table on SQLite: one row per item, its key attributes in columns and the
//! rest of its JSON in `doc` (deflated when long: see [`DEFLATE_FROM`]).

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

/// The columns a read selects, in the order [`item_of`] takes them.
const COLUMNS: &str = "pk, sk, gsi1pk, gsi1sk, doc";

/// Docs of this many bytes or more are stored deflated, as a BLOB; shorter ones as JSON
/// text. An object's doc (some 800 bytes of ids, hashes and field names, which repeat)
/// deflates to about half, most of what a tiny object costs on disk beyond its bytes;
/// a short doc (a pointer, a counter) would gain little and stays readable in `sqlite3`.
const DEFLATE_FROM: usize = 256;

thread_local! {
    // One deflate and one inflate state per thread, reset for each doc: a fresh state
    // costs more to allocate and clear than deflating an 800-byte doc does.
    static DEFLATER: std::cell::RefCell<flate2::Compress> =
        std::cell::RefCell::new(flate2::Compress::new(flate2::Compression::fast(), false));
    static INFLATER: std::cell::RefCell<flate2::Decompress> =
        std::cell::RefCell::new(flate2::Decompress::new(false));
}

/// The `doc` column's value for an item's JSON.
fn doc_column(json: String) -> rusqlite::types::Value {
    if json.len() < DEFLATE_FROM {
        return rusqlite::types::Value::Text(json);
    }
    let deflated = DEFLATER.with(|d| {
        let mut d = d.borrow_mut();
        d.reset();
        // Room for deflate's worst case (stored blocks): a little more than the input.
        let mut out = Vec::with_capacity(json.len() + json.len() / 64 + 64);
        match d.compress_vec(json.as_bytes(), &mut out, flate2::FlushCompress::Finish) {
            Ok(flate2::Status::StreamEnd) => Some(out),
            _ => None,
        }
    });
    match deflated {
        Some(deflated) => rusqlite::types::Value::Blob(deflated),
        None => rusqlite::types::Value::Text(json),
    }
}

fn inflate(deflated: &[u8]) -> StoreResult<Vec<u8>> {
    INFLATER.with(|d| {
        let mut d = d.borrow_mut();
        d.reset(false);
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
    })
}

/// An item's JSON from its `doc` column: text as it is, a BLOB inflated.
fn doc_json(row: &rusqlite::Row, i: usize) -> rusqlite::Result<StoreResult<Vec<u8>>> {
    Ok(match row.get_ref(i)? {
        rusqlite::types::ValueRef::Text(json) => Ok(json.to_vec()),
        rusqlite::types::ValueRef::Blob(deflated) => inflate(deflated),
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
    fn a_cut_deflated_doc_is_an_error_and_a_large_one_inflates_whole() {
        let json = json!({"text": "a long doc, ".repeat(5000)}).to_string();
        let rusqlite::types::Value::Blob(deflated) = doc_column(json.clone()) else {
            panic!("deflated")
        };
        assert_eq!(inflate(&deflated).unwrap(), json.as_bytes());
        assert!(inflate(&deflated[..deflated.len() / 2]).is_err());
    }

    /// A long doc is stored deflated and reads back whole, through a put and an update;
    /// a doc written as text (short, or by an earlier version) reads as before.
    #[tokio::test]
    async fn long_docs_are_deflated_and_text_docs_still_read() {
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
}
