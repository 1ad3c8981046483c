//! P1: objects registered per second through `POST /objects/batch` on the release
//! `sluice-local` binary (usage: p1_ingest <path to sluice-local> [--batches N] [--mode url|inline]),
//! as a ratio to raw batched SQLite inserts of the same rows, in the same run.

use std::time::Instant;

use serde_json::{json, Value};
use sluice_bench::{arg, namespace_and_bucket, start_local};

const BATCH: usize = 100;
const WARMUP_BATCHES: usize = 5;
const CONCURRENCY: usize = 4;

fn batch_body(start: usize, inline: bool) -> Value {
    let objects: Vec<Value> = (start..start + BATCH)
        .map(|i| {
            let blob = if inline {
                json!({"property": "doc", "type": "text", "content": format!("document number {i}")})
            } else {
                json!({"property": "doc", "type": "text", "url": format!("https://example.com/docs/{i}.txt")})
            };
            json!({"key_prefix": "/bench", "blobs": [blob], "metadata": {"title": format!("Document {i}"), "n": i}})
        })
        .collect();
    json!({ "objects": objects })
}

async fn run(binary: &str, batches: usize, inline: bool) -> anyhow::Result<(f64, f64)> {
    let dir = tempfile::tempdir()?;
    let key = "sk_bench_0123456789abcdef0123456789".to_string();
    let mut server = start_local(binary, dir.path(), &key).await?;
    let http = reqwest::Client::new();
    let auth = format!("Bearer {key}");
    let (ns_id, bkt) = namespace_and_bucket(&http, &server.url, &auth, json!({"doc": {"type": "text", "required": true}, "title": {"type": "string"}, "n": {"type": "integer"}})).await?;
    let url = format!("{}/v1/buckets/{bkt}/objects/batch", server.url);

    let send = move |body: Value| {
        let (http, url, auth, ns_id) = (http.clone(), url.clone(), auth.clone(), ns_id.clone());
        async move {
            let r: Value = http
                .post(&url)
                .header("authorization", auth)
                .header("x-namespace", ns_id)
                .json(&body)
                .send()
                .await?
                .json()
                .await?;
            anyhow::ensure!(r["succeeded_count"] == json!(BATCH), "batch failed: {r}");
            Ok::<_, anyhow::Error>(())
        }
    };
    for w in 0..WARMUP_BATCHES {
        send(batch_body(w * BATCH, inline)).await?;
    }
    // Bodies are built before the clock starts: the client's JSON work is not Sluice's.
    let bodies: Vec<Value> = (0..batches)
        .map(|b| batch_body((WARMUP_BATCHES + b) * BATCH, inline))
        .collect();
    let per = bodies.len().div_ceil(CONCURRENCY);
    let chunks: Vec<Vec<Value>> = bodies.chunks(per).map(|c| c.to_vec()).collect();
    let mut workers = Vec::new();
    let started = Instant::now();
    for chunk in chunks {
        let send = send.clone();
        workers.push(tokio::spawn(async move {
            for body in chunk {
                send(body).await?;
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for w in workers {
        w.await??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let objects = (batches * BATCH) as f64;
    let sluice_rate = objects / elapsed;
    server.child.start_kill()?;
    server.child.wait().await?;

    // Baseline: the rows Sluice wrote for these objects, inserted raw into a fresh
    // table of the same schema, 100 objects per transaction.
    let src = rusqlite::Connection::open(dir.path().join("sluice.db"))?;
    // The doc as stored: JSON text, or deflated JSON (a BLOB) when long.
    type Row = (String, String, Option<String>, Option<String>, rusqlite::types::Value);
    let all: Vec<Row> = {
        let mut stmt =
            src.prepare("SELECT pk, sk, gsi1pk, gsi1sk, doc FROM items WHERE pk = ?1 ORDER BY sk")?;
        let rows = stmt.query_map([format!("BKT#{bkt}")], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?;
        rows.collect::<Result<_, _>>()?
    };
    // In the order Sluice wrote them: each object (by id, i.e. creation), then the
    // fingerprint row it wrote beside it.
    let mut fingerprints: std::collections::HashMap<String, Row> = all
        .iter()
        .filter(|r| r.1.starts_with("FP#"))
        .map(|r| (r.1.clone(), r.clone()))
        .collect();
    let mut rows: Vec<Row> = Vec::with_capacity(all.len());
    for r in all.iter().filter(|r| r.1.starts_with("OBJ#")) {
        let doc: Value = match &r.4 {
            rusqlite::types::Value::Blob(stored) => {
                serde_json::from_slice(&sluice_backend_local::decode_doc(stored)?)?
            }
            rusqlite::types::Value::Text(json) => serde_json::from_str(json)?,
            other => anyhow::bail!("doc is {other:?}"),
        };
        rows.push(r.clone());
        if let Some(fp) = doc["fingerprint"]
            .as_str()
            .and_then(|f| fingerprints.remove(&format!("FP#{f}")))
        {
            rows.push(fp);
        }
    }
    let raw_dir = tempfile::tempdir()?;
    let mut raw = rusqlite::Connection::open(raw_dir.path().join("raw.db"))?;
    raw.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=10000;
         CREATE TABLE items (id INTEGER PRIMARY KEY, pk TEXT NOT NULL, sk TEXT NOT NULL,
           gsi1pk TEXT, gsi1sk TEXT, doc TEXT NOT NULL);
         CREATE UNIQUE INDEX items_key ON items (pk, sk);
         CREATE INDEX items_gsi1 ON items (gsi1pk, gsi1sk, pk, sk) WHERE gsi1pk IS NOT NULL;",
    )?;
    let rows_per_object = rows.len() as f64 / (objects + (WARMUP_BATCHES * BATCH) as f64);
    let per_tx = (BATCH as f64 * rows_per_object).round() as usize;
    let started = Instant::now();
    for chunk in rows.chunks(per_tx.max(1)) {
        let tx = raw.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO items (pk, sk, gsi1pk, gsi1sk, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for r in chunk {
                stmt.execute(rusqlite::params![r.0, r.1, r.2, r.3, r.4])?;
            }
        }
        tx.commit()?;
    }
    let raw_rate = (rows.len() as f64 / rows_per_object) / started.elapsed().as_secs_f64();
    Ok((sluice_rate, raw_rate))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let binary = std::env::args()
        .nth(1)
        .filter(|a| !a.starts_with("--"))
        .unwrap_or_else(|| "target/release/sluice-local".into());
    let batches = arg("--batches", 200);
    let mode = std::env::args()
        .skip_while(|a| a != "--mode")
        .nth(1)
        .unwrap_or_else(|| "both".into());
    for (label, inline) in [("url blobs", false), ("inline text blobs", true)] {
        if mode != "both" && (mode == "inline") != inline {
            continue;
        }
        let (sluice_rate, raw_rate) = run(&binary, batches, inline).await?;
        println!(
            "P1 ({label}, {} objects, {CONCURRENCY} connections): sluice {:.0} objects/s, raw SQLite {:.0} objects/s, ratio {:.2} (target >= 0.40)",
            batches * BATCH,
            sluice_rate,
            raw_rate,
            sluice_rate / raw_rate
        );
    }
    Ok(())
}
