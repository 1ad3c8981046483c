use serde_json::{json, Value};

use super::{parse, space};
use crate::app::documents::{self, Writer};
use crate::app::objects;
use crate::app::{batches, collections, namespaces};
use crate::domain::collection::Collection;
use crate::domain::entities::Namespace;
use crate::error::Error;
use crate::store::lists::ListRequest;
use crate::testing::Memory;

async fn collection(m: &Memory, ns: &Namespace) -> Collection {
    collections::all(&m.ctx, &ns.namespace_id)
        .await
        .unwrap()
        .remove(0)
}

/// A namespace whose collection keeps 384-dimension vectors (text_extractor).
async fn text_space(m: &Memory) -> (Namespace, Collection) {
    let (ns, _) = space(m).await;
    let ns = namespaces::create(
        &m.ctx,
        &ns.org_id,
        parse(json!({
            "namespace_name": "texts",
            "feature_extractors": [{"feature_extractor_name": "text_extractor", "version": "v1"}],
        })),
    )
    .await
    .unwrap();
    let c = collection(m, &ns).await;
    (ns, c)
}

fn vector(x: f32) -> Value {
    json!({"embedding": (0..384).map(|i| if i == 0 { x } else { 0.0 }).collect::<Vec<f32>>()})
}

#[tokio::test]
async fn batches_count_their_documents_once_however_often_a_chunk_is_delivered() {
    let m = Memory::new();
    let (ns, bucket) = space(&m).await;
    let ids = super::text_objects(&m, &bucket, 3).await;
    for round in 0..2 {
        let (draft, _) = batches::create(
            &m.ctx,
            &ns,
            &bucket,
            parse(json!({"object_ids": ids.clone()})),
        )
        .await
        .unwrap();
        batches::submit(&m.ctx, &ns, &bucket, &draft.batch_id, None)
            .await
            .unwrap();
        // Every message delivered twice: the second delivery finds its results recorded.
        m.queue.duplicate(crate::ports::QueueName::Batches);
        assert!(m.run_queues().await.is_empty());
        assert_eq!(collection(&m, &ns).await.document_count, 3, "round {round}");
    }
    // Deleting an object removes its documents from the count.
    objects::delete(&m.ctx, &bucket, &ids[0]).await.unwrap();
    m.run_queues().await;
    assert_eq!(collection(&m, &ns).await.document_count, 2);
}

#[tokio::test]
async fn created_documents_keep_their_vector_count_and_version_in_step() {
    let m = Memory::new();
    let (ns, col) = text_space(&m).await;
    super::listen(&m, &ns.org_id).await;
    let by = Writer {
        namespace: &ns,
        key_id: None,
    };
    let created = documents::create(
        &m.ctx,
        &by,
        &col,
        None,
        parse(json!({"metadata": {"tier": "gold"}, "title": "a note", "vectors": vector(1.0)})),
    )
    .await
    .unwrap();
    assert!(created.document_id.starts_with("doc_"));
    assert_eq!(created.fields["title"], "a note");
    assert_eq!(m.vectors.len(&col.collection_id), 1);
    assert_eq!(collection(&m, &ns).await.document_count, 1);

    let wrong = documents::create(
        &m.ctx,
        &by,
        &col,
        None,
        parse(json!({"vectors": {"embedding": [1.0]}})),
    )
    .await;
    assert!(matches!(wrong, Err(Error::Invalid { .. })), "{wrong:?}");
    let reserved =
        documents::create(&m.ctx, &by, &col, None, parse(json!({"batch_id": "x"}))).await;
    assert!(
        matches!(reserved, Err(Error::Invalid { .. })),
        "{reserved:?}"
    );

    let id = created.document_id.clone();
    let patched = documents::change(
        &m.ctx,
        &by,
        &col,
        &id,
        parse(json!({"metadata": {"tier": "silver"}})),
        false,
    )
    .await
    .unwrap();
    assert_eq!(patched.fields["metadata"]["tier"], "silver");
    assert_eq!(patched.fields["title"], "a note");
    let replaced = documents::change(
        &m.ctx,
        &by,
        &col,
        &id,
        parse(json!({"summary": "new"})),
        true,
    )
    .await
    .unwrap();
    assert!(replaced.fields.get("title").is_none());
    assert!(replaced.updated_at.is_some());
    let stored = documents::stored(&m.ctx, &ns.namespace_id, None, &id)
        .await
        .unwrap();
    assert_eq!(stored.version, 2);

    let types = m.events.types();
    for t in ["document.created", "document.updated"] {
        assert!(types.contains(&t.to_string()), "{t} in {types:?}");
    }
    documents::delete(&m.ctx, &by, &col, &id).await.unwrap();
    assert_eq!(m.vectors.len(&col.collection_id), 0);
    assert_eq!(collection(&m, &ns).await.document_count, 0);
    let gone = documents::get(&m.ctx, &ns, None, &id, None).await;
    assert!(matches!(gone, Err(Error::NotFound(_))), "{gone:?}");
    assert!(m.events.types().contains(&"document.deleted".to_string()));
}

