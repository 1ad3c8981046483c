//! Which model makes a collection's vectors. It is chosen when the namespace is created
//! (written into each embedding extractor's `params`) and never changes after, because
//! every vector of an index must come from the same model and have the same length.

use serde_json::{json, Map, Value};

use super::schema::FieldError;

/// Where the model runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// In this process (all-MiniLM-L6-v2 from the models dir).
    Local,
    /// Amazon Bedrock `InvokeModel`.
    Bedrock,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Local => "local",
            Backend::Bedrock => "bedrock",
        }
    }
}

/// What a model can embed besides text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    Image,
    Audio,
    Video,
}

/// One model a namespace can choose.
pub struct ModelSpec {
    pub backend: Backend,
    pub model: &'static str,
    pub default_dimensions: usize,
    pub dimensions: &'static [usize],
    /// Longest text input, in the model's tokens.
    pub max_tokens: usize,
    pub media: &'static [MediaKind],
}

pub const MINILM: &str = "sentence-transformers/all-MiniLM-L6-v2";
pub const TITAN_MULTIMODAL: &str = "amazon.titan-embed-image-v1";
pub const NOVA_MULTIMODAL: &str = "amazon.nova-2-multimodal-embeddings-v1:0";

/// The Bedrock models Sluice can embed with (what a function that embeds is granted).
pub fn bedrock_models() -> impl Iterator<Item = &'static str> {
    MODELS
        .iter()
        .filter(|m| m.backend == Backend::Bedrock)
        .map(|m| m.model)
}

pub const MODELS: &[ModelSpec] = &[
    ModelSpec {
        backend: Backend::Local,
        model: MINILM,
        default_dimensions: 384,
        dimensions: &[384],
        max_tokens: 256,
        media: &[],
    },
    // Text and images in one space; Bedrock documents 128 tokens of text.
    ModelSpec {
        backend: Backend::Bedrock,
        model: TITAN_MULTIMODAL,
        default_dimensions: 1024,
        dimensions: &[256, 384, 1024],
        max_tokens: 128,
        media: &[MediaKind::Image],
    },
    // Text, images, audio and video (up to 30 s each) in one space.
    ModelSpec {
        backend: Backend::Bedrock,
        model: NOVA_MULTIMODAL,
        default_dimensions: 3072,
        dimensions: &[256, 384, 1024, 3072],
        max_tokens: 8192,
        media: &[MediaKind::Image, MediaKind::Audio, MediaKind::Video],
    },
];

/// The embedding model of one collection: the three `params` keys that fix it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmbeddingSpec {
    pub backend: Backend,
    pub model: String,
    pub dimensions: usize,
}

pub const BACKEND_PARAM: &str = "embedding_backend";
pub const MODEL_PARAM: &str = "embedding_model";
pub const DIMENSIONS_PARAM: &str = "embedding_dimensions";

impl EmbeddingSpec {
    pub fn local() -> Self {
        EmbeddingSpec {
            backend: Backend::Local,
            model: MINILM.into(),
            dimensions: 384,
        }
    }

    pub fn model_spec(&self) -> &'static ModelSpec {
        MODELS
            .iter()
            .find(|m| m.backend == self.backend && m.model == self.model)
            .unwrap_or(&MODELS[0])
    }

    /// The spec recorded in an extractor's params. Params without one (namespaces made
    /// before backends could be chosen) were embedded locally.
    pub fn of(params: Option<&Map<String, Value>>) -> Self {
        params
            .and_then(|p| resolve(p, &ServerDefault::local(), "params").ok())
            .unwrap_or_else(EmbeddingSpec::local)
    }

    pub fn write_into(&self, params: &mut Map<String, Value>) {
        params.insert(BACKEND_PARAM.into(), json!(self.backend.as_str()));
        params.insert(MODEL_PARAM.into(), json!(self.model));
        params.insert(DIMENSIONS_PARAM.into(), json!(self.dimensions));
    }
}

/// What a server embeds with when a namespace does not say (`SLUICE_EMBEDDING_BACKEND`,
/// `SLUICE_BEDROCK_MODEL`).
#[derive(Debug, Clone)]
pub struct ServerDefault {
    pub backend: Backend,
    pub bedrock_model: String,
}

impl ServerDefault {
    pub fn local() -> Self {
        ServerDefault {
            backend: Backend::Local,
            bedrock_model: TITAN_MULTIMODAL.into(),
        }
    }

    pub fn parse(backend: &str, bedrock_model: Option<&str>) -> Result<Self, String> {
        let backend = parse_backend(backend)?;
        let bedrock_model = bedrock_model.unwrap_or(TITAN_MULTIMODAL).to_string();
        if !MODELS
            .iter()
            .any(|m| m.backend == Backend::Bedrock && m.model == bedrock_model)
        {
            return Err(format!(
                "unknown Bedrock embedding model {bedrock_model:?}; known: {}",
                known(Backend::Bedrock)
            ));
        }
        Ok(ServerDefault {
            backend,
            bedrock_model,
        })
    }
}

