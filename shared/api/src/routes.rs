//! The route table. Adding a route means: a handler, an entry here, a binary in
//! `functions/lambda/src/bin/<function>.rs`, and a function in `template.yaml`
//! (the layout test fails until all four agree).

use schemars::{JsonSchema, Schema, SchemaGenerator};

use super::handlers as h;
use super::{Caller, Handler, HandlerFuture};
use sluice_core::app::batches::{AddObjects, CreateBatch, ListBatches, RetryBatch, SubmitBatch};
use sluice_core::app::buckets::{CreateBucket, UpdateBucket};
use sluice_core::app::collections::CreateCollection;
use sluice_core::app::namespaces::{CreateNamespace, UpdateNamespace};
use sluice_core::app::objects::{CreateObject, CreateObjectsBatch, PatchObject};
use sluice_core::app::search::FeatureSearch;
use sluice_core::app::tasks::ListTasks;
use sluice_core::app::uploads::{ConfirmBatch, ConfirmUpload, CreateUpload, CreateUploadsBatch};
use sluice_core::app::webhooks::{CreateWebhook, ListWebhooks, UpdateWebhook};
use sluice_core::context::AppContext;
use sluice_core::store::lists::ListRequest;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No credentials.
    Public,
    /// A valid API key.
    Org,
    /// A valid API key and an `X-Namespace` of its org.
    Namespace,
    /// A valid API key; an `X-Namespace`, when sent, narrows to that namespace.
    OrgOptionalNamespace,
}

pub struct Route {
    /// The Lambda binary (and template function) that serves this route.
    pub function: &'static str,
    pub method: &'static str,
    /// API Gateway / matchit syntax: `/v1/buckets/{bucket_identifier}`.
    pub path: &'static str,
    pub access: Access,
    pub summary: &'static str,
    pub request_body: Option<fn(&mut SchemaGenerator) -> Schema>,
    pub handler: Handler,
}

impl Route {
    /// The path parameters of `path` if it matches this route's template, for events
    /// that carry none (a Function URL, `cargo lambda watch`): API Gateway's
    /// `pathParameters` are then read from the raw path, as the local router does.
    pub fn match_path(&self, path: &str) -> Option<std::collections::HashMap<String, String>> {
        let mut params = std::collections::HashMap::new();
        let mut given = path.trim_end_matches('/').split('/');
        for segment in self.path.split('/') {
            let value = given.next()?;
            match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) if !value.is_empty() => {
                    let value = percent_decode(value)?;
                    params.insert(name.to_string(), value);
                }
                Some(_) => return None,
                None if segment == value => {}
                None => return None,
            }
        }
        given.next().is_none().then_some(params)
    }
}

/// `%XX` escapes decoded (API Gateway hands handlers decoded parameters).
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} ({})", self.method, self.path, self.function)
    }
}

fn body<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

macro_rules! route {
    ($name:ident, $function:literal, $method:literal, $path:literal, $access:ident, $summary:literal, $body:expr, $handler:path) => {
        pub static $name: Route = Route {
            function: $function,
            method: $method,
            path: $path,
            access: Access::$access,
            summary: $summary,
            request_body: $body,
            handler: {
                fn call(ctx: AppContext, caller: Caller, req: super::ApiRequest) -> HandlerFuture {
                    Box::pin($handler(ctx, caller, req))
                }
                call
            },
        };
    };
}

route!(
    OPENAPI,
    "openapi",
    "GET",
    "/openapi.json",
    Public,
    "The OpenAPI 3.1 document of this API",
    None,
    h::openapi
);
route!(
    EXTRACTORS_LIST,
    "extractors-list",
    "GET",
    "/v1/collections/features/extractors",
    Org,
    "List the feature-extractor catalogue",
    None,
    h::extractors_list
);
route!(
    EXTRACTORS_GET,
    "extractors-get",
    "GET",
    "/v1/collections/features/extractors/{feature_extractor_id}",
    Org,
    "Get one feature extractor",
    None,
    h::extractors_get
);

