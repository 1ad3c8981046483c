//! The route table: the one list the local router, the OpenAPI document, the Lambda
//! binaries and the template's route functions all come from. Adding a route means: a
//! handler, an entry here, then `cargo xtask routes` (which writes the binary and the
//! template block; `cargo test` fails while they differ from what it would write).

use schemars::{JsonSchema, Schema, SchemaGenerator};

use super::handlers as h;
use super::{Caller, Handler, HandlerFuture};
use sluice_core::app::batches::{AddObjects, CreateBatch, ListBatches, RetryBatch, SubmitBatch};
use sluice_core::app::buckets::{CreateBucket, UpdateBucket};
use sluice_core::app::collections::CreateCollection;
use sluice_core::app::connections::{CreateConnection, ListConnections, UpdateConnection};
use sluice_core::app::namespaces::{CreateNamespace, UpdateNamespace};
use sluice_core::app::objects::{CreateObject, CreateObjectsBulk, PatchObject};
use sluice_core::app::search::FeatureSearch;
use sluice_core::app::syncs::{
    CreateSync, ListDeadLetters, ListRuns, ListSyncs, RequeueDeadLetters, UpdateSync,
};
use sluice_core::app::tasks::ListTasks;
use sluice_core::app::uploads::{ConfirmBulk, ConfirmUpload, CreateUpload, CreateUploadsBulk};
use sluice_core::app::webhooks::{CreateWebhook, ListWebhooks, UpdateWebhook};
use sluice_core::context::AppContext;
use std::sync::Arc;

use serde_json::Value;
use sluice_core::app::extract::NoExtractors;
use sluice_core::app::views::*;
use sluice_core::ports::absent::{Absent, OnlyQueues, ReadOnly};
use sluice_core::ports::{Embedders, QueueName};
use sluice_core::store::lists::ListRequest;
use Permission::*;

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
    /// The static's name in this module (what a generated binary refers to).
    pub ident: &'static str,
    /// The Lambda binary (and template function) that serves this route.
    pub function: &'static str,
    pub method: &'static str,
    /// API Gateway / matchit syntax: `/v1/buckets/{bucket_identifier}`.
    pub path: &'static str,
    pub access: Access,
    pub summary: &'static str,
    pub request_body: Option<RequestBody>,
    /// The schema of its 200 body (the handler's return type).
    pub response: fn(&mut SchemaGenerator) -> Schema,
    pub handler: Handler,
    /// Honours an `Idempotency-Key` header (the creates and the submits).
    pub idempotent: bool,
    /// Embeds queries: its function loads the models layer (MiniLM, Bedrock).
    pub embeds: bool,
    /// What its function may touch: the IAM policy of its template block, and the ports
    /// its Lambda builds (a port it is not granted is absent, and says so if used).
    pub permissions: &'static [Permission],
}

/// One grant of a route's function, on the stack's own table, bucket, queues, bus,
/// vector bucket or Bedrock models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// GetItem, Query, BatchGetItem on the table and its indexes.
    ReadTable,
    /// PutItem, UpdateItem, DeleteItem, ConditionCheckItem, BatchWriteItem.
    WriteTable,
    GetBlobs,
    PutBlobs,
    DeleteBlobs,
    ListBlobParts,
    AbortBlobUploads,
    Send(QueueName),
    PublishEvents,
    QueryVectors,
    GetVectors,
    DeleteVectors,
    DeleteVectorIndexes,
    InvokeBedrock,
    /// The credential key (KMS GenerateDataKey, Decrypt) and the storage connectors
    /// that read external stores with the credentials it opens.
    UseCredentials,
    /// The credential key alone, to seal a secret kept at rest (a webhook's).
    SealSecrets,
}

impl Route {
    /// `ctx` cut down to what this route is granted: the ports a Lambda builds for it.
    /// Tests serve every route through this, so a handler that needs a port its route
    /// does not grant fails in the conformance flows, not first in AWS.
    pub fn restrict(&self, ctx: &AppContext) -> AppContext {
        let mut ctx = ctx.clone();
        if !self.may(WriteTable) {
            ctx.table = Arc::new(ReadOnly { inner: ctx.table });
        }
        if !self.uses_blobs() {
            ctx.blobs = Arc::new(Absent("the blob bucket"));
        }
        if self.uses_queues() {
            let allowed = self
                .permissions
                .iter()
                .filter_map(|p| match p {
                    Send(q) => Some(*q),
                    _ => None,
                })
                .collect();
            ctx.queue = Arc::new(OnlyQueues {
                allowed,
                inner: ctx.queue,
            });
        } else {
            ctx.queue = Arc::new(Absent("any queue"));
        }
        if !self.may(PublishEvents) {
            ctx.events = Arc::new(Absent("the event bus"));
        }
        if !self.uses_vectors() {
            ctx.vectors = Arc::new(Absent("the vector bucket"));
        }
        if !self.may(UseCredentials) {
            ctx.connectors = Arc::new(Absent("external storage connectors"));
            if !self.may(SealSecrets) {
                ctx.sealer = Arc::new(Absent("the credential key"));
            }
        }
        if !self.embeds {
            ctx.embedders = Embedders::none("this route embeds nothing (its table entry says so)");
            ctx.extractors = Arc::new(NoExtractors);
        }
        ctx
    }

