//! Documents written through the API, on every backend: each route with only the ports
//! it is granted (a missing grant fails here, not first in AWS).

use super::*;

fn vector(x: f64) -> Value {
    json!({"embedding": (0..384).map(|i| if i == 0 { x } else { 0.01 }).collect::<Vec<f64>>()})
}

async fn documents_flow(ctx: AppContext) {
    let c = Client::new(ctx.clone()).await;
    let (s, ns) = c
        .call("POST", "/v1/namespaces", None, Some(json!({"namespace_name": "docs-conf", "feature_extractors": [{"feature_extractor_name": "text_extractor", "version": "v1"}]})))
        .await;
    assert_eq!(s, 200, "{ns}");
    let ns = ns["namespace_id"].as_str().unwrap().to_string();
    let (s, cols) = c.call("GET", "/v1/collections", Some(&ns), None).await;
    assert_eq!(s, 200, "{cols}");
    let col = cols["results"][0]["collection_id"]
        .as_str()
        .unwrap()
        .to_string();
    let docs = format!("/v1/collections/{col}/documents");

    let mut ids = Vec::new();
    for i in 0..3 {
        let body = json!({"title": format!("t{i}"), "metadata": {"n": i}, "vectors": vector(i as f64 + 1.0)});
        let (s, d) = c.call("POST", &docs, Some(&ns), Some(body)).await;
        assert_eq!(s, 200, "{d}");
        ids.push(d["document_id"].as_str().unwrap().to_string());
    }
    let (s, n) = c
        .call("GET", &format!("{docs}/count"), Some(&ns), None)
        .await;
    assert_eq!((s, n["count"].clone()), (200, json!(3)), "{n}");

    let (s, d) = c
        .call(
            "PATCH",
            &format!("{docs}/{}", ids[0]),
            Some(&ns),
            Some(json!({"metadata": {"n": 10}})),
        )
        .await;
    assert_eq!((s, d["metadata"]["n"].clone()), (200, json!(10)), "{d}");
    let (s, d) = c
        .call(
            "PUT",
            &format!("/v1/documents/{}", ids[0]),
            Some(&ns),
            Some(json!({"title": "new", "vectors": vector(9.0)})),
        )
        .await;
    assert_eq!((s, d["title"].clone()), (200, json!("new")), "{d}");
    assert!(d.get("metadata").is_none(), "{d}");

    let (s, found) = c
        .call(
            "POST",
            "/v1/documents/batch-get",
            Some(&ns),
            Some(json!({"document_ids": [ids[1], "doc_nope"]})),
        )
        .await;
    assert_eq!(s, 200, "{found}");
    assert_eq!(found["not_found"], json!(["doc_nope"]));

    let (s, acl) = c
        .call(
            "PATCH",
            &format!("{docs}/{}/acl", ids[1]),
            Some(&ns),
            Some(json!({"read": ["key_other"]})),
        )
        .await;
    assert_eq!(s, 200, "{acl}");
    let (s, _) = c
        .call("GET", &format!("/v1/documents/{}", ids[1]), Some(&ns), None)
        .await;
    assert_eq!(
        s, 404,
        "a document the key may not read is not there for it"
    );

    let (s, stats) = c
        .call("GET", &format!("/v1/namespaces/{ns}/stats"), None, None)
        .await;
    assert_eq!(
        (s, stats["document_count"].clone()),
        (200, json!(3)),
        "{stats}"
    );
    let (s, ensured) = c
        .call(
            "POST",
            &format!("/v1/namespaces/{ns}/ensure-indexes"),
            None,
            None,
        )
        .await;
    assert_eq!(s, 200, "{ensured}");

    let (s, gone) = c
        .call(
            "DELETE",
            &format!("{docs}/batch"),
            Some(&ns),
            Some(json!({"document_ids": [ids[0], ids[2]]})),
        )
        .await;
    assert_eq!(
        (s, gone["deleted_count"].clone()),
        (200, json!(2)),
        "{gone}"
    );
    let (s, d) = c
        .call("DELETE", &format!("{docs}/{}", ids[1]), Some(&ns), None)
        .await;
    assert_eq!(s, 404, "hidden from this key, so not deleted by it: {d}");
    let (s, n) = c
        .call("GET", &format!("{docs}/count"), Some(&ns), None)
        .await;
    assert_eq!((s, n["count"].clone()), (200, json!(1)), "{n}");
    transfer(&c, &ns, &col).await;
}

