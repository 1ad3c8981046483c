//! The `Idempotency-Key` header on create and submit routes: the first request with a
//! key claims it (a conditional put) and stores its response; a repeat with the same
//! body gets that response back, a repeat with another body a 422, and one that arrives
//! while the first still runs a 409.

use serde_json::{json, Value};

use crate::error::ApiError;
use crate::ApiResponse;
use sluice_core::context::AppContext;
use sluice_core::domain::ids::sha256_hex;
use sluice_core::domain::time::now;
use sluice_core::ports::{Cond, Item, StoreError, Update, Write};
use sluice_core::store::{self, keys};
use sluice_core::Error;

/// How long a key is remembered.
const KEEP_HOURS: i64 = 24;
/// Stored responses larger than this are not replayed (the claim still guards the body).
const MAX_STORED_BYTES: usize = 300 * 1024;

pub enum Claim {
    /// First use: run the request, then `finish`.
    Fresh { key_hash: String },
    /// A repeat: here is the first response.
    Replay(ApiResponse),
}

fn fingerprint(method: &str, path: &str, namespace: Option<&str>, body: &[u8]) -> String {
    let mut basis = format!("{method} {path} {}\n", namespace.unwrap_or("")).into_bytes();
    basis.extend_from_slice(body);
    sha256_hex(&basis)
}

