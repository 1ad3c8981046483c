//! Sources for syncs: the S3 API (AWS S3 and every S3-compatible store here), opened
//! from a connection's resolved settings. GCS, Azure Blob, Box and Mux come later on the
//! same `Source` port.

mod backblaze;
mod s3;

use std::sync::Arc;

use async_trait::async_trait;
use sluice_core::domain::connections::{SourceSpec, SpecCredentials};
use sluice_core::ports::{Connectors, Source, SourceResult};

pub use s3::S3Source;

/// Opens S3-API sources. Built once per process over the environment's AWS settings
/// (region, an `AWS_ENDPOINT_URL_S3` stand-in). Every source signs with its connection's
/// own credentials; the process's credentials sign only the STS AssumeRole of an
/// `iam_role` connection (the role trusts this server's principal and the ExternalId).
pub struct S3Connectors {
    base: aws_config::SdkConfig,
    http: reqwest::Client,
}

impl S3Connectors {
    pub async fn new() -> Self {
        // The credential chain is lazy: nothing is resolved until an AssumeRole needs it.
        let base = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await;
        Self::from_sdk(&base)
    }

    /// Over a process's shared SDK settings (a Lambda's, with its role's credentials).
    pub fn from_sdk(base: &aws_config::SdkConfig) -> Self {
        S3Connectors {
            base: base.clone(),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .expect("an HTTP client builds"),
        }
    }
}

#[async_trait]
impl Connectors for S3Connectors {
    async fn open(&self, spec: &SourceSpec) -> SourceResult<Arc<dyn Source>> {
        let mut spec = spec.clone();
        if let SpecCredentials::Backblaze {
            key_id,
            application_key,
            api_url,
        } = &spec.credentials
        {
            let found = backblaze::authorize(&self.http, api_url, key_id, application_key).await?;
            spec.endpoint = Some(found.s3_api_url);
            spec.region = found.region;
            spec.credentials = SpecCredentials::Static {
                access_key_id: key_id.clone(),
                secret_access_key: application_key.clone(),
                session_token: None,
            };
        }
        Ok(Arc::new(S3Source::open(&self.base, &spec).await?))
    }
}
