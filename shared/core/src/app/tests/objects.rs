use serde_json::json;

use super::{parse, reload, space, space_with};
use crate::app::objects::{self, Policy};
use crate::error::Error;
use crate::testing::Memory;

fn text(body: &str, n: i64) -> crate::app::objects::CreateObject {
    parse(
        json!({"blobs": [{"property": "body", "type": "text", "content": body}], "metadata": {"n": n}}),
    )
}

#[tokio::test]
async fn an_inline_blob_is_stored_before_its_object_is_committed() {
    let m = Memory::new();
    let (ns, bucket) = space(&m).await;
    super::listen(&m, &ns.org_id).await;
    let mut out = objects::create_many(
        &m.ctx,
        &bucket,
        vec![Ok(text("hello", 1))],
        Policy::Insert,
        None,
    )
    .await
    .unwrap();
    let (object, replayed) = out.pop().unwrap().unwrap();
    assert!(replayed.is_none());
    let key = object.blobs[0]
        .storage_key()
        .expect("inline content is stored")
        .to_string();
    assert_eq!(m.blobs.keys(), vec![key.clone()]);
    assert_eq!(&m.ctx.blobs.get(&key).await.unwrap().unwrap()[..], b"hello");
    let bucket = reload(&m, &ns, &bucket).await;
    assert_eq!(bucket.object_count, 1);
    assert_eq!(bucket.total_size_bytes, 5);
    assert!(m.events.types().contains(&"object.created".to_string()));
    let got = objects::get(&m.ctx, &bucket, &object.object_id)
        .await
        .unwrap();
    assert_eq!(got.metadata["n"], 1);
}

#[tokio::test]
async fn a_bad_item_of_a_bulk_create_fails_alone() {
    let m = Memory::new();
    let (ns, bucket) = space(&m).await;
    let bad: crate::app::objects::CreateObject =
        parse(json!({"blobs": [{"property": "nope", "type": "text", "content": "x"}]}));
    let out = objects::create_many(
        &m.ctx,
        &bucket,
        vec![
            Ok(text("a", 1)),
            Ok(bad),
            Err(Error::field("objects[2]", "unparseable")),
            Ok(text("b", 2)),
        ],
        Policy::Insert,
        None,
    )
    .await
    .unwrap();
    let ok: Vec<bool> = out.iter().map(Result::is_ok).collect();
    assert_eq!(ok, [true, false, false, true]);
    assert!(matches!(out[1], Err(Error::Invalid { .. })), "{:?}", out[1]);
    assert_eq!(reload(&m, &ns, &bucket).await.object_count, 2);
}

#[tokio::test]
async fn unique_keys_insert_conflicts_and_upsert_replaces() {
    let m = Memory::new();
    let schema = json!({"properties": {"body": {"type": "text"}, "sku": {"type": "string"}}});
    let (ns, bucket) = space_with(&m, schema, Some(json!({"fields": ["sku"]}))).await;
    let item = |body: &str| -> crate::app::objects::CreateObject {
        parse(
            json!({"blobs": [{"property": "body", "type": "text", "content": body}], "metadata": {"sku": "a-1"}}),
        )
    };
    let first = objects::create_many(&m.ctx, &bucket, vec![Ok(item("one"))], Policy::Insert, None)
        .await
        .unwrap()
        .pop()
        .unwrap()
        .unwrap()
        .0;
    let again = objects::create_many(&m.ctx, &bucket, vec![Ok(item("two"))], Policy::Insert, None)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");
    let upserted = objects::create_many(
        &m.ctx,
        &bucket,
        vec![Ok(item("three"))],
        Policy::Upsert,
        None,
    )
    .await
    .unwrap()
    .pop()
    .unwrap()
    .unwrap()
    .0;
    assert_eq!(
        upserted.object_id, first.object_id,
        "an upsert keeps the object's id"
    );
    let key = upserted.blobs[0].storage_key().unwrap();
    assert_eq!(&m.ctx.blobs.get(key).await.unwrap().unwrap()[..], b"three");
    let bucket = reload(&m, &ns, &bucket).await;
    assert_eq!(bucket.object_count, 1);
    assert_eq!(
        bucket.total_size_bytes, 5,
        "the replaced bytes no longer count"
    );
}

/// Ten upserts of one unique key at once: every one succeeds, one object remains.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_upserts_of_one_key_all_succeed() {
    let m = Memory::new();
    let schema = json!({"properties": {"body": {"type": "text"}, "sku": {"type": "string"}}});
    let (ns, bucket) = space_with(&m, schema, Some(json!({"fields": ["sku"]}))).await;
    let runs = (0..10).map(|i| {
        let (ctx, bucket) = (m.ctx.clone(), bucket.clone());
        tokio::spawn(async move {
            let req = parse(json!({
                "blobs": [{"property": "body", "type": "text", "content": format!("v{i}")}],
                "metadata": {"sku": "a-1"},
            }));
            objects::create_many(&ctx, &bucket, vec![Ok(req)], Policy::Upsert, None)
                .await
                .unwrap()
                .pop()
                .unwrap()
        })
    });
    let results = futures::future::join_all(runs).await;
    let ids: std::collections::BTreeSet<String> = results
        .into_iter()
        .map(|r| {
            r.unwrap()
                .expect("an upsert under contention succeeds")
                .0
                .object_id
        })
        .collect();
    assert_eq!(ids.len(), 1, "one object holds the key: {ids:?}");
    assert_eq!(reload(&m, &ns, &bucket).await.object_count, 1);
}

#[tokio::test]
async fn skip_duplicates_returns_the_existing_object() {
    let m = Memory::new();
    let (ns, bucket) = space(&m).await;
    let dup = || -> crate::app::objects::CreateObject {
        parse(
            json!({"blobs": [{"property": "body", "type": "text", "content": "same"}], "skip_duplicates": true}),
        )
    };
    let a = objects::create_many(&m.ctx, &bucket, vec![Ok(dup())], Policy::Insert, None)
        .await
        .unwrap()
        .pop()
        .unwrap()
        .unwrap();
    let b = objects::create_many(&m.ctx, &bucket, vec![Ok(dup())], Policy::Insert, None)
        .await
        .unwrap()
        .pop()
        .unwrap()
        .unwrap();
    assert_eq!(a.0.object_id, b.0.object_id);
    assert!(b.1.is_some(), "the second is a replay");
    assert_eq!(reload(&m, &ns, &bucket).await.object_count, 1);
}

#[tokio::test]
async fn delete_removes_the_object_its_bytes_and_its_count() {
    let m = Memory::new();
    let (ns, bucket) = space(&m).await;
    super::listen(&m, &ns.org_id).await;
    let (object, _) = objects::create_many(
        &m.ctx,
        &bucket,
        vec![Ok(text("bye", 1))],
        Policy::Insert,
        None,
    )
    .await
    .unwrap()
    .pop()
    .unwrap()
    .unwrap();
    objects::delete(&m.ctx, &bucket, &object.object_id)
        .await
        .unwrap();
    assert!(matches!(
        objects::get(&m.ctx, &bucket, &object.object_id).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        objects::delete(&m.ctx, &bucket, &object.object_id).await,
        Err(Error::NotFound(_))
    ));
    let bucket = reload(&m, &ns, &bucket).await;
    assert_eq!((bucket.object_count, bucket.total_size_bytes), (0, 0));
    assert!(m.blobs.keys().is_empty(), "{:?}", m.blobs.keys());
    assert!(m.events.types().contains(&"object.deleted".to_string()));
}
