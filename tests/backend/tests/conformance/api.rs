//! The API flow: every route through the router, with only the ports each is granted.

use super::*;

async fn api_flow(ctx: AppContext) {
    let c = Client::new(ctx.clone()).await;
    let (s, ns) = c
        .call("POST", "/v1/namespaces", None, Some(json!({"namespace_name": "conf", "feature_extractors": [{"feature_extractor_name": "text_extractor", "version": "v1"}]})))
        .await;
    assert_eq!(s, 200, "{ns}");
    let ns_id = ns["namespace_id"].as_str().unwrap().to_string();
    let (s, b) = c
        .call(
            "POST",
            "/v1/buckets",
            Some("conf"),
            Some(json!({"bucket_name": "docs", "bucket_schema": {"properties": {"body": {"type": "text", "required": true}, "n": {"type": "integer"}}},
                        "unique_key": {"fields": ["n"]}})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let bkt = b["bucket_id"].as_str().unwrap().to_string();
    let objects: Vec<Value> = (0..30).map(|i| json!({"blobs": [{"property": "body", "type": "text", "content": format!("doc {i}")}], "metadata": {"n": i}})).collect();
    let mut with_bad = objects.clone();
    with_bad.push(json!({"blobs": [{"property": "body", "type": "image", "url": "https://x/y.png"}], "metadata": {"n": 99}}));
    with_bad.push(json!({"blobs": [{"property": "body", "type": "text", "content": "dup"}], "metadata": {"n": 0}}));
    let (s, r) = c
        .call(
            "POST",
            &format!("/v1/buckets/{bkt}/objects/batch"),
            Some(&ns_id),
            Some(json!({"objects": with_bad})),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["succeeded_count"], json!(30), "{r}");
    assert_eq!(r["failed_count"], json!(2));
    assert_eq!(r["failed"][0]["object_index"], json!(30));
    assert_eq!(r["failed"][1]["error_type"], json!("ConflictError"));
    // Paged listing sees each object once.
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let body = json!({"limit": 7, "cursor": cursor});
        let (s, page) = c
            .call(
                "POST",
                &format!("/v1/buckets/{bkt}/objects/list"),
                Some(&ns_id),
                Some(body),
            )
            .await;
        assert_eq!(s, 200, "{page}");
        ids.extend(
            page["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["object_id"].as_str().unwrap().to_string()),
        );
        cursor = page["pagination"]["next_cursor"]
            .as_str()
            .map(str::to_string);
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(ids.len(), 30);
    let (_, bucket) = c
        .call("GET", &format!("/v1/buckets/{bkt}"), Some(&ns_id), None)
        .await;
    assert_eq!(bucket["object_count"], json!(30));
    // Delete the bucket: hidden at once, purged in the background, name reusable.
    let (s, del) = c
        .call("DELETE", &format!("/v1/buckets/{bkt}"), Some(&ns_id), None)
        .await;
    assert_eq!(s, 200, "{del}");
    let task_id = del["task_id"].as_str().unwrap().to_string();
    let (s, _) = c
        .call("GET", &format!("/v1/buckets/{bkt}"), Some(&ns_id), None)
        .await;
    assert_eq!(s, 404);
    work_until(&ctx, async || {
        c.call("GET", &format!("/v1/tasks/{task_id}"), None, None)
            .await
            .1["status"]
            == json!("COMPLETED")
    })
    .await;
    let left = ctx
        .table
        .query(&Query::partition(format!("BKT#{bkt}")))
        .await
        .unwrap();
    assert!(left.items.is_empty(), "items left: {:?}", left.items);
    assert!(ctx
        .blobs
        .list(&format!("{ns_id}/{bkt}/"), None, 10)
        .await
        .unwrap()
        .0
        .is_empty());
    assert!(ctx
        .table
        .get(&Key::new(format!("NS#{ns_id}"), format!("BKT#{bkt}")))
        .await
        .unwrap()
        .is_none());
    let (s, _) = c
        .call("POST", "/v1/buckets", Some(&ns_id), Some(json!({"bucket_name": "docs", "bucket_schema": {"properties": {"t": {"type": "text"}}}})))
        .await;
    assert_eq!(s, 200);
}

conformance!(api_flow_on, api_flow);
