//! The response views of aPI keys and the feature-extractor catalogue.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::domain::entities::ApiKey;
use crate::domain::extractors::ExtractorSpec;

#[derive(Debug, Serialize, JsonSchema)]
pub struct ApiKeyView {
    pub key_id: String,
    pub org_id: String,
    pub name: String,
    pub key_hint: String,
    pub created_at: String,
}

impl From<&ApiKey> for ApiKeyView {
    fn from(k: &ApiKey) -> Self {
        ApiKeyView {
            key_id: k.key_id.clone(),
            org_id: k.org_id.clone(),
            name: k.name.clone(),
            key_hint: k.key_hint.clone(),
            created_at: k.created_at.clone(),
        }
    }
}

/// A catalogue entry of `GET /v1/collections/features/extractors`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ExtractorView {
    pub feature_extractor_name: String,
    pub version: String,
    pub feature_extractor_id: String,
    pub description: String,
    pub icon: String,
    pub category: String,
    pub source: String,
    pub type_mode: String,
    pub input_schema: Value,
    pub output_schema: Value,
    pub parameter_schema: Option<Value>,
    pub supported_input_types: Vec<String>,
    pub max_inputs: BTreeMap<String, u32>,
    pub default_parameters: Map<String, Value>,
    pub required_vector_indexes: Option<Vec<Value>>,
    pub required_payload_indexes: Option<Vec<Value>>,
    pub capabilities: Vec<String>,
}

impl From<&ExtractorSpec> for ExtractorView {
    fn from(e: &ExtractorSpec) -> Self {
        let input_types: Vec<String> = e.input_types.iter().map(|s| s.to_string()).collect();
        ExtractorView {
            feature_extractor_name: e.name.into(),
            version: e.version.into(),
            feature_extractor_id: e.id(),
            description: e.description.into(),
            icon: e.category.into(),
            category: e.category.into(),
            source: "builtin".into(),
            type_mode: if input_types.len() > 1 {
                "multimodal"
            } else {
                "type_specific"
            }
            .into(),
            input_schema: serde_json::json!({
                "type": "object",
                "properties": {"input": {"type": "string", "enum": input_types}},
            }),
            output_schema: serde_json::json!({"type": "object"}),
            parameter_schema: None,
            supported_input_types: input_types,
            max_inputs: BTreeMap::from([("input".to_string(), 1)]),
            default_parameters: Map::new(),
            required_vector_indexes: None,
            required_payload_indexes: None,
            capabilities: vec!["batch".into()],
        }
    }
}

/// `GET /v1/collections/features`: per file type, the extractors that take it and the
/// features a collection of each makes searchable. Sluice is self-hosted: nothing is
/// billed per unit, so every rate is 0 and the unit says what work is counted.
#[derive(Debug, Serialize, JsonSchema)]
pub struct FeatureDiscovery {
    pub modalities: Vec<Value>,
    pub custom_features: Vec<Value>,
    /// 1: media are processed at the resolution given, never normalized first.
    pub full_res_multiplier: f64,
}

impl FeatureDiscovery {
    pub fn of(catalogue: &[ExtractorSpec]) -> Self {
        let mut modalities: Vec<&str> = Vec::new();
        for e in catalogue {
            for t in e.input_types {
                if !modalities.contains(t) {
                    modalities.push(t);
                }
            }
        }
        let modalities = modalities
            .into_iter()
            .map(|m| {
                let takes: Vec<&ExtractorSpec> = catalogue
                    .iter()
                    .filter(|e| e.input_types.contains(&m))
                    .collect();
                let search_by: Vec<String> = takes
                    .iter()
                    .filter(|e| e.embeds)
                    .map(|e| format!("mixpeek://{}@{}/embedding", e.name, e.version))
                    .collect();
                serde_json::json!({
                    "modality": m,
                    "billing_unit": "object",
                    "rate": 0,
                    "base_feature": search_by.first(),
                    "search_by": search_by,
                    "extractors": takes.iter().map(|e| e.id()).collect::<Vec<_>>(),
                })
            })
            .collect();
        FeatureDiscovery {
            modalities,
            custom_features: Vec::new(),
            full_res_multiplier: 1.0,
        }
    }
}
