//! The Bedrock embedding adapter against a local fake of `InvokeModel`, written from the
//! request and response bodies that the Titan Multimodal Embeddings G1 and Nova
//! Multimodal Embeddings model pages document. The fake checks what a real endpoint
//! would refuse (path, content type, a SigV4 signature, body shape) and answers with
//! vectors derived from the input, so equal inputs give equal vectors.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use base64::Engine as _;
use serde_json::{json, Value};
use sluice_bedrock::BedrockEmbedder;
use sluice_core::domain::embedding::{Backend, NOVA_MULTIMODAL, TITAN_MULTIMODAL};
use sluice_core::ports::{EmbedError, Embedder, Embedders, EmbeddingSpec, Media, MediaKind};

#[derive(Default)]
struct Fake {
    /// `(model id, body)` of every call.
    calls: Mutex<Vec<(String, Value)>>,
    /// Answer every call with this status and error type instead.
    fail_with: Mutex<Option<(StatusCode, &'static str)>>,
    /// Answer with vectors this long instead of the requested length.
    wrong_length: Mutex<Option<usize>>,
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        [
            ("x-amzn-errortype", kind),
            ("content-type", "application/json"),
        ],
        json!({ "message": message }).to_string(),
    )
        .into_response()
}

/// A unit-free vector from a string: the same input always gives the same vector.
fn vector_of(seed: &str, len: usize) -> Vec<f32> {
    let mut state: u64 = 1469598103934665603;
    for b in seed.bytes() {
        state = (state ^ b as u64).wrapping_mul(1099511628211);
    }
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 2000) as f32 / 1000.0 - 1.0
        })
        .collect()
}

async fn invoke(
    State(fake): State<Arc<Fake>>,
    Path(model): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDFAKE/")
        || !auth.contains("/bedrock/aws4_request")
    {
        return error(
            StatusCode::FORBIDDEN,
            "UnrecognizedClientException",
            "not signed for bedrock",
        );
    }
    if headers.get("content-type").and_then(|v| v.to_str().ok()) != Some("application/json") {
        return error(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            "content type",
        );
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            "body is not JSON",
        );
    };
    fake.calls
        .lock()
        .unwrap()
        .push((model.clone(), body.clone()));
    if let Some((status, kind)) = *fake.fail_with.lock().unwrap() {
        return error(status, kind, "refused by the test");
    }
    let wrong = *fake.wrong_length.lock().unwrap();
    match model.as_str() {
        TITAN_MULTIMODAL => {
            let len = body
                .pointer("/embeddingConfig/outputEmbeddingLength")
                .and_then(Value::as_u64)
                .unwrap_or(1024) as usize;
            let seed = match (body.get("inputText"), body.get("inputImage")) {
                (Some(Value::String(t)), None) if !t.is_empty() => t.clone(),
                (None, Some(Value::String(i))) => i.clone(),
                _ => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "ValidationException",
                        "inputText or inputImage",
                    )
                }
            };
            let n = wrong.unwrap_or(len);
            Json(json!({ "embedding": vector_of(&seed, n), "inputTextTokenCount": 3 }))
                .into_response()
        }
        NOVA_MULTIMODAL => {
            let params = &body["singleEmbeddingParams"];
            if body["taskType"] != "SINGLE_EMBEDDING"
                || !matches!(
                    params["embeddingPurpose"].as_str(),
                    Some("GENERIC_INDEX" | "GENERIC_RETRIEVAL")
                )
            {
                return error(
                    StatusCode::BAD_REQUEST,
                    "ValidationException",
                    "taskType/purpose",
                );
            }
            let len = params["embeddingDimension"].as_u64().unwrap_or(3072) as usize;
            let (kind, seed) = if let Some(t) = params["text"]["value"].as_str() {
                ("TEXT", t.to_string())
            } else if let Some(b) = params["image"]["source"]["bytes"].as_str() {
                ("IMAGE", b.to_string())
            } else if let Some(b) = params["audio"]["source"]["bytes"].as_str() {
                ("AUDIO", b.to_string())
            } else if let Some(b) = params["video"]["source"]["bytes"].as_str() {
                ("VIDEO", b.to_string())
            } else {
                return error(StatusCode::BAD_REQUEST, "ValidationException", "no input");
            };
            let n = wrong.unwrap_or(len);
            Json(json!({ "embeddings": [{ "embeddingType": kind, "embedding": vector_of(&seed, n) }] }))
                .into_response()
        }
        _ => error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            "no such model",
        ),
    }
}

