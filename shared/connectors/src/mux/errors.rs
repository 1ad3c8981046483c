//! What Mux says when it refuses: `{"error": {"type": …, "messages": [...]}}`.

use serde_json::Value;

pub fn said(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let e = v.get("error")?;
    let messages: Vec<&str> = e
        .get("messages")
        .and_then(Value::as_array)
        .map(|m| m.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let kind = e.get("type").and_then(Value::as_str).unwrap_or("error");
    Some(format!("{kind}: {}", messages.join("; ")))
}
