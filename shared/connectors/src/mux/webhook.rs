//! Mux's webhooks: `mux-signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`
//! with the connection's webhook signing secret, refused when more than five minutes
//! from now (a replay).

use std::collections::HashMap;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sluice_core::domain::connections::ProviderConfig;
use sluice_core::ports::{InboundEvent, InboundRefusal};

/// How far a signature's time may be from now.
const TOLERANCE_SECS: i64 = 300;
/// The events that change which assets are files.
const CHANGES: &[&str] = &[
    "video.asset.ready",
    "video.asset.deleted",
    "video.asset.static_rendition.ready",
    "video.asset.static_rendition.deleted",
];

pub fn inbound(
    config: &ProviderConfig,
    headers: &HashMap<String, String>,
    body: &[u8],
    now: i64,
) -> Result<InboundEvent, InboundRefusal> {
    let secret = config.credentials.text("webhook_secret").ok_or_else(|| {
        InboundRefusal::Unsupported(
            "this mux connection has no webhook_secret: set it to Mux's webhook signing secret to receive events".into(),
        )
    })?;
    let header = headers
        .get("mux-signature")
        .ok_or_else(|| InboundRefusal::Unverified("no mux-signature header".into()))?;
    let (at, signatures) = parse(header)?;
    if (now - at).abs() > TOLERANCE_SECS {
        return Err(InboundRefusal::Unverified(format!(
            "the signature's time is {}s from now, over the {TOLERANCE_SECS}s tolerance",
            (now - at).abs()
        )));
    }
    let signed = signatures.iter().any(|sig| {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
            .expect("HMAC takes any key length");
        mac.update(format!("{at}.").as_bytes());
        mac.update(body);
        mac.verify_slice(sig).is_ok()
    });
    if !signed {
        return Err(InboundRefusal::Unverified(
            "the mux-signature does not match the body and the connection's webhook_secret".into(),
        ));
    }
    let event: Value = serde_json::from_slice(body)
        .map_err(|e| InboundRefusal::Invalid(format!("the event is not JSON: {e}")))?;
    let kind = event
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| InboundRefusal::Invalid("the event has no type".into()))?;
    Ok(InboundEvent {
        starts_runs: CHANGES.contains(&kind),
        kind: kind.to_string(),
    })
}

/// `t=…,v1=…[,v1=…]`: the time and every v1 signature (Mux sends one per active secret).
fn parse(header: &str) -> Result<(i64, Vec<Vec<u8>>), InboundRefusal> {
    let mut at = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => at = t.parse::<i64>().ok(),
            Some(("v1", sig)) => {
                if let Ok(bytes) = hex::decode(sig) {
                    signatures.push(bytes);
                }
            }
            _ => {}
        }
    }
    match (at, signatures.is_empty()) {
        (Some(at), false) => Ok((at, signatures)),
        _ => Err(InboundRefusal::Unverified(
            "the mux-signature header is not t=…,v1=…".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use sluice_core::domain::connections::Credentials;

    fn config(secret: Option<&str>) -> ProviderConfig {
        let mut c = json!({"access_token_id": "id", "access_token_secret": "s"});
        if let Some(s) = secret {
            c["webhook_secret"] = json!(s);
        }
        ProviderConfig {
            provider_type: "mux".into(),
            settings: Default::default(),
            credentials: Credentials::from_request(&c, "access_token").unwrap(),
        }
    }

    fn signed(secret: &str, at: i64, body: &str) -> HashMap<String, String> {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{at}.{body}").as_bytes());
        let sig = hex::encode(mac.finalize().into_bytes());
        HashMap::from([("mux-signature".to_string(), format!("t={at},v1={sig}"))])
    }

    #[test]
    fn only_a_fresh_signature_by_the_connections_secret_is_taken() {
        let body = r#"{"type":"video.asset.ready","data":{"id":"a1"}}"#;
        let now = 1_800_000_000;
        let got = inbound(
            &config(Some("whsec")),
            &signed("whsec", now - 10, body),
            body.as_bytes(),
            now,
        )
        .unwrap();
        assert_eq!(
            (got.kind.as_str(), got.starts_runs),
            ("video.asset.ready", true)
        );
        let other = r#"{"type":"video.upload.created"}"#;
        let got = inbound(
            &config(Some("whsec")),
            &signed("whsec", now, other),
            other.as_bytes(),
            now,
        )
        .unwrap();
        assert!(!got.starts_runs);
        for (headers, why) in [
            (signed("other", now, body), "another secret"),
            (signed("whsec", now - 301, body), "too old"),
            (signed("whsec", now, "{}"), "another body"),
            (HashMap::new(), "no header"),
        ] {
            assert!(
                matches!(
                    inbound(&config(Some("whsec")), &headers, body.as_bytes(), now),
                    Err(InboundRefusal::Unverified(_))
                ),
                "{why}"
            );
        }
        assert!(matches!(
            inbound(
                &config(None),
                &signed("whsec", now, body),
                body.as_bytes(),
                now
            ),
            Err(InboundRefusal::Unsupported(_))
        ));
    }
}
