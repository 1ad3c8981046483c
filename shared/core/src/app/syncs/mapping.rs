//! `schema_mapping` (the mixpeek SDK's `SchemaMappingInput`): which blob property a synced
//! file goes into, and metadata fields taken from its key. Parsed when a sync is saved
//! (errors are 422s naming the mapping) and applied to every file a run registers.
//!
//! Sources served: `file` (the blob), `filename_regex`, `folder_path`, `constant`. The
//! S3 `tag` and `metadata` sources need a request per file (GetObjectTagging,
//! HeadObject) and are refused rather than left empty.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::domain::schema::{BucketSchema, FieldType};
use crate::error::Error;

#[derive(Debug, Clone)]
pub struct SchemaMapping {
    /// The schema's blob property the file goes into, and the mime type to give it.
    pub blob: Option<BlobTarget>,
    pub fields: BTreeMap<String, FieldMapping>,
}

#[derive(Debug, Clone)]
pub struct BlobTarget {
    pub property: String,
    pub ty: FieldType,
    pub mime_type_override: Option<String>,
}

#[derive(Debug, Clone)]
pub struct FieldMapping {
    source: FieldSource,
    transform: Option<Transform>,
    required: bool,
}

#[derive(Debug, Clone)]
enum FieldSource {
    FilenameRegex {
        pattern: regex::Regex,
        default: Option<String>,
    },
    FolderPath {
        segment: Option<i64>,
        full_path: bool,
    },
    Constant(Value),
}

#[derive(Debug, Clone, Copy)]
enum Transform {
    Lowercase,
    Uppercase,
    Trim,
    JsonParse,
}

fn bad(path: &str, why: impl Into<String>) -> Error {
    Error::field(format!("schema_mapping.{path}"), why)
}

fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, Error> {
    v.as_object().ok_or_else(|| bad(path, "must be an object"))
}

fn string<'a>(m: &'a Map<String, Value>, key: &str, path: &str) -> Result<Option<&'a str>, Error> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad(&format!("{path}.{key}"), "must be a string")),
    }
}

fn only(m: &Map<String, Value>, allowed: &[&str], path: &str) -> Result<(), Error> {
    match m.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(bad(
            &format!("{path}.{k}"),
            "is not a field of this mapping",
        )),
        None => Ok(()),
    }
}

impl SchemaMapping {
    /// Parses a stored or requested mapping against the bucket's schema.
    pub fn parse(value: &Value, schema: &BucketSchema) -> Result<Self, Error> {
        let top = value
            .as_object()
            .ok_or_else(|| Error::field("schema_mapping", "must be an object"))?;
        if let Some(k) = top.keys().find(|k| *k != "mappings") {
            return Err(bad(
                k,
                "is not a field of schema_mapping (it holds `mappings`)",
            ));
        }
        let entries = object(
            top.get("mappings")
                .ok_or_else(|| bad("mappings", "is required"))?,
            "mappings",
        )?;
        let mut mapping = SchemaMapping {
            blob: None,
            fields: BTreeMap::new(),
        };
        for (target, entry) in entries {
            let path = format!("mappings.{target}");
            let e = object(entry, &path)?;
            let source = object(
                e.get("source")
                    .ok_or_else(|| bad(&path, "needs a source"))?,
                &format!("{path}.source"),
            )?;
            let kind = string(source, "type", &format!("{path}.source"))?.unwrap_or("");
            let target_type = string(e, "target_type", &path)?.unwrap_or(if kind == "file" {
                "blob"
            } else {
                "field"
            });
            match target_type {
                "blob" => {
                    only(
                        e,
                        &[
                            "target_type",
                            "source",
                            "blob_type",
                            "blob_property",
                            "mime_type_override",
                        ],
                        &path,
                    )?;
                    if kind != "file" {
                        return Err(bad(
                            &format!("{path}.source.type"),
                            format!("a blob mapping takes the synced file (`file`), not {kind:?}"),
                        ));
                    }
                    if mapping.blob.is_some() {
                        return Err(bad(&path, "a sync maps its file to one blob property"));
                    }
                    mapping.blob = Some(blob_target(target, e, schema, &path)?);
                }
                "field" => {
                    only(
                        e,
                        &["target_type", "source", "transform", "required"],
                        &path,
                    )?;
                    let spec = schema.properties.get(target).ok_or_else(|| {
                        bad(
                            &path,
                            format!("{target:?} is not a property of the bucket's schema"),
                        )
                    })?;
                    if spec.ty.is_blob() {
                        return Err(bad(&path, format!("{target:?} is a blob property: map the file to it with target_type blob")));
                    }
                    let transform = match string(e, "transform", &path)? {
                        None => None,
                        Some("lowercase") => Some(Transform::Lowercase),
                        Some("uppercase") => Some(Transform::Uppercase),
                        Some("trim") => Some(Transform::Trim),
                        Some("json_parse") => Some(Transform::JsonParse),
                        Some(other) => {
                            return Err(bad(
                                &format!("{path}.transform"),
                                format!(
                                "{other:?} is not one of lowercase, uppercase, trim, json_parse"
                            ),
                            ))
                        }
                    };
                    let required = match e.get("required") {
                        None | Some(Value::Null) => false,
                        Some(Value::Bool(b)) => *b,
                        Some(_) => {
                            return Err(bad(&format!("{path}.required"), "must be true or false"))
                        }
                    };
                    let source = field_source(kind, source, &format!("{path}.source"))?;
                    mapping.fields.insert(
                        target.clone(),
                        FieldMapping {
                            source,
                            transform,
                            required,
                        },
                    );
                }
                other => {
                    return Err(bad(
                        &format!("{path}.target_type"),
                        format!("{other:?} is not blob or field"),
                    ))
                }
            }
        }
        Ok(mapping)
    }

