//! Use cases over the ports: each takes an `AppContext`, returns domain results or an
//! error, and knows no HTTP and no backend.

pub mod auth;
pub mod batches;
pub mod buckets;
pub mod collections;
pub mod connections;
pub mod documents;
pub mod extract;
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

#[cfg(test)]
mod tests;

// The use cases reach the store layer as `super::keys` and friends.
pub(crate) use crate::store::{from_item, keys, lists, pointer, to_item};
