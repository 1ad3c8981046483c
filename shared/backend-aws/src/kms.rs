//! Connection credentials sealed by envelope encryption: KMS makes a data key per seal
//! (GenerateDataKey), the credentials are AES-256-GCM under it, and only the KMS-wrapped
//! key is kept beside them. Opening asks KMS to unwrap it (Decrypt); an unwrapped data
//! key is kept in memory for a few minutes, as the AWS Encryption SDK's caching does, so
//! a sync run's pages do not each cost a Decrypt.
//!
//! `kms:v2:` values carry the organisation and purpose as KMS encryption context (in
//! GenerateDataKey and every Decrypt, and in CloudTrail); `kms:v1:` values, sealed
//! before contexts, still open without one.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use async_trait::async_trait;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use base64::Engine;
use sluice_core::ports::{SealContext, SealError, Sealer};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const PREFIX: &str = "kms:v2:";
const LEGACY_PREFIX: &str = "kms:v1:";

pub struct KmsSealer {
    client: aws_sdk_kms::Client,
    key_id: String,
    keys: Mutex<KeyCache>,
}

/// (Wrapped data key, the context it was unwrapped under) → (when, the key).
type KeyCache = HashMap<(Vec<u8>, String), (Instant, Vec<u8>)>;

/// How long an unwrapped data key is reused, and how many are kept.
const KEY_CACHE_TTL: Duration = Duration::from_secs(300);
const KEY_CACHE_MAX: usize = 256;

impl KmsSealer {
    pub fn new(client: aws_sdk_kms::Client, key_id: String) -> Self {
        KmsSealer {
            client,
            key_id,
            keys: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, wrapped: &(Vec<u8>, String)) -> Option<Vec<u8>> {
        let keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.get(wrapped)
            .filter(|(at, _)| at.elapsed() < KEY_CACHE_TTL)
            .map(|(_, key)| key.clone())
    }

    fn remember(&self, wrapped: (Vec<u8>, String), key: Vec<u8>) {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.retain(|_, (at, _)| at.elapsed() < KEY_CACHE_TTL);
        if keys.len() >= KEY_CACHE_MAX {
            keys.clear();
        }
        keys.insert(wrapped, (Instant::now(), key));
    }

    /// The data key, unwrapped under `context` (none for a legacy value).
    async fn unwrap_key(
        &self,
        wrapped: Vec<u8>,
        context: Option<&SealContext<'_>>,
    ) -> Result<Vec<u8>, SealError> {
        let cache_key = (
            wrapped.clone(),
            context.map(|c| c.bound()).unwrap_or_default(),
        );
        if let Some(key) = self.cached(&cache_key) {
            return Ok(key);
        }
        let mut decrypt = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(wrapped));
        for (k, v) in context.map(|c| c.pairs()).into_iter().flatten() {
            decrypt = decrypt.encryption_context(k, v);
        }
        let out = decrypt.send().await.map_err(|e| {
            SealError(format!(
                "Decrypt: {}",
                aws_sdk_kms::error::DisplayErrorContext(e)
            ))
        })?;
        let key = out
            .plaintext()
            .ok_or_else(|| SealError("Decrypt returned no key".into()))?
            .as_ref()
            .to_vec();
        self.remember(cache_key, key.clone());
        Ok(key)
    }
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

#[async_trait]
impl Sealer for KmsSealer {
    async fn seal(&self, plaintext: &[u8], context: &SealContext<'_>) -> Result<String, SealError> {
        let mut generate = self
            .client
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256);
        for (k, v) in context.pairs() {
            generate = generate.encryption_context(k, v);
        }
        let key = generate.send().await.map_err(|e| {
            SealError(format!(
                "GenerateDataKey: {}",
                aws_sdk_kms::error::DisplayErrorContext(e)
            ))
        })?;
        let (Some(plain_key), Some(wrapped)) = (key.plaintext(), key.ciphertext_blob()) else {
            return Err(SealError("GenerateDataKey returned no key".into()));
        };
        let cipher =
            Aes256Gcm::new_from_slice(plain_key.as_ref()).map_err(|e| SealError(e.to_string()))?;
        let nonce: [u8; 12] = rand::random();
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext)
            .map_err(|e| SealError(e.to_string()))?;
        let mut body = nonce.to_vec();
        body.extend(sealed);
        Ok(format!(
            "{PREFIX}{}:{}",
            b64().encode(wrapped.as_ref()),
            b64().encode(body)
        ))
    }

    async fn open(&self, sealed: &str, context: &SealContext<'_>) -> Result<Vec<u8>, SealError> {
        let (rest, context) = match sealed.strip_prefix(PREFIX) {
            Some(rest) => (Some(rest), Some(context)),
            None => (sealed.strip_prefix(LEGACY_PREFIX), None),
        };
        let (wrapped, body) = rest
            .and_then(|r| r.split_once(':'))
            .ok_or_else(|| SealError("not sealed by KMS".into()))?;
        let wrapped = b64()
            .decode(wrapped)
            .map_err(|e| SealError(e.to_string()))?;
        let body = b64().decode(body).map_err(|e| SealError(e.to_string()))?;
        let plain_key = self.unwrap_key(wrapped, context).await?;
        if body.len() < 12 {
            return Err(SealError("sealed value too short".into()));
        }
        let (nonce, ct) = body.split_at(12);
        Aes256Gcm::new_from_slice(plain_key.as_ref())
            .map_err(|e| SealError(e.to_string()))?
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| SealError("the data key does not open this value".into()))
    }
}

/// A symmetric key for a stand-in (SAM creates the real one).
pub async fn create_key(client: &aws_sdk_kms::Client, description: &str) -> anyhow::Result<String> {
    let out = client.create_key().description(description).send().await?;
    out.key_metadata()
        .map(|m| m.key_id().to_string())
        .ok_or_else(|| anyhow::anyhow!("CreateKey returned no key id"))
}
