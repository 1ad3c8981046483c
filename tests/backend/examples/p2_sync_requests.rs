//! P2 for syncs: AWS requests per source file for an initial sync and for a re-sync of
//! unchanged files, counted at the endpoint: a proxy in front of moto (`AWS_ENDPOINT_URL`)
//! sees every request the AWS adapters and the S3 connector make (DynamoDB, SQS,
//! EventBridge entries, KMS, and the source's S3 listing). Objects only (no batches).
//!
//! usage: AWS_ENDPOINT_URL=http://127.0.0.1:<moto> cargo run -p sluice-backend-tests --example p2_sync_requests -- [--files N]

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};

use serde_json::{json, Value};
use sluice_api::{Router, ROUTES};
use sluice_core::app::auth;
use sluice_core::ports::QueueName;
use sluice_core::{AppContext, Config};
use support::{call, forward, Proxy};

/// Works the syncs and webhook queues in-process, as the Lambda event sources would.
async fn work(ctx: &AppContext, queues: &[QueueName]) -> usize {
    let mut handled = 0;
    for &q in queues {
        let messages = ctx
            .queue
            .receive(q, 10, Duration::from_secs(30))
            .await
            .expect("receive");
        for m in messages {
            if sluice_core::jobs::handle(ctx, q, &m.body, m.receive_count)
                .await
                .is_ok()
            {
                ctx.queue.ack(q, &m.receipt).await.expect("ack");
            }
            handled += 1;
        }
    }
    handled
}

fn total(counts: &BTreeMap<String, u64>) -> u64 {
    counts
        .iter()
        .filter(|(k, _)| k.as_str() != "events PutEvents")
        .map(|(_, v)| v)
        .sum::<u64>()
        // Each event entry is also one SQS send by the rule (inside moto, not seen here).
        + counts.get("events entries").copied().unwrap_or(0)
}

