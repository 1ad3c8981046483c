//! How a request to Azure Storage is authorised: the account's Shared Key (an HMAC of the
//! request's canonical form, as the REST API documents it; no maintained Rust crate
//! signs Shared Key for Azurite and Azure alike), or a managed identity's bearer token
//! from the runtime (workload identity, App Service's identity endpoint, or IMDS).
//! Where the runtime offers none, the answer is quick and says so.

use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sluice_core::domain::connections::ProviderConfig;
use sluice_core::ports::{SourceError, SourceResult};

use crate::http;
use crate::tokens::Tokens;

/// The audience of a storage token.
const RESOURCE: &str = "https://storage.azure.com/";
/// IMDS answers in milliseconds where it exists; elsewhere nothing answers at all.
const IMDS_WAIT: Duration = Duration::from_secs(2);
const MAX_TOKEN_ANSWER: usize = 64 * 1024;

#[derive(Clone)]
pub enum Auth {
    SharedKey { account: String, key: Vec<u8> },
    ManagedIdentity { client_id: Option<String> },
}

impl Auth {
    pub fn from_config(config: &ProviderConfig, account: &str) -> SourceResult<Self> {
        match config.credentials.kind() {
            "account_key" => {
                let key = config.credentials.text("account_key").unwrap_or_default();
                let key = base64::engine::general_purpose::STANDARD
                    .decode(key)
                    .map_err(|_| SourceError::Invalid("the account key is not base64".into()))?;
                Ok(Auth::SharedKey {
                    account: account.to_string(),
                    key,
                })
            }
            _ => Ok(Auth::ManagedIdentity {
                client_id: config.credentials.text("client_id").map(str::to_string),
            }),
        }
    }

    /// The `Authorization` header of a `verb` request for `url` carrying `headers`.
    pub async fn authorization(
        &self,
        verb: &str,
        url: &url::Url,
        headers: &[(&str, String)],
        identity: &reqwest::Client,
        tokens: &Tokens,
    ) -> SourceResult<String> {
        match self {
            Auth::SharedKey { account, key } => Ok(shared_key(account, key, verb, url, headers)),
            Auth::ManagedIdentity { client_id } => {
                let id = format!("azure\n{}", client_id.as_deref().unwrap_or(""));
                let token = tokens
                    .get(&id, managed_identity_token(identity, client_id.as_deref()))
                    .await?;
                Ok(format!("Bearer {token}"))
            }
        }
    }
}

/// The `Authorization` header of a `verb` request to `url` carrying `headers` (all the
/// standard and `x-ms-` ones it sends), signed with the account's key.
pub fn shared_key(
    account: &str,
    key: &[u8],
    verb: &str,
    url: &url::Url,
    headers: &[(&str, String)],
) -> String {
    let signature = sign(key, &string_to_sign(verb, account, url, headers));
    format!("SharedKey {account}:{signature}")
}

/// Shared Key's string to sign: the verb, eleven standard headers (a zero
/// `Content-Length` as empty), the `x-ms-` headers sorted, and the resource
/// (`/account/path`, then each query parameter, sorted, on a line).
fn string_to_sign(verb: &str, account: &str, url: &url::Url, headers: &[(&str, String)]) -> String {
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map_or("", |(_, v)| v.as_str())
    };
    let mut out = format!("{verb}\n");
    for name in [
        "content-encoding",
        "content-language",
        "content-length",
        "content-md5",
        "content-type",
        "date",
        "if-modified-since",
        "if-match",
        "if-none-match",
        "if-unmodified-since",
        "range",
    ] {
        let value = header(name);
        out.push_str(if name == "content-length" && value == "0" {
            ""
        } else {
            value
        });
        out.push('\n');
    }
    let mut ms: Vec<(String, &str)> = headers
        .iter()
        .filter(|(n, _)| n.to_ascii_lowercase().starts_with("x-ms-"))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.trim()))
        .collect();
    ms.sort();
    for (name, value) in ms {
        out.push_str(&format!("{name}:{value}\n"));
    }
    out.push_str(&format!("/{account}{}", url.path()));
    let mut params: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.into_owned()))
        .collect();
    params.sort();
    for (name, value) in params {
        out.push_str(&format!("\n{name}:{value}"));
    }
    out
}

