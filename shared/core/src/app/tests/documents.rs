use serde_json::{json, Value};

use super::{parse, space};
use crate::app::documents::{self, Writer};
use crate::app::objects::{self, Policy};
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
    let requests = (0..3)
        .map(|i| Ok(parse(json!({"blobs": [{"property": "body", "type": "text", "content": format!("d{i}")}]}))))
        .collect();
    let ids: Vec<String> = objects::create_many(&m.ctx, &bucket, requests, Policy::Insert, None)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.unwrap().0.object_id)
        .collect();
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
