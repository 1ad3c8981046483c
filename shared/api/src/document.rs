//! The OpenAPI document as committed: `shared/api/openapi.json`, written by
//! `cargo xtask routes` from the route table (`openapi::document`); xtask's test fails
//! while the two differ. Served at `/openapi.json` and used to check request bodies.

use serde_json::Value;

pub fn served() -> &'static Value {
    static DOCUMENT: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(|| {
        serde_json::from_str(include_str!("../openapi.json"))
            .expect("shared/api/openapi.json is JSON (cargo xtask routes writes it)")
    })
}
