//! Presigned URLs: HMAC-signed over what they pin, checked when they are used.

use super::rows::*;
use super::{BlobAccessError, HmacSha256, LocalBlobStore, BLOB_ROUTE};
use std::time::Duration;

use hmac::{KeyInit, Mac};

use sluice_core::ports::{PartRef, PutConstraints, StoreError, StoreResult};

impl LocalBlobStore {
    pub(super) fn sign(&self, canonical: &str) -> String {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.secret)
            .expect("hmac takes any key length");
        mac.update(canonical.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    pub(super) fn canonical(method: &str, key: &str, expires: u64, c: &PutConstraints) -> String {
        format!(
            "{method}\n{key}\n{expires}\n{}\n{}\n{}\n{}",
            c.content_type.as_deref().unwrap_or(""),
            c.content_length.map(|l| l.to_string()).unwrap_or_default(),
            c.sha256.as_deref().unwrap_or(""),
            c.part
                .as_ref()
                .map(|p| format!("{}:{}", p.multipart_id, p.number))
                .unwrap_or_default()
        )
    }

    pub(super) fn presign(
        &self,
        method: &str,
        key: &str,
        c: &PutConstraints,
        expires_in: Duration,
    ) -> StoreResult<String> {
        check_key(key).map_err(|e| StoreError::Backend(e.to_string()))?;
        let expires = unix_now() + expires_in.as_secs();
        let signature = self.sign(&Self::canonical(method, key, expires, c));
        let base = self
            .public_url
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut url =
            url::Url::parse(&format!("{base}{BLOB_ROUTE}{key}")).map_err(StoreError::backend)?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("X-Sluice-Method", method);
            q.append_pair("X-Sluice-Expires", &expires.to_string());
            if let Some(ct) = &c.content_type {
                q.append_pair("X-Sluice-Content-Type", ct);
            }
            if let Some(len) = c.content_length {
                q.append_pair("X-Sluice-Content-Length", &len.to_string());
            }
            if let Some(sha) = &c.sha256 {
                q.append_pair("X-Sluice-Checksum-Sha256", sha);
            }
            if let Some(part) = &c.part {
                q.append_pair("uploadId", &part.multipart_id);
                q.append_pair("partNumber", &part.number.to_string());
            }
            q.append_pair("X-Sluice-Signature", &signature);
        }
        Ok(url.to_string())
    }

    /// Checks a presigned request's signature and expiry; returns what the URL pins.
    pub fn authorize(
        &self,
        method: &str,
        key: &str,
        query: &[(String, String)],
    ) -> Result<PutConstraints, BlobAccessError> {
        check_key(key)?;
        let param = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let forbidden = |m: &str| BlobAccessError::Forbidden(m.to_string());
        let signed_method =
            param("X-Sluice-Method").ok_or_else(|| forbidden("missing signature"))?;
        let signature =
            param("X-Sluice-Signature").ok_or_else(|| forbidden("missing signature"))?;
        let expires: u64 = param("X-Sluice-Expires")
            .and_then(|e| e.parse().ok())
            .ok_or_else(|| forbidden("missing expiry"))?;
        let constraints = PutConstraints {
            content_type: param("X-Sluice-Content-Type"),
            content_length: param("X-Sluice-Content-Length").and_then(|l| l.parse().ok()),
            sha256: param("X-Sluice-Checksum-Sha256"),
            part: match (
                param("uploadId"),
                param("partNumber").and_then(|n| n.parse().ok()),
            ) {
                (Some(multipart_id), Some(number)) => Some(PartRef {
                    multipart_id,
                    number,
                }),
                _ => None,
            },
        };
        let sig_ok = hex::decode(&signature).ok().is_some_and(|given| {
            let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.secret).expect("hmac key");
            mac.update(Self::canonical(&signed_method, key, expires, &constraints).as_bytes());
            mac.verify_slice(&given).is_ok()
        });
        if !sig_ok {
            return Err(forbidden(
                "SignatureDoesNotMatch: the request signature does not match",
            ));
        }
        if signed_method != method {
            return Err(forbidden(
                "SignatureDoesNotMatch: URL was signed for another method",
            ));
        }
        if unix_now() > expires {
            return Err(forbidden("AccessDenied: request has expired"));
        }
        Ok(constraints)
    }
}
