//! Embedded backends for one machine: SQLite for the table, queues and blob descriptions
//! (and small blobs' bytes), files for larger blobs.

mod blob;
mod events;
mod metrics;
pub mod private;
mod queue;
mod sealer;
mod sqlite;
mod table;
mod vectors;

pub use blob::{BlobAccessError, BlobBody, LocalBlobStore, BLOB_ROUTE, PACKED_MAX};
pub use events::LocalEventBus;
pub use metrics::PrometheusMetrics;
pub use queue::LocalQueue;
pub use sealer::KeyFileSealer;
pub use table::{decode_doc, LocalTable};
pub use vectors::LocalVectorIndex;

use std::path::Path;
use std::sync::Arc;

use sluice_core::{AppContext, Config};

/// Builds a context on the embedded backends under `data_dir` (no models or extractors:
/// the caller adds those it runs).
pub fn context(
    data_dir: &Path,
    public_url: &str,
    config: Config,
) -> anyhow::Result<(AppContext, Arc<LocalBlobStore>)> {
    private::create_dir(data_dir)?;
    let db = data_dir.join("sluice.db");
    private::touch(&db)?;
    private::touch(&data_dir.join("vectors.db"))?;
    // One database, one writer: table writes and queue sends commit in the same groups
    // instead of contending for SQLite's write lock.
    table::upgrade(&db)?;
    let db = sqlite::Db::open(&db, &[table::SCHEMA, queue::SCHEMA], 4)?;
    let table = Arc::new(LocalTable::new(db.clone()));
    let queue = Arc::new(LocalQueue::new(db, config.max_receives));
    let blobs = Arc::new(LocalBlobStore::open(&data_dir.join("blobs"), public_url)?);
    let events = Arc::new(LocalEventBus::with_queue(queue.clone()));
    let vectors = Arc::new(LocalVectorIndex::open(&data_dir.join("vectors.db"))?);
    let sealer = Arc::new(KeyFileSealer::open(&data_dir.join("credentials.key"))?);
    let ctx = AppContext::new(table, blobs.clone(), queue, events, vectors, config);
    let ctx = AppContext { sealer, ..ctx };
    Ok((ctx, blobs))
}
