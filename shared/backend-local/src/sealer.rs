//! Connection credentials sealed with a key file: AES-256-GCM, a fresh nonce per seal.
//! The key is created once, readable by its owner only (mode 0600).

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use async_trait::async_trait;
use base64::Engine;
use sluice_core::ports::{SealContext, SealError, Sealer};

/// `local:v2:` values bind their organisation and purpose as the cipher's associated
/// data; `local:v1:` values, sealed before, open without.
const PREFIX: &str = "local:v2:";
const LEGACY_PREFIX: &str = "local:v1:";

pub struct KeyFileSealer {
    cipher: Aes256Gcm,
}

impl KeyFileSealer {
    /// Opens `path`, or creates it with a random key.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let key = match std::fs::read(path) {
            Ok(k) if k.len() == 32 => k,
            Ok(k) => anyhow::bail!(
                "{}: a credential key is 32 bytes, this is {}",
                path.display(),
                k.len()
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key: [u8; 32] = rand::random();
                crate::private::write_new(path, &key)?;
                key.to_vec()
            }
            Err(e) => return Err(e.into()),
        };
        Ok(KeyFileSealer {
            cipher: Aes256Gcm::new_from_slice(&key).map_err(|e| anyhow::anyhow!("{e}"))?,
        })
    }
}

#[async_trait]
impl Sealer for KeyFileSealer {
    async fn seal(&self, plaintext: &[u8], context: &SealContext<'_>) -> Result<String, SealError> {
        let nonce: [u8; 12] = rand::random();
        let bound = context.bound();
        let payload = Payload {
            msg: plaintext,
            aad: bound.as_bytes(),
        };
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .map_err(|e| SealError(e.to_string()))?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Ok(format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(out)
        ))
    }

    async fn open(&self, sealed: &str, context: &SealContext<'_>) -> Result<Vec<u8>, SealError> {
        let (body, bound) = match sealed.strip_prefix(PREFIX) {
            Some(body) => (Some(body), context.bound()),
            None => (sealed.strip_prefix(LEGACY_PREFIX), String::new()),
        };
        let body = body.ok_or_else(|| SealError("not sealed by this server's key file".into()))?;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|e| SealError(e.to_string()))?;
        if raw.len() < 12 {
            return Err(SealError("sealed value too short".into()));
        }
        let (nonce, ct) = raw.split_at(12);
        let payload = Payload {
            msg: ct,
            aad: bound.as_bytes(),
        };
        self.cipher
            .decrypt(Nonce::from_slice(nonce), payload)
            .map_err(|_| {
                SealError(
                    "the credential key does not open this value (a different key file, or sealed for another organisation or purpose?)".into(),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_core::ports::SealPurpose;

    const ORG_A: SealContext<'static> = SealContext {
        org_id: "org_a",
        purpose: SealPurpose::ConnectionCredentials,
    };

    #[tokio::test]
    async fn seals_open_with_the_same_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials.key");
        let s = KeyFileSealer::open(&path).unwrap();
        let sealed = s.seal(b"secret", &ORG_A).await.unwrap();
        assert!(!sealed.contains("secret"));
        assert_eq!(s.open(&sealed, &ORG_A).await.unwrap(), b"secret");
        assert_ne!(
            s.seal(b"secret", &ORG_A).await.unwrap(),
            sealed,
            "a fresh nonce each time"
        );
        assert_eq!(
            KeyFileSealer::open(&path)
                .unwrap()
                .open(&sealed, &ORG_A)
                .await
                .unwrap(),
            b"secret"
        );
        // Bound to its organisation and purpose.
        let other_org = SealContext {
            org_id: "org_b",
            ..ORG_A
        };
        assert!(s.open(&sealed, &other_org).await.is_err());
        let other_purpose = SealContext {
            purpose: SealPurpose::WebhookSecret,
            ..ORG_A
        };
        assert!(s.open(&sealed, &other_purpose).await.is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let other = KeyFileSealer::open(&dir.path().join("other.key")).unwrap();
        assert!(other.open(&sealed, &ORG_A).await.is_err());
    }
}
