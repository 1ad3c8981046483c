//! Box's access tokens, from `{api}/oauth2/token`: a client-credentials grant (`ccg`), a
//! JWT assertion signed with the app's RSA key (`jwt`), or the connection's own OAuth
//! pair (`oauth`). The first two are kept in the process's token cache and fetched again
//! when Box refuses one. An OAuth access token is used as given; when Box refuses it,
//! its refresh token (single-use) buys a new pair through the connection's keeper, one
//! renewal at a time across workers, and the pair is sealed back into the connection.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sluice_core::domain::connections::{Credentials, ProviderConfig};
use sluice_core::ports::{CredentialKeeper, SourceError, SourceResult};

use crate::http;
use crate::tokens::Tokens;

const MAX_TOKEN_ANSWER: usize = 64 * 1024;
/// Box takes a JWT assertion that ends within 60 seconds.
const ASSERTION_SECONDS: i64 = 45;

/// The app's RSA key from its PEM: PKCS#1 or PKCS#8, or PKCS#8 encrypted with
/// `passphrase` (as Box's developer console generates it).
pub fn signing_key(pem: &str, passphrase: Option<&str>) -> Result<EncodingKey, String> {
    if pem.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(
            "is a legacy encrypted PEM: convert it to encrypted PKCS#8 (openssl pkcs8 -topk8)"
                .into(),
        );
    }
    if !pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        return EncodingKey::from_rsa_pem(pem.as_bytes())
            .map_err(|_| "is not a PEM RSA private key".to_string());
    }
    let passphrase = passphrase.ok_or("is encrypted: give its private_key_passphrase")?;
    let (_, document) = pkcs8::der::Document::from_pem(pem)
        .map_err(|_| "is not a readable encrypted PEM".to_string())?;
    let encrypted = pkcs8::EncryptedPrivateKeyInfoRef::try_from(document.as_bytes())
        .map_err(|_| "is not an encrypted PKCS#8 key".to_string())?;
    let plain = encrypted
        .decrypt(passphrase)
        .map_err(|_| "could not be decrypted with private_key_passphrase".to_string())?;
    let pem = plain
        .to_pem("PRIVATE KEY", pkcs8::LineEnding::LF)
        .map_err(|_| "could not be read once decrypted".to_string())?;
    EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|_| "is not an RSA key".to_string())
}

/// How this connection signs in.
enum Grant {
    /// A client-credentials grant for an enterprise or a user.
    Ccg {
        subject_type: &'static str,
        subject_id: String,
    },
    /// A JWT assertion for the enterprise.
    Jwt {
        enterprise_id: String,
        key_id: String,
        key: Arc<EncodingKey>,
    },
    /// The connection's access token, renewed by its refresh token.
    OAuth,
}

pub struct Auth {
    grant: Grant,
    client_id: String,
    client_secret: String,
    /// The connection's credentials as last known here (an OAuth renewal replaces them).
    credentials: tokio::sync::Mutex<Credentials>,
    keeper: Arc<dyn CredentialKeeper>,
    tokens: Tokens,
    http: reqwest::Client,
    token_url: url::Url,
}

impl Auth {
    pub fn new(
        config: &ProviderConfig,
        keeper: Arc<dyn CredentialKeeper>,
        tokens: Tokens,
        http: reqwest::Client,
        token_url: url::Url,
    ) -> SourceResult<Self> {
        let c = &config.credentials;
        let text = |k: &str| c.text(k).unwrap_or_default().to_string();
        let grant = match c.kind() {
            "ccg" => match c.text("user_id") {
                Some(user) => Grant::Ccg {
                    subject_type: "user",
                    subject_id: user.to_string(),
                },
                None => Grant::Ccg {
                    subject_type: "enterprise",
                    subject_id: text("enterprise_id"),
                },
            },
            "jwt" => Grant::Jwt {
                enterprise_id: text("enterprise_id"),
                key_id: text("jwt_key_id"),
                key: Arc::new(
                    signing_key(&text("private_key"), c.text("private_key_passphrase"))
                        .map_err(|why| SourceError::Invalid(format!("private_key {why}")))?,
                ),
            },
            _ => Grant::OAuth,
        };
        Ok(Auth {
            grant,
            client_id: text("client_id"),
            client_secret: text("client_secret"),
            credentials: tokio::sync::Mutex::new(c.clone()),
            keeper,
            tokens,
            http,
            token_url,
        })
    }

    /// Where this app's granted tokens for its subject sit in the process's cache.
    fn cache_key(&self) -> String {
        format!(
            "box\n{}\n{}\n{}",
            self.token_url,
            self.client_id,
            self.subject()
        )
    }

    /// A token to send now.
    pub async fn token(&self) -> SourceResult<String> {
        if matches!(self.grant, Grant::OAuth) {
            let c = self.credentials.lock().await;
            return Ok(c.text("access_token").unwrap_or_default().to_string());
        }
        self.tokens.get(&self.cache_key(), self.grant_token()).await
    }

