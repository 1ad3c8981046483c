//! Backblaze B2: `b2_authorize_account` (API v4) tells a key's S3 endpoint.

use sluice_core::ports::{SourceError, SourceResult};

use crate::errors::with_excerpt;

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
