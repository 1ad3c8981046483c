//! Bucket schemas and the validation of objects against them.
//!
//! A schema maps property names to types. Blob types (text, image, audio, video, json,
//! binary, pdf, excel) are filled by an object's `blobs`; metadata types (string,
//! number, integer, float, boolean, object, array, date, datetime) by its `metadata`.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

/// A validation failure naming the field (a dotted path) and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    String,
    Number,
    Integer,
    Float,
    Boolean,
    Object,
    Array,
    Date,
    Datetime,
    Text,
    Image,
    Audio,
    Video,
    Json,
    Binary,
    Pdf,
    Excel,
}

const ALL_TYPES: [FieldType; 17] = [
    FieldType::String,
    FieldType::Number,
    FieldType::Integer,
    FieldType::Float,
    FieldType::Boolean,
    FieldType::Object,
    FieldType::Array,
    FieldType::Date,
    FieldType::Datetime,
    FieldType::Text,
    FieldType::Image,
    FieldType::Audio,
    FieldType::Video,
    FieldType::Json,
    FieldType::Binary,
    FieldType::Pdf,
    FieldType::Excel,
];

impl FieldType {
    pub fn parse(s: &str) -> Option<Self> {
        let lower = s.to_ascii_lowercase();
        ALL_TYPES.into_iter().find(|t| t.as_str() == lower)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Number => "number",
            FieldType::Integer => "integer",
            FieldType::Float => "float",
            FieldType::Boolean => "boolean",
            FieldType::Object => "object",
            FieldType::Array => "array",
            FieldType::Date => "date",
            FieldType::Datetime => "datetime",
            FieldType::Text => "text",
            FieldType::Image => "image",
            FieldType::Audio => "audio",
            FieldType::Video => "video",
            FieldType::Json => "json",
            FieldType::Binary => "binary",
            FieldType::Pdf => "pdf",
            FieldType::Excel => "excel",
        }
    }

    pub fn is_blob(self) -> bool {
        matches!(
            self,
            FieldType::Text
                | FieldType::Image
                | FieldType::Audio
                | FieldType::Video
                | FieldType::Json
                | FieldType::Binary
                | FieldType::Pdf
                | FieldType::Excel
        )
    }

    /// Whether a MIME type fits this blob type (`binary` takes anything).
    pub fn accepts_mime(self, mime: &str) -> bool {
        let mime = mime
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match self {
            FieldType::Image => mime.starts_with("image/"),
            FieldType::Audio => mime.starts_with("audio/"),
            FieldType::Video => mime.starts_with("video/"),
            FieldType::Text => {
                mime.starts_with("text/")
                    || matches!(mime.as_str(), "application/json" | "application/xml")
            }
            FieldType::Json => {
                mime == "application/json" || mime.ends_with("+json") || mime == "text/json"
            }
            FieldType::Pdf => mime == "application/pdf",
            FieldType::Excel => matches!(
                mime.as_str(),
                "application/vnd.ms-excel"
                    | "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                    | "text/csv"
            ),
            FieldType::Binary => true,
            _ => false,
        }
    }

    pub fn all_names() -> Vec<&'static str> {
        ALL_TYPES.iter().map(|t| t.as_str()).collect()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FieldSpec {
    pub ty: FieldType,
    pub required: bool,
    pub enum_values: Option<Vec<Value>>,
    pub items: Option<Box<FieldSpec>>,
    pub properties: Option<BTreeMap<String, FieldSpec>>,
    pub description: Option<String>,
    pub default: Option<Value>,
    pub examples: Option<Vec<Value>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BucketSchema {
    pub properties: BTreeMap<String, FieldSpec>,
}

const MAX_DEPTH: usize = 8;
const MAX_PROPERTIES: usize = 256;

fn check_property_name(name: &str, path: &str) -> Result<(), FieldError> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(FieldError::new(
            path,
            "property names are 1-100 letters, digits, '_' or '-'",
        ))
    }
}

