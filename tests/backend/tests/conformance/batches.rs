//! Batches end to end: redelivered chunks, events, stalls.

use super::*;

/// Delivers every message twice, as SQS may.
struct TwiceQueue(std::sync::Arc<dyn Queue>);

#[async_trait::async_trait]
impl Queue for TwiceQueue {
    async fn send(
        &self,
        queue: QueueName,
        bodies: Vec<String>,
        delay: Duration,
    ) -> StoreResult<()> {
        let doubled = bodies.iter().flat_map(|b| [b.clone(), b.clone()]).collect();
        self.0.send(queue, doubled, delay).await
    }
    async fn receive(
        &self,
        queue: QueueName,
        max: usize,
        visibility: Duration,
    ) -> StoreResult<Vec<Received>> {
        self.0.receive(queue, max, visibility).await
    }
    async fn ack(&self, queue: QueueName, receipt: &str) -> StoreResult<()> {
        self.0.ack(queue, receipt).await
    }
}

/// Records every event published (and passes it on).
struct RecordingBus(
    std::sync::Arc<dyn sluice_core::ports::EventBus>,
    std::sync::Mutex<Vec<sluice_core::ports::Event>>,
);

#[async_trait::async_trait]
impl sluice_core::ports::EventBus for RecordingBus {
    async fn publish(&self, events: Vec<sluice_core::ports::Event>) -> StoreResult<()> {
        self.1.lock().unwrap().extend(events.iter().cloned());
        self.0.publish(events).await
    }
}

async fn batch_flow(ctx: AppContext) {
    let bus = std::sync::Arc::new(RecordingBus(ctx.events.clone(), Default::default()));
    let ctx = AppContext {
        queue: std::sync::Arc::new(TwiceQueue(ctx.queue.clone())),
        events: bus.clone(),
        ..ctx
    };
    let c = Client::new(ctx.clone()).await;
    let (s, ns) = c
        .call("POST", "/v1/namespaces", None, Some(json!({"namespace_name": "batches", "feature_extractors": [{"feature_extractor_name": "passthrough_extractor", "version": "v1"}]})))
        .await;
    assert_eq!(s, 200, "{ns}");
    let ns_id = ns["namespace_id"].as_str().unwrap().to_string();
    let (s, b) = c
        .call("POST", "/v1/buckets", Some(&ns_id), Some(json!({"bucket_name": "docs", "bucket_schema": {"properties": {"body": {"type": "text"}, "n": {"type": "integer"}}}})))
        .await;
    assert_eq!(s, 200, "{b}");
    let bkt = b["bucket_id"].as_str().unwrap().to_string();
    // The bus carries only the events of orgs with a webhook: a paused one, so the
    // events are published and none is delivered.
    let (s, wh) = c
        .call("POST", "/v1/organizations/webhooks", None, Some(json!({"webhook_name": "listener", "event_types": ["batch.completed"], "is_active": false, "channels": [{"channel": "webhook", "configs": {"url": "https://example.com/hook"}}]})))
        .await;
    assert_eq!(s, 200, "{wh}");
    let mut objects: Vec<Value> = (0..30)
        .map(|i| json!({"blobs": [{"property": "body", "type": "text", "content": format!("text {i}")}], "metadata": {"n": i}}))
        .collect();
    // The SSRF guard refuses loopback: this one fails in the blob stage.
    objects.push(json!({"blobs": [{"property": "body", "type": "text", "url": "http://127.0.0.1:9/secret"}]}));
    let (s, r) = c
        .call(
            "POST",
            &format!("/v1/buckets/{bkt}/objects/batch"),
            Some(&ns_id),
            Some(json!({"objects": objects})),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let ids: Vec<String> = r["succeeded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["object_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 31, "{r}");

    // Objects of another bucket are refused by name.
    let (s, e) = c
        .call(
            "POST",
            &format!("/v1/buckets/{bkt}/batches"),
            Some(&ns_id),
            Some(json!({"object_ids": [ids[0], "obj_nope"]})),
        )
        .await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(
        e["error"]["details"]["missing_object_ids"],
        json!(["obj_nope"])
    );

    let (s, batch) = c
        .call(
            "POST",
            &format!("/v1/buckets/{bkt}/batches"),
            Some(&ns_id),
            Some(json!({"object_ids": ids, "batch_name": "all"})),
        )
        .await;
    assert_eq!(s, 200, "{batch}");
    assert_eq!(batch["status"], json!("DRAFT"));
    let id = batch["batch_id"].as_str().unwrap().to_string();
    let (s, task) = c
        .call(
            "POST",
            &format!("/v1/buckets/{bkt}/batches/{id}/submit"),
            Some(&ns_id),
            None,
        )
        .await;
    assert_eq!(s, 200, "{task}");
    // Illegal moves are 409s.
    for (method, suffix) in [("POST", "/submit"), ("DELETE", ""), ("POST", "/retry")] {
        let (s, e) = c
            .call(
                method,
                &format!("/v1/buckets/{bkt}/batches/{id}{suffix}"),
                Some(&ns_id),
                None,
            )
            .await;
        assert_eq!(s, 409, "{method} {suffix}: {e}");
    }
    let (s, _) = c
        .call(
            "POST",
            &format!("/v1/buckets/{bkt}/batches/{id}/objects"),
            Some(&ns_id),
            Some(json!({"object_ids": [ids[0]]})),
        )
        .await;
    assert_eq!(s, 409);

    let batch_path = format!("/v1/buckets/{bkt}/batches/{id}");
    let get = || c.call("GET", &batch_path, Some(&ns_id), None);
    work_until(&ctx, async || {
        let (_, b) = get().await;
        b["status"] == json!("COMPLETED_WITH_ERRORS") && b["progress"]["total"] == json!(31)
    })
    .await;
    let (_, done) = get().await;
    assert_eq!(done["progress"]["processed"], json!(30), "{done}");
    assert_eq!(done["progress"]["objects_failed"], json!(1));
    assert_eq!(done["documents_written"], json!(30));
    assert_eq!(done["failed_objects"][0]["object_id"], json!(ids[30]));
    assert_eq!(done["failed_objects"][0]["stage"], json!("blob"));
    assert!(
        done["failed_objects"][0]["error"]
            .as_str()
            .unwrap()
            .contains("refused"),
        "{done}"
    );
    let (_, t) = c
        .call(
            "GET",
            &format!("/v1/tasks/{}", task["task_id"].as_str().unwrap()),
            None,
            None,
        )
        .await;
    assert_eq!(t["status"], json!("COMPLETED_WITH_ERRORS"));

    // Every chunk arrived twice: still one document per object, one event.
    let col = done["collection_ids"][0].as_str().unwrap().to_string();
    let (s, docs) = c
        .call(
            "POST",
            &format!("/v1/collections/{col}/documents/list"),
            Some(&ns_id),
            Some(json!({"limit": 100})),
        )
        .await;
    assert_eq!(s, 200, "{docs}");
    let docs = docs["results"].as_array().unwrap();
    assert_eq!(docs.len(), 30);
    let distinct: std::collections::HashSet<&str> = docs
        .iter()
        .map(|d| d["source_object_id"].as_str().unwrap())
        .collect();
    assert_eq!(distinct.len(), 30);
    assert!(docs.iter().any(|d| d["text"] == json!("text 7")));
    let (_, od) = c
        .call(
            "GET",
            &format!("/v1/buckets/{bkt}/objects/{}/documents", ids[3]),
            Some(&ns_id),
            None,
        )
        .await;
    assert_eq!(od["results"][0]["metadata"], json!({"n": 3}));
    let batch_events = |bus: &RecordingBus| {
        bus.1
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.event_type.resource() == "batch")
            .count()
    };
    assert_eq!(batch_events(&bus), 1);

    // Retry runs only the failed object; it fails again, counts stay exact.
    let (s, r) = c
        .call(
            "POST",
            &format!("/v1/buckets/{bkt}/batches/{id}/retry"),
            Some(&ns_id),
            None,
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["retried_object_count"], json!(1));
    work_until(&ctx, async || {
        let (_, b) = get().await;
        b["status"] == json!("COMPLETED_WITH_ERRORS") && b["retry_count"] == json!(1)
    })
    .await;
    let (_, again) = get().await;
    assert_eq!(again["progress"]["processed"], json!(30));
    assert_eq!(again["progress"]["objects_failed"], json!(1));
    assert_eq!(batch_events(&bus), 2);
    let (_, results) = c
        .call(
            "GET",
            &format!("/v1/buckets/{bkt}/batches/{id}/objects?limit=100"),
            Some(&ns_id),
            None,
        )
        .await;
    assert_eq!(results["results"].as_array().unwrap().len(), 31);

    // Cancel: only before the end.
    let (s, _) = c
        .call(
            "POST",
            &format!("/v1/buckets/{bkt}/batches/{id}/cancel"),
            Some(&ns_id),
            None,
        )
        .await;
    assert_eq!(s, 409);
}