use axum::Json;

async fn fake_bedrock() -> (String, Arc<Fake>) {
    let fake = Arc::new(Fake::default());
    let app = Router::new()
        .route("/model/{model}/invoke", post(invoke))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, fake)
}

fn client(url: &str) -> aws_sdk_bedrockruntime::Client {
    let config = aws_sdk_bedrockruntime::Config::builder()
        .behavior_version_latest()
        .endpoint_url(url)
        .region(aws_sdk_bedrockruntime::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_bedrockruntime::config::Credentials::new(
            "AKIDFAKE", "secret", None, None, "test",
        ))
        // The fake's refusals are final; retries only slow the test.
        .retry_config(aws_sdk_bedrockruntime::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_bedrockruntime::Client::from_conf(config)
}

fn spec(model: &str, dimensions: usize) -> EmbeddingSpec {
    EmbeddingSpec {
        backend: Backend::Bedrock,
        model: model.into(),
        dimensions,
    }
}

fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

#[tokio::test]
async fn titan_embeds_text_and_images_in_one_space() {
    let (url, fake) = fake_bedrock().await;
    let titan = BedrockEmbedder::with_client(client(&url), spec(TITAN_MULTIMODAL, 384));
    assert_eq!((titan.dimensions(), titan.max_tokens()), (384, 128));
    assert_eq!(titan.media(), &[MediaKind::Image]);

    let texts = vec![
        "red kite over a hill".to_string(),
        "a bowl of soup".to_string(),
    ];
    let v = titan.embed_texts(&texts).await.unwrap();
    assert_eq!(v.len(), 2);
    assert!(v
        .iter()
        .all(|x| x.len() == 384 && (norm(x) - 1.0).abs() < 1e-4));
    assert_ne!(v[0], v[1]);
    // A query is embedded the same way as a document: equal text, equal vector.
    assert_eq!(
        titan.embed_query("red kite over a hill").await.unwrap(),
        v[0]
    );

    let png = b"\x89PNG\r\n\x1a\nnot really".to_vec();
    let image = titan
        .embed_media(&Media {
            kind: MediaKind::Image,
            format: "png",
            bytes: &png,
        })
        .await
        .unwrap();
    assert_eq!(image.len(), 384);
    let calls = fake.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 4);
    assert!(calls.iter().all(|(m, _)| m == TITAN_MULTIMODAL));
    assert_eq!(
        calls[0].1,
        json!({"inputText": "red kite over a hill", "embeddingConfig": {"outputEmbeddingLength": 384}})
    );
    assert_eq!(
        calls[3].1["inputImage"],
        json!(base64::engine::general_purpose::STANDARD.encode(&png))
    );
    // Titan has no audio.
    let err = titan
        .embed_media(&Media {
            kind: MediaKind::Audio,
            format: "wav",
            bytes: b"RIFF",
        })
        .await
        .unwrap_err();
    assert!(matches!(err, EmbedError::Failed(_)), "{err}");
}