fn parse_properties(
    value: &Value,
    path: &str,
    depth: usize,
) -> Result<BTreeMap<String, FieldSpec>, FieldError> {
    let map = value
        .as_object()
        .ok_or_else(|| FieldError::new(path, "must be an object of property definitions"))?;
    if map.len() > MAX_PROPERTIES {
        return Err(FieldError::new(
            path,
            format!("at most {MAX_PROPERTIES} properties"),
        ));
    }
    let mut out = BTreeMap::new();
    for (name, def) in map {
        let field_path = format!("{path}.{name}");
        check_property_name(name, &field_path)?;
        out.insert(name.clone(), parse_field(def, &field_path, depth)?);
    }
    Ok(out)
}

fn parse_field(def: &Value, path: &str, depth: usize) -> Result<FieldSpec, FieldError> {
    if depth > MAX_DEPTH {
        return Err(FieldError::new(
            path,
            format!("nesting deeper than {MAX_DEPTH} levels"),
        ));
    }
    let obj = def
        .as_object()
        .ok_or_else(|| FieldError::new(path, "must be an object with a 'type'"))?;
    let type_name = obj
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| FieldError::new(format!("{path}.type"), "is required"))?;
    let ty = FieldType::parse(type_name).ok_or_else(|| {
        FieldError::new(
            format!("{path}.type"),
            format!(
                "unknown type {type_name:?}; expected one of {}",
                FieldType::all_names().join(", ")
            ),
        )
    })?;
    let required = match obj.get("required") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(FieldError::new(
                format!("{path}.required"),
                "must be a boolean",
            ))
        }
    };
    let items = match obj.get("items") {
        None | Some(Value::Null) => None,
        Some(_) if ty != FieldType::Array => {
            return Err(FieldError::new(
                format!("{path}.items"),
                "only an array has items",
            ))
        }
        Some(v) => Some(Box::new(parse_field(
            v,
            &format!("{path}.items"),
            depth + 1,
        )?)),
    };
    let properties = match obj.get("properties") {
        None | Some(Value::Null) => None,
        Some(_) if ty != FieldType::Object => {
            return Err(FieldError::new(
                format!("{path}.properties"),
                "only an object has properties",
            ))
        }
        Some(v) => Some(parse_properties(
            v,
            &format!("{path}.properties"),
            depth + 1,
        )?),
    };
    let description = match obj.get("description") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(FieldError::new(
                format!("{path}.description"),
                "must be a string",
            ))
        }
    };
    let list = |key: &str| -> Result<Option<Vec<Value>>, FieldError> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a.clone())),
            Some(_) => Err(FieldError::new(format!("{path}.{key}"), "must be a list")),
        }
    };
    let spec = FieldSpec {
        ty,
        required,
        enum_values: list("enum")?,
        items,
        properties,
        description,
        default: obj.get("default").filter(|v| !v.is_null()).cloned(),
        examples: list("examples")?,
    };
    if let Some(values) = &spec.enum_values {
        if ty.is_blob() {
            return Err(FieldError::new(
                format!("{path}.enum"),
                "blob properties take no enum",
            ));
        }
        if values.is_empty() {
            return Err(FieldError::new(
                format!("{path}.enum"),
                "must list at least one value",
            ));
        }
        let bare = FieldSpec {
            enum_values: None,
            ..spec.clone()
        };
        for (i, v) in values.iter().enumerate() {
            bare.check_value(v, &format!("{path}.enum[{i}]"))?;
        }
    }
    if let Some(default) = &spec.default {
        if ty.is_blob() {
            return Err(FieldError::new(
                format!("{path}.default"),
                "blob properties take no default",
            ));
        }
        spec.check_value(default, &format!("{path}.default"))?;
    }
    Ok(spec)
}

fn is_date(s: &str) -> bool {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &format).is_ok()
}