fn sign(key: &[u8], text: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(text.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    /// Seconds, as a number or a string (IMDS sends a string).
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

/// A storage token for the runtime's managed identity, from the first source the
/// runtime offers; where it offers none, `Invalid` saying so (within `IMDS_WAIT`).
async fn managed_identity_token(
    client: &reqwest::Client,
    client_id: Option<&str>,
) -> SourceResult<(String, Duration)> {
    let what = "getting a managed identity token";
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let request = if let (Some(file), Some(tenant)) =
        (env("AZURE_FEDERATED_TOKEN_FILE"), env("AZURE_TENANT_ID"))
    {
        // Workload identity: the projected service-account token, exchanged at Entra ID.
        let assertion = std::fs::read_to_string(&file).map_err(|e| {
            SourceError::Invalid(format!("reading AZURE_FEDERATED_TOKEN_FILE: {e}"))
        })?;
        let authority =
            env("AZURE_AUTHORITY_HOST").unwrap_or("https://login.microsoftonline.com".into());
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair(
                "client_id",
                &client_id
                    .map(str::to_string)
                    .or(env("AZURE_CLIENT_ID"))
                    .unwrap_or_default(),
            )
            .append_pair("client_assertion", assertion.trim())
            .append_pair(
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            )
            .append_pair("grant_type", "client_credentials")
            .append_pair("scope", "https://storage.azure.com/.default")
            .finish();
        client
            .post(format!(
                "{}/{tenant}/oauth2/v2.0/token",
                authority.trim_end_matches('/')
            ))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
    } else if let (Some(endpoint), Some(header)) =
        (env("IDENTITY_ENDPOINT"), env("IDENTITY_HEADER"))
    {
        // App Service and Functions: their local identity endpoint.
        let mut url = url::Url::parse(&endpoint)
            .map_err(|e| SourceError::Invalid(format!("IDENTITY_ENDPOINT: {e}")))?;
        url.query_pairs_mut()
            .append_pair("api-version", "2019-08-01")
            .append_pair("resource", RESOURCE);
        if let Some(id) = client_id {
            url.query_pairs_mut().append_pair("client_id", id);
        }
        client.get(url).header("X-IDENTITY-HEADER", header)
    } else {
        // A VM or container in Azure: IMDS, on its link-local address.
        let mut url = url::Url::parse("http://169.254.169.254/metadata/identity/oauth2/token")
            .expect("a URL");
        url.query_pairs_mut()
            .append_pair("api-version", "2018-02-01")
            .append_pair("resource", RESOURCE);
        if let Some(id) = client_id {
            url.query_pairs_mut().append_pair("client_id", id);
        }
        client
            .get(url)
            .header("Metadata", "true")
            .timeout(IMDS_WAIT)
    };
    let unavailable = || {
        SourceError::Invalid(
            "managed_identity credentials need an Azure runtime with an identity (IMDS, App Service or workload identity), and this server runs without one: use account_key credentials".into(),
        )
    };
    let response = match http::send("azure_blob", what, request).await {
        Ok(r) => r,
        Err(SourceError::Failed(_)) => return Err(unavailable()),
        Err(e) => return Err(e),
    };
    if !response.status().is_success() {
        // Azure's identity endpoints answer an OAuth error (`error`, `error_description`);
        // anything else is another cloud's metadata service, not an Azure identity.
        return Err(
            match http::refusal("azure_blob", what, response, oauth_error).await {
                e if e.provider_said().is_some() => e,
                _ => unavailable(),
            },
        );
    }
    let answer: TokenAnswer = http::json("azure_blob", what, response, MAX_TOKEN_ANSWER).await?;
    let seconds = match answer.expires_in {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.parse().ok(),
        _ => None,
    };
    let lifetime = Duration::from_secs(seconds.unwrap_or(3600).clamp(60, 24 * 3600));
    Ok((answer.access_token, lifetime))
}

/// An OAuth error answer's `error` and `error_description`.
fn oauth_error(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let error = v.get("error")?.as_str()?;
    let description = v
        .get("error_description")
        .and_then(|d| d.as_str())
        .unwrap_or("");
    Some(format!("{error}: {description}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Azure's documented example form: every line in its place, `x-ms-` headers sorted,
    /// query parameters lowercased, sorted and decoded.
    #[test]
    fn the_string_to_sign_is_azures_canonical_form() {
        let url = url::Url::parse("http://127.0.0.1:10000/devstoreaccount1/media?restype=container&comp=list&prefix=a%20b%2F").unwrap();
        let headers = [
            ("x-ms-version", "2021-08-06".to_string()),
            ("x-ms-date", "Mon, 07 Dec 2026 16:00:00 GMT".to_string()),
            ("If-Match", "\"0x8D\"".to_string()),
        ];
        let text = string_to_sign("GET", "devstoreaccount1", &url, &headers);
        assert_eq!(
            text,
            "GET\n\n\n\n\n\n\n\n\"0x8D\"\n\n\n\nx-ms-date:Mon, 07 Dec 2026 16:00:00 GMT\nx-ms-version:2021-08-06\n/devstoreaccount1/devstoreaccount1/media\ncomp:list\nprefix:a b/\nrestype:container"
        );
    }
}
