//! Embeddings from Amazon Bedrock `InvokeModel`: Titan Multimodal Embeddings G1 (text and
//! images) and Nova Multimodal Embeddings (text, images, audio, video), each in one space,
//! with the request and response bodies their model pages document.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_bedrockruntime::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_bedrockruntime::primitives::Blob;
use aws_sdk_bedrockruntime::Client;
use base64::Engine as _;
use futures::{StreamExt, TryStreamExt};
use serde_json::{json, Value};
use tokio::sync::OnceCell;

use sluice_core::domain::embedding::{EmbeddingSpec, MediaKind, NOVA_MULTIMODAL};
use sluice_core::ports::{EmbedError, Embedder, Embedders, Media};

/// Bedrock takes one input per call; this many calls run at once per request.
const CONCURRENT_CALLS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Family {
    Titan,
    Nova,
}

/// Nova embeds what is stored and what is searched for with different purposes.
#[derive(Debug, Clone, Copy)]
enum Purpose {
    Index,
    Query,
}

pub struct BedrockEmbedder {
    client: Arc<OnceCell<Client>>,
    spec: EmbeddingSpec,
    family: Family,
    max_tokens: usize,
    media: &'static [MediaKind],
}

/// `embedders` that reach Bedrock for namespaces created with it. The client is made on
/// first use, from the environment's region and credentials (`AWS_ENDPOINT_URL_BEDROCK_RUNTIME`
/// points it at a stand-in).
pub fn with_bedrock(embedders: Embedders) -> Embedders {
    let client: Arc<OnceCell<Client>> = Arc::default();
    embedders.with_remote(move |spec| {
        Arc::new(BedrockEmbedder::new(client.clone(), spec.clone())) as Arc<dyn Embedder>
    })
}

impl BedrockEmbedder {
    fn new(client: Arc<OnceCell<Client>>, spec: EmbeddingSpec) -> Self {
        let model = spec.model_spec();
        BedrockEmbedder {
            family: if spec.model == NOVA_MULTIMODAL {
                Family::Nova
            } else {
                Family::Titan
            },
            max_tokens: model.max_tokens,
            media: model.media,
            client,
            spec,
        }
    }

    pub fn with_client(client: Client, spec: EmbeddingSpec) -> Self {
        BedrockEmbedder::new(Arc::new(OnceCell::new_with(Some(client))), spec)
    }

    async fn client(&self) -> &Client {
        self.client
            .get_or_init(|| async {
                Client::new(&aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await)
            })
            .await
    }

    fn text_body(&self, text: &str, purpose: Purpose) -> Value {
        match self.family {
            Family::Titan => json!({
                "inputText": text,
                "embeddingConfig": {"outputEmbeddingLength": self.spec.dimensions},
            }),
            Family::Nova => self.nova_body(
                "text",
                json!({"truncationMode": "END", "value": text}),
                purpose,
            ),
        }
    }

    fn media_body(&self, media: &Media<'_>, purpose: Purpose) -> Result<Value, EmbedError> {
        let data = base64::engine::general_purpose::STANDARD.encode(media.bytes);
        match (self.family, media.kind) {
            (Family::Titan, MediaKind::Image) => Ok(json!({
                "inputImage": data,
                "embeddingConfig": {"outputEmbeddingLength": self.spec.dimensions},
            })),
            (Family::Nova, MediaKind::Image) => Ok(self.nova_body(
                "image",
                json!({"format": media.format, "detailLevel": "STANDARD_IMAGE", "source": {"bytes": data}}),
                purpose,
            )),
            (Family::Nova, MediaKind::Audio) => Ok(self.nova_body(
                "audio",
                json!({"format": media.format, "source": {"bytes": data}}),
                purpose,
            )),
            (Family::Nova, MediaKind::Video) => Ok(self.nova_body(
                "video",
                json!({"format": media.format, "embeddingMode": "AUDIO_VIDEO_COMBINED", "source": {"bytes": data}}),
                purpose,
            )),
            (_, kind) => Err(EmbedError::Failed(format!(
                "{} does not embed {kind:?}",
                self.spec.model
            ))),
        }
    }