#[tokio::test]
async fn an_acl_hides_a_document_from_other_keys_and_refuses_their_changes() {
    let m = Memory::new();
    let (ns, col) = text_space(&m).await;
    let owner = Writer {
        namespace: &ns,
        key_id: Some("key_owner"),
    };
    let other = Writer {
        namespace: &ns,
        key_id: Some("key_other"),
    };
    let doc = documents::create(
        &m.ctx,
        &owner,
        &col,
        None,
        parse(json!({"vectors": vector(1.0)})),
    )
    .await
    .unwrap();
    let id = doc.document_id;
    documents::update_acl(
        &m.ctx,
        &owner,
        &col,
        &id,
        parse(json!({"read": ["key_owner"], "write": ["key_owner"]})),
    )
    .await
    .unwrap();
    let hidden = documents::get(&m.ctx, &ns, None, &id, Some("key_other")).await;
    assert!(matches!(hidden, Err(Error::NotFound(_))), "{hidden:?}");
    let listed =
        documents::list_for_collection(&m.ctx, &col, &ListRequest::default(), Some("key_other"))
            .await
            .unwrap();
    assert!(listed.results.is_empty());
    let change = documents::change(&m.ctx, &other, &col, &id, parse(json!({"x": 1})), false).await;
    assert!(matches!(change, Err(Error::NotFound(_))), "{change:?}");
    documents::update_acl(
        &m.ctx,
        &owner,
        &col,
        &id,
        parse(json!({"read": [], "public": true})),
    )
    .await
    .unwrap();
    assert!(documents::get(&m.ctx, &ns, None, &id, Some("key_other"))
        .await
        .is_ok());
    let refused = documents::change(&m.ctx, &other, &col, &id, parse(json!({"x": 1})), false).await;
    assert!(matches!(refused, Err(Error::Forbidden(_))), "{refused:?}");
    let results = documents::batch_delete(
        &m.ctx,
        &other,
        &col,
        parse(json!({"document_ids": [id.clone(), "doc_missing"]})),
    )
    .await
    .unwrap();
    assert!(results.iter().all(|r| !r.success), "{results:?}");
    let done = documents::batch_delete(
        &m.ctx,
        &owner,
        &col,
        parse(
            json!({"filters": {"AND": [{"field": "document_id", "operator": "eq", "value": id}]}}),
        ),
    )
    .await
    .unwrap();
    assert_eq!(done.len(), 1);
    assert!(done[0].success);
}

