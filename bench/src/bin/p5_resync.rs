//! Syncs on a provider's emulator, the engine in process over the local backend:
//!   P5-sync  a re-sync of N unchanged files vs a bare paginated listing of the same
//!            container (the provider's list call, 1 000 a page), same run; and the
//!            table writes the re-sync made (target: none per file).
//!   P8       the initial sync of N small text files, trigger → every batch COMPLETED
//!            (passthrough_extractor), vs a bare listing plus one GET of every file
//!            (8 at a time, as rclone copies), same run.
//! usage: p5_resync [--provider s3|gcs|azure_blob|box] [--files N] [--runs N]
//!   s3: AWS_ENDPOINT_URL=<moto>; gcs: SLUICE_TEST_GCS_URL=<fake-gcs-server>;
//!   azure_blob: SLUICE_TEST_AZURE_URL=<Azurite's account endpoint>;
//!   box: SLUICE_TEST_BOX_URL=<the Box fake> (the files in 100 folders, walked breadth
//!   first by the sync and by the bare listing alike)

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::{stream, StreamExt, TryStreamExt};
use serde_json::json;
use sluice_bench::arg;
use sluice_bench::stores::{self, Store};
use sluice_core::app::{auth, batches, buckets, connections, namespaces, syncs};
use sluice_core::ports::{
    Item, Key, Page, Query, QueueName, StoreResult, Table, Write,
};
use sluice_core::{AppContext, Config};

/// Counts the writes that reach the table.
struct Counting {
    inner: Arc<dyn Table>,
    writes: AtomicUsize,
}