    /// The metadata fields for the file at `key` (its full key in the source bucket);
    /// `Err` names a required field that could not be extracted.
    pub fn fields_for(&self, key: &str) -> Result<Map<String, Value>, String> {
        let mut out = Map::new();
        for (name, m) in &self.fields {
            match m.value(key)? {
                Some(v) => {
                    out.insert(name.clone(), v);
                }
                None if m.required => {
                    return Err(format!(
                        "required field {name:?} could not be extracted from {key:?}"
                    ))
                }
                None => {}
            }
        }
        Ok(out)
    }
}

fn blob_target(
    target: &str,
    e: &Map<String, Value>,
    schema: &BucketSchema,
    path: &str,
) -> Result<BlobTarget, Error> {
    // The map key names the property; the SDK always sends `blob_property` (default
    // "content"), so it decides only where the key is not a blob property.
    let property = match schema.properties.get(target) {
        Some(spec) if spec.ty.is_blob() => target.to_string(),
        _ => string(e, "blob_property", path)?
            .unwrap_or(target)
            .to_string(),
    };
    let spec = schema
        .properties
        .get(&property)
        .filter(|s| s.ty.is_blob())
        .ok_or_else(|| {
            bad(
                path,
                format!("{property:?} is not a blob property of the bucket's schema"),
            )
        })?;
    if let Some(declared) = string(e, "blob_type", path)? {
        let same = declared == "auto"
            || declared == spec.ty.as_str()
            || (declared == "document" && spec.ty == FieldType::Pdf);
        if !same {
            return Err(bad(
                &format!("{path}.blob_type"),
                format!(
                    "{declared:?} does not match {property:?}, which the schema types {}",
                    spec.ty.as_str()
                ),
            ));
        }
    }
    let mime_type_override = string(e, "mime_type_override", path)?.map(str::to_string);
    if let Some(m) = &mime_type_override {
        if !m.contains('/') || m.contains(char::is_whitespace) {
            return Err(bad(
                &format!("{path}.mime_type_override"),
                "must be type/subtype",
            ));
        }
    }
    Ok(BlobTarget {
        property,
        ty: spec.ty,
        mime_type_override,
    })
}

fn field_source(kind: &str, s: &Map<String, Value>, path: &str) -> Result<FieldSource, Error> {
    match kind {
        "filename_regex" => {
            only(s, &["type", "pattern", "default"], path)?;
            let pattern = string(s, "pattern", path)?
                .filter(|p| !p.is_empty())
                .ok_or_else(|| bad(&format!("{path}.pattern"), "is required"))?;
            let pattern = regex::Regex::new(pattern)
                .map_err(|e| bad(&format!("{path}.pattern"), format!("not a regular expression: {e}")))?;
            if pattern.captures_len() != 2 {
                return Err(bad(&format!("{path}.pattern"), "needs exactly one capture group"));
            }
            Ok(FieldSource::FilenameRegex {
                pattern,
                default: string(s, "default", path)?.map(str::to_string),
            })
        }
        "folder_path" => {
            only(s, &["type", "segment", "full_path"], path)?;
            let segment = match s.get("segment") {
                None | Some(Value::Null) => None,
                Some(v) => Some(v.as_i64().ok_or_else(|| bad(&format!("{path}.segment"), "must be an integer"))?),
            };
            let full_path = match s.get("full_path") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => return Err(bad(&format!("{path}.full_path"), "must be true or false")),
            };
            Ok(FieldSource::FolderPath { segment, full_path })
        }
        "constant" => {
            only(s, &["type", "value"], path)?;
            Ok(FieldSource::Constant(s.get("value").cloned().unwrap_or(Value::Null)))
        }
        "tag" | "metadata" => Err(bad(
            &format!("{path}.type"),
            format!("{kind:?} needs a request per file (object tags, x-amz-meta-*), which this server does not make; use filename_regex, folder_path or constant"),
        )),
        "" => Err(bad(&format!("{path}.type"), "is required")),
        other => Err(bad(
            &format!("{path}.type"),
            format!("{other:?} is not a source of a storage sync (filename_regex, folder_path, constant)"),
        )),
    }
}

