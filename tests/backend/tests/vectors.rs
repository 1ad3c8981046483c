//! The `VectorIndex` contract, on the local index and on the S3 Vectors adapter.
//!
//! moto implements S3 Vectors' bucket, index and vector CRUD but not `QueryVectors`, so
//! the S3 Vectors adapter runs the whole contract against a fake written from the
//! service's documented REST API (below), and its writes are checked on moto as well.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use sluice_backend_aws::S3VectorIndex;
use sluice_backend_local::LocalVectorIndex;
use sluice_core::domain::vector_filter::{dot, matches, normalized};
use sluice_core::ports::{StoreError, VectorIndex, VectorRecord};

fn record(key: &str, v: &[f32], meta: Value) -> VectorRecord {
    VectorRecord {
        key: key.into(),
        vector: v.to_vec(),
        metadata: meta.as_object().cloned().unwrap_or_default(),
    }
}

async fn contract(ix: &dyn VectorIndex) {
    // No index yet: nothing to find, nothing to delete.
    assert!(ix
        .query("col-a", &[1.0, 0.0, 0.0], 5, None)
        .await
        .unwrap()
        .is_empty());
    ix.delete("col-a", &["x".into()]).await.unwrap();
    assert!(matches!(
        ix.put("col-a", vec![record("early", &[1.0, 0.0, 0.0], json!({}))])
            .await,
        Err(StoreError::NotFound)
    ));
    ix.ensure_index("col-a", 3).await.unwrap();
    ix.ensure_index("col-a", 3).await.unwrap();
    assert!(
        ix.ensure_index("col-a", 4).await.is_err(),
        "dimensions are fixed"
    );
    ix.put(
        "col-a",
        vec![
            record(
                "east",
                &[1.0, 0.0, 0.0],
                json!({"object_id": "o1", "metadata.tag": "a", "index": 0}),
            ),
            record(
                "north",
                &[0.0, 2.0, 0.0],
                json!({"object_id": "o2", "metadata.tag": "b", "index": 0}),
            ),
            record(
                "north-east",
                &[1.0, 1.0, 0.0],
                json!({"object_id": "o3", "metadata.tag": ["a", "b"], "index": 1}),
            ),
        ],
    )
    .await
    .unwrap();
    let hits = ix.query("col-a", &[0.9, 0.1, 0.0], 2, None).await.unwrap();
    let keys: Vec<&str> = hits.iter().map(|h| h.key.as_str()).collect();
    assert_eq!(keys, ["east", "north-east"]);
    assert!(hits[0].score > hits[1].score && (hits[0].score - 0.9939).abs() < 1e-3);
    assert_eq!(hits[0].metadata["object_id"], "o1");
    assert_eq!(hits[1].metadata["index"], 1);
    // Records read back by key, in the direction put; absent keys are skipped.
    let mut got = ix
        .get("col-a", &["north".into(), "missing".into(), "east".into()])
        .await
        .unwrap();
    got.sort_by(|a, b| a.key.cmp(&b.key));
    let keys: Vec<&str> = got.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["east", "north"]);
    assert!((dot(&normalized(got[1].vector.clone()), &[0.0, 1.0, 0.0]) - 1.0).abs() < 1e-6);
    assert_eq!(got[1].metadata["metadata.tag"], "b");
    assert!(ix
        .get("col-none", &["east".into()])
        .await
        .unwrap()
        .is_empty());
    // Filters apply before ranking.
    let hits = ix
        .query(
            "col-a",
            &[1.0, 0.0, 0.0],
            5,
            Some(&json!({"metadata.tag": {"$eq": "b"}})),
        )
        .await
        .unwrap();
    let keys: Vec<&str> = hits.iter().map(|h| h.key.as_str()).collect();
    assert_eq!(keys, ["north-east", "north"]);
    // A put replaces by key; a delete removes.
    ix.put(
        "col-a",
        vec![record("east", &[0.0, 0.0, 1.0], json!({"object_id": "o1"}))],
    )
    .await
    .unwrap();
    let top = ix.query("col-a", &[0.0, 0.0, 1.0], 1, None).await.unwrap();
    assert_eq!(
        (top[0].key.as_str(), top[0].metadata.get("metadata.tag")),
        ("east", None)
    );
    ix.delete("col-a", &["east".into(), "missing".into()])
        .await
        .unwrap();
    let keys: Vec<String> = ix
        .query("col-a", &[0.0, 0.0, 1.0], 5, None)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.key)
        .collect();
    assert_eq!(keys.len(), 2);
    assert!(!keys.contains(&"east".to_string()));
    // Indexes are separate, and dropping one leaves nothing behind.
    ix.ensure_index("col-b", 3).await.unwrap();
    assert!(ix
        .query("col-b", &[0.0, 1.0, 0.0], 5, None)
        .await
        .unwrap()
        .is_empty());
    ix.drop_index("col-a").await.unwrap();
    assert!(ix
        .query("col-a", &[0.0, 1.0, 0.0], 5, None)
        .await
        .unwrap()
        .is_empty());
    ix.drop_index("col-a").await.unwrap();
}

