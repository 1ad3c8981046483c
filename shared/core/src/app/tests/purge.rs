use serde_json::json;

use super::{parse, space};
use crate::app::{batches, buckets, namespaces, tasks};
use crate::error::Error;
use crate::testing::Memory;

#[tokio::test]
async fn deleting_a_namespace_purges_everything_under_it() {
    let m = Memory::with_config(crate::config::Config {
        // The in-memory storage the sync reads is reached through no network.
        allow_private_urls: true,
        ..crate::config::Config::default()
    });
    let (ns, bucket) = space(&m).await;
    let ids = super::text_objects(&m, &bucket, 3).await;
    batches::create(
        &m.ctx,
        &ns,
        &bucket,
        parse(json!({"object_ids": ids, "auto_submit": true})),
    )
    .await
    .unwrap();
    m.run_queues().await;
    assert!(!m.blobs.keys().is_empty());
    // A sync with a finished run: its config, run and manifest live in SYNC# partitions.
    m.storage.put("src", "docs/a.txt", "a");
    let conn = crate::app::connections::create(&m.ctx, &ns.org_id, "key_test", parse(json!({
        "name": "source", "provider_type": "s3",
        "provider_config": {"credentials": {"type": "access_key", "access_key_id": "AKIATEST", "secret_access_key": "s3cr3t"}},
    })))
    .await
    .unwrap();
    let sync = crate::app::syncs::create(&m.ctx, &ns, &bucket, "key_test", parse(json!({
        "connection_id": conn.connection_id, "source_path": "src/docs/", "skip_batch_submission": true,
    })))
    .await
    .unwrap();
    crate::app::syncs::engine::trigger(&m.ctx, &bucket, &sync.sync_config_id, false)
        .await
        .unwrap();
    assert!(m.run_queues().await.is_empty());
    let in_sync = |m: &Memory| {
        m.table
            .all()
            .iter()
            .filter(|i| {
                i.get("pk")
                    .and_then(|p| p.as_str())
                    .is_some_and(|p| p.starts_with("SYNC#"))
            })
            .count()
    };
    assert!(in_sync(&m) > 0, "the run kept nothing under its sync");
    let collections = crate::app::collections::all(&m.ctx, &ns.namespace_id)
        .await
        .unwrap();
    assert!(!collections.is_empty());

    let queued = namespaces::delete(&m.ctx, &ns.org_id, &ns.namespace_id)
        .await
        .unwrap();
    assert!(matches!(
        namespaces::resolve(&m.ctx, &ns.org_id, &ns.namespace_id).await,
        Err(Error::NotFound(_))
    ));
    assert!(m.run_queues().await.is_empty());
    let task = tasks::get(&m.ctx, &ns.org_id, &queued.task_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(task.status, "COMPLETED", "{task:?}");
    assert!(
        m.blobs.keys().is_empty(),
        "bytes left: {:?}",
        m.blobs.keys()
    );
    for c in collections {
        assert!(!m.vectors.has_index(&c.collection_id) || m.vectors.is_empty(&c.collection_id));
    }
    assert_eq!(in_sync(&m), 0, "a sync's partition outlived its namespace");
    // Only the org (and its external id), its API keys, its connection (and its owner
    // pointer) and the task remain in the table.
    let left: Vec<String> = m
        .table
        .all()
        .iter()
        .filter_map(|i| i.get("sk").and_then(|s| s.as_str()).map(str::to_string))
        .filter(|sk| {
            !sk.starts_with("TASK#")
                && !sk.starts_with("CONN")
                && !sk.starts_with("ORG")
                && sk != "OWNER"
        })
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(matches!(
        buckets::resolve(&m.ctx, &ns, &bucket.bucket_id).await,
        Err(Error::NotFound(_))
    ));
}
