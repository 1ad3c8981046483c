//! Sealing: opaque handles in place of plaintext.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::lock;

/// Keeps sealed values in memory and stores only an opaque handle, so the table never
/// holds a plaintext credential in tests either.
#[derive(Default)]
pub struct MemorySealer {
    /// Handle → (the context it was sealed for, the plaintext).
    sealed: Mutex<HashMap<String, (String, Vec<u8>)>>,
}

#[async_trait]
impl crate::ports::Sealer for MemorySealer {
    async fn seal(
        &self,
        plaintext: &[u8],
        context: &crate::ports::SealContext<'_>,
    ) -> Result<String, crate::ports::SealError> {
        let handle = format!("memory:{}", crate::domain::ids::IdKind::Event.new_id());
        lock(&self.sealed).insert(handle.clone(), (context.bound(), plaintext.to_vec()));
        Ok(handle)
    }
    async fn open(
        &self,
        sealed: &str,
        context: &crate::ports::SealContext<'_>,
    ) -> Result<Vec<u8>, crate::ports::SealError> {
        match lock(&self.sealed).get(sealed) {
            Some((bound, plain)) if *bound == context.bound() => Ok(plain.clone()),
            Some(_) => Err(crate::ports::SealError("sealed for another context".into())),
            None => Err(crate::ports::SealError("unknown sealed value".into())),
        }
    }
}