/// The in-memory index the use-case tests run on keeps the same contract.
#[tokio::test]
async fn memory_index_keeps_the_contract() {
    contract(&sluice_core::testing::MemoryVectors::default()).await;
}

#[tokio::test]
async fn local_index_keeps_the_contract_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vectors.db");
    contract(&LocalVectorIndex::open(&path).unwrap()).await;
    {
        let ix = LocalVectorIndex::open(&path).unwrap();
        ix.ensure_index("kept", 2).await.unwrap();
        ix.put("kept", vec![record("k", &[3.0, 4.0], json!({}))])
            .await
            .unwrap();
    }
    let reopened = LocalVectorIndex::open(&path).unwrap();
    let hits = reopened.query("kept", &[3.0, 4.0], 1, None).await.unwrap();
    assert_eq!(hits[0].key, "k");
    assert!((hits[0].score - 1.0).abs() < 1e-5);
    assert!(matches!(
        reopened
            .put("kept", vec![record("bad", &[1.0], json!({}))])
            .await,
        Err(StoreError::Backend(_))
    ));
}

/// Two handles on one file stand for two processes (`sluice-local` and `sluice-admin`):
/// what one writes, the other's copy in memory picks up.
#[tokio::test]
async fn local_index_sees_another_process_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vectors.db");
    let server = LocalVectorIndex::open_rechecking(&path, std::time::Duration::ZERO).unwrap();
    let admin = LocalVectorIndex::open(&path).unwrap();
    server.ensure_index("shared", 2).await.unwrap();
    server
        .put("shared", vec![record("a", &[1.0, 0.0], json!({}))])
        .await
        .unwrap();
    assert_eq!(
        server
            .query("shared", &[0.0, 1.0], 5, None)
            .await
            .unwrap()
            .len(),
        1
    );
    admin
        .put("shared", vec![record("b", &[0.0, 1.0], json!({}))])
        .await
        .unwrap();
    let hits = server.query("shared", &[0.0, 1.0], 5, None).await.unwrap();
    assert_eq!(hits[0].key, "b");
    admin.delete("shared", &["a".into()]).await.unwrap();
    assert_eq!(
        server
            .query("shared", &[1.0, 0.0], 5, None)
            .await
            .unwrap()
            .len(),
        1
    );
    admin.drop_index("shared").await.unwrap();
    assert!(server
        .query("shared", &[1.0, 0.0], 5, None)
        .await
        .unwrap()
        .is_empty());
}

// ---- A fake of S3 Vectors' documented REST API (restJson1: POST /<Operation>). ----

#[derive(Default)]
struct FakeIndex {
    dimension: usize,
    vectors: HashMap<String, (Vec<f32>, Map<String, Value>)>,
}

type Fake = Arc<Mutex<HashMap<String, FakeIndex>>>;

fn error(status: StatusCode, code: &str) -> Response {
    (
        status,
        [("x-amzn-errortype", code)],
        Json(json!({"message": code})),
    )
        .into_response()
}

fn float32(v: &Value) -> Vec<f32> {
    v["float32"]
        .as_array()
        .map(|a| a.iter().map(|x| x.as_f64().unwrap_or(0.0) as f32).collect())
        .unwrap_or_default()
}

/// What the documented API refuses, checked here so the adapter cannot rely on a
/// lenient stand-in: SigV4 for the s3vectors service, the one vector bucket, at most 50
/// metadata keys and 2 KB of (filterable) metadata per vector, and topK 1-100.
const VECTOR_BUCKET: &str = "vectors";
const MAX_METADATA_KEYS: usize = 50;
const MAX_FILTERABLE_METADATA_BYTES: usize = 2048;

