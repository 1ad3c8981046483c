use serde_json::json;

use super::{parse, space};
use crate::app::objects::{self, Policy};
use crate::app::{batches, documents};
use crate::domain::batch::BatchStatus;
use crate::domain::entities::Bucket;
use crate::error::Error;
use crate::store::lists::ListRequest;
use crate::testing::Memory;

async fn objects_of(m: &Memory, bucket: &Bucket, blobs: Vec<serde_json::Value>) -> Vec<String> {
    let requests = blobs
        .into_iter()
        .map(|b| Ok(parse(json!({"blobs": [b]}))))
        .collect();
    objects::create_many(&m.ctx, bucket, requests, Policy::Insert, None)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.unwrap().0.object_id)
        .collect()
}

#[tokio::test]
async fn a_submitted_batch_runs_on_the_queue_and_writes_documents() {
    let m = Memory::new();
    let (ns, bucket) = space(&m).await;
    super::listen(&m, &ns.org_id).await;
    let ids = objects_of(
        &m,
        &bucket,
        (0..3)
            .map(|i| json!({"property": "body", "type": "text", "content": format!("doc {i}")}))
            .collect(),
    )
    .await;
    let (draft, _) = batches::create(&m.ctx, &ns, &bucket, parse(json!({"object_ids": ids})))
        .await
        .unwrap();
    assert_eq!(draft.status, BatchStatus::Draft);
    assert!(
        m.queue.bodies(crate::ports::QueueName::Batches).is_empty(),
        "a draft queues nothing"
    );
    batches::submit(&m.ctx, &ns, &bucket, &draft.batch_id, None)
        .await
        .unwrap();
    let twice = batches::submit(&m.ctx, &ns, &bucket, &draft.batch_id, None).await;
    assert!(matches!(twice, Err(Error::Conflict(_))), "{twice:?}");
    assert!(m.run_queues().await.is_empty());
    let done = batches::get(&m.ctx, &bucket, &draft.batch_id)
        .await
        .unwrap();
    assert_eq!(done.status, BatchStatus::Completed, "{done:?}");
    assert_eq!(
        (done.processed, done.failed, done.documents_written),
        (3, 0, 3)
    );
    let docs = documents::list_for_object(&m.ctx, &bucket, &ids[1], &ListRequest::default(), None)
        .await
        .unwrap();
    assert_eq!(docs.results.len(), 1);
    assert_eq!(docs.results[0]["text"], "doc 1");
    assert!(m.events.types().contains(&"batch.completed".to_string()));
    // Each object says it was processed, and GET counts its documents.
    for id in &ids {
        let o = objects::get(&m.ctx, &bucket, id).await.unwrap();
        let view = objects::view(&m.ctx, &o, false).await.unwrap();
        assert_eq!(
            (view.status.as_str(), view.error, view.document_count),
            ("COMPLETED", None, Some(1))
        );
    }
}

#[tokio::test]
async fn a_failed_object_names_its_stage_and_a_retry_runs_it_again() {
    let m = Memory::new();
    let (ns, bucket) = space(&m).await;
    let ids = objects_of(
        &m,
        &bucket,
        vec![
            json!({"property": "body", "type": "text", "url": "http://127.0.0.1:9/x"}),
            json!({"property": "body", "type": "text", "content": "fine"}),
        ],
    )
    .await;
    let (batch, _) = batches::create(
        &m.ctx,
        &ns,
        &bucket,
        parse(json!({"object_ids": ids, "auto_submit": true})),
    )
    .await
    .unwrap();
    m.run_queues().await;
    let done = batches::get(&m.ctx, &bucket, &batch.batch_id)
        .await
        .unwrap();
    assert_eq!(done.status, BatchStatus::CompletedWithErrors, "{done:?}");
    let failures = batches::failures_for_view(&m.ctx, &done).await.unwrap();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].object_id, ids[0]);
    assert_eq!(failures[0].stage.as_deref(), Some("blob"));
    assert!(
        failures[0]
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("refused"),
        "{failures:?}"
    );
    let failed = objects::get(&m.ctx, &bucket, &ids[0]).await.unwrap();
    assert_eq!(failed.status, "FAILED");
    assert!(
        failed
            .error
            .as_deref()
            .unwrap_or_default()
            .starts_with("blob: "),
        "{failed:?}"
    );
    let fine = objects::get(&m.ctx, &bucket, &ids[1]).await.unwrap();
    assert_eq!((fine.status.as_str(), fine.error), ("COMPLETED", None));

    let (retried, _) = batches::retry(&m.ctx, &ns, &bucket, &batch.batch_id)
        .await
        .unwrap();
    assert_eq!(
        (retried.attempt, retried.pending),
        (2, 1),
        "only the failed object runs again"
    );
    m.run_queues().await;
    let again = batches::get(&m.ctx, &bucket, &batch.batch_id)
        .await
        .unwrap();
    assert_eq!(again.attempt, 2);
    assert!(again.status.is_terminal(), "{again:?}");
}

#[tokio::test]
async fn a_canceled_draft_cannot_be_submitted_and_a_missing_object_is_named() {
    let m = Memory::new();
    let (ns, bucket) = space(&m).await;
    let ids = objects_of(
        &m,
        &bucket,
        vec![json!({"property": "body", "type": "text", "content": "x"})],
    )
    .await;
    let (draft, _) = batches::create(&m.ctx, &ns, &bucket, parse(json!({"object_ids": ids})))
        .await
        .unwrap();
    assert_eq!(
        batches::cancel(&m.ctx, &bucket, &draft.batch_id)
            .await
            .unwrap()
            .status,
        BatchStatus::Canceled
    );
    assert!(matches!(
        batches::submit(&m.ctx, &ns, &bucket, &draft.batch_id, None).await,
        Err(Error::Conflict(_))
    ));

    let missing = batches::create(
        &m.ctx,
        &ns,
        &bucket,
        parse(json!({"object_ids": ["obj_nope"]})),
    )
    .await;
    match missing {
        Err(Error::Invalid { details, .. }) => {
            assert_eq!(details["missing_object_ids"], json!(["obj_nope"]))
        }
        other => panic!("{other:?}"),
    }
}