route!(
    NAMESPACES_CREATE,
    "namespaces-create",
    "POST",
    "/v1/namespaces",
    Org,
    "Create a namespace",
    Some(body::<CreateNamespace>),
    h::namespaces_create
);
route!(
    NAMESPACES_LIST_GET,
    "namespaces-list-get",
    "GET",
    "/v1/namespaces",
    Org,
    "List namespaces",
    None,
    h::namespaces_list_get
);
route!(
    NAMESPACES_LIST,
    "namespaces-list",
    "POST",
    "/v1/namespaces/list",
    Org,
    "List namespaces with filters",
    Some(body::<ListRequest>),
    h::namespaces_list
);
route!(
    NAMESPACES_GET,
    "namespaces-get",
    "GET",
    "/v1/namespaces/{namespace_identifier}",
    Org,
    "Get a namespace by id or name",
    None,
    h::namespaces_get
);
route!(
    NAMESPACES_PATCH,
    "namespaces-patch",
    "PATCH",
    "/v1/namespaces/{namespace_identifier}",
    Org,
    "Change some fields of a namespace",
    Some(body::<UpdateNamespace>),
    h::namespaces_patch
);
route!(
    NAMESPACES_UPDATE,
    "namespaces-update",
    "PUT",
    "/v1/namespaces/{namespace_identifier}",
    Org,
    "Replace a namespace's fields",
    Some(body::<UpdateNamespace>),
    h::namespaces_update
);
route!(
    NAMESPACES_DELETE,
    "namespaces-delete",
    "DELETE",
    "/v1/namespaces/{namespace_identifier}",
    Org,
    "Delete a namespace and everything in it",
    None,
    h::namespaces_delete
);

route!(
    BUCKETS_CREATE,
    "buckets-create",
    "POST",
    "/v1/buckets",
    Namespace,
    "Create a bucket",
    Some(body::<CreateBucket>),
    h::buckets_create
);
route!(
    BUCKETS_LIST_GET,
    "buckets-list-get",
    "GET",
    "/v1/buckets",
    Namespace,
    "List buckets",
    None,
    h::buckets_list_get
);
route!(
    BUCKETS_LIST,
    "buckets-list",
    "POST",
    "/v1/buckets/list",
    Namespace,
    "List buckets with filters",
    Some(body::<ListRequest>),
    h::buckets_list
);
route!(
    BUCKETS_GET,
    "buckets-get",
    "GET",
    "/v1/buckets/{bucket_identifier}",
    Namespace,
    "Get a bucket by id or name",
    None,
    h::buckets_get
);
route!(
    BUCKETS_PATCH,
    "buckets-patch",
    "PATCH",
    "/v1/buckets/{bucket_identifier}",
    Namespace,
    "Change some fields of a bucket",
    Some(body::<UpdateBucket>),
    h::buckets_patch
);
route!(
    BUCKETS_UPDATE,
    "buckets-update",
    "PUT",
    "/v1/buckets/{bucket_identifier}",
    Namespace,
    "Replace a bucket's fields",
    Some(body::<UpdateBucket>),
    h::buckets_update
);
route!(
    BUCKETS_DELETE,
    "buckets-delete",
    "DELETE",
    "/v1/buckets/{bucket_identifier}",
    Namespace,
    "Delete a bucket and everything in it",
    None,
    h::buckets_delete
);

