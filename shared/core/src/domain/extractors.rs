//! The feature-extractor catalogue a namespace chooses from.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::chunking::{ChunkParams, SplitBy};
use super::embedding::{self, ServerDefault};
use super::schema::FieldError;

pub struct ExtractorSpec {
    pub name: &'static str,
    pub version: &'static str,
    pub description: &'static str,
    pub category: &'static str,
    pub input_types: &'static [&'static str],
    /// Whether its documents carry vectors (and so an embedding model, fixed at creation).
    pub embeds: bool,
}

pub const CATALOGUE: &[ExtractorSpec] = &[
    ExtractorSpec {
        name: "multimodal_extractor",
        version: "v1",
        description:
            "Text, image, video, audio and PDF blobs into searchable documents with embeddings.",
        category: "multimodal",
        input_types: &["text", "image", "video", "audio", "pdf", "json", "binary"],
        embeds: true,
    },
    ExtractorSpec {
        name: "text_extractor",
        version: "v1",
        description: "Chunks text and PDF pages and embeds each chunk (all-MiniLM-L6-v2 locally, or the namespace's Bedrock model).",
        category: "text",
        input_types: &["text", "json", "pdf"],
        embeds: true,
    },
    ExtractorSpec {
        name: "passthrough_extractor",
        version: "v1",
        description: "One document per object holding its metadata, text content and blob details.",
        category: "general",
        input_types: &[
            "text", "image", "video", "audio", "pdf", "json", "binary", "excel",
        ],
        embeds: false,
    },
];

impl ExtractorSpec {
    pub fn id(&self) -> String {
        format!("{}_{}", self.name, self.version)
    }

    /// The catalogue entry as `GET /v1/collections/features/extractors` returns it.
    pub fn to_json(&self) -> Value {
        json!({
            "feature_extractor_name": self.name,
            "version": self.version,
            "feature_extractor_id": self.id(),
            "description": self.description,
            "icon": self.category,
            "category": self.category,
            "source": "builtin",
            "type_mode": if self.input_types.len() > 1 { "multimodal" } else { "type_specific" },
            "input_schema": { "type": "object", "properties": { "input": { "type": "string", "enum": self.input_types } } },
            "output_schema": { "type": "object" },
            "parameter_schema": null,
            "supported_input_types": self.input_types,
            "max_inputs": { "input": 1 },
            "default_parameters": {},
            "required_vector_indexes": null,
            "required_payload_indexes": null,
            "capabilities": ["batch"],
        })
    }
}

/// Extractors whose documents carry an `embedding` feature (a vector per document).
pub const EMBEDDING_EXTRACTORS: [&str; 2] = ["text_extractor", "multimodal_extractor"];

pub fn writes_embeddings(extractor_name: &str) -> bool {
    EMBEDDING_EXTRACTORS.contains(&extractor_name)
}

pub fn find(name: &str, version: &str) -> Option<&'static ExtractorSpec> {
    CATALOGUE
        .iter()
        .find(|e| e.name == name && e.version == version)
}

pub fn find_by_id(id: &str) -> Option<&'static ExtractorSpec> {
    CATALOGUE.iter().find(|e| e.id() == id)
}

/// A namespace's chosen extractor, as stored and returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtractorChoice {
    pub feature_extractor_name: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    pub feature_extractor_id: String,
}

/// Checks choices against the catalogue and fills their ids; no duplicates. An embedding
/// extractor's params get its embedding model written in (the server's default where
/// they name none), so it stays fixed whatever the server's default becomes.
pub fn resolve(
    choices: &[ExtractorChoice],
    path: &str,
    default: &ServerDefault,
) -> Result<Vec<ExtractorChoice>, FieldError> {
    let mut out: Vec<ExtractorChoice> = Vec::with_capacity(choices.len());
    for (i, c) in choices.iter().enumerate() {
        let spec = find(&c.feature_extractor_name, &c.version).ok_or_else(|| {
            let known: Vec<String> = CATALOGUE
                .iter()
                .map(|e| format!("{}@{}", e.name, e.version))
                .collect();
            FieldError::new(
                format!("{path}[{i}]"),
                format!(
                    "unknown feature extractor {}@{}; available: {}",
                    c.feature_extractor_name,
                    c.version,
                    known.join(", ")
                ),
            )
        })?;
        if out.iter().any(|o| o.feature_extractor_id == spec.id()) {
            return Err(FieldError::new(
                format!("{path}[{i}]"),
                format!("{} is listed twice", spec.id()),
            ));
        }
        let mut params = c.params.clone();
        if spec.embeds {
            ExtractorParams::parse(params.as_ref(), &format!("{path}[{i}].params"))?;
            let mut p = params.unwrap_or_default();
            embedding::resolve(&p, default, &format!("{path}[{i}].params"))?.write_into(&mut p);
            params = Some(p);
        }
        out.push(ExtractorChoice {
            feature_extractor_id: spec.id(),
            params,
            ..c.clone()
        });
    }
    Ok(out)
}