    pub fn may(&self, p: Permission) -> bool {
        self.permissions.contains(&p)
    }
    pub fn uses_blobs(&self) -> bool {
        self.permissions.iter().any(|p| {
            matches!(
                p,
                Permission::GetBlobs
                    | Permission::PutBlobs
                    | Permission::DeleteBlobs
                    | Permission::ListBlobParts
                    | Permission::AbortBlobUploads
            )
        })
    }
    pub fn uses_queues(&self) -> bool {
        self.permissions
            .iter()
            .any(|p| matches!(p, Permission::Send(_)))
    }
    pub fn uses_vectors(&self) -> bool {
        self.permissions.iter().any(|p| {
            matches!(
                p,
                Permission::QueryVectors
                    | Permission::GetVectors
                    | Permission::DeleteVectors
                    | Permission::DeleteVectorIndexes
            )
        })
    }
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
                    // API Gateway hands handlers decoded parameters.
                    let value = percent_encoding::percent_decode_str(value)
                        .decode_utf8()
                        .ok()?;
                    params.insert(name.to_string(), value.into_owned());
                }
                Some(_) => return None,
                None if segment == value => {}
                None => return None,
            }
        }
        given.next().is_none().then_some(params)
    }
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} ({})", self.method, self.path, self.function)
    }
}

fn body<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// What a route's request body is, and whether it may be left out.
#[derive(Clone, Copy)]
pub struct RequestBody {
    pub schema: fn(&mut SchemaGenerator) -> Schema,
    /// Refused as a 400 when missing (`dispatch` checks it). Lists, submits, retries and
    /// confirms take none: their handlers read a missing one as the defaults.
    pub required: bool,
}

const fn required<T: JsonSchema>() -> RequestBody {
    RequestBody {
        schema: body::<T>,
        required: true,
    }
}

const fn optional<T: JsonSchema>() -> RequestBody {
    RequestBody {
        schema: body::<T>,
        required: false,
    }
}

macro_rules! route {
    ($name:ident {
        function: $function:literal,
        method: $method:literal,
        path: $path:literal,
        access: $access:ident,
        summary: $summary:literal,
        body: $body:expr,
        response: $response:ty,
        handler: $handler:path,
        idempotent: $idempotent:literal,
        embeds: $embeds:literal,
        permissions: &[$($permission:expr),* $(,)?],
    }) => {
        pub static $name: Route = Route {
            ident: stringify!($name),
            function: $function,
            method: $method,
            path: $path,
            access: Access::$access,
            summary: $summary,
            request_body: $body,
            response: body::<$response>,
            handler: {
                // The handler must return the declared view: the document cannot
                // promise a body the route does not serialize.
                fn call(ctx: AppContext, caller: Caller, req: super::ApiRequest) -> HandlerFuture {
                    Box::pin(async move {
                        let view: $response = $handler(ctx, caller, req).await?;
                        Ok(super::ApiResponse::json(&view))
                    })
                }
                call
            },
            idempotent: $idempotent,
            embeds: $embeds,
            permissions: &[$($permission),*],
        };
    };
}