route!(
    OBJECTS_CREATE,
    "objects-create",
    "POST",
    "/v1/buckets/{bucket_identifier}/objects",
    Namespace,
    "Register an object",
    Some(body::<CreateObject>),
    h::objects_create
);
route!(
    OBJECTS_CREATE_BATCH,
    "objects-create-batch",
    "POST",
    "/v1/buckets/{bucket_identifier}/objects/batch",
    Namespace,
    "Register up to 100 objects, each on its own",
    Some(body::<CreateObjectsBatch>),
    h::objects_create_batch
);
route!(
    OBJECTS_LIST,
    "objects-list",
    "POST",
    "/v1/buckets/{bucket_identifier}/objects/list",
    Namespace,
    "List objects with filters",
    Some(body::<ListRequest>),
    h::objects_list
);
route!(
    OBJECTS_LIST_GET,
    "objects-list-get",
    "GET",
    "/v1/buckets/{bucket_identifier}/objects",
    Namespace,
    "List objects",
    None,
    h::objects_list_get
);
route!(
    OBJECTS_GET,
    "objects-get",
    "GET",
    "/v1/buckets/{bucket_identifier}/objects/{object_identifier}",
    Namespace,
    "Get an object",
    None,
    h::objects_get
);
route!(
    OBJECTS_PATCH,
    "objects-patch",
    "PATCH",
    "/v1/buckets/{bucket_identifier}/objects/{object_identifier}",
    Namespace,
    "Change some fields of an object",
    Some(body::<PatchObject>),
    h::objects_patch
);
route!(
    OBJECTS_UPDATE,
    "objects-update",
    "PUT",
    "/v1/buckets/{bucket_identifier}/objects/{object_identifier}",
    Namespace,
    "Replace an object",
    Some(body::<CreateObject>),
    h::objects_update
);
route!(
    OBJECTS_DELETE,
    "objects-delete",
    "DELETE",
    "/v1/buckets/{bucket_identifier}/objects/{object_identifier}",
    Namespace,
    "Delete an object and its stored blobs",
    None,
    h::objects_delete
);

route!(
    UPLOADS_CREATE,
    "uploads-create",
    "POST",
    "/v1/buckets/{bucket_identifier}/uploads",
    Namespace,
    "Start a direct upload: a presigned PUT URL that pins type, length and sha256",
    Some(body::<CreateUpload>),
    h::uploads_create
);
route!(
    UPLOADS_CREATE_BATCH,
    "uploads-create-batch",
    "POST",
    "/v1/buckets/{bucket_identifier}/uploads/batch",
    Namespace,
    "Start up to 100 direct uploads (all are checked before any is issued)",
    Some(body::<CreateUploadsBatch>),
    h::uploads_create_batch
);
route!(
    UPLOADS_LIST,
    "uploads-list",
    "POST",
    "/v1/buckets/{bucket_identifier}/uploads/list",
    Namespace,
    "List uploads (filter by status)",
    Some(body::<ListRequest>),
    h::uploads_list
);
route!(
    UPLOADS_GET,
    "uploads-get",
    "GET",
    "/v1/buckets/{bucket_identifier}/uploads/{upload_id}",
    Namespace,
    "Get an upload (a pending one gets a fresh URL for its remaining time)",
    None,
    h::uploads_get
);
route!(
    UPLOADS_DELETE,
    "uploads-delete",
    "DELETE",
    "/v1/buckets/{bucket_identifier}/uploads/{upload_id}",
    Namespace,
    "Cancel a pending upload and remove its bytes",
    None,
    h::uploads_delete
);
route!(
    UPLOADS_CONFIRM,
    "uploads-confirm",
    "POST",
    "/v1/buckets/{bucket_identifier}/uploads/{upload_id}/confirm",
    Namespace,
    "Confirm an upload: verify the stored file and create its object",
    Some(body::<ConfirmUpload>),
    h::uploads_confirm
);
route!(
    UPLOADS_CONFIRM_BATCH,
    "uploads-confirm-batch",
    "POST",
    "/v1/buckets/{bucket_identifier}/uploads/confirm/batch",
    Namespace,
    "Confirm up to 100 uploads in the background (returns a task)",
    Some(body::<ConfirmBatch>),
    h::uploads_confirm_batch
);
route!(
    TASKS_GET,
    "tasks-get",
    "GET",
    "/v1/tasks/{task_id}",
    Org,
    "Get an asynchronous task",
    None,
    h::tasks_get
);