async fn operation(
    State(fake): State<Fake>,
    Path(op): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let signed = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| {
            a.starts_with("AWS4-HMAC-SHA256 ") && a.contains("/s3vectors/aws4_request")
        });
    if !signed {
        return error(StatusCode::FORBIDDEN, "AccessDeniedException");
    }
    let name = body["indexName"].as_str().unwrap_or_default().to_string();
    let bucket = body["vectorBucketName"].as_str().unwrap_or_default();
    if bucket != VECTOR_BUCKET {
        return error(StatusCode::NOT_FOUND, "NotFoundException");
    }
    let mut all = fake.lock().unwrap();
    let index_json = |name: &str, dim: usize| {
        json!({"vectorBucketName": bucket, "indexName": name, "indexArn": format!("arn:aws:s3vectors:us-east-1:000000000000:bucket/{bucket}/index/{name}"),
               "creationTime": 1_700_000_000, "dataType": "float32", "dimension": dim, "distanceMetric": "cosine"})
    };
    match op.as_str() {
        "CreateIndex" => {
            if all.contains_key(&name) {
                return error(StatusCode::CONFLICT, "ConflictException");
            }
            assert_eq!(body["dataType"], "float32");
            assert_eq!(body["distanceMetric"], "cosine");
            all.insert(
                name.clone(),
                FakeIndex {
                    dimension: body["dimension"].as_u64().unwrap() as usize,
                    ..Default::default()
                },
            );
            Json(json!({"indexArn": index_json(&name, 0)["indexArn"]})).into_response()
        }
        "GetIndex" => match all.get(&name) {
            Some(ix) => Json(json!({"index": index_json(&name, ix.dimension)})).into_response(),
            None => error(StatusCode::NOT_FOUND, "NotFoundException"),
        },
        "DeleteIndex" => {
            all.remove(&name);
            Json(json!({})).into_response()
        }
        "PutVectors" => {
            let Some(ix) = all.get_mut(&name) else {
                return error(StatusCode::NOT_FOUND, "NotFoundException");
            };
            let vectors = body["vectors"].as_array().unwrap();
            assert!(vectors.len() <= 500, "PutVectors takes at most 500 vectors");
            for v in vectors {
                let data = float32(&v["data"]);
                if data.len() != ix.dimension {
                    return error(StatusCode::BAD_REQUEST, "ValidationException");
                }
                let meta = v["metadata"].as_object().cloned().unwrap_or_default();
                if meta.len() > MAX_METADATA_KEYS
                    || Value::Object(meta.clone()).to_string().len() > MAX_FILTERABLE_METADATA_BYTES
                {
                    return error(StatusCode::BAD_REQUEST, "ValidationException");
                }
                ix.vectors
                    .insert(v["key"].as_str().unwrap().to_string(), (data, meta));
            }
            Json(json!({})).into_response()
        }
        "DeleteVectors" => {
            let Some(ix) = all.get_mut(&name) else {
                return error(StatusCode::NOT_FOUND, "NotFoundException");
            };
            for k in body["keys"].as_array().unwrap() {
                ix.vectors.remove(k.as_str().unwrap());
            }
            Json(json!({})).into_response()
        }
        "GetVectors" => {
            let Some(ix) = all.get(&name) else {
                return error(StatusCode::NOT_FOUND, "NotFoundException");
            };
            let keys = body["keys"].as_array().unwrap();
            if keys.is_empty() || keys.len() > 100 {
                return error(StatusCode::BAD_REQUEST, "ValidationException");
            }
            let vectors: Vec<Value> = keys
                .iter()
                .filter_map(|k| ix.vectors.get_key_value(k.as_str().unwrap()))
                .map(|(k, (v, m))| {
                    let mut out = json!({"key": k});
                    if body["returnData"] == true {
                        out["data"] = json!({"float32": v});
                    }
                    if body["returnMetadata"] == true {
                        out["metadata"] = Value::Object(m.clone());
                    }
                    out
                })
                .collect();
            Json(json!({"vectors": vectors})).into_response()
        }
        "QueryVectors" => {
            let Some(ix) = all.get(&name) else {
                return error(StatusCode::NOT_FOUND, "NotFoundException");
            };
            let q = normalized(float32(&body["queryVector"]));
            let top_k = body["topK"].as_u64().unwrap_or(0) as usize;
            if !(1..=100).contains(&top_k) {
                return error(StatusCode::BAD_REQUEST, "ValidationException");
            }
            let mut scored: Vec<(f32, &String, &Map<String, Value>)> = ix
                .vectors
                .iter()
                .filter(|(_, (_, m))| {
                    body.get("filter")
                        .is_none_or(|f| f.is_null() || matches(f, m))
                })
                .map(|(k, (v, m))| (dot(&q, &normalized(v.clone())), k, m))
                .collect();
            scored.sort_by(|a, b| b.0.total_cmp(&a.0));
            let vectors: Vec<Value> = scored
                .into_iter()
                .take(top_k)
                .map(|(s, k, m)| {
                    let mut out = json!({"key": k, "distance": 1.0 - s});
                    if body["returnMetadata"] == true {
                        out["metadata"] = Value::Object(m.clone());
                    }
                    out
                })
                .collect();
            Json(json!({"vectors": vectors, "distanceMetric": "cosine"})).into_response()
        }
        _ => error(StatusCode::BAD_REQUEST, "ValidationException"),
    }
}

