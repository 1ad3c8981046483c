//! What Box says when it refuses: the API's `{"type": "error", "code", "message"}`, or
//! the token endpoint's OAuth `{"error", "error_description"}`.

use serde_json::Value;

pub fn said(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let text = |k: &str| v.get(k).and_then(Value::as_str);
    match (text("code"), text("message"), text("error")) {
        (Some(code), Some(message), _) => Some(format!("{code}: {message}")),
        (_, _, Some(error)) => Some(match text("error_description") {
            Some(d) => format!("{error}: {d}"),
            None => error.to_string(),
        }),
        (code, message, _) => code.or(message).map(str::to_string),
    }
}