pub async fn claim(
    ctx: &AppContext,
    org_id: &str,
    key: &str,
    method: &str,
    path: &str,
    namespace: Option<&str>,
    body: &[u8],
) -> Result<Claim, ApiError> {
    if key.is_empty() || key.len() > 255 {
        return Err(ApiError::field("Idempotency-Key", "1 to 255 characters"));
    }
    let key_hash = sha256_hex(format!("{org_id}\n{key}").as_bytes());
    let request = fingerprint(method, path, namespace, body);
    let table_key = keys::idempotency_key(org_id, &key_hash);
    let mut item = Item::new();
    item.insert("pk".into(), json!(table_key.pk));
    item.insert("sk".into(), json!(table_key.sk));
    item.insert("request".into(), json!(request));
    item.insert("state".into(), json!("running"));
    let at = now();
    store::set_expiry(&mut item, at + time::Duration::hours(KEEP_HOURS));
    // A record past its expiry is absent, whether or not the table has deleted it yet:
    // the claim replaces it only if it is still the expired one it saw.
    match ctx.table.write(Write::create(item.clone())).await {
        Ok(_) => return Ok(Claim::Fresh { key_hash }),
        Err(StoreError::ConditionFailed { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    let mut stored = ctx.table.get(&table_key).await?;
    if let Some(old) = stored.as_ref().filter(|old| store::expired(old, at)) {
        let previous = old.get(store::TTL_ATTRIBUTE).cloned().unwrap_or_default();
        let replace = Write::Put {
            item,
            cond: Cond::Equals(store::TTL_ATTRIBUTE.into(), previous),
        };
        match ctx.table.write(replace).await {
            Ok(_) => return Ok(Claim::Fresh { key_hash }),
            // Another request claimed the expired key first: judge against its record.
            Err(StoreError::ConditionFailed { .. }) => stored = ctx.table.get(&table_key).await?,
            Err(e) => return Err(e.into()),
        }
    }
    let Some(stored) = stored else {
        return Err(ApiError::App(Error::Conflict(
            "the request with this Idempotency-Key just failed; retry".into(),
        )));
    };
    if stored.get("request").and_then(Value::as_str) != Some(request.as_str()) {
        return Err(ApiError::App(Error::Invalid {
            message: "Idempotency-Key was already used with a different request".into(),
            details: json!({"field": "Idempotency-Key"}),
        }));
    }
    match (
        stored.get("state").and_then(Value::as_str),
        stored.get("status"),
        stored.get("body"),
    ) {
        (Some("done"), Some(status), Some(Value::String(body))) => Ok(Claim::Replay(ApiResponse {
            status: status.as_u64().unwrap_or(200) as u16,
            body: bytes::Bytes::from(body.clone()),
            headers: Vec::new(),
        })),
        (Some("done"), ..) => Err(ApiError::App(Error::Conflict(
            "this Idempotency-Key's response is too large to replay; fetch the resource instead"
                .into(),
        ))),
        _ => Err(ApiError::App(Error::Conflict(
            "a request with this Idempotency-Key is still running".into(),
        ))),
    }
}

/// Fields a stored response never keeps (a secret shown once must not be readable again
/// from the table, nor replayed).
const SECRET_FIELDS: [&str; 1] = ["signing_secret"];

/// The body to store: `body` without its secrets, and whether any were removed.
fn without_secrets(body: &[u8]) -> (String, bool) {
    fn strip(v: &mut Value) -> bool {
        match v {
            Value::Object(m) => {
                let mut removed = false;
                for f in SECRET_FIELDS {
                    removed |= m.remove(f).is_some_and(|v| !v.is_null());
                }
                for v in m.values_mut() {
                    removed |= strip(v);
                }
                removed
            }
            Value::Array(items) => {
                // Every element, not up to the first with a secret.
                let mut removed = false;
                for v in items {
                    removed |= strip(v);
                }
                removed
            }
            _ => false,
        }
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(mut v) => {
            let removed = strip(&mut v);
            if removed {
                if let Value::Object(m) = &mut v {
                    m.insert(
                        "signing_secret_withheld".into(),
                        json!("the signing secret is returned only by the request that created the webhook, never by a replay"),
                    );
                }
            }
            if removed {
                (v.to_string(), true)
            } else {
                (String::from_utf8_lossy(body).into_owned(), false)
            }
        }
        Err(_) => (String::from_utf8_lossy(body).into_owned(), false),
    }
}

/// Stores the response of a claimed request; a server error releases the key instead.
pub async fn finish(
    ctx: &AppContext,
    org_id: &str,
    key_hash: &str,
    response: &ApiResponse,
) -> Result<(), ApiError> {
    let table_key = keys::idempotency_key(org_id, key_hash);
    if response.status >= 500 {
        ctx.table.write(Write::delete(table_key)).await?;
        return Ok(());
    }
    let mut updates = vec![
        Update::Set("state".into(), json!("done")),
        Update::Set("status".into(), json!(response.status)),
    ];
    if response.body.len() <= MAX_STORED_BYTES {
        let (body, _) = without_secrets(&response.body);
        updates.push(Update::Set("body".into(), json!(body)));
    }
    ctx.table
        .write(Write::Update {
            key: table_key,
            updates,
            cond: Cond::Exists,
        })
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_responses_keep_no_secret_and_say_so() {
        let body = json!({"webhook_id": "wh_1", "signing_secret": "whsec_x",
                          "channels": [{"configs": {"url": "u", "signing_secret": "whsec_x"}}]});
        let (stored, removed) = without_secrets(body.to_string().as_bytes());
        assert!(removed && !stored.contains("whsec_x"), "{stored}");
        let v: Value = serde_json::from_str(&stored).unwrap();
        assert_eq!(v["webhook_id"], "wh_1");
        assert!(v["signing_secret_withheld"]
            .as_str()
            .unwrap()
            .contains("only"));
        let (plain, removed) = without_secrets(br#"{"bucket_id":"b"}"#);
        assert!(!removed && plain == r#"{"bucket_id":"b"}"#);
    }

    /// The first request holds its key until it finishes: a repeat meanwhile is a 409,
    /// another body a 422; once it finishes, a repeat is its response, and a 5xx frees
    /// the key for a retry.
    #[tokio::test]
    async fn a_repeat_while_the_first_runs_is_a_409_then_a_replay() {
        let memory = sluice_core::testing::Memory::new();
        let ctx = &memory.ctx;
        let body = br#"{"namespace_name":"x"}"#;
        let claim_with = |key: &'static str, body: &'static [u8]| {
            claim(ctx, "org_1", key, "POST", "/v1/namespaces", None, body)
        };
        let Ok(Claim::Fresh { key_hash }) = claim_with("k1", body).await else {
            panic!("the first use is fresh")
        };
        match claim_with("k1", body).await {
            Err(ApiError::App(Error::Conflict(why))) => assert!(why.contains("still running")),
            _ => panic!("a repeat while the first runs is a 409"),
        }
        match claim_with("k1", b"{}").await {
            Err(ApiError::App(Error::Invalid { details, .. })) => {
                assert_eq!(details["field"], "Idempotency-Key")
            }
            _ => panic!("another body is a 422"),
        }
        let first = ApiResponse {
            status: 200,
            body: bytes::Bytes::from_static(br#"{"namespace_id":"ns_1"}"#),
            headers: Vec::new(),
        };
        assert!(finish(ctx, "org_1", &key_hash, &first).await.is_ok());
        match claim_with("k1", body).await {
            Ok(Claim::Replay(r)) => assert_eq!((r.status, r.body), (200, first.body)),
            _ => panic!("a repeat after the first is its response"),
        }
        // A server error releases the key: the retry runs afresh.
        let Ok(Claim::Fresh { key_hash }) = claim_with("k2", body).await else {
            panic!("fresh")
        };
        let failed = ApiResponse {
            status: 503,
            body: bytes::Bytes::new(),
            headers: Vec::new(),
        };
        assert!(finish(ctx, "org_1", &key_hash, &failed).await.is_ok());
        assert!(matches!(
            claim_with("k2", body).await,
            Ok(Claim::Fresh { .. })
        ));
    }
}