#[async_trait]
impl Table for Counting {
    async fn get(&self, key: &Key) -> StoreResult<Option<Item>> {
        self.inner.get(key).await
    }
    async fn write(&self, op: Write) -> StoreResult<Option<Item>> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.write(op).await
    }
    async fn transact(&self, ops: Vec<Write>) -> StoreResult<()> {
        self.writes.fetch_add(ops.len(), Ordering::SeqCst);
        self.inner.transact(ops).await
    }
    async fn transact_each(&self, groups: Vec<Vec<Write>>) -> Vec<StoreResult<()>> {
        self.writes.fetch_add(groups.iter().map(Vec::len).sum(), Ordering::SeqCst);
        self.inner.transact_each(groups).await
    }
    async fn query(&self, query: &Query) -> StoreResult<Page> {
        self.inner.query(query).await
    }
    async fn delete_many(&self, keys: Vec<Key>) -> StoreResult<()> {
        self.writes.fetch_add(keys.len(), Ordering::SeqCst);
        self.inner.delete_many(keys).await
    }
    async fn get_many(&self, keys: Vec<Key>) -> StoreResult<Vec<Item>> {
        self.inner.get_many(keys).await
    }
    async fn put_many(&self, items: Vec<Item>) -> StoreResult<()> {
        self.writes.fetch_add(items.len(), Ordering::SeqCst);
        self.inner.put_many(items).await
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Waits until a run has ended, the queue pollers (as sluice-local runs them) working it.
async fn wait_run(ctx: &AppContext, bucket: &sluice_core::domain::entities::Bucket, sync_id: &str, run_id: &str) -> syncs::SyncRun {
    loop {
        let s = syncs::get(ctx, bucket, sync_id).await.unwrap();
        let r = syncs::get_run(ctx, &s, run_id).await.unwrap();
        if r.status != "running" {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn parse<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).expect("a request parses")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // The engine's logs (each sync page's timings) when SLUICE_BENCH_LOG is set.
    if std::env::var_os("SLUICE_BENCH_LOG").is_some() {
        tracing_subscriber::fmt().with_writer(std::io::stderr).init();
    }
    let files = arg("--files", 10_000);
    let runs = arg("--runs", 3);
    let provider = sluice_bench::arg_text("--provider", "s3");
    let store: Box<dyn Store> = stores::open(&provider).await?;
    let started = Instant::now();
    let present = store.count().await?;
    stream::iter(present..files)
        .map(|i| store.put(format!("files/{i:06}.txt"), format!("small text file number {i}").into_bytes()))
        .buffer_unordered(32)
        .try_collect::<Vec<_>>()
        .await?;
    eprintln!("{files} files on {provider} in {:.1}s", started.elapsed().as_secs_f64());

    let dir = tempfile::tempdir()?;
    let mut config = Config {
        allow_private_urls: true,
        ..Config::default()
    };
    if let Ok(url) = std::env::var("SLUICE_TEST_BOX_URL") {
        config.box_api_url = url;
    }
    let (ctx, _) = sluice_backend_local::context(dir.path(), "http://127.0.0.1:1", config)?;
    let counting = Arc::new(Counting { inner: ctx.table.clone(), writes: AtomicUsize::new(0) });
    let sealer = ctx.sealer.clone();
    let registry = sluice_connectors::Registry::new(&ctx.config);
    let ctx = AppContext { table: counting.clone(), ..ctx }.with_connectors(Arc::new(registry), sealer);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    for q in QueueName::ALL {
        tokio::spawn(sluice_core::jobs::poll(ctx.clone(), q, stopped.clone()));
    }
    let org = auth::create_org(&ctx, "bench").await?;
    let ns = namespaces::create(&ctx, &org.org_id, parse(json!({
        "namespace_name": "p5-bench", "feature_extractors": [{"feature_extractor_name": "passthrough_extractor", "version": "v1"}],
    })))
    .await?;
    let bucket = buckets::create(&ctx, &ns, parse(json!({
        "bucket_name": "p5-bench", "bucket_schema": {"properties": {"body": {"type": "text"}}},
    })))
    .await?;
    let conn = connections::create(&ctx, &org.org_id, "bench", parse(json!({
        "name": "source", "provider_type": provider, "provider_config": store.connection(),
    })))
    .await?;
    let sync = syncs::create(&ctx, &ns, &bucket, "bench", parse(json!({
        "connection_id": conn.connection_id, "source_path": store.source_path("files/"),
        "batch_size": 100,
    })))
    .await?;

    // P8: listing + a GET of every file (8 at a time) vs the initial sync to COMPLETED batches.
    let mut baseline8 = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let keys = store.keys().await?;
        stream::iter(keys)
            .map(|k| store.get(k))
            .buffer_unordered(8)
            .try_collect::<Vec<_>>()
            .await?;
        baseline8.push(t.elapsed());
    }
    let t = Instant::now();
    let run = syncs::engine::trigger(&ctx, &bucket, &sync.sync_config_id, false).await?;
    let done = wait_run(&ctx, &bucket, &sync.sync_config_id, &run.sync_job_id).await;
    anyhow::ensure!(done.status == "completed" && done.counts.new == files as i64, "initial sync: {done:?}");
    let list = batches::ListBatches { limit: Some(100), ..Default::default() };
    loop {
        let all = batches::list(&ctx, &bucket, &list).await?;
        let completed = all.results.iter().filter(|b| b["status"] == "COMPLETED").count();
        if completed as i64 == done.batches_created {
            break;
        }
        anyhow::ensure!(t.elapsed() < Duration::from_secs(900), "{completed} of {} batches completed", done.batches_created);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let initial = t.elapsed();

    // P5-sync: a bare listing vs a re-sync that finds every file unchanged.
    let mut listing = Vec::new();
    let mut resync = Vec::new();
    let mut writes = Vec::new();
    let mut last_pages = 0;
    for _ in 0..runs {
        let t = Instant::now();
        anyhow::ensure!(store.count().await? == files);
        listing.push(t.elapsed());
        let before = counting.writes.load(Ordering::SeqCst);
        let t = Instant::now();
        let run = syncs::engine::trigger(&ctx, &bucket, &sync.sync_config_id, false).await?;
        let r = wait_run(&ctx, &bucket, &sync.sync_config_id, &run.sync_job_id).await;
        resync.push(t.elapsed());
        writes.push(counting.writes.load(Ordering::SeqCst) - before);
        anyhow::ensure!(r.counts.unchanged == files as i64 && r.counts.new == 0, "re-sync: {r:?}");
        last_pages = r.page;
    }
    let (l, r) = (median(listing), median(resync));
    let w = *writes.iter().max().unwrap();
    println!("{}", json!({
        "P5-sync": format!("{provider}: re-sync of {files} unchanged files vs a bare listing, same run (median of {runs})"),
        "bare_listing_s": (l.as_secs_f64() * 1000.0).round() / 1000.0,
        "resync_s": (r.as_secs_f64() * 1000.0).round() / 1000.0,
        "ratio": (r.as_secs_f64() / l.as_secs_f64() * 100.0).round() / 100.0,
        "table_writes": w,
        "pages": last_pages,
        "table_writes_per_file": (w as f64 / files as f64 * 10000.0).round() / 10000.0,
    }));
    let b8 = median(baseline8);
    println!("{}", json!({
        "P8": format!("{provider}: initial sync of {files} small text files to COMPLETED batches (passthrough) vs listing + a GET of each, same run"),
        "listing_and_gets_s": (b8.as_secs_f64() * 1000.0).round() / 1000.0,
        "initial_sync_s": (initial.as_secs_f64() * 1000.0).round() / 1000.0,
        "ratio": (initial.as_secs_f64() / b8.as_secs_f64() * 100.0).round() / 100.0,
        "batches": done.batches_created,
    }));
    let _ = stop.send(true);
    Ok(())
}
