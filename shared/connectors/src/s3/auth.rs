//! How an S3-family connection signs and where its requests go: static keys (Supabase's
//! service role as a session), an assumed role, or Backblaze's key exchanged for its S3
//! endpoint by `b2_authorize_account` (API v4).

use sluice_core::domain::connections::ProviderConfig;
use sluice_core::ports::{SourceError, SourceResult};

use super::config::{stored_preset, Addressing};
use crate::errors::with_excerpt;

/// What a connection signs with.
#[derive(Clone)]
pub enum Signing {
    Static {
        access_key_id: String,
        secret_access_key: String,
        session_token: Option<String>,
    },
    AssumeRole {
        role_arn: String,
        external_id: String,
    },
}

/// Where and how to reach one bucket.
#[derive(Clone)]
pub struct Target {
    pub provider: String,
    /// `None`: the provider's default (for AWS S3, the SDK's own resolution, which
    /// honours `AWS_ENDPOINT_URL_S3`).
    pub endpoint: Option<String>,
    pub region: String,
    pub path_style: bool,
    /// Send checksum headers only when an operation requires them (R2 and B2 refuse
    /// the SDK's default CRC headers).
    pub checksums_when_required: bool,
    pub bucket: String,
    pub signing: Signing,
}

/// The target a checked connection describes for `bucket`; Backblaze's endpoint is
/// asked for at `b2_api_url` with `http`.
pub async fn target(
    config: &ProviderConfig,
    bucket: &str,
    http: &reqwest::Client,
    b2_api_url: &str,
) -> SourceResult<Target> {
    let row = stored_preset(config);
    let text = |name: &str| {
        config
            .credentials
            .text(name)
            .unwrap_or_default()
            .to_string()
    };
    let mut endpoint = config.setting("endpoint_url").map(str::to_string);
    let mut region = config.setting("region").unwrap_or(row.region).to_string();
    let signing = match config.credentials.kind() {
        "iam_role" => Signing::AssumeRole {
            role_arn: text("role_arn"),
            external_id: text("external_id"),
        },
        "service_role" => Signing::Static {
            access_key_id: config
                .setting("project_ref")
                .unwrap_or_default()
                .to_string(),
            secret_access_key: text("anon_key"),
            session_token: Some(text("service_role_key")),
        },
        "application_key" => {
            let found =
                authorize(http, b2_api_url, &text("key_id"), &text("application_key")).await?;
            endpoint = Some(found.s3_api_url);
            region = found.region;
            Signing::Static {
                access_key_id: text("key_id"),
                secret_access_key: text("application_key"),
                session_token: None,
            }
        }
        _ => Signing::Static {
            access_key_id: text("access_key_id"),
            secret_access_key: text("secret_access_key"),
            session_token: config.credentials.text("session_token").map(str::to_string),
        },
    };
    let path_style = match row.addressing {
        Addressing::VirtualUnlessEndpoint => endpoint.is_some(),
        Addressing::Virtual => false,
        Addressing::Path => true,
    };
    Ok(Target {
        provider: config.provider_type.clone(),
        checksums_when_required: row.name != "s3" || endpoint.is_some(),
        endpoint,
        region,
        path_style,
        bucket: bucket.to_string(),
        signing,
    })
}

pub struct Authorized {
    pub s3_api_url: String,
    pub region: String,
}

pub async fn authorize(
    http: &reqwest::Client,
    api_url: &str,
    key_id: &str,
    application_key: &str,
) -> SourceResult<Authorized> {
    let url = format!(
        "{}/b2api/v4/b2_authorize_account",
        api_url.trim_end_matches('/')
    );
    let response = http
        .get(&url)
        .basic_auth(key_id, Some(application_key))
        .send()
        .await
        .map_err(|e| {
            SourceError::Failed(if e.is_timeout() {
                "backblaze did not answer b2_authorize_account in time".into()
            } else {
                "could not connect to backblaze for b2_authorize_account".into()
            })
        })?;
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap_or_default();
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let message = || {
        with_excerpt(
            format!("backblaze answered HTTP {status} to b2_authorize_account"),
            body["message"].as_str(),
        )
    };
    match status {
        200 => {}
        401 | 403 => return Err(SourceError::Denied(message())),
        429 | 503 => {
            return Err(SourceError::Throttled {
                message: message(),
                retry_after: None,
            })
        }
        _ => return Err(SourceError::Failed(message())),
    }
    let s3 = body["apiInfo"]["storageApi"]["s3ApiUrl"]
        .as_str()
        .ok_or_else(|| {
            SourceError::Failed(
                "backblaze's b2_authorize_account answer has no apiInfo.storageApi.s3ApiUrl".into(),
            )
        })?;
    Ok(Authorized {
        s3_api_url: s3.to_string(),
        region: region_of(s3),
    })
}

/// `https://s3.us-west-004.backblazeb2.com` → `us-west-004`.
fn region_of(s3_api_url: &str) -> String {
    url::Url::parse(s3_api_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .and_then(|h| {
            h.strip_prefix("s3.")
                .and_then(|r| r.split_once('.'))
                .map(|(r, _)| r.to_string())
        })
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "us-east-1".into())
}

#[cfg(test)]
mod tests {
    #[test]
    fn regions_come_from_the_host() {
        assert_eq!(
            super::region_of("https://s3.us-west-004.backblazeb2.com"),
            "us-west-004"
        );
        assert_eq!(super::region_of("http://127.0.0.1:5000"), "us-east-1");
    }
}