    fn nova_body(&self, input: &str, value: Value, purpose: Purpose) -> Value {
        let purpose = match purpose {
            Purpose::Index => "GENERIC_INDEX",
            Purpose::Query => "GENERIC_RETRIEVAL",
        };
        json!({
            "schemaVersion": "nova-multimodal-embed-v1",
            "taskType": "SINGLE_EMBEDDING",
            "singleEmbeddingParams": {
                "embeddingPurpose": purpose,
                "embeddingDimension": self.spec.dimensions,
                input: value,
            },
        })
    }

    async fn invoke(&self, body: Value) -> Result<Vec<f32>, EmbedError> {
        let out = self
            .client()
            .await
            .invoke_model()
            .model_id(&self.spec.model)
            .content_type("application/json")
            .accept("application/json")
            .body(Blob::new(serde_json::to_vec(&body).expect("JSON body")))
            .send()
            .await
            .map_err(|e| {
                let code = e
                    .as_service_error()
                    .and_then(|s| s.code())
                    .map(str::to_string);
                let why = format!("{}: {}", self.spec.model, DisplayErrorContext(&e));
                match code.as_deref() {
                    // Not enabled in this account or region, or not allowed to this role.
                    Some("AccessDeniedException" | "ResourceNotFoundException") => {
                        EmbedError::Unavailable(why)
                    }
                    _ => EmbedError::Failed(why),
                }
            })?;
        let reply: Value = serde_json::from_slice(out.body().as_ref()).map_err(|e| {
            EmbedError::Failed(format!("{} answered with no JSON: {e}", self.spec.model))
        })?;
        let vector = match self.family {
            Family::Titan => reply.get("embedding"),
            Family::Nova => reply.pointer("/embeddings/0/embedding"),
        }
        .and_then(Value::as_array)
        .and_then(|a| {
            a.iter()
                .map(|x| x.as_f64().map(|f| f as f32))
                .collect::<Option<Vec<f32>>>()
        })
        .ok_or_else(|| {
            EmbedError::Failed(format!("{} answered without an embedding", self.spec.model))
        })?;
        if vector.len() != self.spec.dimensions {
            return Err(EmbedError::Failed(format!(
                "{} returned {} dimensions, not {}",
                self.spec.model,
                vector.len(),
                self.spec.dimensions
            )));
        }
        Ok(normalized(vector))
    }
}

/// Scores are cosine similarities; unit vectors make them dot products everywhere.
fn normalized(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

#[async_trait]
impl Embedder for BedrockEmbedder {
    fn model_id(&self) -> &str {
        &self.spec.model
    }

    fn dimensions(&self) -> usize {
        self.spec.dimensions
    }

    /// Bedrock does not publish these tokenizers; this over-counts English (about 4.7
    /// characters a token) so chunks stay inside the model's limit.
    fn count_tokens(&self, text: &str) -> usize {
        let words = text.split_whitespace().count();
        (text.chars().count().div_ceil(3)).max(words * 4 / 3)
    }

    fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    async fn embed_texts(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let bodies: Vec<Value> = texts
            .iter()
            .map(|t| self.text_body(t, Purpose::Index))
            .collect();
        futures::stream::iter(bodies)
            .map(|body| self.invoke(body))
            .buffered(CONCURRENT_CALLS)
            .try_collect()
            .await
    }

    async fn embed_query(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        self.invoke(self.text_body(text, Purpose::Query)).await
    }

    fn media(&self) -> &[MediaKind] {
        self.media
    }

    async fn embed_media(&self, media: &Media<'_>) -> Result<Vec<f32>, EmbedError> {
        let body = self.media_body(media, Purpose::Index)?;
        self.invoke(body).await
    }

    async fn embed_media_query(&self, media: &Media<'_>) -> Result<Vec<f32>, EmbedError> {
        let body = self.media_body(media, Purpose::Query)?;
        self.invoke(body).await
    }
}