#[tokio::test]
async fn a_clone_copies_documents_with_their_vectors_once_however_often_a_page_is_delivered() {
    let m = Memory::new();
    let (ns, col) = text_space(&m).await;
    let by = Writer {
        namespace: &ns,
        key_id: None,
    };
    // Three pages of documents.
    for i in 0..230 {
        let body = json!({"title": format!("note {i}"), "vectors": vector(1.0 + i as f32)});
        documents::create(&m.ctx, &by, &col, None, parse(body))
            .await
            .unwrap();
    }
    let changed = json!({"collection_name": "other", "feature_extractor": {"feature_extractor_name": "text_extractor", "version": "v1"}});
    let refused = collections::clone(&m.ctx, &ns, &col.collection_id, parse(changed), true).await;
    assert!(
        matches!(refused, Err(Error::Invalid { .. })),
        "{:?}",
        refused.err()
    );

    let cloned = collections::clone(
        &m.ctx,
        &ns,
        &col.collection_id,
        parse(json!({"collection_name": "copy"})),
        true,
    )
    .await
    .unwrap();
    let task = cloned.copying.expect("a copy task");
    m.queue.duplicate(crate::ports::QueueName::Tasks);
    assert!(m.run_queues().await.is_empty());
    let to = &cloned.made.collection_id;
    let made = collections::get(&m.ctx, &ns, to).await.unwrap();
    assert_eq!(made.document_count, 230);
    assert_eq!(m.vectors.len(to), 230);
    let done = crate::app::tasks::get(&m.ctx, &ns.org_id, &task.task_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.status, crate::domain::status::TaskStatus::Completed);
    assert_eq!(done.outputs[0]["document_count"], 230);
    // A copy is a document of the clone, with the original's fields and vector.
    let list = documents::list_for_collection(&m.ctx, &made, &ListRequest::default(), None)
        .await
        .unwrap();
    let first = &list.results[0];
    assert_eq!(first["collection_id"], json!(to));
    let copy_id = first["document_id"].as_str().unwrap();
    let same_title = ListRequest {
        filters: Some(json!({"title": first["title"]})),
        ..ListRequest::default()
    };
    let original = documents::list_for_collection(&m.ctx, &col, &same_title, None)
        .await
        .unwrap()
        .results
        .remove(0);
    let pair = [
        original["document_id"].as_str().unwrap().to_string(),
        copy_id.to_string(),
    ];
    let a = m
        .ctx
        .vectors
        .get(&col.collection_id, &pair[..1])
        .await
        .unwrap();
    let b = m.ctx.vectors.get(to, &pair[1..]).await.unwrap();
    assert_eq!(a[0].vector, b[0].vector);
    // The source is untouched.
    assert_eq!(collection(&m, &ns).await.document_count, 230);
}

/// An object soft-deleted with `retention`, its documents given vectors first (as an
/// embedding extractor would): the namespace, bucket, collection and the object ids.
async fn retired(
    m: &Memory,
) -> (
    Namespace,
    crate::domain::entities::Bucket,
    Collection,
    Vec<String>,
) {
    let (ns, bucket) = space(m).await;
    let ids = super::text_objects(m, &bucket, 2).await;
    let (draft, _) = batches::create(&m.ctx, &ns, &bucket, parse(json!({"object_ids": ids})))
        .await
        .unwrap();
    batches::submit(&m.ctx, &ns, &bucket, &draft.batch_id, None)
        .await
        .unwrap();
    assert!(m.run_queues().await.is_empty());
    let col = collection(m, &ns).await;
    let docs = documents::list_for_collection(&m.ctx, &col, &ListRequest::default(), None)
        .await
        .unwrap()
        .results;
    let records = docs
        .iter()
        .map(|d| crate::ports::VectorRecord {
            key: d["document_id"].as_str().unwrap().into(),
            vector: if d["source_object_id"] == json!(ids[0]) {
                vec![1.0, 0.0, 0.0]
            } else {
                vec![0.0, 1.0, 0.0]
            },
            metadata: Default::default(),
        })
        .collect();
    documents::put_vectors(&m.ctx, &col.collection_id, records)
        .await
        .unwrap();
    let req = parse(json!({"object_ids": [ids[0]], "reason": "takedown"}));
    let done = objects::soft_delete(&m.ctx, &bucket, req).await.unwrap();
    assert_eq!((done.objects, done.documents), (1, 1));
    assert_eq!(m.vectors.len(&col.collection_id), 1);
    assert_eq!(collection(m, &ns).await.document_count, 1);
    assert_eq!(super::reload(m, &ns, &bucket).await.object_count, 1);
    (ns, bucket, col, ids)
}

fn retaining(secs: u64) -> Memory {
    Memory::with_config(crate::config::Config {
        purge_settle: std::time::Duration::ZERO,
        soft_delete_retention: std::time::Duration::from_secs(secs),
        ..Default::default()
    })
}

