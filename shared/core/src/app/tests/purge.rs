use serde_json::json;

use super::{parse, space};
use crate::app::objects::{self, Policy};
use crate::app::{batches, buckets, namespaces, tasks};
use crate::error::Error;
use crate::testing::Memory;

#[tokio::test]
async fn deleting_a_namespace_purges_everything_under_it() {
    let m = Memory::new();
    let (ns, bucket) = space(&m).await;
    let requests = (0..3)
        .map(|i| Ok(parse(json!({"blobs": [{"property": "body", "type": "text", "content": format!("d{i}")}]}))))
        .collect();
    let ids: Vec<String> = objects::create_many(&m.ctx, &bucket, requests, Policy::Insert, None)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.unwrap().0.object_id)
        .collect();
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
    // Only the org, its API keys and the task remain in the table.
    let left: Vec<String> = m
        .table
        .all()
        .iter()
        .filter_map(|i| i.get("sk").and_then(|s| s.as_str()).map(str::to_string))
        .filter(|sk| !sk.starts_with("TASK#") && sk != "ORG")
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(matches!(
        buckets::resolve(&m.ctx, &ns, &bucket.bucket_id).await,
        Err(Error::NotFound(_))
    ));
}
