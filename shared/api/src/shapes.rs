//! serde reads a struct from a JSON array as well as from an object (`[a, b]` fills its
//! fields in order), so `"file_filters": [null, null]` would parse. The document says
//! objects. This walks a request body beside its route's schema in the document and
//! refuses an array wherever the schema allows none, so what is accepted is what is
//! documented.

use serde_json::Value;

use crate::error::ApiError;
use crate::route::Route;

/// The route's request body schema, as the document declares it.
fn body_schema<'a>(doc: &'a Value, route: &Route) -> Option<&'a Value> {
    doc.get("paths")?
        .get(route.path)?
        .get(route.method.to_ascii_lowercase())?
        .pointer("/requestBody/content/application~1json/schema")
}

/// Refuses (422, naming the field) an array sent where the body's schema wants none.
pub fn refuse_misplaced_arrays(route: &Route, body: &[u8]) -> Result<(), ApiError> {
    if route.request_body.is_none() || !body.contains(&b'[') {
        return Ok(());
    }
    // A body that is not JSON, or not an object, is the handler's parse to refuse (400).
    let Ok(value @ Value::Object(_)) = serde_json::from_slice::<Value>(body) else {
        return Ok(());
    };
    let doc = crate::document::served();
    let Some(schema) = body_schema(doc, route) else {
        return Ok(());
    };
    let mut path = String::new();
    match walk(doc, schema, &value, &mut path, 0) {
        Ok(()) => Ok(()),
        Err(()) => Err(ApiError::field(
            if path.is_empty() { "body".into() } else { path },
            "must be an object, not an array",
        )),
    }
}

const DEPTH: usize = 32;

fn resolve<'a>(doc: &'a Value, mut schema: &'a Value) -> &'a Value {
    for _ in 0..DEPTH {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => match r.strip_prefix('#').and_then(|p| doc.pointer(p)) {
                Some(target) => schema = target,
                None => break,
            },
            None => break,
        }
    }
    schema
}

/// The alternatives a schema offers (itself, or its `anyOf` / `oneOf` branches).
fn branches<'a>(doc: &'a Value, schema: &'a Value) -> Vec<&'a Value> {
    let schema = resolve(doc, schema);
    let mut out = Vec::new();
    for key in ["anyOf", "oneOf"] {
        if let Some(list) = schema.get(key).and_then(Value::as_array) {
            out.extend(list.iter().flat_map(|b| branches(doc, b)));
        }
    }
    if out.is_empty() || schema.get("type").is_some() {
        out.push(schema);
    }
    out
}

/// Whether the schema may hold an array: unknown shapes (`{}`, `true`) may.
fn allows_array(doc: &Value, schema: &Value) -> bool {
    branches(doc, schema)
        .into_iter()
        .any(|b| match b.get("type") {
            Some(Value::String(t)) => t == "array",
            Some(Value::Array(ts)) => ts.iter().any(|t| t == "array"),
            _ => b.get("properties").is_none(),
        })
}

fn walk(
    doc: &Value,
    schema: &Value,
    value: &Value,
    path: &mut String,
    depth: usize,
) -> Result<(), ()> {
    if depth > DEPTH {
        return Ok(());
    }
    match value {
        Value::Array(items) => {
            if !allows_array(doc, schema) {
                return Err(());
            }
            let item_schema = branches(doc, schema)
                .into_iter()
                .find_map(|b| b.get("items"));
            if let Some(item_schema) = item_schema {
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    walk(doc, item_schema, item, path, depth + 1)?;
                    path.truncate(len);
                }
            }
        }
        Value::Object(fields) => {
            for (name, field) in fields {
                let field_schema = branches(doc, schema).into_iter().find_map(|b| {
                    b.get("properties")
                        .and_then(|p| p.get(name))
                        .or_else(|| b.get("additionalProperties").filter(|a| a.is_object()))
                });
                if let Some(field_schema) = field_schema {
                    let len = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(name);
                    walk(doc, field_schema, field, path, depth + 1)?;
                    path.truncate(len);
                }
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::{buckets::BUCKETS_CREATE, objects::OBJECTS_CREATE, syncs::SYNCS_UPDATE};

    fn refused(route: &Route, body: &str) -> Option<String> {
        refuse_misplaced_arrays(route, body.as_bytes())
            .err()
            .map(|e| format!("{e:?}"))
    }

    #[test]
    fn an_array_where_an_object_belongs_is_refused_by_its_path() {
        let e = refused(&SYNCS_UPDATE, r#"{"file_filters": [null, null]}"#).expect("refused");
        assert!(e.contains("file_filters"), "{e}");
        let e = refused(&OBJECTS_CREATE, r#"{"blobs": [["body", "text", "x"]]}"#).expect("refused");
        assert!(e.contains("blobs[0]"), "{e}");
        assert!(refused(
            &BUCKETS_CREATE,
            r#"{"bucket_name": "b", "bucket_schema": {}, "unique_key": ["sku"]}"#
        )
        .is_some());
    }

    #[test]
    fn arrays_where_the_schema_has_them_pass() {
        assert_eq!(
            refused(
                &OBJECTS_CREATE,
                r#"{"blobs": [{"property": "body", "type": "text", "data": "x"}], "metadata": {"tags": ["a"]}}"#
            ),
            None
        );
        assert_eq!(
            refused(&SYNCS_UPDATE, r#"{"batch_collection_ids": ["col_1"]}"#),
            None
        );
    }
}