fn is_datetime(s: &str) -> bool {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok()
}

fn type_name_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

impl FieldSpec {
    /// Checks a metadata value against this field (type, enum, nested items/properties).
    pub fn check_value(&self, v: &Value, path: &str) -> Result<(), FieldError> {
        let wrong = || {
            FieldError::new(
                path,
                format!("expected {}, got {}", self.ty.as_str(), type_name_of(v)),
            )
        };
        match self.ty {
            FieldType::String => v.as_str().map(|_| ()).ok_or_else(wrong)?,
            FieldType::Number | FieldType::Float => v.as_f64().map(|_| ()).ok_or_else(wrong)?,
            FieldType::Integer => (v.is_i64() || v.is_u64()).then_some(()).ok_or_else(wrong)?,
            FieldType::Boolean => v.as_bool().map(|_| ()).ok_or_else(wrong)?,
            FieldType::Date => match v.as_str() {
                Some(s) if is_date(s) => {}
                Some(_) => return Err(FieldError::new(path, "expected a date as YYYY-MM-DD")),
                None => return Err(wrong()),
            },
            FieldType::Datetime => match v.as_str() {
                Some(s) if is_datetime(s) => {}
                Some(_) => return Err(FieldError::new(path, "expected an RFC 3339 date-time")),
                None => return Err(wrong()),
            },
            FieldType::Array => {
                let items = v.as_array().ok_or_else(wrong)?;
                if let Some(spec) = &self.items {
                    for (i, item) in items.iter().enumerate() {
                        spec.check_value(item, &format!("{path}[{i}]"))?;
                    }
                }
            }
            FieldType::Object => {
                let map = v.as_object().ok_or_else(wrong)?;
                if let Some(props) = &self.properties {
                    check_map(props, map, path)?;
                }
            }
            blob => {
                return Err(FieldError::new(
                    path,
                    format!("is a {} blob property: send it in 'blobs'", blob.as_str()),
                ))
            }
        }
        if let Some(values) = &self.enum_values {
            if !values.contains(v) {
                return Err(FieldError::new(
                    path,
                    format!("must be one of {}", Value::Array(values.clone())),
                ));
            }
        }
        Ok(())
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("type".into(), json!(self.ty.as_str()));
        m.insert("required".into(), json!(self.required));
        if let Some(d) = &self.description {
            m.insert("description".into(), json!(d));
        }
        if let Some(e) = &self.enum_values {
            m.insert("enum".into(), json!(e));
        }
        if let Some(d) = &self.default {
            m.insert("default".into(), d.clone());
        }
        if let Some(e) = &self.examples {
            m.insert("examples".into(), json!(e));
        }
        if let Some(items) = &self.items {
            m.insert("items".into(), items.to_json());
        }
        if let Some(props) = &self.properties {
            m.insert("properties".into(), props_json(props));
        }
        Value::Object(m)
    }
}

fn props_json(props: &BTreeMap<String, FieldSpec>) -> Value {
    Value::Object(
        props
            .iter()
            .map(|(k, v)| (k.clone(), v.to_json()))
            .collect(),
    )
}

/// Checks a map of metadata values: no unknown keys, types, and required fields.
fn check_map(
    props: &BTreeMap<String, FieldSpec>,
    map: &Map<String, Value>,
    path: &str,
) -> Result<(), FieldError> {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    for (k, v) in map {
        let spec = props
            .get(k)
            .ok_or_else(|| FieldError::new(join(k), "is not a property of the schema"))?;
        if v.is_null() && !spec.required {
            continue;
        }
        spec.check_value(v, &join(k))?;
    }
    for (k, spec) in props {
        if spec.required && !spec.ty.is_blob() && map.get(k).is_none_or(Value::is_null) {
            return Err(FieldError::new(join(k), "is required"));
        }
    }
    Ok(())
}