#[tokio::test]
async fn a_soft_deleted_object_is_restored_with_its_vectors_within_its_window() {
    let m = retaining(3600);
    let (ns, bucket, col, ids) = retired(&m).await;
    let asked = [ids[0].clone(), "obj_none".into(), ids[1].clone()];
    let r = objects::restore(&m.ctx, &bucket, &asked).await.unwrap();
    assert_eq!((r.objects, r.documents), (1, 1));
    let refused: Vec<&str> = r.not_restored.iter().map(|n| n.reason.as_str()).collect();
    assert_eq!(refused, ["no such object", "not soft-deleted"]);
    assert_eq!(m.vectors.len(&col.collection_id), 2);
    assert_eq!(collection(&m, &ns).await.document_count, 2);
    assert_eq!(super::reload(&m, &ns, &bucket).await.object_count, 2);
    objects::get(&m.ctx, &bucket, &ids[0]).await.unwrap();
    let found = m
        .ctx
        .vectors
        .query(&col.collection_id, &[1.0, 0.0, 0.0], 1, None)
        .await
        .unwrap();
    assert_eq!(
        found[0].metadata.get("object_id"),
        Some(&json!(ids[0])),
        "{found:?}"
    );
    // The sweeper leaves a restored object alone.
    crate::jobs::sweep(&m.ctx).await.unwrap();
    objects::get(&m.ctx, &bucket, &ids[0]).await.unwrap();
}

#[tokio::test]
async fn a_soft_deleted_object_is_purged_once_its_window_ends() {
    let m = retaining(0);
    let (ns, bucket, col, ids) = retired(&m).await;
    let r = objects::restore(&m.ctx, &bucket, &ids[..1]).await.unwrap();
    assert_eq!(r.objects, 0);
    assert!(
        r.not_restored[0].reason.contains("restore window ended"),
        "{:?}",
        r.not_restored
    );
    crate::jobs::sweep(&m.ctx).await.unwrap();
    assert!(objects::find(&m.ctx, &bucket.bucket_id, &ids[0])
        .await
        .unwrap()
        .is_none());
    let left = documents::list_for_collection(&m.ctx, &col, &ListRequest::default(), None)
        .await
        .unwrap()
        .results;
    assert_eq!(left.len(), 1);
    // Counts moved once, at the soft delete.
    assert_eq!(collection(&m, &ns).await.document_count, 1);
    assert_eq!(super::reload(&m, &ns, &bucket).await.object_count, 1);
    assert_eq!(m.vectors.len(&col.collection_id), 1);
}

#[tokio::test]
async fn the_figures_an_operator_charts_are_recorded_once_where_they_happen() {
    use crate::ports::Figure;
    let m = Memory::new();
    let (ns, bucket) = space(&m).await;
    let ids = super::text_objects(&m, &bucket, 4).await;
    assert_eq!(m.metrics.sum(Figure::ObjectsRegistered, None), 4.0);
    let (draft, _) = batches::create(&m.ctx, &ns, &bucket, parse(json!({"object_ids": ids})))
        .await
        .unwrap();
    batches::submit(&m.ctx, &ns, &bucket, &draft.batch_id, None)
        .await
        .unwrap();
    // One object goes before its chunk runs; every chunk is delivered twice.
    objects::delete(&m.ctx, &bucket, &ids[3]).await.unwrap();
    m.queue.duplicate(crate::ports::QueueName::Batches);
    assert!(m.run_queues().await.is_empty());
    assert_eq!(m.metrics.sum(Figure::ObjectsProcessed, None), 3.0);
    assert_eq!(m.metrics.sum(Figure::ObjectsFailed, Some("load")), 1.0);
    assert_eq!(m.metrics.count(Figure::BatchDuration), 1);
    assert!(m.metrics.count(Figure::ExtractionTime) >= 3);
    assert!(m.metrics.sum(Figure::ExtractionTime, Some("text")) >= 0.0);
}

#[tokio::test]
async fn a_vector_index_that_fails_is_a_clear_503_not_a_bare_500() {
    let m = Memory::new();
    let (ns, _) = text_space(&m).await;
    let mut ctx = m.ctx.clone();
    ctx.vectors = std::sync::Arc::new(crate::ports::absent::Absent("QueryVectors"));
    let vector: Vec<f32> = (0..384).map(|i| if i == 0 { 1.0 } else { 0.0 }).collect();
    let req = parse(json!({"query": {"input_mode": "vector", "vector": vector}}));
    let failed = crate::app::search::features_search(&ctx, &ns, &req, None).await;
    match failed {
        Err(Error::NotReady(why)) => assert!(why.contains("vector index"), "{why}"),
        other => panic!("{:?}", other.map(|_| ())),
    }
}
