//! A service account's OAuth token: a JWT signed with the key (RS256) exchanged at the
//! key's own `token_uri` (`urn:ietf:params:oauth:grant-type:jwt-bearer`), kept in the
//! process's token cache.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sluice_core::domain::connections::{field, ProviderConfig};
use sluice_core::domain::schema::FieldError;
use sluice_core::ports::{SourceError, SourceResult};

use crate::http;
use crate::tokens::Tokens;

/// Read-only access to objects: all a sync needs.
const SCOPE: &str = "https://www.googleapis.com/auth/devstorage.read_only";
const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// The most of a token answer.
const MAX_TOKEN_ANSWER: usize = 64 * 1024;

/// The parts of a key file a token needs.
#[derive(Clone)]
pub struct ServiceAccount {
    pub client_email: String,
    pub private_key_id: Option<String>,
    pub token_uri: String,
    key: Arc<EncodingKey>,
}

impl ServiceAccount {
    /// The key file's JSON, checked: an email, an RSA private key, a token address.
    pub fn parse(json: &Map<String, Value>) -> Result<Self, FieldError> {
        let text = |name: &str| {
            json.get(name)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        let path = |name: &str| format!("credentials.service_account_json.{name}");
        let client_email =
            text("client_email").ok_or_else(|| field(&path("client_email"), "is required"))?;
        let pem = text("private_key").ok_or_else(|| field(&path("private_key"), "is required"))?;
        let key = EncodingKey::from_rsa_pem(pem.as_bytes())
            .map_err(|_| field(&path("private_key"), "is not a PEM RSA private key"))?;
        Ok(ServiceAccount {
            client_email: client_email.to_string(),
            private_key_id: text("private_key_id").map(str::to_string),
            token_uri: text("token_uri").unwrap_or(DEFAULT_TOKEN_URI).to_string(),
            key: Arc::new(key),
        })
    }

    /// The key of a stored (already checked) connection.
    pub fn from_config(config: &ProviderConfig) -> SourceResult<Self> {
        let json = config
            .credentials
            .fields()
            .get("service_account_json")
            .and_then(Value::as_object)
            .ok_or_else(|| {
                SourceError::Invalid("the connection holds no service-account key".into())
            })?;
        Self::parse(json).map_err(|e| SourceError::Invalid(format!("{}: {}", e.field, e.reason)))
    }

    fn assertion(&self) -> SourceResult<String> {
        #[derive(Serialize)]
        struct Claims<'a> {
            iss: &'a str,
            scope: &'a str,
            aud: &'a str,
            iat: i64,
            exp: i64,
        }
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut header = Header::new(Algorithm::RS256);
        header.kid = self.private_key_id.clone();
        let claims = Claims {
            iss: &self.client_email,
            scope: SCOPE,
            aud: &self.token_uri,
            iat: now,
            exp: now + 3600,
        };
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|e| SourceError::Invalid(format!("signing the service-account JWT: {e}")))
    }
}

/// A live token for `key`: the process's cached one, or a new one from its token address.
pub async fn token(
    tokens: &Tokens,
    client: &reqwest::Client,
    key: &ServiceAccount,
) -> SourceResult<String> {
    let id = format!("gcs\n{}\n{}", key.client_email, key.token_uri);
    tokens.get(&id, fetch(client, key)).await
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

async fn fetch(client: &reqwest::Client, key: &ServiceAccount) -> SourceResult<(String, Duration)> {
    let what = format!("getting a token for {}", key.client_email);
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
        .append_pair("assertion", &key.assertion()?)
        .finish();
    let request = client
        .post(&key.token_uri)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body);
    let response = http::send("gcs", &what, request).await?;
    if !response.status().is_success() {
        // A refused grant (a revoked or unknown key) is a 400 `invalid_grant`.
        return Err(match http::refusal("gcs", &what, response, said).await {
            SourceError::Failed(m) if m.contains("invalid_grant") => SourceError::Denied(m),
            other => other,
        });
    }
    let answer: TokenAnswer = http::json("gcs", &what, response, MAX_TOKEN_ANSWER).await?;
    let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(3600).clamp(60, 24 * 3600));
    Ok((answer.access_token, lifetime))
}

/// An OAuth error answer's `error` and `error_description`.
fn said(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let error = v.get("error")?.as_str()?;
    Some(match v.get("error_description").and_then(Value::as_str) {
        Some(d) => format!("{error}: {d}"),
        None => error.to_string(),
    })
}