/// Triggers a run and works its pages to the end. The client's status polls in between
/// are not the sync's requests: they are left out of the counts.
async fn run_sync(
    proxy: &Proxy,
    ctx: &AppContext,
    router: &Router,
    key: &str,
    ns: &str,
    bkt: &str,
    sync: &str,
) -> Value {
    let t = call(
        ctx,
        router,
        key,
        "POST",
        &format!("/v1/buckets/{bkt}/syncs/{sync}/trigger"),
        Some(ns),
        None,
    )
    .await;
    let job = t["sync_job_id"].as_str().unwrap().to_string();
    loop {
        work(ctx, &[QueueName::Syncs]).await;
        let counted = proxy.counts.lock().unwrap().clone();
        let j = call(
            ctx,
            router,
            key,
            "GET",
            &format!("/v1/buckets/{bkt}/syncs/{sync}/jobs/{job}"),
            Some(ns),
            None,
        )
        .await;
        *proxy.counts.lock().unwrap() = counted;
        if j["status"] != "running" {
            // The run's event (`sync.completed`) goes out through the webhooks queue.
            work(ctx, &[QueueName::Webhooks]).await;
            return j;
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let files: usize = std::env::args()
        .skip_while(|a| a != "--files")
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let upstream = std::env::var("AWS_ENDPOINT_URL")
        .map_err(|_| anyhow::anyhow!("set AWS_ENDPOINT_URL to a moto server"))?;
    // The source bucket, filled straight on moto (not through the proxy).
    let direct = sluice_backend_aws::sdk_config().await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&direct)
            .force_path_style(true)
            .build(),
    );
    let source = format!("p2-sync-{}", std::process::id());
    s3.create_bucket().bucket(&source).send().await?;
    futures::stream::iter(0..files)
        .map(|i| {
            let (s3, source) = (s3.clone(), source.clone());
            async move {
                s3.put_object()
                    .bucket(source)
                    .key(format!("f/{i:06}.txt"))
                    .body(format!("file {i}").into_bytes().into())
                    .send()
                    .await
                    .map(|_| ())
            }
        })
        .buffer_unordered(32)
        .try_collect::<Vec<_>>()
        .await?;
    let proxy = Proxy {
        upstream,
        http: reqwest::Client::new(),
        counts: Default::default(),
        s3_label: |m| format!("s3 {m}"),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let proxy_url = format!("http://{}", listener.local_addr()?);
    let app = axum::Router::new()
        .fallback(forward)
        .with_state(proxy.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    // SAFETY: set before any other thread reads the environment.
    unsafe { std::env::set_var("AWS_ENDPOINT_URL", &proxy_url) };
    let sdk = sluice_backend_aws::sdk_config().await;
    let prefix = format!(
        "p2s-{}",
        sluice_core::domain::ids::IdKind::Job
            .new_id()
            .replace('_', "-")
    );
    let names = sluice_backend_aws::provision(&sdk, &prefix).await?;
    let config = Config::from_env().expect("configuration");
    // The same deployment listing 100 keys a page: the cost of one page, apart.
    let clients = sluice_backend_aws::Clients::all().credentials(|sdk, config| {
        std::sync::Arc::new(sluice_connectors::Registry::from_sdk(sdk, config))
    });
    let small_pages = sluice_backend_aws::context_with(
        &sdk,
        names.clone(),
        Config {
            sync_page_size: 100,
            ..config.clone()
        },
        clients,
    );
    let ctx = sluice_backend_aws::context_with(&sdk, names, config, clients);
    let router = Router::new(&ROUTES);
    let key = auth::generate_key();
    auth::ensure_key(&ctx, "p2s", &key).await?;
    let ns = call(
        &ctx,
        &router,
        &key,
        "POST",
        "/v1/namespaces",
        None,
        Some(json!({"namespace_name": "p2-sync"})),
    )
    .await;
    let ns_id = ns["namespace_id"].as_str().unwrap().to_string();
    let bucket = call(&ctx, &router, &key, "POST", "/v1/buckets", Some(&ns_id), Some(json!({"bucket_name": "p2-sync", "bucket_schema": {"properties": {"body": {"type": "text"}}}}))).await;
    let bkt = bucket["bucket_id"].as_str().unwrap().to_string();
    let conn = call(&ctx, &router, &key, "POST", "/v1/organizations/connections", None, Some(json!({
        "name": "moto", "provider_type": "s3",
        "provider_config": {"credentials": {"type": "access_key", "access_key_id": "test", "secret_access_key": "test"}},
    }))).await;
    let sync = call(&ctx, &router, &key, "POST", &format!("/v1/buckets/{bkt}/syncs"), Some(&ns_id), Some(json!({
        "connection_id": conn["connection_id"], "source_path": format!("{source}/f/"), "skip_batch_submission": true,
    }))).await;
    let sid = sync["sync_config_id"].as_str().unwrap().to_string();
    while work(&ctx, &[QueueName::Syncs, QueueName::Webhooks]).await > 0 {}

    proxy.counts.lock().unwrap().clear();
    let first = run_sync(&proxy, &ctx, &router, &key, &ns_id, &bkt, &sid).await;
    assert_eq!(first["counts"]["new"], json!(files), "{first}");
    let initial = proxy.counts.lock().unwrap().clone();
    proxy.counts.lock().unwrap().clear();
    let again = run_sync(&proxy, &ctx, &router, &key, &ns_id, &bkt, &sid).await;
    assert_eq!(again["counts"]["unchanged"], json!(files), "{again}");
    let resync = proxy.counts.lock().unwrap().clone();
    proxy.counts.lock().unwrap().clear();
    let paged = run_sync(&proxy, &small_pages, &router, &key, &ns_id, &bkt, &sid).await;
    assert_eq!(paged["counts"]["unchanged"], json!(files), "{paged}");
    let resync_paged = proxy.counts.lock().unwrap().clone();
    let per =
        |c: &BTreeMap<String, u64>| (total(c) as f64 / files as f64 * 10000.0).round() / 10000.0;
    // A re-sync costs a fixed part per run and a part per page: two runs over the same
    // files with 1 and `files / 100` pages separate them.
    let (one, many) = (total(&resync) as f64, total(&resync_paged) as f64);
    let pages = files.div_ceil(100) as f64;
    let per_page = if pages > 1.0 {
        (many - one) / (pages - 1.0)
    } else {
        0.0
    };
    let per_run = one - per_page;
    let at_10k = (per_run + 10.0 * per_page) / 10_000.0;
    println!(
        "{}",
        json!({
            "P2-sync": format!("AWS requests per source file ({files} files, pages of 1 000, objects only), counted in front of moto"),
            "initial_per_file": per(&initial),
            "resync_per_unchanged_file": per(&resync),
            "resync_requests_per_run": per_run,
            "resync_requests_per_page": per_page,
            "resync_per_unchanged_file_at_10000_files": (at_10k * 10000.0).round() / 10000.0,
            "initial": initial,
            "resync": resync,
            "resync_in_pages_of_100": resync_paged,
        })
    );
    Ok(())
}