impl BucketSchema {
    /// Parses a bucket schema as clients send it (`{"properties": {...}}`).
    pub fn parse(value: &Value) -> Result<Self, FieldError> {
        let obj = value
            .as_object()
            .ok_or_else(|| FieldError::new("bucket_schema", "must be an object"))?;
        let props = obj
            .get("properties")
            .ok_or_else(|| FieldError::new("bucket_schema.properties", "is required"))?;
        let properties = parse_properties(props, "bucket_schema.properties", 0)?;
        if properties.is_empty() {
            return Err(FieldError::new(
                "bucket_schema.properties",
                "must define at least one property",
            ));
        }
        Ok(BucketSchema { properties })
    }

    pub fn to_json(&self) -> Value {
        json!({ "properties": props_json(&self.properties) })
    }

    /// The schema field a blob names, which must be a blob property of that type.
    pub fn blob_field(
        &self,
        property: &str,
        ty: FieldType,
        path: &str,
    ) -> Result<&FieldSpec, FieldError> {
        let spec = self.properties.get(property).ok_or_else(|| {
            FieldError::new(
                format!("{path}.property"),
                format!("{property:?} is not a property of the bucket schema"),
            )
        })?;
        if !spec.ty.is_blob() {
            return Err(FieldError::new(
                format!("{path}.property"),
                format!(
                    "{property:?} is a {} metadata property, not a blob",
                    spec.ty.as_str()
                ),
            ));
        }
        if spec.ty != ty {
            return Err(FieldError::new(
                format!("{path}.type"),
                format!(
                    "{property:?} takes {} blobs, got {}",
                    spec.ty.as_str(),
                    ty.as_str()
                ),
            ));
        }
        Ok(spec)
    }

