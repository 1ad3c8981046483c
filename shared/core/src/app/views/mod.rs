//! What the API returns: one typed view per response body. Each derives `JsonSchema`,
//! so the OpenAPI document declares exactly what is serialized; the route table names
//! each route's view and the compiler holds its handler to it.
//!
//! Views are built from domain records here and nowhere else; lists filter and project
//! the serialized view, so a filter sees the same fields a client does.

use std::marker::PhantomData;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::domain::status::TaskStatus;
use crate::error::Error;

mod batches;
mod buckets;
mod catalogue;
mod collections;
mod connections;
mod documents;
mod namespaces;
mod objects;
mod search;
mod syncs;
mod tasks;
mod uploads;
mod webhooks;

pub use batches::*;
pub use buckets::*;
pub use catalogue::*;
pub use collections::*;
pub use connections::*;
pub use documents::*;
pub use namespaces::*;
pub use objects::*;
pub use search::*;
pub use syncs::*;
pub use tasks::*;
pub use uploads::*;
pub use webhooks::*;

/// A view as the JSON record lists filter and project.
pub fn record<T: Serialize>(view: &T) -> Result<Value, Error> {
    serde_json::to_value(view).map_err(|e| Error::Internal(e.into()))
}

/// One page of a list. Each result is a `T`; a request with `select` gets only the
/// selected fields of each (and every `*_id`).
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(bound = "T: JsonSchema", rename = "Page_of_{T}")]
pub struct Page<T> {
    #[schemars(with = "Vec<Selectable<T>>")]
    pub results: Vec<Value>,
    pub pagination: Pagination,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_count: Option<i64>,
    #[serde(skip)]
    #[schemars(skip)]
    of: PhantomData<T>,
}

/// A list row: the whole view, or with `select` only the fields it names (and every
/// `*_id`). The document says both, so a selected row is not a schema violation.
pub struct Selectable<T>(PhantomData<T>);

impl<T: JsonSchema> JsonSchema for Selectable<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("Selectable_{}", T::schema_name()).into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let whole = generator.subschema_for::<T>();
        schemars::json_schema!({
            "anyOf": [whole, {
                "type": "object",
                "description": "With `select`: the fields it names, and every `*_id`."
            }]
        })
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Pagination {
    pub page_size: usize,
    pub next_cursor: Option<String>,
    pub total: Option<i64>,
    pub total_pages: Option<i64>,
}

impl<T> Page<T> {
    /// `results` are records of `T` (see [`record`]), possibly projected.
    pub fn new(
        results: Vec<Value>,
        next_cursor: Option<String>,
        page_size: usize,
        total: Option<i64>,
    ) -> Self {
        Page {
            results,
            pagination: Pagination {
                page_size,
                next_cursor,
                total,
                total_pages: total.map(|t| (t + page_size as i64 - 1) / page_size as i64),
            },
            total_count: None,
            of: PhantomData,
        }
    }

    /// Adds `total_count`: the total when known, else the size of this page.
    pub fn counted(mut self) -> Self {
        self.total_count = Some(self.pagination.total.unwrap_or(self.results.len() as i64));
        self
    }
}

/// `{"success": true, "message": …}`: a delete or a kill that is done.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Done {
    pub success: bool,
    pub message: String,
}

impl Done {
    pub fn new(message: impl Into<String>) -> Self {
        Done {
            success: true,
            message: message.into(),
        }
    }
}

/// A delete whose work runs as a task (a namespace's or a bucket's contents).
#[derive(Debug, Serialize, JsonSchema)]
pub struct DeletionQueued {
    pub success: bool,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket_id: Option<String>,
    pub task_id: String,
    pub status: TaskStatus,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct WholeList {
    pub total: usize,
    pub page: usize,
    pub page_size: usize,
    pub total_pages: usize,
}

/// A whole list on one page (connections, syncs, runs).
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "List_of_{T}")]
pub struct ListOf<T> {
    pub results: Vec<T>,
    pub pagination: WholeList,
    pub total: usize,
}

impl<T> ListOf<T> {
    pub fn new(results: Vec<T>) -> Self {
        let total = results.len();
        ListOf {
            results,
            pagination: WholeList {
                total,
                page: 1,
                page_size: total.max(1),
                total_pages: 1,
            },
            total,
        }
    }
}

/// The body of a route that never succeeds (it always answers with a 4xx saying why):
/// its OpenAPI schema admits nothing.
#[derive(Debug, Serialize, JsonSchema)]
pub enum Unreachable {}
