//! What GCS says when it refuses: `{"error": {"code": …, "message": …}}`.

use serde_json::Value;

/// The message of a GCS JSON API error body.
pub fn said(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    match v.get("error")? {
        Value::Object(e) => e.get("message")?.as_str().map(str::to_string),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}
