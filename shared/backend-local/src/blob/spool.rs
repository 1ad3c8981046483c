//! Receiving a body: hashed and counted as it arrives, held in memory up to
//! `PACKED_MAX`, spooled to a file beyond.

use super::{BlobAccessError, MAX_SINGLE_PUT};
use std::path::Path;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use sluice_core::ports::PutConstraints;

/// A blob's bytes as they stream in: in memory up to a limit, then in a file.
pub(super) enum Spool {
    Memory(Vec<u8>),
    File(tokio::fs::File),
}

/// A body received, counted and hashed, and checked against what its URL pins.
pub(super) struct Received {
    pub(super) size: u64,
    pub(super) sha256: String,
    /// The bytes, if they stayed in memory; otherwise they are in the spill file.
    pub(super) packed: Option<Vec<u8>>,
}

/// Reads `body` into memory while it is at most `keep` bytes, and into a new file at
/// `spill` beyond that (which the caller removes if this fails).
pub(super) async fn receive<S, E>(
    mut body: S,
    pinned: &PutConstraints,
    keep: usize,
    spill: &Path,
) -> Result<Received, BlobAccessError>
where
    S: futures::Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    use futures::StreamExt;
    use tokio::io::AsyncWriteExt;
    let bad = BlobAccessError::BadRequest;
    let internal = |e: std::io::Error| BlobAccessError::BadRequest(e.to_string());
    let limit = pinned.content_length.unwrap_or(MAX_SINGLE_PUT);
    let mut spool = Spool::Memory(Vec::new());
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| bad(format!("reading the body failed: {e}")))?;
        size += chunk.len() as u64;
        if size > limit {
            return Err(bad(format!(
                "body is longer than the {limit} bytes the URL allows"
            )));
        }
        hasher.update(&chunk);
        match &mut spool {
            Spool::Memory(buf) if buf.len() + chunk.len() <= keep => buf.extend_from_slice(&chunk),
            Spool::Memory(buf) => {
                if let Some(dir) = spill.parent() {
                    tokio::fs::create_dir_all(dir).await.map_err(internal)?;
                }
                let mut file = tokio::fs::File::create(spill).await.map_err(internal)?;
                file.write_all(buf).await.map_err(internal)?;
                file.write_all(&chunk).await.map_err(internal)?;
                spool = Spool::File(file);
            }
            Spool::File(file) => file.write_all(&chunk).await.map_err(internal)?,
        }
    }
    if let Some(len) = pinned.content_length {
        if size != len {
            return Err(bad(format!(
                "body is {size} bytes, the URL was signed for exactly {len}"
            )));
        }
    }
    let sha256 = hex::encode(hasher.finalize());
    if pinned.sha256.as_ref().is_some_and(|want| want != &sha256) {
        return Err(bad(
            "BadDigest: body does not match x-amz-checksum-sha256".into()
        ));
    }
    let packed = match spool {
        Spool::Memory(buf) => Some(buf),
        Spool::File(mut file) => {
            file.flush().await.map_err(internal)?;
            None
        }
    };
    Ok(Received {
        size,
        sha256,
        packed,
    })
}

pub(super) async fn remove_quietly(path: &Path) {
    if let Err(e) = tokio::fs::remove_file(path).await {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(error = %e, path = %path.display(), "removing a blob file failed");
        }
    }
}