#[tokio::test]
async fn nova_marks_queries_and_takes_audio() {
    let (url, fake) = fake_bedrock().await;
    let nova = BedrockEmbedder::with_client(client(&url), spec(NOVA_MULTIMODAL, 1024));
    assert_eq!(nova.max_tokens(), 8192);
    let doc = nova
        .embed_texts(&["tide tables".to_string()])
        .await
        .unwrap();
    let query = nova.embed_query("tide tables").await.unwrap();
    assert_eq!(doc[0].len(), 1024);
    assert_eq!(query.len(), 1024);
    let wav = b"RIFF....WAVEfmt ".to_vec();
    let audio = nova
        .embed_media(&Media {
            kind: MediaKind::Audio,
            format: "wav",
            bytes: &wav,
        })
        .await
        .unwrap();
    assert_eq!(audio.len(), 1024);
    let mp4 = b"\0\0\0\x18ftypmp42".to_vec();
    let clip = Media {
        kind: MediaKind::Video,
        format: "mp4",
        bytes: &mp4,
    };
    assert_eq!(nova.embed_media(&clip).await.unwrap().len(), 1024);
    let png = b"\x89PNG".to_vec();
    let image = Media {
        kind: MediaKind::Image,
        format: "png",
        bytes: &png,
    };
    nova.embed_media_query(&image).await.unwrap();
    let calls = fake.calls.lock().unwrap().clone();
    let params = |i: usize| calls[i].1["singleEmbeddingParams"].clone();
    assert_eq!(calls[0].1["taskType"], "SINGLE_EMBEDDING");
    assert_eq!(params(0)["embeddingPurpose"], "GENERIC_INDEX");
    assert_eq!(params(0)["embeddingDimension"], 1024);
    assert_eq!(
        params(0)["text"],
        json!({"truncationMode": "END", "value": "tide tables"})
    );
    assert_eq!(params(1)["embeddingPurpose"], "GENERIC_RETRIEVAL");
    assert_eq!(params(2)["audio"]["format"], "wav");
    assert_eq!(params(3)["video"]["embeddingMode"], "AUDIO_VIDEO_COMBINED");
    assert_eq!(params(3)["embeddingPurpose"], "GENERIC_INDEX");
    assert_eq!(params(4)["image"]["format"], "png");
    assert_eq!(params(4)["embeddingPurpose"], "GENERIC_RETRIEVAL");
}

#[tokio::test]
async fn refusals_are_typed() {
    let (url, fake) = fake_bedrock().await;
    let titan = BedrockEmbedder::with_client(client(&url), spec(TITAN_MULTIMODAL, 1024));
    // An empty text is the model's to refuse: a failed input, not a broken deployment.
    let err = titan.embed_texts(&[String::new()]).await.unwrap_err();
    assert!(
        matches!(err, EmbedError::Failed(ref m) if m.contains("ValidationException")),
        "{err}"
    );

    *fake.fail_with.lock().unwrap() = Some((StatusCode::FORBIDDEN, "AccessDeniedException"));
    let err = titan.embed_query("x").await.unwrap_err();
    assert!(matches!(err, EmbedError::Unavailable(_)), "{err}");

    *fake.fail_with.lock().unwrap() = None;
    *fake.wrong_length.lock().unwrap() = Some(256);
    let err = titan.embed_query("x").await.unwrap_err();
    assert!(
        matches!(err, EmbedError::Failed(ref m) if m.contains("256 dimensions")),
        "{err}"
    );
}

#[tokio::test]
async fn embedders_hand_out_the_model_a_spec_names() {
    let local_only = Embedders::none("no local model in this test");
    let err = local_only.get(&spec(TITAN_MULTIMODAL, 1024)).err().unwrap();
    assert!(
        matches!(err, EmbedError::Unavailable(ref m) if m.contains("Bedrock")),
        "{err}"
    );

    let (url, _fake) = fake_bedrock().await;
    let made = Arc::new(Mutex::new(0));
    let counter = made.clone();
    let embedders = Embedders::none("no local model in this test").with_remote(move |s| {
        *counter.lock().unwrap() += 1;
        Arc::new(BedrockEmbedder::with_client(client(&url), s.clone())) as Arc<dyn Embedder>
    });
    let a = embedders.get(&spec(TITAN_MULTIMODAL, 1024)).unwrap();
    let b = embedders.get(&spec(TITAN_MULTIMODAL, 1024)).unwrap();
    assert!(Arc::ptr_eq(&a, &b), "one model per spec per process");
    let c = embedders.get(&spec(NOVA_MULTIMODAL, 3072)).unwrap();
    assert_eq!(c.dimensions(), 3072);
    assert_eq!(*made.lock().unwrap(), 2);
}