route!(
    BATCHES_CREATE,
    "batches-create",
    "POST",
    "/v1/buckets/{bucket_identifier}/batches",
    Namespace,
    "Create a batch of a bucket's objects (DRAFT)",
    Some(body::<CreateBatch>),
    h::batches_create
);
route!(
    BATCHES_LIST,
    "batches-list",
    "POST",
    "/v1/buckets/{bucket_identifier}/batches/list",
    Namespace,
    "List a bucket's batches",
    Some(body::<ListBatches>),
    h::batches_list
);
route!(
    BATCHES_GET,
    "batches-get",
    "GET",
    "/v1/buckets/{bucket_identifier}/batches/{batch_id}",
    Namespace,
    "Get a batch with its progress and failures",
    None,
    h::batches_get
);
route!(
    BATCHES_DELETE,
    "batches-delete",
    "DELETE",
    "/v1/buckets/{bucket_identifier}/batches/{batch_id}",
    Namespace,
    "Delete a draft batch",
    None,
    h::batches_delete
);
route!(
    BATCHES_ADD_OBJECTS,
    "batches-add-objects",
    "POST",
    "/v1/buckets/{bucket_identifier}/batches/{batch_id}/objects",
    Namespace,
    "Add objects to a draft batch",
    Some(body::<AddObjects>),
    h::batches_add_objects
);
route!(
    BATCHES_RESULTS,
    "batches-results",
    "GET",
    "/v1/buckets/{bucket_identifier}/batches/{batch_id}/objects",
    Namespace,
    "Per-object results of a batch, with each failure's stage and reason",
    None,
    h::batches_results
);
route!(
    BATCHES_SUBMIT,
    "batches-submit",
    "POST",
    "/v1/buckets/{bucket_identifier}/batches/{batch_id}/submit",
    Namespace,
    "Submit a draft batch for processing (returns its task)",
    Some(body::<SubmitBatch>),
    h::batches_submit
);
route!(
    BATCHES_CANCEL,
    "batches-cancel",
    "POST",
    "/v1/buckets/{bucket_identifier}/batches/{batch_id}/cancel",
    Namespace,
    "Cancel a batch",
    None,
    h::batches_cancel
);
route!(
    BATCHES_RETRY,
    "batches-retry",
    "POST",
    "/v1/buckets/{bucket_identifier}/batches/{batch_id}/retry",
    Namespace,
    "Run a finished batch's failed objects again",
    Some(body::<RetryBatch>),
    h::batches_retry
);
route!(
    BATCHES_GET_BY_ID,
    "batches-get-by-id",
    "GET",
    "/v1/batches/{batch_id}",
    OrgOptionalNamespace,
    "Get a batch by id alone",
    None,
    h::batches_get_by_id
);
route!(
    BATCHES_LIST_ALL,
    "batches-list-all",
    "POST",
    "/v1/batches/list",
    OrgOptionalNamespace,
    "List every batch of the namespace",
    Some(body::<ListBatches>),
    h::batches_list_all
);
route!(
    BATCHES_CANCEL_BY_ID,
    "batches-cancel-by-id",
    "POST",
    "/v1/batches/{batch_id}/cancel",
    OrgOptionalNamespace,
    "Cancel a batch by id alone",
    None,
    h::batches_cancel_by_id
);
route!(
    OBJECTS_DOCUMENTS,
    "objects-documents",
    "GET",
    "/v1/buckets/{bucket_identifier}/objects/{object_identifier}/documents",
    Namespace,
    "The documents extracted from an object",
    None,
    h::objects_documents
);
route!(
    COLLECTIONS_DOCUMENTS_LIST,
    "collections-documents-list",
    "POST",
    "/v1/collections/{collection_identifier}/documents/list",
    Namespace,
    "List a collection's documents",
    Some(body::<ListRequest>),
    h::collections_documents_list
);
route!(
    TASKS_LIST,
    "tasks-list",
    "POST",
    "/v1/tasks/list",
    Org,
    "List tasks, newest first",
    Some(body::<ListTasks>),
    h::tasks_list
);
route!(
    TASKS_DELETE,
    "tasks-delete",
    "DELETE",
    "/v1/tasks/{task_id}",
    Org,
    "Cancel a running task, or delete a finished one",
    None,
    h::tasks_delete
);
route!(
    WEBHOOKS_CREATE,
    "webhooks-create",
    "POST",
    "/v1/organizations/webhooks",
    Org,
    "Subscribe an endpoint to events (the signing secret is shown once)",
    Some(body::<CreateWebhook>),
    h::webhooks_create
);
route!(
    WEBHOOKS_LIST,
    "webhooks-list",
    "POST",
    "/v1/organizations/webhooks/list",
    Org,
    "List webhooks",
    Some(body::<ListWebhooks>),
    h::webhooks_list
);
route!(
    WEBHOOKS_GET,
    "webhooks-get",
    "GET",
    "/v1/organizations/webhooks/{identifier}",
    Org,
    "Get a webhook",
    None,
    h::webhooks_get
);
route!(
    WEBHOOKS_UPDATE,
    "webhooks-update",
    "PUT",
    "/v1/organizations/webhooks/{identifier}",
    Org,
    "Update a webhook",
    Some(body::<UpdateWebhook>),
    h::webhooks_update
);
route!(
    WEBHOOKS_DELETE,
    "webhooks-delete",
    "DELETE",
    "/v1/organizations/webhooks/{identifier}",
    Org,
    "Delete a webhook",
    None,
    h::webhooks_delete
);
route!(
    WEBHOOKS_DELIVERIES,
    "webhooks-deliveries",
    "GET",
    "/v1/organizations/webhooks/{identifier}/deliveries",
    Org,
    "A webhook's delivery log, newest first",
    None,
    h::webhooks_deliveries
);