route! {
    OPENAPI {
        function: "openapi",
        method: "GET",
        path: "/openapi.json",
        access: Public,
        summary: "The OpenAPI 3.1 document of this API",
        body: None,
        response: Value,
        handler: h::openapi,
        idempotent: false,
        embeds: false,
        permissions: &[],
    }
}
route! {
    EXTRACTORS_LIST {
        function: "extractors-list",
        method: "GET",
        path: "/v1/collections/features/extractors",
        access: Public,
        summary: "List the feature-extractor catalogue (public, as Mixpeek's is)",
        body: None,
        response: Vec<ExtractorView>,
        handler: h::extractors_list,
        idempotent: false,
        embeds: false,
        permissions: &[],
    }
}
route! {
    EXTRACTORS_GET {
        function: "extractors-get",
        method: "GET",
        path: "/v1/collections/features/extractors/{feature_extractor_id}",
        access: Public,
        summary: "Get one feature extractor",
        body: None,
        response: ExtractorView,
        handler: h::extractors_get,
        idempotent: false,
        embeds: false,
        permissions: &[],
    }
}
route! {
    NAMESPACES_CREATE {
        function: "namespaces-create",
        method: "POST",
        path: "/v1/namespaces",
        access: Org,
        summary: "Create a namespace",
        body: Some(required::<CreateNamespace>()),
        response: NamespaceView,
        handler: h::namespaces_create,
        idempotent: true,
        embeds: false,
        permissions: &[ReadTable, WriteTable],
    }
}
route! {
    NAMESPACES_LIST_GET {
        function: "namespaces-list-get",
        method: "GET",
        path: "/v1/namespaces",
        access: Org,
        summary: "List namespaces",
        body: None,
        response: Page<NamespaceView>,
        handler: h::namespaces_list_get,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable],
    }
}
route! {
    NAMESPACES_LIST {
        function: "namespaces-list",
        method: "POST",
        path: "/v1/namespaces/list",
        access: Org,
        summary: "List namespaces with filters",
        body: Some(optional::<ListRequest>()),
        response: Page<NamespaceView>,
        handler: h::namespaces_list,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable],
    }
}
route! {
    NAMESPACES_GET {
        function: "namespaces-get",
        method: "GET",
        path: "/v1/namespaces/{namespace_identifier}",
        access: Org,
        summary: "Get a namespace by id or name",
        body: None,
        response: NamespaceView,
        handler: h::namespaces_get,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable],
    }
}
route! {
    NAMESPACES_PATCH {
        function: "namespaces-patch",
        method: "PATCH",
        path: "/v1/namespaces/{namespace_identifier}",
        access: Org,
        summary: "Change some fields of a namespace",
        body: Some(required::<UpdateNamespace>()),
        response: NamespaceView,
        handler: h::namespaces_patch,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable, WriteTable],
    }
}
route! {
    NAMESPACES_UPDATE {
        function: "namespaces-update",
        method: "PUT",
        path: "/v1/namespaces/{namespace_identifier}",
        access: Org,
        summary: "Replace a namespace's fields",
        body: Some(required::<UpdateNamespace>()),
        response: NamespaceView,
        handler: h::namespaces_update,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable, WriteTable],
    }
}
route! {
    NAMESPACES_DELETE {
        function: "namespaces-delete",
        method: "DELETE",
        path: "/v1/namespaces/{namespace_identifier}",
        access: Org,
        summary: "Delete a namespace and everything in it",
        body: None,
        response: DeletionQueued,
        handler: h::namespaces_delete,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable, WriteTable, Send(QueueName::Tasks)],
    }
}
route! {
    BUCKETS_CREATE {
        function: "buckets-create",
        method: "POST",
        path: "/v1/buckets",
        access: Namespace,
        summary: "Create a bucket",
        body: Some(required::<CreateBucket>()),
        response: BucketView,
        handler: h::buckets_create,
        idempotent: true,
        embeds: false,
        permissions: &[ReadTable, WriteTable],
    }
}
route! {
    BUCKETS_LIST_GET {
        function: "buckets-list-get",
        method: "GET",
        path: "/v1/buckets",
        access: Namespace,
        summary: "List buckets",
        body: None,
        response: Page<BucketView>,
        handler: h::buckets_list_get,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable],
    }
}
route! {
    BUCKETS_LIST {
        function: "buckets-list",
        method: "POST",
        path: "/v1/buckets/list",
        access: Namespace,
        summary: "List buckets with filters",
        body: Some(optional::<ListRequest>()),
        response: Page<BucketView>,
        handler: h::buckets_list,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable],
    }
}
route! {
    BUCKETS_GET {
        function: "buckets-get",
        method: "GET",
        path: "/v1/buckets/{bucket_identifier}",
        access: Namespace,
        summary: "Get a bucket by id or name",
        body: None,
        response: BucketView,
        handler: h::buckets_get,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable],
    }
}
route! {
    BUCKETS_PATCH {
        function: "buckets-patch",
        method: "PATCH",
        path: "/v1/buckets/{bucket_identifier}",
        access: Namespace,
        summary: "Change some fields of a bucket",
        body: Some(required::<UpdateBucket>()),
        response: BucketView,
        handler: h::buckets_patch,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable, WriteTable],
    }
}
route! {
    BUCKETS_UPDATE {
        function: "buckets-update",
        method: "PUT",
        path: "/v1/buckets/{bucket_identifier}",
        access: Namespace,
        summary: "Update a bucket (the fields given; the rest are kept)",
        body: Some(required::<UpdateBucket>()),
        response: BucketView,
        handler: h::buckets_update,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable, WriteTable],
    }
}
route! {
    BUCKETS_DELETE {
        function: "buckets-delete",
        method: "DELETE",
        path: "/v1/buckets/{bucket_identifier}",
        access: Namespace,
        summary: "Delete a bucket and everything in it",
        body: None,
        response: DeletionQueued,
        handler: h::buckets_delete,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable, WriteTable, Send(QueueName::Tasks)],
    }
}
route! {
    OBJECTS_CREATE {
        function: "objects-create",
        method: "POST",
        path: "/v1/buckets/{bucket_identifier}/objects",
        access: Namespace,
        summary: "Register an object",
        body: Some(required::<CreateObject>()),
        response: WithBatch<ObjectView>,
        handler: h::objects_create,
        idempotent: true,
        embeds: false,
        permissions: &[ReadTable, WriteTable, PutBlobs, DeleteBlobs, PublishEvents, Send(QueueName::Batches)],
    }
}
route! {
    OBJECTS_CREATE_BATCH {
        function: "objects-create-batch",
        method: "POST",
        path: "/v1/buckets/{bucket_identifier}/objects/batch",
        access: Namespace,
        summary: "Register up to 100 objects, each on its own",
        body: Some(required::<CreateObjectsBulk>()),
        response: WithBatch<BulkView>,
        handler: h::objects_create_batch,
        idempotent: true,
        embeds: false,
        permissions: &[ReadTable, WriteTable, PutBlobs, DeleteBlobs, PublishEvents, Send(QueueName::Batches)],
    }
}
route! {
    OBJECTS_LIST {
        function: "objects-list",
        method: "POST",
        path: "/v1/buckets/{bucket_identifier}/objects/list",
        access: Namespace,
        summary: "List objects with filters",
        body: Some(optional::<ListRequest>()),
        response: Page<ObjectView>,
        handler: h::objects_list,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable],
    }
}
route! {
    OBJECTS_LIST_GET {
        function: "objects-list-get",
        method: "GET",
        path: "/v1/buckets/{bucket_identifier}/objects",
        access: Namespace,
        summary: "List objects",
        body: None,
        response: Page<ObjectView>,
        handler: h::objects_list_get,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable],
    }
}
route! {
    OBJECTS_GET {
        function: "objects-get",
        method: "GET",
        path: "/v1/buckets/{bucket_identifier}/objects/{object_identifier}",
        access: Namespace,
        summary: "Get an object",
        body: None,
        response: ObjectView,
        handler: h::objects_get,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable, GetBlobs],
    }
}
route! {
    OBJECTS_PATCH {
        function: "objects-patch",
        method: "PATCH",
        path: "/v1/buckets/{bucket_identifier}/objects/{object_identifier}",
        access: Namespace,
        summary: "Change some fields of an object",
        body: Some(required::<PatchObject>()),
        response: ObjectView,
        handler: h::objects_patch,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable, WriteTable, PutBlobs, DeleteBlobs, PublishEvents],
    }
}
route! {
    OBJECTS_UPDATE {
        function: "objects-update",
        method: "PUT",
        path: "/v1/buckets/{bucket_identifier}/objects/{object_identifier}",
        access: Namespace,
        summary: "Replace an object",
        body: Some(required::<CreateObject>()),
        response: ObjectView,
        handler: h::objects_update,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable, WriteTable, PutBlobs, DeleteBlobs, PublishEvents],
    }
}
route! {
    OBJECTS_DELETE {
        function: "objects-delete",
        method: "DELETE",
        path: "/v1/buckets/{bucket_identifier}/objects/{object_identifier}",
        access: Namespace,
        summary: "Delete an object and its stored blobs",
        body: None,
        response: ObjectDeleted,
        handler: h::objects_delete,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable, WriteTable, PutBlobs, DeleteBlobs, PublishEvents, DeleteVectors],
    }
}
route! {
    UPLOADS_CREATE {
        function: "uploads-create",
        method: "POST",
        path: "/v1/buckets/{bucket_identifier}/uploads",
        access: Namespace,
        summary: "Start a direct upload: a presigned PUT URL that pins type, length and sha256",
        body: Some(required::<CreateUpload>()),
        response: UploadView,
        handler: h::uploads_create,
        idempotent: true,
        embeds: false,
        permissions: &[ReadTable, WriteTable, PutBlobs],
    }
}
route! {
    UPLOADS_CREATE_BATCH {
        function: "uploads-create-batch",
        method: "POST",
        path: "/v1/buckets/{bucket_identifier}/uploads/batch",
        access: Namespace,
        summary: "Start up to 100 direct uploads (all are checked before any is issued)",
        body: Some(required::<CreateUploadsBulk>()),
        response: UploadsCreated,
        handler: h::uploads_create_batch,
        idempotent: true,
        embeds: false,
        permissions: &[ReadTable, WriteTable, PutBlobs],
    }
}
route! {
    UPLOADS_LIST {
        function: "uploads-list",
        method: "POST",
        path: "/v1/buckets/{bucket_identifier}/uploads/list",
        access: Namespace,
        summary: "List uploads (filter by status)",
        body: Some(optional::<ListRequest>()),
        response: UploadPage,
        handler: h::uploads_list,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable],
    }
}
route! {
    UPLOADS_GET {
        function: "uploads-get",
        method: "GET",
        path: "/v1/buckets/{bucket_identifier}/uploads/{upload_id}",
        access: Namespace,
        summary: "Get an upload (a pending one gets a fresh URL for its remaining time)",
        body: None,
        response: UploadView,
        handler: h::uploads_get,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable, WriteTable, PutBlobs, DeleteBlobs, AbortBlobUploads],
    }
}
route! {
    UPLOADS_DELETE {
        function: "uploads-delete",
        method: "DELETE",
        path: "/v1/buckets/{bucket_identifier}/uploads/{upload_id}",
        access: Namespace,
        summary: "Cancel a pending upload and remove its bytes",
        body: None,
        response: UploadView,
        handler: h::uploads_delete,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable, WriteTable, DeleteBlobs, AbortBlobUploads],
    }
}
route! {
    UPLOADS_CONFIRM {
        function: "uploads-confirm",
        method: "POST",
        path: "/v1/buckets/{bucket_identifier}/uploads/{upload_id}/confirm",
        access: Namespace,
        summary: "Confirm an upload: verify the stored file and create its object",
        body: Some(optional::<ConfirmUpload>()),
        response: ConfirmOutcome,
        handler: h::uploads_confirm,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable, WriteTable, GetBlobs, PutBlobs, DeleteBlobs, ListBlobParts, AbortBlobUploads, PublishEvents],
    }
}
route! {
    UPLOADS_CONFIRM_BATCH {
        function: "uploads-confirm-batch",
        method: "POST",
        path: "/v1/buckets/{bucket_identifier}/uploads/confirm/batch",
        access: Namespace,
        summary: "Confirm up to 100 uploads in the background (returns a task)",
        body: Some(required::<ConfirmBulk>()),
        response: ConfirmQueued,
        handler: h::uploads_confirm_batch,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable, WriteTable, Send(QueueName::Tasks)],
    }
}
route! {
    TASKS_GET {
        function: "tasks-get",
        method: "GET",
        path: "/v1/tasks/{task_id}",
        access: Org,
        summary: "Get an asynchronous task",
        body: None,
        response: TaskView,
        handler: h::tasks_get,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable],
    }
}
route! {
    BATCHES_CREATE {
        function: "batches-create",
        method: "POST",
        path: "/v1/buckets/{bucket_identifier}/batches",
        access: Namespace,
        summary: "Create a batch of a bucket's objects (DRAFT)",
        body: Some(required::<CreateBatch>()),
        response: BatchView,
        handler: h::batches_create,
        idempotent: true,
        embeds: false,
        permissions: &[ReadTable, WriteTable, Send(QueueName::Batches)],
    }
}
route! {
    BATCHES_LIST {
        function: "batches-list",
        method: "POST",
        path: "/v1/buckets/{bucket_identifier}/batches/list",
        access: Namespace,
        summary: "List a bucket's batches",
        body: Some(optional::<ListBatches>()),
        response: Page<BatchView>,
        handler: h::batches_list,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable],
    }
}
route! {
    BATCHES_GET {
        function: "batches-get",
        method: "GET",
        path: "/v1/buckets/{bucket_identifier}/batches/{batch_id}",
        access: Namespace,
        summary: "Get a batch with its progress and failures",
        body: None,
        response: BatchView,
        handler: h::batches_get,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable],
    }
}
route! {
    BATCHES_DELETE {
        function: "batches-delete",
        method: "DELETE",
        path: "/v1/buckets/{bucket_identifier}/batches/{batch_id}",
        access: Namespace,
        summary: "Delete a draft batch",
        body: None,
        response: Done,
        handler: h::batches_delete,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable, WriteTable],
    }
}
route! {
    BATCHES_ADD_OBJECTS {
        function: "batches-add-objects",
        method: "POST",
        path: "/v1/buckets/{bucket_identifier}/batches/{batch_id}/objects",
        access: Namespace,
        summary: "Add objects to a draft batch",
        body: Some(required::<AddObjects>()),
        response: BatchView,
        handler: h::batches_add_objects,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable, WriteTable],
    }
}
route! {
    BATCHES_RESULTS {
        function: "batches-results",
        method: "GET",
        path: "/v1/buckets/{bucket_identifier}/batches/{batch_id}/objects",
        access: Namespace,
        summary: "Per-object results of a batch, with each failure's stage and reason",
        body: None,
        response: Page<ObjectResultView>,
        handler: h::batches_results,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable],
    }
}
route! {
    BATCHES_SUBMIT {
        function: "batches-submit",
        method: "POST",
        path: "/v1/buckets/{bucket_identifier}/batches/{batch_id}/submit",
        access: Namespace,
        summary: "Submit a draft batch for processing (returns its task)",
        body: Some(optional::<SubmitBatch>()),
        response: TaskView,
        handler: h::batches_submit,
        idempotent: true,
        embeds: false,
        permissions: &[ReadTable, WriteTable, Send(QueueName::Batches)],
    }
}
route! {
    BATCHES_CANCEL {
        function: "batches-cancel",
        method: "POST",
        path: "/v1/buckets/{bucket_identifier}/batches/{batch_id}/cancel",
        access: Namespace,
        summary: "Cancel a batch",
        body: None,
        response: BatchCanceled,
        handler: h::batches_cancel,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable, WriteTable],
    }
}
route! {
    BATCHES_RETRY {
        function: "batches-retry",
        method: "POST",
        path: "/v1/buckets/{bucket_identifier}/batches/{batch_id}/retry",
        access: Namespace,
        summary: "Run a finished batch's failed objects again",
        body: Some(optional::<RetryBatch>()),
        response: BatchRetried,
        handler: h::batches_retry,
        idempotent: true,
        embeds: false,
        permissions: &[ReadTable, WriteTable, Send(QueueName::Batches)],
    }
}
route! {
    BATCHES_GET_BY_ID {
        function: "batches-get-by-id",
        method: "GET",
        path: "/v1/batches/{batch_id}",
        access: OrgOptionalNamespace,
        summary: "Get a batch by id alone",
        body: None,
        response: BatchView,
        handler: h::batches_get_by_id,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable],
    }
}
route! {
    BATCHES_LIST_ALL {
        function: "batches-list-all",
        method: "POST",
        path: "/v1/batches/list",
        access: OrgOptionalNamespace,
        summary: "List every batch of the namespace",
        body: Some(optional::<ListBatches>()),
        response: Page<BatchView>,
        handler: h::batches_list_all,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable],
    }
}
route! {
    BATCHES_CANCEL_BY_ID {
        function: "batches-cancel-by-id",
        method: "POST",
        path: "/v1/batches/{batch_id}/cancel",
        access: OrgOptionalNamespace,
        summary: "Cancel a batch by id alone",
        body: None,
        response: BatchCanceled,
        handler: h::batches_cancel_by_id,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable, WriteTable],
    }
}
route! {
    OBJECTS_DOCUMENTS {
        function: "objects-documents",
        method: "GET",
        path: "/v1/buckets/{bucket_identifier}/objects/{object_identifier}/documents",
        access: Namespace,
        summary: "The documents extracted from an object",
        body: None,
        response: Page<DocumentView>,
        handler: h::objects_documents,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable],
    }
}
route! {
    COLLECTIONS_DOCUMENTS_LIST {
        function: "collections-documents-list",
        method: "POST",
        path: "/v1/collections/{collection_identifier}/documents/list",
        access: Namespace,
        summary: "List a collection's documents",
        body: Some(optional::<ListRequest>()),
        response: Page<DocumentView>,
        handler: h::collections_documents_list,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable],
    }
}
route! {
    TASKS_LIST {
        function: "tasks-list",
        method: "POST",
        path: "/v1/tasks/list",
        access: Org,
        summary: "List tasks, newest first",
        body: Some(optional::<ListTasks>()),
        response: Page<TaskView>,
        handler: h::tasks_list,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable],
    }
}
route! {
    TASKS_DELETE {
        function: "tasks-delete",
        method: "DELETE",
        path: "/v1/tasks/{task_id}",
        access: Org,
        summary: "Cancel a running task, or delete a finished one",
        body: None,
        response: Done,
        handler: h::tasks_delete,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable, WriteTable],
    }
}
route! {
    WEBHOOKS_CREATE {
        function: "webhooks-create",
        method: "POST",
        path: "/v1/organizations/webhooks",
        access: Org,
        summary: "Subscribe an endpoint to events (the signing secret is shown once)",
        body: Some(required::<CreateWebhook>()),
        response: WebhookView,
        handler: h::webhooks_create,
        idempotent: true,
        embeds: false,
        permissions: &[ReadTable, WriteTable, SealSecrets],
    }
}
route! {
    WEBHOOKS_LIST {
        function: "webhooks-list",
        method: "POST",
        path: "/v1/organizations/webhooks/list",
        access: Org,
        summary: "List webhooks",
        body: Some(optional::<ListWebhooks>()),
        response: WebhookList,
        handler: h::webhooks_list,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable],
    }
}
route! {
    WEBHOOKS_GET {
        function: "webhooks-get",
        method: "GET",
        path: "/v1/organizations/webhooks/{identifier}",
        access: Org,
        summary: "Get a webhook",
        body: None,
        response: WebhookView,
        handler: h::webhooks_get,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable],
    }
}
route! {
    WEBHOOKS_UPDATE {
        function: "webhooks-update",
        method: "PUT",
        path: "/v1/organizations/webhooks/{identifier}",
        access: Org,
        summary: "Update a webhook",
        body: Some(required::<UpdateWebhook>()),
        response: WebhookView,
        handler: h::webhooks_update,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable, WriteTable],
    }
}
route! {
    WEBHOOKS_DELETE {
        function: "webhooks-delete",
        method: "DELETE",
        path: "/v1/organizations/webhooks/{identifier}",
        access: Org,
        summary: "Delete a webhook",
        body: None,
        response: Done,
        handler: h::webhooks_delete,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable, WriteTable],
    }
}
route! {
    WEBHOOKS_DELIVERIES {
        function: "webhooks-deliveries",
        method: "GET",
        path: "/v1/organizations/webhooks/{identifier}/deliveries",
        access: Org,
        summary: "A webhook's delivery log, newest first",
        body: None,
        response: Page<DeliveryView>,
        handler: h::webhooks_deliveries,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable],
    }
}
route! {
    COLLECTIONS_CREATE {
        function: "collections-create",
        method: "POST",
        path: "/v1/collections",
        access: Namespace,
        summary: "Create a collection: one extractor over chosen buckets",
        body: Some(required::<CreateCollection>()),
        response: CollectionView,
        handler: h::collections_create,
        idempotent: true,
        embeds: false,
        permissions: &[ReadTable, WriteTable],
    }
}
route! {
    COLLECTIONS_LIST_GET {
        function: "collections-list-get",
        method: "GET",
        path: "/v1/collections",
        access: Namespace,
        summary: "List collections",
        body: None,
        response: Page<CollectionView>,
        handler: h::collections_list_get,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable],
    }
}
route! {
    COLLECTIONS_LIST {
        function: "collections-list",
        method: "POST",
        path: "/v1/collections/list",
        access: Namespace,
        summary: "List collections, with filters",
        body: Some(optional::<ListRequest>()),
        response: Page<CollectionView>,
        handler: h::collections_list,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable],
    }
}
route! {
    COLLECTIONS_GET {
        function: "collections-get",
        method: "GET",
        path: "/v1/collections/{collection_identifier}",
        access: Namespace,
        summary: "Get a collection by id or name",
        body: None,
        response: CollectionView,
        handler: h::collections_get,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable],
    }
}
route! {
    COLLECTIONS_DELETE {
        function: "collections-delete",
        method: "DELETE",
        path: "/v1/collections/{collection_identifier}",
        access: Namespace,
        summary: "Delete a collection and its documents",
        body: None,
        response: CollectionDeleted,
        handler: h::collections_delete,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable, WriteTable, DeleteVectors, DeleteVectorIndexes],
    }
}
route! {
    COLLECTIONS_DOCUMENTS_GET {
        function: "collections-documents-get",
        method: "GET",
        path: "/v1/collections/{collection_identifier}/documents/{document_id}",
        access: Namespace,
        summary: "Get a document of a collection",
        body: None,
        response: DocumentView,
        handler: h::collections_documents_get,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable],
    }
}
route! {
    DOCUMENTS_GET {
        function: "documents-get",
        method: "GET",
        path: "/v1/documents/{document_id}",
        access: Namespace,
        summary: "Get a document by id",
        body: None,
        response: DocumentView,
        handler: h::documents_get,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable],
    }
}
route! {
    FEATURES_SEARCH {
        function: "features-search",
        method: "POST",
        path: "/v1/features/search",
        access: Namespace,
        summary: "Search a namespace's collections by embedding (text or vector query, metadata filters)",
        body: Some(required::<FeatureSearch>()),
        response: SearchView,
        handler: h::features_search,
        idempotent: false,
        embeds: true,
        permissions: &[ReadTable, QueryVectors, GetVectors, InvokeBedrock],
    }
}