fn parse_backend(s: &str) -> Result<Backend, String> {
    match s {
        "local" => Ok(Backend::Local),
        "bedrock" => Ok(Backend::Bedrock),
        other => Err(format!(
            "{other:?} is not an embedding backend: local or bedrock"
        )),
    }
}

fn known(backend: Backend) -> String {
    MODELS
        .iter()
        .filter(|m| m.backend == backend)
        .map(|m| m.model)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The spec an extractor's params ask for, the server's default filling what they leave
/// out. `path` names the params in errors.
pub fn resolve(
    params: &Map<String, Value>,
    default: &ServerDefault,
    path: &str,
) -> Result<EmbeddingSpec, FieldError> {
    let text = |key: &str| -> Result<Option<&str>, FieldError> {
        match params.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(FieldError::new(format!("{path}.{key}"), "must be a string")),
        }
    };
    let model_param = text(MODEL_PARAM)?;
    let backend = match text(BACKEND_PARAM)? {
        Some(b) => {
            parse_backend(b).map_err(|e| FieldError::new(format!("{path}.{BACKEND_PARAM}"), e))?
        }
        // A model names its backend.
        None => match model_param.and_then(|m| MODELS.iter().find(|s| s.model == m)) {
            Some(spec) => spec.backend,
            None => default.backend,
        },
    };
    let model = match (model_param, backend) {
        (Some(m), _) => m,
        (None, Backend::Local) => MINILM,
        (None, Backend::Bedrock) => default.bedrock_model.as_str(),
    };
    let spec = MODELS
        .iter()
        .find(|m| m.backend == backend && m.model == model)
        .ok_or_else(|| {
            FieldError::new(
                format!("{path}.{MODEL_PARAM}"),
                format!(
                    "{model:?} is not a {} embedding model; known: {}",
                    backend.as_str(),
                    known(backend)
                ),
            )
        })?;
    let dimensions = match params.get(DIMENSIONS_PARAM) {
        None | Some(Value::Null) => spec.default_dimensions,
        Some(v) => v
            .as_u64()
            .map(|n| n as usize)
            .filter(|n| spec.dimensions.contains(n))
            .ok_or_else(|| {
                FieldError::new(
                    format!("{path}.{DIMENSIONS_PARAM}"),
                    format!(
                        "{} makes vectors of {:?} dimensions",
                        spec.model, spec.dimensions
                    ),
                )
            })?,
    };
    Ok(EmbeddingSpec {
        backend,
        model: spec.model.to_string(),
        dimensions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn defaults_come_from_the_server_and_models_imply_backends() {
        let bedrock = ServerDefault::parse("bedrock", None).unwrap();
        let s = resolve(&Map::new(), &bedrock, "p").unwrap();
        assert_eq!(
            (s.backend, s.model.as_str(), s.dimensions),
            (Backend::Bedrock, TITAN_MULTIMODAL, 1024)
        );
        let s = resolve(&Map::new(), &ServerDefault::local(), "p").unwrap();
        assert_eq!(s, EmbeddingSpec::local());
        let s = resolve(
            &params(json!({"embedding_model": NOVA_MULTIMODAL, "embedding_dimensions": 1024})),
            &ServerDefault::local(),
            "p",
        )
        .unwrap();
        assert_eq!((s.backend, s.dimensions), (Backend::Bedrock, 1024));
        // A recorded spec reads back as itself.
        let mut p = Map::new();
        s.write_into(&mut p);
        assert_eq!(EmbeddingSpec::of(Some(&p)), s);
        assert_eq!(EmbeddingSpec::of(None), EmbeddingSpec::local());
    }

    #[test]
    fn bad_choices_name_their_field() {
        let local = ServerDefault::local();
        let err = |v: Value| {
            resolve(&params(v), &local, "fe[0].params")
                .unwrap_err()
                .field
        };
        assert_eq!(
            err(json!({"embedding_backend": "openai"})),
            "fe[0].params.embedding_backend"
        );
        assert_eq!(
            err(json!({"embedding_backend": "local", "embedding_model": TITAN_MULTIMODAL})),
            "fe[0].params.embedding_model"
        );
        assert_eq!(
            err(json!({"embedding_dimensions": 1024})),
            "fe[0].params.embedding_dimensions"
        );
        assert_eq!(
            err(json!({"embedding_model": TITAN_MULTIMODAL, "embedding_dimensions": 3072})),
            "fe[0].params.embedding_dimensions"
        );
        assert!(ServerDefault::parse("bedrock", Some("amazon.titan-embed-text-v2:0")).is_err());
        assert!(ServerDefault::parse("gpu", None).is_err());
    }
}