/// A batch whose work never arrives is failed by the sweep, with a reason.
async fn stalled_batch(ctx: AppContext) {
    let ctx = AppContext {
        config: Config {
            batch_stall: Duration::from_secs(1),
            ..ctx.config.clone()
        },
        ..ctx
    };
    let c = Client::new(ctx.clone()).await;
    let (_, ns) = c
        .call("POST", "/v1/namespaces", None, Some(json!({"namespace_name": "stall", "feature_extractors": [{"feature_extractor_name": "passthrough_extractor", "version": "v1"}]})))
        .await;
    let ns_id = ns["namespace_id"].as_str().unwrap().to_string();
    let (_, b) = c
        .call("POST", "/v1/buckets", Some(&ns_id), Some(json!({"bucket_name": "b", "bucket_schema": {"properties": {"body": {"type": "text"}}}})))
        .await;
    let bkt = b["bucket_id"].as_str().unwrap().to_string();
    let (_, o) = c
        .call(
            "POST",
            &format!("/v1/buckets/{bkt}/objects"),
            Some(&ns_id),
            Some(json!({"blobs": [{"property": "body", "type": "text", "content": "x"}]})),
        )
        .await;
    let (s, batch) = c
        .call(
            "POST",
            &format!("/v1/buckets/{bkt}/batches"),
            Some(&ns_id),
            Some(json!({"object_ids": [o["object_id"]], "auto_submit": true})),
        )
        .await;
    assert_eq!(s, 200, "{batch}");
    let path = format!(
        "/v1/buckets/{bkt}/batches/{}",
        batch["batch_id"].as_str().unwrap()
    );
    // Its chunk is lost (nobody works the queue); past the stall time it is reported...
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (_, b) = c.call("GET", &path, Some(&ns_id), None).await;
    assert_eq!(b["status"], json!("QUEUED"));
    assert_eq!(b["health"], json!("STALLED"), "{b}");
    // ...and the sweep fails it, saying why.
    sluice_core::jobs::sweep(&ctx).await.unwrap();
    let (_, b) = c.call("GET", &path, Some(&ns_id), None).await;
    assert_eq!(b["status"], json!("FAILED"), "{b}");
    assert!(
        b["failure_reason"]
            .as_str()
            .unwrap()
            .contains("no progress"),
        "{b}"
    );
}

conformance!(batch_flow_on, batch_flow);
conformance!(stalled_batch_on, stalled_batch);
