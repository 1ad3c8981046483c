//! Use cases over the ports: each takes an `AppContext`, returns domain results or an
//! error, and knows no HTTP and no backend.
//!
//! The modules are layered; each uses only modules of earlier layers (and its own
//! submodules), so any one can be read, tested or moved with what it stands on.
//! [`LAYERS`] is the order, and a test fails on an import against it.

pub mod auth;
pub mod batches;
pub mod buckets;
pub mod collections;
pub mod connections;
pub mod credentials;
pub mod documents;
pub mod events;
pub mod extract;
pub mod lineage;
pub mod messages;
pub mod namespaces;
pub mod objects;
pub mod pipeline;
pub mod purge;
pub mod search;
pub mod syncs;
pub mod tasks;
pub mod uploads;
pub mod views;
pub mod webhooks;

/// The use-case modules, lowest first: a module may use those of earlier layers only.
pub const LAYERS: &[&[&str]] = &[
    // Credentials at rest, under the connections that hold them; callers (keys, and the
    // external ids connections are held to).
    &["credentials", "auth"],
    // Leaves: response views, queue payloads, publishing events, and storage
    // connections, which every other feature reaches.
    &["views", "messages", "events", "connections"],
    &["tasks", "documents", "webhooks", "extract"],
    &["purge", "objects"],
    &["buckets", "uploads"],
    &["collections"],
    &["batches", "namespaces", "search", "lineage"],
    &["pipeline", "syncs"],
];

#[cfg(test)]
mod tests;

// The use cases reach the store layer as `super::keys` and friends.
pub(crate) use crate::store::{from_item, keys, lists, pointer, to_item};