fn client(endpoint: &str) -> aws_sdk_s3vectors::Client {
    let config = aws_sdk_s3vectors::Config::builder()
        .behavior_version_latest()
        .endpoint_url(endpoint)
        .region(aws_sdk_s3vectors::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3vectors::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .build();
    aws_sdk_s3vectors::Client::from_conf(config)
}

#[tokio::test]
async fn s3_vectors_adapter_keeps_the_contract_against_the_documented_api() {
    let fake: Fake = Default::default();
    let app = Router::new()
        .route("/{op}", post(operation))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let ix = S3VectorIndex::new(client(&url), "vectors".into());
    contract(&ix).await;
    // Index names are mapped to what S3 Vectors allows.
    ix.ensure_index("col_01ABC", 3).await.unwrap();
    assert!(fake.lock().unwrap().contains_key("col-01abc"));

    // A document of an object with 60 small metadata fields still fits the documented
    // limits: its vector carries at most 50 metadata keys.
    let metadata: Map<String, Value> = (0..60).map(|i| (format!("k{i:02}"), json!(i))).collect();
    let mut doc: sluice_core::app::documents::Document = serde_json::from_value(json!({
        "document_id": "doc_many", "collection_id": "col_01ABC", "namespace_id": "ns_1",
        "bucket_id": "bkt_1", "object_id": "obj_1", "batch_id": "btch_1", "index": 0,
        "feature_extractor": {"feature_extractor_name": "text_extractor", "version": "v1"},
        "fields": {"metadata": metadata}, "created_at": "2026-01-01T00:00:00Z",
    }))
    .unwrap();
    doc.embedding = Some(vec![0.1, 0.2, 0.3]);
    let record = doc.vector_record().unwrap();
    assert!(record.metadata.len() <= 50, "{}", record.metadata.len());
    ix.put("col_01ABC", vec![record]).await.unwrap();
}

#[tokio::test]
async fn s3_vectors_writes_on_moto() {
    let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL") else {
        assert!(
            std::env::var("SLUICE_REQUIRE_MOTO").is_err(),
            "SLUICE_REQUIRE_MOTO is set but AWS_ENDPOINT_URL is not"
        );
        return;
    };
    let c = client(&endpoint);
    let bucket = format!("vec-{}", std::process::id());
    c.create_vector_bucket()
        .vector_bucket_name(&bucket)
        .send()
        .await
        .unwrap();
    let ix = S3VectorIndex::new(c.clone(), bucket.clone());
    ix.ensure_index("col_A", 3).await.unwrap();
    ix.ensure_index("col_A", 3).await.unwrap();
    ix.put(
        "col_A",
        vec![
            record(
                "d1",
                &[1.0, 0.0, 0.0],
                json!({"object_id": "o1", "index": 0}),
            ),
            record(
                "d2",
                &[0.0, 1.0, 0.0],
                json!({"object_id": "o2", "index": 1}),
            ),
        ],
    )
    .await
    .unwrap();
    ix.delete("col_A", &["d1".into()]).await.unwrap();
    let got = ix.get("col_A", &["d1".into(), "d2".into()]).await.unwrap();
    let keys: Vec<&str> = got.iter().map(|v| v.key.as_str()).collect();
    assert_eq!(keys, ["d2"]);
    assert_eq!(got[0].vector, [0.0, 1.0, 0.0]);
    assert_eq!(got[0].metadata["index"], 1);
    ix.drop_index("col_A").await.unwrap();
    ix.drop_index("col_A").await.unwrap();
}
