//! Bearer tokens by who they are for, kept until shortly before they expire and shared
//! by every source of the process (a GCS service account's, an Azure identity's).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sluice_core::ports::SourceResult;

/// A token is renewed this long before its end.
const EARLY: Duration = Duration::from_secs(60);

/// A token and when it ends, by its owner's key.
type Cache = HashMap<String, (String, Instant)>;

#[derive(Clone, Default)]
pub struct Tokens(Arc<Mutex<Cache>>);

impl Tokens {
    /// The live token for `key`, or a new one from `fetch` (the token and its lifetime).
    pub async fn get<F>(&self, key: &str, fetch: F) -> SourceResult<String>
    where
        F: Future<Output = SourceResult<(String, Duration)>>,
    {
        if let Some((token, until)) = self.lock().get(key) {
            if Instant::now() + EARLY < *until {
                return Ok(token.clone());
            }
        }
        let (token, lifetime) = fetch.await?;
        self.lock()
            .insert(key.to_string(), (token.clone(), Instant::now() + lifetime));
        Ok(token)
    }

    /// Drops `key`'s token (the provider refused it before its end).
    pub fn forget(&self, key: &str) {
        self.lock().remove(key);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}
