//! A sync end to end over the routes.

use super::*;

/// A sync over in-memory storage, through the routes and the workers: the manifest's
/// key-range queries, the index of due syncs, sealed credentials (KMS on moto) and the
/// page-once saves on each backend.
async fn sync_flow(ctx: AppContext) {
    let storage = std::sync::Arc::new(sluice_core::testing::MemoryStorage::default());
    let sealer = ctx.sealer.clone();
    let ctx = ctx.with_connectors(
        std::sync::Arc::new(sluice_core::testing::MemoryConnectors(storage.clone())),
        sealer,
    );
    for i in 0..30 {
        storage.put("src", &format!("in/{i:02}.txt"), format!("file {i}"));
    }
    let c = Client::new(ctx.clone()).await;
    let (s, ns) = c
        .call(
            "POST",
            "/v1/namespaces",
            None,
            Some(json!({"namespace_name": "syncs"})),
        )
        .await;
    assert_eq!(s, 200, "{ns}");
    let ns_id = ns["namespace_id"].as_str().unwrap().to_string();
    let (s, b) = c
        .call("POST", "/v1/buckets", Some(&ns_id), Some(json!({"bucket_name": "docs", "bucket_schema": {"properties": {"body": {"type": "text"}}}})))
        .await;
    assert_eq!(s, 200, "{b}");
    let bkt = b["bucket_id"].as_str().unwrap().to_string();
    let (s, conn) = c
        .call("POST", "/v1/organizations/connections", None, Some(json!({
            "name": "memory", "provider_type": "s3",
            "provider_config": {"credentials": {"type": "access_key", "access_key_id": "AKIACONF", "secret_access_key": "conformance-secret"}},
        })))
        .await;
    assert_eq!(s, 200, "{conn}");
    assert!(!conn.to_string().contains("conformance-secret"));
    // Testing it records the use on the connection: the route writes the table.
    let test_path = format!(
        "/v1/organizations/connections/{}/test",
        conn["connection_id"].as_str().unwrap()
    );
    let (s, tested) = c.call("POST", &test_path, None, None).await;
    assert_eq!(s, 200, "{tested}");
    let (s, sync) = c
        .call("POST", &format!("/v1/buckets/{bkt}/syncs"), Some(&ns_id), Some(json!({
            "connection_id": conn["connection_id"], "source_path": "src/in/", "skip_batch_submission": true,
        })))
        .await;
    assert_eq!(s, 200, "{sync}");
    let sid = sync["sync_config_id"].as_str().unwrap().to_string();
    // Due at once: the scheduled poller starts it (through the index of due syncs).
    assert_eq!(
        sluice_core::app::syncs::engine::poll(&ctx).await.unwrap(),
        1
    );
    let job_path = |job: &str| format!("/v1/buckets/{bkt}/syncs/{sid}/jobs/{job}");
    let finished = |job: String| {
        let c = &c;
        let ns_id = ns_id.clone();
        let path = job_path(&job);
        async move {
            let (_, j) = c.call("GET", &path, Some(&ns_id), None).await;
            (j["status"] != "running").then_some(j)
        }
    };
    let (_, jobs) = c
        .call(
            "POST",
            &format!("/v1/buckets/{bkt}/syncs/{sid}/jobs"),
            Some(&ns_id),
            Some(json!({})),
        )
        .await;
    let first_id = jobs["results"][0]["sync_job_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut first = None;
    work_until(&ctx, async || {
        first = finished(first_id.clone()).await;
        first.is_some()
    })
    .await;
    let first = first.unwrap();
    assert_eq!(
        (first["status"].as_str(), first["counts"]["new"].as_i64()),
        (Some("completed"), Some(30)),
        "{first}"
    );

    storage.put("src", "in/03.txt", "changed");
    storage.remove("src", "in/29.txt");
    storage.put("src", "in/30.txt", "new");
    let (s, t) = c
        .call(
            "POST",
            &format!("/v1/buckets/{bkt}/syncs/{sid}/trigger"),
            Some(&ns_id),
            None,
        )
        .await;
    assert_eq!(s, 200, "{t}");
    let second_id = t["sync_job_id"].as_str().unwrap().to_string();
    let mut second = None;
    work_until(&ctx, async || {
        second = finished(second_id.clone()).await;
        second.is_some()
    })
    .await;
    let counts = &second.unwrap()["counts"];
    assert_eq!(
        (
            counts["new"].as_i64(),
            counts["modified"].as_i64(),
            counts["deleted"].as_i64(),
            counts["unchanged"].as_i64()
        ),
        (Some(1), Some(1), Some(1), Some(28)),
        "{counts}"
    );
    let (_, bucket) = c
        .call("GET", &format!("/v1/buckets/{bkt}"), Some(&ns_id), None)
        .await;
    assert_eq!(bucket["object_count"], 30);
}

conformance!(sync_flow_on, sync_flow);
