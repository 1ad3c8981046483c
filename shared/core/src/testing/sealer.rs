//! Sealing: opaque handles in place of plaintext.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::lock;

/// Keeps sealed values in memory and stores only an opaque handle, so the table never
/// holds a plaintext credential in tests either.
#[derive(Default)]
pub struct MemorySealer {
    sealed: Mutex<HashMap<String, Vec<u8>>>,
}

#[async_trait]
impl crate::ports::Sealer for MemorySealer {
    async fn seal(&self, plaintext: &[u8]) -> Result<String, crate::ports::SealError> {
        let handle = format!("memory:{}", crate::domain::ids::IdKind::Event.new_id());
        lock(&self.sealed).insert(handle.clone(), plaintext.to_vec());
        Ok(handle)
    }
    async fn open(&self, sealed: &str) -> Result<Vec<u8>, crate::ports::SealError> {
        lock(&self.sealed)
            .get(sealed)
            .cloned()
            .ok_or_else(|| crate::ports::SealError("unknown sealed value".into()))
    }
}