    /// Validates an object's metadata and checks that every required blob is present.
    pub fn check_object<'a>(
        &self,
        metadata: &Map<String, Value>,
        blob_properties: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), FieldError> {
        check_map(&self.properties, metadata, "metadata")?;
        let present: Vec<&str> = blob_properties.into_iter().collect();
        for (name, spec) in &self.properties {
            if spec.ty.is_blob() && spec.required && !present.contains(&name.as_str()) {
                return Err(FieldError::new(
                    format!("blobs.{name}"),
                    "is required by the bucket schema",
                ));
            }
        }
        Ok(())
    }

    /// The blob properties the schema requires that `present` leaves out.
    pub fn missing_blobs<'a>(&self, present: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let present: Vec<&str> = present.into_iter().collect();
        self.properties
            .iter()
            .filter(|(name, spec)| {
                spec.ty.is_blob() && spec.required && !present.contains(&name.as_str())
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Fills defaults for absent metadata fields.
    pub fn apply_defaults(&self, metadata: &mut Map<String, Value>) {
        for (name, spec) in &self.properties {
            if let Some(default) = &spec.default {
                metadata
                    .entry(name.clone())
                    .or_insert_with(|| default.clone());
            }
        }
    }

    /// Whether `next` only adds optional properties to `self` (safe with objects present).
    pub fn is_additive_change(&self, next: &BucketSchema) -> bool {
        self.properties
            .iter()
            .all(|(k, v)| next.properties.get(k) == Some(v))
            && next
                .properties
                .iter()
                .all(|(k, v)| self.properties.contains_key(k) || !v.required)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed() -> BucketSchema {
        BucketSchema::parse(&json!({"properties": {
            "product_text": {"type": "text", "required": true},
            "hero_image": {"type": "image"},
            "price": {"type": "number"},
            "sku": {"type": "string", "required": true},
            "tier": {"type": "string", "enum": ["gold", "silver"]},
            "released": {"type": "date"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "dims": {"type": "object", "properties": {"w": {"type": "integer", "required": true}}}
        }}))
        .unwrap()
    }

    fn meta(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn accepts_valid_object() {
        let s = seed();
        let m = meta(
            json!({"sku": "a1", "price": 3.5, "tier": "gold", "released": "2024-02-29",
                            "tags": ["x"], "dims": {"w": 3}}),
        );
        s.check_object(&m, ["product_text"]).unwrap();
    }

    #[test]
    fn names_the_field_that_fails() {
        let s = seed();
        let cases = [
            (json!({"sku": "a", "nope": 1}), "metadata.nope"),
            (json!({"sku": 5}), "metadata.sku"),
            (json!({}), "metadata.sku"),
            (json!({"sku": "a", "tier": "bronze"}), "metadata.tier"),
            (
                json!({"sku": "a", "released": "2023-02-29"}),
                "metadata.released",
            ),
            (json!({"sku": "a", "tags": ["x", 2]}), "metadata.tags[1]"),
            (json!({"sku": "a", "dims": {}}), "metadata.dims.w"),
            (
                json!({"sku": "a", "hero_image": "x"}),
                "metadata.hero_image",
            ),
        ];
        for (m, field) in cases {
            let err = s
                .check_object(&meta(m.clone()), ["product_text"])
                .unwrap_err();
            assert_eq!(err.field, field, "{m}: {err:?}");
        }
        let err = s.check_object(&meta(json!({"sku": "a"})), []).unwrap_err();
        assert_eq!(err.field, "blobs.product_text");
    }

    #[test]
    fn blob_fields_check_property_and_type() {
        let s = seed();
        assert!(s
            .blob_field("hero_image", FieldType::Image, "blobs[0]")
            .is_ok());
        assert_eq!(
            s.blob_field("hero_image", FieldType::Video, "blobs[0]")
                .unwrap_err()
                .field,
            "blobs[0].type"
        );
        assert_eq!(
            s.blob_field("price", FieldType::Text, "blobs[0]")
                .unwrap_err()
                .field,
            "blobs[0].property"
        );
        assert_eq!(
            s.blob_field("ghost", FieldType::Text, "blobs[0]")
                .unwrap_err()
                .field,
            "blobs[0].property"
        );
    }

    #[test]
    fn rejects_bad_schemas() {
        let bad = [
            (json!({}), "bucket_schema.properties"),
            (json!({"properties": {}}), "bucket_schema.properties"),
            (
                json!({"properties": {"a": {"type": "weird"}}}),
                "bucket_schema.properties.a.type",
            ),
            (
                json!({"properties": {"a": {"type": "string", "enum": [1]}}}),
                "bucket_schema.properties.a.enum[0]",
            ),
            (
                json!({"properties": {"a b": {"type": "string"}}}),
                "bucket_schema.properties.a b",
            ),
            (
                json!({"properties": {"a": {"type": "string", "items": {"type": "string"}}}}),
                "bucket_schema.properties.a.items",
            ),
        ];
        for (schema, field) in bad {
            assert_eq!(
                BucketSchema::parse(&schema).unwrap_err().field,
                field,
                "{schema}"
            );
        }
    }

    #[test]
    fn additive_changes_are_recognised() {
        let s = seed();
        let mut more = s.clone();
        more.properties.insert(
            "extra".into(),
            parse_field(&json!({"type": "string"}), "x", 0).unwrap(),
        );
        assert!(s.is_additive_change(&more));
        let mut required = s.clone();
        required.properties.insert(
            "extra".into(),
            parse_field(&json!({"type": "string", "required": true}), "x", 0).unwrap(),
        );
        assert!(!s.is_additive_change(&required));
        assert!(!more.is_additive_change(&s));
    }

    #[test]
    fn mime_fits_blob_type() {
        assert!(FieldType::Image.accepts_mime("image/jpeg"));
        assert!(!FieldType::Image.accepts_mime("video/mp4"));
        assert!(FieldType::Text.accepts_mime("text/plain; charset=utf-8"));
        assert!(FieldType::Binary.accepts_mime("application/octet-stream"));
    }
}
