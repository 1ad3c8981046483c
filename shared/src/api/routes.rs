//! The route table. Adding a route means: a handler, an entry here, a binary in
//! `functions/lambda/src/bin/<function>.rs`, and a function in `template.yaml`
//! (the layout test fails until all four agree).

use schemars::{JsonSchema, Schema, SchemaGenerator};

use super::handlers as h;
use super::{Caller, Handler, HandlerFuture};
use crate::context::AppContext;
use crate::services::buckets::{CreateBucket, UpdateBucket};
use crate::services::lists::ListRequest;
use crate::services::namespaces::{CreateNamespace, UpdateNamespace};
use crate::services::objects::{CreateObject, CreateObjectsBatch, PatchObject};
use crate::services::uploads::{ConfirmBatch, ConfirmUpload, CreateUpload, CreateUploadsBatch};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No credentials.
    Public,
    /// A valid API key.
    Org,
    /// A valid API key and an `X-Namespace` of its org.
    Namespace,
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
];

/// Finds a route by its function (binary) name.
pub fn by_function(name: &str) -> Option<&'static Route> {
    ROUTES.iter().copied().find(|r| r.function == name)
}