    /// A token other than `refused`, which Box has just refused.
    pub async fn renew(&self, refused: &str) -> SourceResult<String> {
        if !matches!(self.grant, Grant::OAuth) {
            self.tokens.forget(&self.cache_key());
            return self.token().await;
        }
        // One renewal per source at a time; the keeper makes it one per connection.
        let mut current = self.credentials.lock().await;
        if current.text("access_token") != Some(refused) {
            return Ok(current.text("access_token").unwrap_or_default().to_string());
        }
        if current.text("refresh_token").is_none() {
            return Err(SourceError::Denied(
                "Box refused the access token and the connection holds no refresh_token: give a current access_token".into(),
            ));
        }
        let (http, url) = (self.http.clone(), self.token_url.clone());
        let (id, secret) = (self.client_id.clone(), self.client_secret.clone());
        let renew = move |stored: Credentials| -> BoxFuture<'static, SourceResult<Credentials>> {
            let (http, url, id, secret) = (http.clone(), url.clone(), id.clone(), secret.clone());
            Box::pin(async move { refreshed(&http, &url, &id, &secret, stored).await })
        };
        let renewed = self.keeper.renewed(&current, &renew).await?;
        *current = renewed;
        Ok(current.text("access_token").unwrap_or_default().to_string())
    }

    fn subject(&self) -> String {
        match &self.grant {
            Grant::Ccg {
                subject_type,
                subject_id,
            } => format!("{subject_type}:{subject_id}"),
            Grant::Jwt { enterprise_id, .. } => format!("enterprise:{enterprise_id}"),
            Grant::OAuth => String::new(),
        }
    }

    /// A client-credentials or JWT grant's token, and how long it lives.
    async fn grant_token(&self) -> SourceResult<(String, Duration)> {
        let mut form = vec![
            ("client_id", self.client_id.clone()),
            ("client_secret", self.client_secret.clone()),
        ];
        match &self.grant {
            Grant::Ccg {
                subject_type,
                subject_id,
            } => {
                form.push(("grant_type", "client_credentials".into()));
                form.push(("box_subject_type", subject_type.to_string()));
                form.push(("box_subject_id", subject_id.clone()));
            }
            Grant::Jwt { .. } => {
                form.push((
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:jwt-bearer".into(),
                ));
                form.push(("assertion", self.assertion()?));
            }
            Grant::OAuth => {
                return Err(SourceError::Invalid(
                    "an OAuth connection's token is its own, not granted".into(),
                ))
            }
        }
        let answer = exchange(&self.http, &self.token_url, &form).await?;
        let lifetime = answer.lifetime();
        Ok((answer.access_token, lifetime))
    }

    /// The JWT Box's token endpoint takes for an enterprise: RS256 with the app's key.
    fn assertion(&self) -> SourceResult<String> {
        let Grant::Jwt {
            enterprise_id,
            key_id,
            key,
        } = &self.grant
        else {
            return Err(SourceError::Invalid("not a JWT connection".into()));
        };
        #[derive(Serialize)]
        struct Claims<'a> {
            iss: &'a str,
            sub: &'a str,
            box_sub_type: &'a str,
            aud: &'a str,
            jti: String,
            exp: i64,
        }
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(key_id.clone());
        let claims = Claims {
            iss: &self.client_id,
            sub: enterprise_id,
            box_sub_type: "enterprise",
            aud: self.token_url.as_str(),
            jti: hex::encode(rand::random::<[u8; 16]>()),
            exp: time::OffsetDateTime::now_utc().unix_timestamp() + ASSERTION_SECONDS,
        };
        jsonwebtoken::encode(&header, &claims, key)
            .map_err(|e| SourceError::Invalid(format!("signing the Box JWT assertion: {e}")))
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl TokenAnswer {
    fn lifetime(&self) -> Duration {
        Duration::from_secs(self.expires_in.unwrap_or(3600).clamp(60, 24 * 3600))
    }
}

/// The stored credentials' refresh token spent for a new pair.
async fn refreshed(
    http: &reqwest::Client,
    url: &url::Url,
    client_id: &str,
    client_secret: &str,
    stored: Credentials,
) -> SourceResult<Credentials> {
    let form = [
        ("grant_type", "refresh_token".to_string()),
        (
            "refresh_token",
            stored.text("refresh_token").unwrap_or_default().to_string(),
        ),
        ("client_id", client_id.to_string()),
        ("client_secret", client_secret.to_string()),
    ];
    let answer = exchange(http, url, &form).await?;
    let mut fields = Map::new();
    fields.insert("access_token".into(), json!(answer.access_token));
    if let Some(r) = answer.refresh_token {
        fields.insert("refresh_token".into(), Value::from(r));
    }
    Ok(stored.with_fields(fields))
}

/// A token grant at Box's token endpoint. A refused grant (a spent refresh token, a
/// wrong secret, an app not authorised) is a denial.
async fn exchange(
    http: &reqwest::Client,
    url: &url::Url,
    form: &[(&str, String)],
) -> SourceResult<TokenAnswer> {
    let what = "getting a Box access token";
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form.iter().map(|(k, v)| (*k, v.as_str())))
        .finish();
    let request = http
        .post(url.clone())
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body);
    let response = http::send("box", what, request).await?;
    if !response.status().is_success() {
        return Err(
            match http::refusal("box", what, response, super::errors::said).await {
                SourceError::Failed(m) if m.contains("invalid_") || m.contains("unauthorized") => {
                    SourceError::Denied(m)
                }
                other => other,
            },
        );
    }
    http::json("box", what, response, MAX_TOKEN_ANSWER).await
}
