//! Prefixed, time-sortable ids: `<prefix>_<ulid in lowercase>`.
//!
//! A ULID's first 48 bits are milliseconds, and the generator is monotonic within a
//! millisecond, so ids sort by creation and make stable cursors as sort keys.

use std::sync::Mutex;

static GENERATOR: Mutex<Option<ulid::Generator>> = Mutex::new(None);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Org,
    ApiKey,
    Namespace,
    Bucket,
    Object,
    Blob,
    Upload,
    Batch,
    /// The batches one bulk submit made.
    BatchGroup,
    /// A collection's export.
    Export,
    Task,
    Sync,
    Job,
    Webhook,
    Connection,
    Document,
    Event,
    Collection,
    Delivery,
}

impl IdKind {
    pub const ALL: [IdKind; 19] = [
        IdKind::Org,
        IdKind::ApiKey,
        IdKind::Namespace,
        IdKind::Bucket,
        IdKind::Object,
        IdKind::Blob,
        IdKind::Upload,
        IdKind::Batch,
        IdKind::BatchGroup,
        IdKind::Export,
        IdKind::Task,
        IdKind::Sync,
        IdKind::Job,
        IdKind::Webhook,
        IdKind::Connection,
        IdKind::Document,
        IdKind::Event,
        IdKind::Collection,
        IdKind::Delivery,
    ];

    pub fn prefix(self) -> &'static str {
        match self {
            IdKind::Org => "org",
            IdKind::ApiKey => "key",
            IdKind::Namespace => "ns",
            IdKind::Bucket => "bkt",
            IdKind::Object => "obj",
            IdKind::Blob => "blob",
            IdKind::Upload => "upl",
            IdKind::Batch => "btch",
            IdKind::BatchGroup => "bgrp",
            IdKind::Export => "exp",
            IdKind::Task => "task",
            IdKind::Sync => "sync",
            IdKind::Job => "job",
            IdKind::Webhook => "wh",
            IdKind::Connection => "conn",
            IdKind::Document => "doc",
            IdKind::Event => "evt",
            IdKind::Collection => "col",
            IdKind::Delivery => "dlv",
        }
    }

    pub fn new_id(self) -> String {
        let ulid = {
            let mut guard = GENERATOR.lock().unwrap_or_else(|p| p.into_inner());
            let generator = guard.get_or_insert_with(ulid::Generator::new);
            // Overflow (2^80 ids in one millisecond) moves on to the next millisecond.
            generator
                .generate()
                .unwrap_or_else(|overflow| overflow.commit_overflow_increment())
        };
        format!("{}_{}", self.prefix(), ulid.to_string().to_lowercase())
    }

    /// Whether `s` has this kind's shape (used to tell ids from names).
    pub fn matches(self, s: &str) -> bool {
        s.strip_prefix(self.prefix())
            .and_then(|rest| rest.strip_prefix('_'))
            .is_some_and(|rest| rest.len() == 26 && rest.chars().all(|c| c.is_ascii_alphanumeric()))
    }
}

/// Lowercase hex sha256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

/// An id that is a function of its parts: writing the same thing twice lands on the
/// same record (a redelivered message, a repeated submit).
pub fn derived_id(kind: IdKind, parts: &[&str]) -> String {
    let digest = sha256_hex(parts.join("\u{1f}").as_bytes());
    format!("{}_{}", kind.prefix(), &digest[..26])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_and_sort_by_creation() {
        let ids: Vec<String> = (0..1000).map(|_| IdKind::Object.new_id()).collect();
        assert!(ids
            .iter()
            .all(|i| i.starts_with("obj_") && IdKind::Object.matches(i)));
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        assert!(!IdKind::Bucket.matches(&ids[0]));
    }
}