route!(
    COLLECTIONS_CREATE,
    "collections-create",
    "POST",
    "/v1/collections",
    Namespace,
    "Create a collection: one extractor over chosen buckets",
    Some(body::<CreateCollection>),
    h::collections_create
);
route!(
    COLLECTIONS_LIST_GET,
    "collections-list-get",
    "GET",
    "/v1/collections",
    Namespace,
    "List collections",
    None,
    h::collections_list_get
);
route!(
    COLLECTIONS_LIST,
    "collections-list",
    "POST",
    "/v1/collections/list",
    Namespace,
    "List collections, with filters",
    Some(body::<ListRequest>),
    h::collections_list
);
route!(
    COLLECTIONS_GET,
    "collections-get",
    "GET",
    "/v1/collections/{collection_identifier}",
    Namespace,
    "Get a collection by id or name",
    None,
    h::collections_get
);
route!(
    COLLECTIONS_DELETE,
    "collections-delete",
    "DELETE",
    "/v1/collections/{collection_identifier}",
    Namespace,
    "Delete a collection and its documents",
    None,
    h::collections_delete
);

route!(
    COLLECTIONS_DOCUMENTS_GET,
    "collections-documents-get",
    "GET",
    "/v1/collections/{collection_identifier}/documents/{document_id}",
    Namespace,
    "Get a document of a collection",
    None,
    h::collections_documents_get
);
route!(
    DOCUMENTS_GET,
    "documents-get",
    "GET",
    "/v1/documents/{document_id}",
    Namespace,
    "Get a document by id",
    None,
    h::documents_get
);
route!(
    FEATURES_SEARCH,
    "features-search",
    "POST",
    "/v1/features/search",
    Namespace,
    "Search a namespace's collections by embedding (text or vector query, metadata filters)",
    Some(body::<FeatureSearch>),
    h::features_search
);

