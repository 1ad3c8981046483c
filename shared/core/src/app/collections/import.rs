//! Documents into a collection: rows (JSON objects, JSON Lines or CSV) mapped onto
//! documents after the mapping is checked, or only checked (a dry run); and the two
//! helps before an import, schema inference and mapping validation.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::app::documents::{self, CreateDocument, Writer};
use crate::context::AppContext;
use crate::domain::collection::Collection;
use crate::domain::embedding::EmbeddingSpec;
use crate::error::Error;

/// Rows one import request may carry.
pub const IMPORT_ROWS: usize = 1_000;

/// Where a source field goes, in the SDK's kinds: `metadata` (the document field at
/// `path`, the source field's own path by default; `text` is embedded when no vector is
/// given), `vector` (the `embedding`, of `dim` numbers), `identity` (the row's own id, kept
/// as `external_id`), `parent` (the document it derives from, `source_document_id`), or
/// `ignore`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct MappingTarget {
    pub kind: String,
    pub path: Option<String>,
    pub index: Option<String>,
    pub dim: Option<i64>,
    pub dtype: Option<String>,
    pub role: Option<String>,
    pub chain_position: Option<i64>,
    pub expected_type: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldMapping {
    /// A dotted path in the row (`meta.title`), or a CSV column.
    pub source_field: String,
    pub target: MappingTarget,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct ImportMapping {
    #[serde(default)]
    pub fields: Vec<FieldMapping>,
    pub source_type: Option<String>,
    pub chain_template: Option<Value>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Import {
    /// One row, as an object.
    pub export: Option<Map<String, Value>>,
    /// Rows as objects.
    pub rows: Option<Vec<Value>>,
    /// Rows as JSON Lines.
    pub jsonl: Option<String>,
    /// Rows as CSV with a header line.
    pub csv: Option<String>,
    pub mapping: ImportMapping,
    /// Not served: nested arrays are not exploded into documents.
    pub explode: Option<Value>,
    pub dry_run: Option<bool>,
    /// Accepted and ignored, as Mixpeek documents it (a no-op).
    pub seed_ledger: Option<bool>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RowError {
    pub row: usize,
    pub error: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Imported {
    pub imported: usize,
    /// Rows turned into documents (written, or checked on a dry run).
    pub reconstructed: usize,
    pub skipped: usize,
    pub dry_run: bool,
    pub errors: Vec<RowError>,
    pub warnings: Vec<String>,
}

impl Import {
    /// The rows, however they came; a 422 for none, too many, or unreadable ones.
    fn rows(&self) -> Result<Vec<Value>, Error> {
        let mut rows: Vec<Value> = self
            .export
            .iter()
            .map(|e| Value::Object(e.clone()))
            .collect();
        rows.extend(self.rows.iter().flatten().cloned());
        if let Some(text) = &self.jsonl {
            for (i, l) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
                rows.push(
                    serde_json::from_str(l)
                        .map_err(|e| Error::field("jsonl", format!("line {}: {e}", i + 1)))?,
                );
            }
        }
        if let Some(text) = &self.csv {
            let mut reader = csv::Reader::from_reader(text.as_bytes());
            let headers = reader
                .headers()
                .map_err(|e| Error::field("csv", e.to_string()))?
                .clone();
            for (i, rec) in reader.records().enumerate() {
                let rec = rec.map_err(|e| Error::field("csv", format!("row {}: {e}", i + 1)))?;
                let row: Map<String, Value> = headers
                    .iter()
                    .zip(rec.iter())
                    .map(|(h, v)| (h.to_string(), csv_value(v)))
                    .collect();
                rows.push(Value::Object(row));
            }
        }
        if rows.is_empty() || rows.len() > IMPORT_ROWS {
            return Err(Error::field(
                "rows",
                format!("give 1 to {IMPORT_ROWS} rows (export, rows, jsonl or csv)"),
            ));
        }
        Ok(rows)
    }
}

/// A CSV cell as JSON: a number or boolean when it reads as one, a JSON array or object
/// when it is one (a vector column), a string otherwise.
fn csv_value(cell: &str) -> Value {
    let t = cell.trim();
    if t.starts_with('[') || t.starts_with('{') {
        if let Ok(v) = serde_json::from_str(t) {
            return v;
        }
    }
    serde_json::from_str::<Value>(t)
        .ok()
        .filter(|v| v.is_number() || v.is_boolean())
        .unwrap_or_else(|| Value::from(cell))
}

pub async fn import(
    ctx: &AppContext,
    by: &Writer<'_>,
    c: &Collection,
    req: Import,
) -> Result<Imported, Error> {
    if req.explode.as_ref().is_some_and(|e| !e.is_null()) {
        return Err(Error::field(
            "explode",
            "nested arrays are not exploded into documents; give one row per document",
        ));
    }
    let check = validate_mapping(ValidateMapping {
        source_fields: None,
        mapping: req.mapping.clone(),
        known_index_dims: Some(BTreeMap::from([(
            "embedding".to_string(),
            EmbeddingSpec::of(c.feature_extractor.params.as_ref()).dimensions as i64,
        )])),
    });
    if let Some(e) = check.errors.first() {
        return Err(Error::field(
            format!("mapping.{}", e.field.clone().unwrap_or_default()),
            e.error.clone(),
        ));
    }
    let dry_run = req.dry_run.unwrap_or(false);
    let mut out = Imported {
        imported: 0,
        reconstructed: 0,
        skipped: 0,
        dry_run,
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    for (i, row) in req.rows()?.iter().enumerate() {
        let body = match mapped(row, &req.mapping) {
            Ok(b) => b,
            Err(e) => {
                out.errors.push(RowError {
                    row: i,
                    error: e.to_string(),
                });
                continue;
            }
        };
        let verdict = documents::validate(c, &body);
        if !verdict.valid {
            out.skipped += 1;
            out.errors.push(RowError {
                row: i,
                error: Value::Array(verdict.errors).to_string(),
            });
            continue;
        }
        out.reconstructed += 1;
        if dry_run {
            continue;
        }
        let create: CreateDocument = serde_json::from_value(Value::Object(body))
            .map_err(|e| Error::field("mapping", e.to_string()))?;
        match documents::create(ctx, by, c, None, create).await {
            Ok(_) => out.imported += 1,
            Err(e @ (Error::Invalid { .. } | Error::NotReady(_))) => out.errors.push(RowError {
                row: i,
                error: e.to_string(),
            }),
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// A row as a document body, by the mapping.
fn mapped(row: &Value, mapping: &ImportMapping) -> Result<Map<String, Value>, Error> {
    let mut body = Map::new();
    for f in &mapping.fields {
        let Some(value) = crate::domain::aggregate::lookup(row, &f.source_field).cloned() else {
            continue;
        };
        match f.target.kind.as_str() {
            "ignore" => {}
            "vector" => {
                body.insert("vectors".into(), json!({"embedding": value}));
            }
            "identity" => {
                body.insert("external_id".into(), value);
            }
            "parent" => {
                body.insert("source_document_id".into(), value);
            }
            _ => set_path(
                &mut body,
                f.target.path.as_deref().unwrap_or(&f.source_field),
                value,
            ),
        }
    }
    Ok(body)
}

fn set_path(body: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            body.insert(path.to_string(), value);
        }
        Some((head, rest)) => {
            let inner = body.entry(head.to_string()).or_insert_with(|| json!({}));
            if !inner.is_object() {
                *inner = json!({});
            }
            if let Some(m) = inner.as_object_mut() {
                set_path(m, rest, value);
            }
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InferSchema {
    pub sample_rows: Option<Vec<Value>>,
    pub source_schema: Option<Value>,
    pub sample_size: Option<i64>,
    pub known_index_dims: Option<BTreeMap<String, i64>>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct InferredField {
    pub path: String,
    #[serde(rename = "type")]
    pub field_type: String,
    /// `high` when most sampled rows hold a value of their own, else `low`.
    pub cardinality: String,
    pub sample: Value,
    pub dim: Option<usize>,
    pub dtype: Option<String>,
    pub suggested_target: MappingTarget,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct InferredSchema {
    pub fields: Vec<InferredField>,
    pub warnings: Vec<String>,
}

/// Each leaf path of the sample rows with its type, and where it would best go: a list of
/// numbers to the vector, a `text`/`content`/`body` string to `text` (embedded), an `id`
/// to the identity, the rest to fields of the same path.
pub fn infer_schema(req: InferSchema) -> Result<InferredSchema, Error> {
    let rows = req.sample_rows.unwrap_or_default();
    let n = req.sample_size.map_or(rows.len(), |s| s.max(1) as usize);
    if rows.is_empty() {
        return Err(Error::field("sample_rows", "give at least one row"));
    }
    let sampled = n.min(1000).min(rows.len());
    let mut seen: BTreeMap<String, Value> = BTreeMap::new();
    let mut distinct: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    for row in rows.iter().take(sampled) {
        let mut these = BTreeMap::new();
        leaves(row, "", &mut these);
        for (path, v) in these {
            distinct
                .entry(path.clone())
                .or_default()
                .insert(v.to_string());
            seen.entry(path).or_insert(v);
        }
    }
    let dims = req.known_index_dims.unwrap_or_default();
    let mut warnings = Vec::new();
    let fields = seen
        .into_iter()
        .map(|(path, sample)| {
            // High: most sampled rows hold a value of their own (ids, free text).
            let values = distinct.get(&path).map_or(0, |d| d.len());
            let high = values > 20 && values * 2 > sampled;
            let inferred = infer_field(path, sample, high);
            if let (Some(dim), Some(want)) = (inferred.dim, dims.get("embedding")) {
                if dim as i64 != *want {
                    warnings.push(format!(
                        "{} has {dim} numbers; the index takes {want}",
                        inferred.path
                    ));
                }
            }
            inferred
        })
        .collect();
    Ok(InferredSchema { fields, warnings })
}

fn infer_field(path: String, sample: Value, high_cardinality: bool) -> InferredField {
    let numbers = sample
        .as_array()
        .filter(|a| a.len() >= 8 && a.iter().all(Value::is_number));
    let leaf = path.rsplit('.').next().unwrap_or("");
    let (field_type, dim, target) = match (&sample, numbers) {
        (_, Some(a)) => (
            "vector",
            Some(a.len()),
            target("vector", None, Some("embedding"), Some(a.len() as i64)),
        ),
        (Value::String(_), _) if ["text", "content", "body"].contains(&leaf) => {
            ("string", None, target("metadata", Some("text"), None, None))
        }
        (v, _) if ["id", "_id", "uuid"].contains(&leaf) => {
            (json_type(v), None, target("identity", None, None, None))
        }
        (v, _) => (
            json_type(v),
            None,
            target("metadata", Some(&path), None, None),
        ),
    };
    InferredField {
        cardinality: if high_cardinality { "high" } else { "low" }.into(),
        field_type: field_type.into(),
        dtype: dim.map(|_| "float32".into()),
        dim,
        sample,
        suggested_target: target,
        path,
    }
}

fn target(kind: &str, path: Option<&str>, index: Option<&str>, dim: Option<i64>) -> MappingTarget {
    MappingTarget {
        kind: kind.into(),
        path: path.map(str::to_string),
        index: index.map(str::to_string),
        dim,
        dtype: dim.map(|_| "float32".into()),
        role: None,
        chain_position: None,
        expected_type: None,
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The leaf paths of a row (objects walked, lists kept whole), first sample kept.
fn leaves(v: &Value, at: &str, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                let path = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                leaves(x, &path, out);
            }
        }
        other if !at.is_empty() => {
            out.entry(at.to_string()).or_insert_with(|| other.clone());
        }
        _ => {}
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceField {
    pub path: String,
    #[serde(rename = "type")]
    pub field_type: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateMapping {
    pub source_fields: Option<Vec<SourceField>>,
    pub mapping: ImportMapping,
    pub known_index_dims: Option<BTreeMap<String, i64>>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct MappingError {
    pub field: Option<String>,
    pub error: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct MappingCheck {
    pub ok: bool,
    pub errors: Vec<MappingError>,
}

/// Whether a mapping can be imported: known target kinds, sources that exist (when the
/// source's fields are given), one vector, identity and parent at most, a vector of the
/// index's dimensions, and no target Sluice keeps for itself.
pub fn validate_mapping(req: ValidateMapping) -> MappingCheck {
    let mut errors = Vec::new();
    let mut err = |field: &str, error: String| {
        errors.push(MappingError {
            field: Some(field.to_string()),
            error,
        })
    };
    let known: Option<Vec<&str>> = req
        .source_fields
        .as_ref()
        .map(|f| f.iter().map(|s| s.path.as_str()).collect());
    let count = |kind: &str| {
        req.mapping
            .fields
            .iter()
            .filter(|f| f.target.kind == kind)
            .count()
    };
    if req.mapping.fields.is_empty() {
        err("fields", "map at least one source field".into());
    }
    for kind in ["vector", "identity", "parent"] {
        if count(kind) > 1 {
            err("fields", format!("at most one field maps to {kind}"));
        }
    }
    for (i, f) in req.mapping.fields.iter().enumerate() {
        let at = format!("fields[{i}]");
        if known
            .as_ref()
            .is_some_and(|k| !k.contains(&f.source_field.as_str()))
        {
            err(
                &at,
                format!(
                    "source field {:?} is not among the source's fields",
                    f.source_field
                ),
            );
        }
        match f.target.kind.as_str() {
            "metadata" | "identity" | "parent" | "ignore" => {}
            "vector" => {
                let index = f.target.index.as_deref().unwrap_or("embedding");
                if index != "embedding" {
                    err(
                        &at,
                        format!(
                            "the collection's one vector index is \"embedding\", not {index:?}"
                        ),
                    );
                }
                let want = req.known_index_dims.as_ref().and_then(|d| d.get(index));
                if let (Some(dim), Some(want)) = (f.target.dim, want) {
                    if dim != *want {
                        err(
                            &at,
                            format!("a vector of {dim} numbers; the index takes {want}"),
                        );
                    }
                }
            }
            other => err(
                &at,
                format!("target kind {other:?}: use metadata, vector, identity, parent or ignore"),
            ),
        }
        let path = f.target.path.as_deref().unwrap_or(&f.source_field);
        let head = path.split('.').next().unwrap_or(path);
        if f.target.kind == "metadata" && documents::is_reserved(head) {
            err(
                &at,
                format!("{head:?} is kept by Sluice and cannot be imported into"),
            );
        }
    }
    MappingCheck {
        ok: errors.is_empty(),
        errors,
    }
}