/// The params the embedding extractors read, checked when an extractor is chosen so a bad
/// value is a 422 then rather than a failed object later. Other keys (Mixpeek has many,
/// for models this server does not run) are kept and ignored.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtractorParams {
    pub chunk: ChunkParams,
    /// Read the text in images (tesseract).
    pub run_ocr: bool,
    /// Quieter than this (dBFS) is silence, for audio segments.
    pub silence_db_threshold: f64,
    /// Longest audio segment, seconds.
    pub max_segment_duration: f64,
    /// Video segment length, seconds.
    pub time_split_interval: f64,
}

impl Default for ExtractorParams {
    fn default() -> Self {
        ExtractorParams {
            chunk: ChunkParams::default(),
            run_ocr: false,
            silence_db_threshold: -40.0,
            max_segment_duration: 30.0,
            time_split_interval: 10.0,
        }
    }
}

impl ExtractorParams {
    /// `path` names the params in errors, e.g. `feature_extractors[0].params`.
    pub fn parse(params: Option<&Map<String, Value>>, path: &str) -> Result<Self, FieldError> {
        let mut p = ExtractorParams::default();
        let Some(params) = params else { return Ok(p) };
        let bad = |key: &str, why: String| FieldError::new(format!("{path}.{key}"), why);
        let given = |key: &str| params.get(key).filter(|v| !v.is_null());
        if let Some(v) = given("split_by") {
            p.chunk.split_by = Some(v.as_str().and_then(SplitBy::parse).ok_or_else(|| {
                bad(
                    "split_by",
                    "must be one of characters, words, sentences, paragraphs, none".into(),
                )
            })?);
        }
        let count = |key: &str, max: u64| -> Result<Option<usize>, FieldError> {
            given(key)
                .map(|v| {
                    v.as_u64()
                        .filter(|n| *n <= max)
                        .map(|n| n as usize)
                        .ok_or_else(|| bad(key, format!("must be an integer from 0 to {max}")))
                })
                .transpose()
        };
        if let Some(n) = count("chunk_size", 10_000)? {
            p.chunk.chunk_size = n.max(1);
        }
        if let Some(n) = count("chunk_overlap", 5_000)? {
            p.chunk.chunk_overlap = n;
        }
        if let Some(v) = given("run_ocr") {
            p.run_ocr = v
                .as_bool()
                .ok_or_else(|| bad("run_ocr", "must be true or false".into()))?;
        }
        let number = |key: &str,
                      range: std::ops::RangeInclusive<f64>|
         -> Result<Option<f64>, FieldError> {
            given(key)
                .map(|v| {
                    v.as_f64().filter(|n| range.contains(n)).ok_or_else(|| {
                        bad(
                            key,
                            format!("must be a number from {} to {}", range.start(), range.end()),
                        )
                    })
                })
                .transpose()
        };
        if let Some(n) = number("silence_db_threshold", -120.0..=0.0)? {
            p.silence_db_threshold = n;
        }
        if let Some(n) = number("max_segment_duration", 0.1..=3600.0)? {
            p.max_segment_duration = n;
        }
        if let Some(n) = number("time_split_interval", 1.0..=3600.0)? {
            p.time_split_interval = n;
        }
        match given("split_method").map(|v| v.as_str()) {
            None | Some(Some("time")) => {}
            Some(_) => {
                return Err(bad(
                    "split_method",
                    "only \"time\" (with time_split_interval) is supported; scene and silence splitting are not".into(),
                ))
            }
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choice(name: &str, version: &str) -> ExtractorChoice {
        ExtractorChoice {
            feature_extractor_name: name.into(),
            version: version.into(),
            params: None,
            feature_extractor_id: String::new(),
        }
    }

    #[test]
    fn resolves_known_and_refuses_unknown() {
        let ok = resolve(
            &[choice("multimodal_extractor", "v1")],
            "feature_extractors",
            &ServerDefault::local(),
        )
        .unwrap();
        assert_eq!(ok[0].feature_extractor_id, "multimodal_extractor_v1");
        assert_eq!(ok[0].params.as_ref().unwrap()["embedding_backend"], "local");
        let mut bad = choice("multimodal_extractor", "v1");
        bad.params = Some(serde_json::from_value(json!({"time_split_interval": 0})).unwrap());
        assert_eq!(
            resolve(&[bad], "fe", &ServerDefault::local())
                .unwrap_err()
                .field,
            "fe[0].params.time_split_interval"
        );
        assert_eq!(
            resolve(
                &[choice("multimodal_extractor", "v9")],
                "fe",
                &ServerDefault::local()
            )
            .unwrap_err()
            .field,
            "fe[0]"
        );
        assert_eq!(
            resolve(
                &[choice("text_extractor", "v1"), choice("nope", "v1")],
                "fe",
                &ServerDefault::local()
            )
            .unwrap_err()
            .field,
            "fe[1]"
        );
        assert!(resolve(
            &[
                choice("text_extractor", "v1"),
                choice("text_extractor", "v1")
            ],
            "fe",
            &ServerDefault::local()
        )
        .is_err());
    }
}