impl FieldMapping {
    fn value(&self, key: &str) -> Result<Option<Value>, String> {
        let (folders, name) = match key.rsplit_once('/') {
            Some((dir, name)) => (
                dir.split('/').filter(|s| !s.is_empty()).collect::<Vec<_>>(),
                name,
            ),
            None => (Vec::new(), key),
        };
        let raw = match &self.source {
            FieldSource::Constant(v) => return Ok((!v.is_null()).then(|| v.clone())),
            FieldSource::FilenameRegex { pattern, default } => pattern
                .captures(name)
                .and_then(|c| c.get(1))
                .map(|m| m.as_str().to_string())
                .or_else(|| default.clone()),
            FieldSource::FolderPath {
                full_path: true, ..
            } => (!folders.is_empty()).then(|| folders.join("/")),
            FieldSource::FolderPath { segment, .. } => {
                let at = segment.unwrap_or(-1);
                let i = if at < 0 {
                    folders.len() as i64 + at
                } else {
                    at
                };
                usize::try_from(i)
                    .ok()
                    .and_then(|i| folders.get(i))
                    .map(|s| s.to_string())
            }
        };
        let Some(raw) = raw else { return Ok(None) };
        Ok(Some(match self.transform {
            None => Value::from(raw),
            Some(Transform::Lowercase) => Value::from(raw.to_lowercase()),
            Some(Transform::Uppercase) => Value::from(raw.to_uppercase()),
            Some(Transform::Trim) => Value::from(raw.trim()),
            Some(Transform::JsonParse) => {
                serde_json::from_str(&raw).map_err(|e| format!("json_parse of {raw:?}: {e}"))?
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> BucketSchema {
        BucketSchema::parse(&json!({"properties": {
            "clip": {"type": "video"}, "content": {"type": "binary"},
            "team": {"type": "string"}, "year": {"type": "string"}, "env": {"type": "string"},
            "path": {"type": "string"}, "spec": {"type": "object"},
        }}))
        .unwrap()
    }

    #[test]
    fn a_mapping_places_the_file_and_takes_fields_from_its_key() {
        let m = SchemaMapping::parse(&json!({"mappings": {
            // As the SDK sends it: blob_property defaulted to "content".
            "clip": {"target_type": "blob", "source": {"type": "file"}, "blob_type": "auto",
                     "blob_property": "content", "mime_type_override": "video/mp4"},
            "team": {"source": {"type": "folder_path", "segment": 0}, "transform": "uppercase"},
            "year": {"source": {"type": "filename_regex", "pattern": r"_(\d{4})\.", "default": "unknown"}},
            "env": {"source": {"type": "constant", "value": "prod"}},
            "path": {"source": {"type": "folder_path", "full_path": true}},
        }}), &schema()).unwrap();
        let blob = m.blob.as_ref().unwrap();
        assert_eq!(
            (blob.property.as_str(), blob.ty),
            ("clip", FieldType::Video)
        );
        assert_eq!(blob.mime_type_override.as_deref(), Some("video/mp4"));
        let f = m.fields_for("marketing/q4/launch_2024.mov").unwrap();
        assert_eq!(
            Value::Object(f),
            json!({"team": "MARKETING", "year": "2024", "env": "prod", "path": "marketing/q4"})
        );
        let f = m.fields_for("top.mov").unwrap();
        assert_eq!(Value::Object(f), json!({"year": "unknown", "env": "prod"}));
    }

    #[test]
    fn required_fields_and_bad_mappings_say_what_is_wrong() {
        let m = SchemaMapping::parse(&json!({"mappings": {
            "spec": {"source": {"type": "filename_regex", "pattern": r"^(\{.*\})"}, "transform": "json_parse", "required": true},
        }}), &schema()).unwrap();
        assert_eq!(
            Value::Object(m.fields_for(r#"d/{"a":1}"#).unwrap()),
            json!({"spec": {"a": 1}})
        );
        assert!(m
            .fields_for("d/plain.txt")
            .unwrap_err()
            .contains("required field \"spec\""));
        for (bad, needle) in [
            (
                json!({"mappings": {"nope": {"source": {"type": "constant", "value": 1}}}}),
                "not a property",
            ),
            (
                json!({"mappings": {"team": {"source": {"type": "tag", "key": "k"}}}}),
                "request per file",
            ),
            (
                json!({"mappings": {"year": {"source": {"type": "filename_regex", "pattern": "(a)(b)"}}}}),
                "exactly one capture group",
            ),
            (
                json!({"mappings": {"year": {"source": {"type": "filename_regex", "pattern": "("}}}}),
                "not a regular expression",
            ),
            (
                json!({"mappings": {"clip": {"target_type": "blob", "source": {"type": "file"}, "blob_type": "image"}}}),
                "does not match",
            ),
            (
                json!({"mappings": {"team": {"target_type": "blob", "source": {"type": "file"}}}}),
                "not a blob property",
            ),
            (
                json!({"mappings": {"clip": {"source": {"type": "constant"}}}}),
                "is a blob property",
            ),
            (
                json!({"mappings": {"team": {"source": {"type": "constant"}, "transform": "reverse"}}}),
                "not one of",
            ),
            (json!({"mapping": {}}), "not a field of schema_mapping"),
        ] {
            let err = SchemaMapping::parse(&bad, &schema())
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{bad}: {err}");
        }
    }
}