route! {
    CONNECTIONS_CREATE {
        function: "connections-create",
        method: "POST",
        path: "/v1/organizations/connections",
        access: Org,
        summary: "Create a storage connection (tested before it is saved)",
        body: Some(required::<CreateConnection>()),
        response: ConnectionView,
        handler: h::connections_create,
        idempotent: true,
        embeds: false,
        permissions: &[ReadTable, WriteTable, UseCredentials],
    }
}
route! {
    CONNECTIONS_LIST {
        function: "connections-list",
        method: "POST",
        path: "/v1/organizations/connections/list",
        access: Org,
        summary: "List storage connections",
        body: Some(optional::<ListConnections>()),
        response: ListOf<ConnectionView>,
        handler: h::connections_list,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable],
    }
}
route! {
    CONNECTIONS_GET {
        function: "connections-get",
        method: "GET",
        path: "/v1/organizations/connections/{connection_identifier}",
        access: Org,
        summary: "Get a storage connection (credentials by type only)",
        body: None,
        response: ConnectionView,
        handler: h::connections_get,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable],
    }
}
route! {
    CONNECTIONS_UPDATE {
        function: "connections-update",
        method: "PATCH",
        path: "/v1/organizations/connections/{connection_identifier}",
        access: Org,
        summary: "Change a storage connection (omitted credential fields are kept)",
        body: Some(required::<UpdateConnection>()),
        response: ConnectionView,
        handler: h::connections_update,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable, WriteTable, UseCredentials],
    }
}
route! {
    CONNECTIONS_DELETE {
        function: "connections-delete",
        method: "DELETE",
        path: "/v1/organizations/connections/{connection_identifier}",
        access: Org,
        summary: "Delete a storage connection no sync uses",
        body: None,
        response: Done,
        handler: h::connections_delete,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable, WriteTable],
    }
}
route! {
    CONNECTIONS_TEST {
        function: "connections-test",
        method: "POST",
        path: "/v1/organizations/connections/{connection_identifier}/test",
        access: Org,
        summary: "Test a storage connection's credentials",
        body: None,
        response: ConnectionTested,
        handler: h::connections_test,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable, UseCredentials],
    }
}
route! {
    SYNCS_CREATE {
        function: "syncs-create",
        method: "POST",
        path: "/v1/buckets/{bucket_identifier}/syncs",
        access: Namespace,
        summary: "Sync a bucket from external storage (the SDK's body or the quickstart's)",
        body: Some(required::<CreateSync>()),
        response: SyncView,
        handler: h::syncs_create,
        idempotent: true,
        embeds: false,
        permissions: &[ReadTable, WriteTable, UseCredentials],
    }
}
route! {
    SYNCS_LIST {
        function: "syncs-list",
        method: "POST",
        path: "/v1/buckets/{bucket_identifier}/syncs/list",
        access: Namespace,
        summary: "List a bucket's syncs",
        body: Some(optional::<ListSyncs>()),
        response: ListOf<SyncView>,
        handler: h::syncs_list,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable],
    }
}
route! {
    SYNCS_GET {
        function: "syncs-get",
        method: "GET",
        path: "/v1/buckets/{bucket_identifier}/syncs/{sync_config_id}",
        access: Namespace,
        summary: "Get a sync",
        body: None,
        response: SyncView,
        handler: h::syncs_get,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable],
    }
}
route! {
    SYNCS_UPDATE {
        function: "syncs-update",
        method: "PATCH",
        path: "/v1/buckets/{bucket_identifier}/syncs/{sync_config_id}",
        access: Namespace,
        summary: "Change a sync",
        body: Some(required::<UpdateSync>()),
        response: SyncView,
        handler: h::syncs_update,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable, WriteTable],
    }
}
route! {
    SYNCS_DELETE {
        function: "syncs-delete",
        method: "DELETE",
        path: "/v1/buckets/{bucket_identifier}/syncs/{sync_config_id}",
        access: Namespace,
        summary: "Delete a sync (its objects stay)",
        body: None,
        response: Done,
        handler: h::syncs_delete,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable, WriteTable],
    }
}
route! {
    SYNCS_PAUSE {
        function: "syncs-pause",
        method: "POST",
        path: "/v1/buckets/{bucket_identifier}/syncs/{sync_config_id}/pause",
        access: Namespace,
        summary: "Pause a sync",
        body: None,
        response: SyncView,
        handler: h::syncs_pause,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable, WriteTable],
    }
}
route! {
    SYNCS_RESUME {
        function: "syncs-resume",
        method: "POST",
        path: "/v1/buckets/{bucket_identifier}/syncs/{sync_config_id}/resume",
        access: Namespace,
        summary: "Resume a sync (its next run is due at once)",
        body: None,
        response: SyncView,
        handler: h::syncs_resume,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable, WriteTable],
    }
}
route! {
    SYNCS_TRIGGER {
        function: "syncs-trigger",
        method: "POST",
        path: "/v1/buckets/{bucket_identifier}/syncs/{sync_config_id}/trigger",
        access: Namespace,
        summary: "Start a sync run now (?full_sync=true re-ingests every file)",
        body: None,
        response: SyncTriggered,
        handler: h::syncs_trigger,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable, WriteTable, Send(QueueName::Syncs)],
    }
}
route! {
    SYNCS_UNLOCK {
        function: "syncs-unlock",
        method: "POST",
        path: "/v1/buckets/{bucket_identifier}/syncs/{sync_config_id}/unlock",
        access: Namespace,
        summary: "Release the lease of a dead run",
        body: None,
        response: SyncView,
        handler: h::syncs_unlock,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable, WriteTable],
    }
}
route! {
    SYNCS_JOBS {
        function: "syncs-jobs",
        method: "POST",
        path: "/v1/buckets/{bucket_identifier}/syncs/{sync_config_id}/jobs",
        access: Namespace,
        summary: "List a sync's runs",
        body: Some(optional::<ListRuns>()),
        response: ListOf<SyncJobView>,
        handler: h::syncs_jobs,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable],
    }
}
route! {
    SYNCS_JOB_GET {
        function: "syncs-job-get",
        method: "GET",
        path: "/v1/buckets/{bucket_identifier}/syncs/{sync_config_id}/jobs/{sync_job_id}",
        access: Namespace,
        summary: "Get one run of a sync, with its counts",
        body: None,
        response: SyncJobView,
        handler: h::syncs_job_get,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable],
    }
}
route! {
    SYNCS_METRICS {
        function: "syncs-metrics",
        method: "GET",
        path: "/v1/buckets/{bucket_identifier}/syncs/{sync_config_id}/metrics",
        access: Namespace,
        summary: "A sync's health: stale, stalled, dead letters, failure rate",
        body: None,
        response: SyncMetricsView,
        handler: h::syncs_metrics,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable],
    }
}
route! {
    SYNCS_DLQ {
        function: "syncs-dlq",
        method: "POST",
        path: "/v1/buckets/{bucket_identifier}/syncs/{sync_config_id}/dlq",
        access: Namespace,
        summary: "The files a sync could not take, with why",
        body: Some(optional::<ListDeadLetters>()),
        response: DeadLetterList,
        handler: h::syncs_dlq,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable],
    }
}
route! {
    SYNCS_DLQ_REQUEUE {
        function: "syncs-dlq-requeue",
        method: "POST",
        path: "/v1/buckets/{bucket_identifier}/syncs/{sync_config_id}/dlq/requeue",
        access: Namespace,
        summary: "Clear dead letters so the next run tries their files again",
        body: Some(optional::<RequeueDeadLetters>()),
        response: Requeued,
        handler: h::syncs_dlq_requeue,
        idempotent: false,
        embeds: false,
        permissions: &[ReadTable, WriteTable],
    }
}

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
    &CONNECTIONS_CREATE,
    &CONNECTIONS_LIST,
    &CONNECTIONS_GET,
    &CONNECTIONS_UPDATE,
    &CONNECTIONS_DELETE,
    &CONNECTIONS_TEST,
    &SYNCS_CREATE,
    &SYNCS_LIST,
    &SYNCS_GET,
    &SYNCS_UPDATE,
    &SYNCS_DELETE,
    &SYNCS_PAUSE,
    &SYNCS_RESUME,
    &SYNCS_TRIGGER,
    &SYNCS_UNLOCK,
    &SYNCS_JOBS,
    &SYNCS_JOB_GET,
    &SYNCS_METRICS,
    &SYNCS_DLQ,
    &SYNCS_DLQ_REQUEUE,
];

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