/// Import rows with their vectors, then export them in shards through the blob store.
async fn transfer(c: &Client, ns: &str, col: &str) {
    let rows: Vec<Value> = (0..5)
        .map(|i| json!({"title": format!("row {i}"), "v": vector(i as f64 + 2.0)["embedding"]}))
        .collect();
    let mapping = json!({"fields": [
        {"source_field": "title", "target": {"kind": "metadata", "path": "title"}},
        {"source_field": "v", "target": {"kind": "vector", "dim": 384}},
    ]});
    let import = format!("/v1/collections/{col}/import");
    let dry = json!({"mapping": mapping, "rows": rows, "dry_run": true});
    let (s, dry) = c.call("POST", &import, Some(ns), Some(dry)).await;
    assert_eq!(s, 200, "{dry}");
    assert_eq!(
        (dry["reconstructed"].clone(), dry["imported"].clone()),
        (json!(5), json!(0))
    );
    let body = json!({"mapping": mapping, "rows": rows});
    let (s, done) = c.call("POST", &import, Some(ns), Some(body)).await;
    assert_eq!((s, done["imported"].clone()), (200, json!(5)), "{done}");
    let export = format!("/v1/collections/{col}/export");
    let (s, out) = c
        .call(
            "POST",
            &export,
            Some(ns),
            Some(json!({"samples_per_shard": 2})),
        )
        .await;
    // The five imported: the one document this key may not read is not exported to it.
    assert_eq!(s, 200, "{out}");
    assert_eq!(
        (out["shard_count"].clone(), out["document_count"].clone()),
        (json!(3), json!(5))
    );
    let first = out["shards"][0]["s3_path"].as_str().unwrap();
    let bytes = c
        .ctx
        .blobs
        .get(first)
        .await
        .unwrap()
        .expect("the shard is stored");
    let lines = bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count();
    assert_eq!(lines, 2);
    copy(c, ns, col).await;
}

/// A clone with a copy of the documents (the hidden one too: a copy keeps its ACL) and
/// their vectors, made by the tasks worker.
async fn copy(c: &Client, ns: &str, col: &str) {
    let path = format!("/v1/collections/{col}/clone?copy_documents=true");
    let body = json!({"collection_name": "docs-conf-copy"});
    let (s, cloned) = c.call("POST", &path, Some(ns), Some(body)).await;
    assert_eq!(s, 200, "{cloned}");
    let task = cloned["task_id"].as_str().unwrap().to_string();
    let copy = cloned["collection"]["collection_id"]
        .as_str()
        .unwrap()
        .to_string();
    work_until(&c.ctx, async || {
        let (_, t) = c
            .call("GET", &format!("/v1/tasks/{task}"), None, None)
            .await;
        t["status"] == "COMPLETED"
    })
    .await;
    let (s, n) = c
        .call(
            "GET",
            &format!("/v1/collections/{copy}/documents/count"),
            Some(ns),
            None,
        )
        .await;
    assert_eq!((s, n["count"].clone()), (200, json!(6)), "{n}");
    let (s, listed) = c
        .call(
            "POST",
            &format!("/v1/collections/{copy}/documents/list"),
            Some(ns),
            Some(json!({"limit": 100})),
        )
        .await;
    assert_eq!(s, 200, "{listed}");
    let ids: Vec<String> = listed["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["document_id"].as_str().unwrap().to_string())
        .collect();
    // Five listed (the hidden one is not, to this key), each with its vector.
    assert_eq!(ids.len(), 5, "{listed}");
    assert_eq!(c.ctx.vectors.get(&copy, &ids).await.unwrap().len(), 5);
}

conformance!(documents_on, documents_flow);
