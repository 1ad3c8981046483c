//! A route: what the local router, the OpenAPI document, the generated Lambda binary
//! and its template block need to know of it, declared once with [`routes!`] in its
//! feature's file under `routes/`.

use std::sync::Arc;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use sluice_core::context::AppContext;
use sluice_core::ports::absent::{Absent, OnlyQueues, ReadOnly};
use sluice_core::ports::{Embedders, NoExtractors, QueueName};
use Permission::*;

use crate::{ApiRequest, Caller, Handler, HandlerFuture};

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
    /// The static's name (what a generated binary refers to): `SYNCS_CREATE`.
    pub ident: &'static str,
    /// The module that declares it: `sluice_api::routes::syncs`.
    pub module: &'static str,
    pub method: &'static str,
    /// API Gateway / matchit syntax: `/v1/buckets/{bucket_identifier}`.
    pub path: &'static str,
    pub access: Access,
    pub summary: &'static str,
    pub request_body: Option<RequestBody>,
    /// The schema of its success body (the handler's return type).
    pub response: fn(&mut SchemaGenerator) -> Schema,
    /// The status of a success: 200, or 202 where the work goes on after the answer
    /// (as the SDK expects of those routes).
    pub status: u16,
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
    /// PutVectors, with CreateIndex and GetIndex for a collection's first vector.
    PutVectors,
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
                    | Permission::PutVectors
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

impl Route {
    /// The Lambda binary (and template function) that serves it: its name in kebab case,
    /// `syncs-create`.
    pub fn function(&self) -> String {
        self.ident.to_ascii_lowercase().replace('_', "-")
    }

    /// What a declaration leaves unsaid: a namespace route that reads the table, takes no
    /// body, is not idempotent and embeds nothing. `ident` to `handler` are always given.
    pub const DEFAULTS: Route = Route {
        ident: "",
        module: "",
        method: "",
        path: "",
        access: Access::Namespace,
        summary: "",
        request_body: None,
        response: body::<()>,
        status: 200,
        handler: undeclared,
        idempotent: false,
        embeds: false,
        permissions: &[Permission::ReadTable],
    };
}

/// The handler of [`Route::DEFAULTS`], which every declaration replaces.
fn undeclared(_: AppContext, _: Caller, _: ApiRequest) -> HandlerFuture {
    Box::pin(async {
        Err(crate::error::ApiError::not_found(
            "this route has no handler",
        ))
    })
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} ({})", self.method, self.path, self.function())
    }
}

pub fn body<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
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

pub const fn required<T: JsonSchema>() -> RequestBody {
    RequestBody {
        schema: body::<T>,
        required: true,
    }
}

pub const fn optional<T: JsonSchema>() -> RequestBody {
    RequestBody {
        schema: body::<T>,
        required: false,
    }
}

/// Declares a feature's routes, each once, and the feature's `ROUTES` slice:
///
/// ```text
/// routes! {
///     /// Get a task                 (the OpenAPI summary)
///     TASKS_GET: GET "/v1/tasks/{task_id}" => tasks_get -> TaskView {
///         access: Access::Org,       (fields of `Route`; the rest are `Route::DEFAULTS`)
///     }
/// }
/// ```
///
/// The handler must return the declared view: the document cannot promise a body the
/// route does not serialize.
macro_rules! routes {
    ($(
        $(#[doc = $summary:literal])+
        $ident:ident: $method:ident $path:literal => $handler:ident -> $response:ty {
            $($field:ident: $value:expr),* $(,)?
        }
    )*) => {
        $(
            pub static $ident: $crate::route::Route = $crate::route::Route {
                ident: stringify!($ident),
                module: module_path!(),
                method: stringify!($method),
                path: $path,
                summary: concat!($($summary),+).trim_ascii(),
                response: $crate::route::body::<$response>,
                handler: {
                    fn call(
                        ctx: ::sluice_core::context::AppContext,
                        caller: $crate::Caller,
                        req: $crate::ApiRequest,
                    ) -> $crate::HandlerFuture {
                        Box::pin(async move {
                            let view: $response = $handler(ctx, caller, req).await?;
                            let mut resp = $crate::ApiResponse::json(&view);
                            resp.status = $ident.status;
                            Ok(resp)
                        })
                    }
                    call
                },
                $($field: $value,)*
                ..$crate::route::Route::DEFAULTS
            };
        )*

        /// This feature's routes, in declaration order.
        pub static ROUTES: &[&$crate::route::Route] = &[$(&$ident),*];
    };
}

pub(crate) use routes;
