//! Connection credentials sealed with a key file: AES-256-GCM, a fresh nonce per seal.
//! The key is created once, readable by its owner only (mode 0600).

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use async_trait::async_trait;
use base64::Engine;
use sluice_core::ports::{SealError, Sealer};

const PREFIX: &str = "local:v1:";

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
    async fn seal(&self, plaintext: &[u8]) -> Result<String, SealError> {
        let nonce: [u8; 12] = rand::random();
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext)
            .map_err(|e| SealError(e.to_string()))?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Ok(format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(out)
        ))
    }

    async fn open(&self, sealed: &str) -> Result<Vec<u8>, SealError> {
        let body = sealed
            .strip_prefix(PREFIX)
            .ok_or_else(|| SealError("not sealed by this server's key file".into()))?;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|e| SealError(e.to_string()))?;
        if raw.len() < 12 {
            return Err(SealError("sealed value too short".into()));
        }
        let (nonce, ct) = raw.split_at(12);
        self.cipher
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| {
                SealError(
                    "the credential key does not open this value (a different key file?)".into(),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn seals_open_with_the_same_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials.key");
        let s = KeyFileSealer::open(&path).unwrap();
        let sealed = s.seal(b"secret").await.unwrap();
        assert!(!sealed.contains("secret"));
        assert_eq!(s.open(&sealed).await.unwrap(), b"secret");
        assert_ne!(
            s.seal(b"secret").await.unwrap(),
            sealed,
            "a fresh nonce each time"
        );
        assert_eq!(
            KeyFileSealer::open(&path)
                .unwrap()
                .open(&sealed)
                .await
                .unwrap(),
            b"secret"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let other = KeyFileSealer::open(&dir.path().join("other.key")).unwrap();
        assert!(other.open(&sealed).await.is_err());
    }
}
