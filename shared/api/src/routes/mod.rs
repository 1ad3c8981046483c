//! The route table, one file per feature: each declares its routes once (`routes!`,
//! defaults left unsaid) beside their handlers, and its slice joins [`ROUTES`] here.
//! The local router, the OpenAPI document, the Lambda binaries and the template's
//! route functions all come from it.

use std::sync::LazyLock;

use crate::route::Route;

mod prelude;
mod shared;

pub mod batches;
pub mod buckets;
pub mod collections;
pub mod connections;
pub mod documents;
pub mod namespaces;
pub mod objects;
pub mod search;
pub mod service;
pub mod syncs;
pub mod tasks;
pub mod uploads;
pub mod webhooks;

/// Every route, in documentation order (feature by feature).
pub static ROUTES: LazyLock<Vec<&'static Route>> = LazyLock::new(|| {
    [
        service::ROUTES,
        namespaces::ROUTES,
        buckets::ROUTES,
        objects::ROUTES,
        uploads::ROUTES,
        tasks::ROUTES,
        batches::ROUTES,
        documents::ROUTES,
        search::ROUTES,
        collections::ROUTES,
        webhooks::ROUTES,
        connections::ROUTES,
        syncs::ROUTES,
    ]
    .concat()
});