/// Every route, in documentation order.
pub static ROUTES: &[&Route] = &[
    &OPENAPI,
    &EXTRACTORS_LIST,
    &EXTRACTORS_GET,
    &NAMESPACES_CREATE,
    &NAMESPACES_LIST_GET,
    &NAMESPACES_LIST,
    &NAMESPACES_GET,
    &NAMESPACES_PATCH,
    &NAMESPACES_UPDATE,
    &NAMESPACES_DELETE,
    &BUCKETS_CREATE,
    &BUCKETS_LIST_GET,
    &BUCKETS_LIST,
    &BUCKETS_GET,
    &BUCKETS_PATCH,
    &BUCKETS_UPDATE,
    &BUCKETS_DELETE,
    &OBJECTS_CREATE,
    &OBJECTS_CREATE_BATCH,
    &OBJECTS_LIST,
    &OBJECTS_LIST_GET,
    &OBJECTS_GET,
    &OBJECTS_PATCH,
    &OBJECTS_UPDATE,
    &OBJECTS_DELETE,
    &UPLOADS_CREATE,
    &UPLOADS_CREATE_BATCH,
    &UPLOADS_LIST,
    &UPLOADS_GET,
    &UPLOADS_DELETE,
    &UPLOADS_CONFIRM,
    &UPLOADS_CONFIRM_BATCH,
    &TASKS_GET,
    &BATCHES_CREATE,
    &BATCHES_LIST,
    &BATCHES_GET,
    &BATCHES_DELETE,
    &BATCHES_ADD_OBJECTS,
    &BATCHES_RESULTS,
    &BATCHES_SUBMIT,
    &BATCHES_CANCEL,
    &BATCHES_RETRY,
    &BATCHES_GET_BY_ID,
    &BATCHES_LIST_ALL,
    &BATCHES_CANCEL_BY_ID,
    &OBJECTS_DOCUMENTS,
    &COLLECTIONS_DOCUMENTS_LIST,
    &COLLECTIONS_DOCUMENTS_GET,
    &DOCUMENTS_GET,
    &FEATURES_SEARCH,
    &COLLECTIONS_CREATE,
    &COLLECTIONS_LIST_GET,
    &COLLECTIONS_LIST,
    &COLLECTIONS_GET,
    &COLLECTIONS_DELETE,
    &TASKS_LIST,
    &TASKS_DELETE,
    &WEBHOOKS_CREATE,
    &WEBHOOKS_LIST,
    &WEBHOOKS_GET,
    &WEBHOOKS_UPDATE,
    &WEBHOOKS_DELETE,
    &WEBHOOKS_DELIVERIES,
];

/// Routes that honour an `Idempotency-Key` header: the creates and the submits.
pub const IDEMPOTENT: &[&str] = &[
    "namespaces-create",
    "buckets-create",
    "objects-create",
    "objects-create-batch",
    "uploads-create",
    "uploads-create-batch",
    "batches-create",
    "batches-submit",
    "batches-retry",
    "webhooks-create",
    "collections-create",
];

/// Finds a route by its function (binary) name.
pub fn by_function(name: &str) -> Option<&'static Route> {
    ROUTES.iter().copied().find(|r| r.function == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_reads_its_parameters_from_the_raw_path() {
        let params = OBJECTS_GET
            .match_path("/v1/buckets/bkt_1/objects/obj%5F2")
            .expect("matches");
        assert_eq!(params["bucket_identifier"], "bkt_1");
        assert_eq!(params["object_identifier"], "obj_2");
        assert!(OBJECTS_GET
            .match_path("/v1/buckets/bkt_1/objects")
            .is_none());
        assert!(OBJECTS_GET.match_path("/v1/buckets//objects/x").is_none());
        assert!(OBJECTS_GET
            .match_path("/v1/buckets/b/objects/x/y")
            .is_none());
        assert_eq!(
            TASKS_LIST.match_path("/v1/tasks/list").map(|p| p.len()),
            Some(0)
        );
    }
}
