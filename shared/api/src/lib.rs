//! The HTTP surface: one route table, one handler per route, one error mapping.
//!
//! `sluice-local` matches requests against [`ROUTES`]; each Lambda binary serves
//! exactly one entry of it; the OpenAPI document and the template check read it.

pub mod document;
pub mod error;
mod idempotency;
pub mod openapi;
pub mod route;
pub mod routes;
mod shapes;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tracing::Instrument;

pub use error::ApiError;
pub use route::{Access, Permission, Route};
pub use routes::ROUTES;

use sluice_core::app::auth::{self, Principal};
use sluice_core::app::namespaces;
use sluice_core::context::AppContext;
use sluice_core::domain::entities::Namespace;
use sluice_core::Error;

/// A request as every entry point sees it, whatever carried it.
#[derive(Debug, Clone, Default)]
pub struct ApiRequest {
    pub method: String,
    pub path: String,
    pub path_params: HashMap<String, String>,
    pub query: HashMap<String, String>,
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    pub body: Bytes,
    pub request_id: String,
}

/// A response: a status and its JSON body, already serialized.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ApiResponse {
    pub status: u16,
    pub body: Bytes,
    /// Headers beyond `content-type` (`Allow` on a 405).
    pub headers: Vec<(&'static str, String)>,
}

impl ApiResponse {
    pub fn ok(body: Value) -> Self {
        Self::json(&body)
    }

    /// A 200 serialized straight from a typed view (no intermediate JSON tree).
    pub fn json<T: serde::Serialize + ?Sized>(body: &T) -> Self {
        ApiResponse {
            status: 200,
            body: Bytes::from(serde_json::to_vec(body).unwrap_or_default()),
            headers: Vec::new(),
        }
    }

    pub fn error(e: &ApiError) -> Self {
        ApiResponse {
            status: e.status(),
            body: Bytes::from(serde_json::to_vec(&e.envelope()).unwrap_or_default()),
            headers: Vec::new(),
        }
    }

    /// The body parsed back (for tests and tools).
    pub fn value(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// Who is calling, resolved before the handler runs.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    pub principal: Option<Principal>,
    pub namespace: Option<Namespace>,
}

impl Caller {
    pub fn org(&self) -> Result<&str, ApiError> {
        self.principal
            .as_ref()
            .map(|p| p.org_id.as_str())
            .ok_or(ApiError::App(Error::Unauthenticated))
    }
    pub fn namespace(&self) -> Result<&Namespace, ApiError> {
        self.namespace
            .as_ref()
            .ok_or_else(|| ApiError::malformed("X-Namespace header is required"))
    }
}

pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<ApiResponse, ApiError>> + Send>>;
pub type Handler = fn(AppContext, Caller, ApiRequest) -> HandlerFuture;

/// At most `max` characters of `text` (serde's messages quote the value they refused,
/// which may be megabytes long).
fn bounded(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max).collect();
    out.push('…');
    out
}

fn classify(e: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = bounded(&e.path().to_string(), 200);
    let inner = e.into_inner();
    match inner.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            ApiError::malformed(bounded(
                &format!("request body is not valid JSON: {inner}"),
                300,
            ))
        }
        _ => {
            let message = bounded(&inner.to_string(), 300);
            // serde reports "missing field `x`" at the parent path: name the field itself.
            let named = |prefix: &str| {
                message
                    .strip_prefix(prefix)
                    .and_then(|m| m.split('`').next())
                    .map(str::to_string)
            };
            let join = |name: String| {
                if path == "." || path == name || path.ends_with(&format!(".{name}")) {
                    if path == "." {
                        name
                    } else {
                        path.clone()
                    }
                } else {
                    format!("{path}.{name}")
                }
            };
            let field = match (named("missing field `"), named("unknown field `")) {
                (Some(missing), _) => join(missing),
                (_, Some(unknown)) => join(unknown),
                _ if path == "." => "body".to_string(),
                _ => path.clone(),
            };
            let reason = message
                .split(" at line ")
                .next()
                .unwrap_or(&message)
                .to_string();
            if named("unknown field `").is_some() {
                // Bodies refuse keys they do not declare (the API's `extra_forbidden`).
                return ApiError::App(Error::Invalid {
                    message: format!("{field}: extra_forbidden: {reason}"),
                    details: serde_json::json!({"field": field, "reason": reason, "code": "extra_forbidden"}),
                });
            }
            ApiError::field(field, reason)
        }
    }
}

/// Header names in lower case, values that are valid text (what handlers read).
pub fn header_map(headers: &http::HeaderMap) -> HashMap<String, String> {
    headers
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_ascii_lowercase(), v.to_string()))
        })
        .collect()
}

impl ApiRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    pub fn param(&self, name: &str) -> Result<&str, ApiError> {
        self.path_params
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| ApiError::malformed(format!("missing path parameter {name}")))
    }

    /// The body as `T`: a JSON object, sent as JSON (or with no content type), and
    /// nothing after it.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::malformed("a JSON request body is required"));
        }
        if let Some(ct) = self.header("content-type") {
            let essence = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if essence != "application/json" && !essence.ends_with("+json") {
                return Err(ApiError::UnsupportedMediaType(format!(
                    "request bodies are JSON (Content-Type: application/json), not {essence:?}"
                )));
            }
        }
        if self.body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ApiError::malformed(
                "the request body must be a JSON object",
            ));
        }
        let de = &mut serde_json::Deserializer::from_slice(&self.body);
        let value = serde_path_to_error::deserialize(&mut *de).map_err(classify)?;
        de.end().map_err(|e| {
            ApiError::malformed(format!("request body has data after its JSON object: {e}"))
        })?;
        Ok(value)
    }

    /// The body as `T`, or `T::default()` when there is none.
    pub fn json_or_default<T: DeserializeOwned + Default>(&self) -> Result<T, ApiError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            Ok(T::default())
        } else {
            self.json()
        }
    }
}

/// Runs a route: authentication, tenancy, the handler, and the error envelope.
pub async fn dispatch(ctx: &AppContext, route: &Route, req: ApiRequest) -> ApiResponse {
    let span = tracing::info_span!(
        "request",
        request_id = %req.request_id,
        route = %route.function(),
        namespace = tracing::field::Empty,
    );
    async move {
        let started = std::time::Instant::now();
        let result = run(ctx, route, req).await;
        let response = match result {
            Ok(r) => r,
            Err(e) => {
                if e.status() >= 500 {
                    tracing::error!(error = ?e, "request failed");
                }
                ApiResponse::error(&e)
            }
        };
        tracing::info!(
            status = response.status,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "done"
        );
        response
    }
    .instrument(span)
    .await
}

async fn run(ctx: &AppContext, route: &Route, req: ApiRequest) -> Result<ApiResponse, ApiError> {
    if req.body.len() > ctx.config.max_body_bytes {
        return Err(ApiError::PayloadTooLarge {
            limit: ctx.config.max_body_bytes,
        });
    }
    let mut caller = Caller::default();
    if route.access != Access::Public {
        let principal = auth::authenticate(ctx, req.header("authorization")).await?;
        let sent = req
            .header("x-namespace")
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let ident = match (route.access, sent) {
            (Access::Namespace, None) => {
                return Err(ApiError::malformed(
                    "X-Namespace header is required (a namespace id or name)",
                ))
            }
            (Access::Namespace | Access::OrgOptionalNamespace, Some(ident)) => Some(ident),
            _ => None,
        };
        if let Some(ident) = ident {
            let ns = namespaces::resolve(ctx, &principal.org_id, ident).await?;
            tracing::Span::current().record("namespace", ns.namespace_id.as_str());
            caller.namespace = Some(ns);
        }
        caller.principal = Some(principal);
    }
    // The table says which bodies may be left out (and the document says so too).
    if route.request_body.is_some_and(|b| b.required)
        && req.body.iter().all(u8::is_ascii_whitespace)
    {
        return Err(ApiError::malformed("a JSON request body is required"));
    }
    shapes::refuse_misplaced_arrays(route, &req.body)?;
    let idempotency = match req.header("idempotency-key") {
        Some(key) if route.idempotent => {
            let org = caller.org()?.to_string();
            let ns = caller.namespace.as_ref().map(|n| n.namespace_id.clone());
            match idempotency::claim(
                ctx,
                &org,
                key.trim(),
                route.method,
                &req.path,
                ns.as_deref(),
                &req.body,
            )
            .await?
            {
                idempotency::Claim::Replay(response) => return Ok(response),
                idempotency::Claim::Fresh { key_hash } => Some((org, key_hash)),
            }
        }
        _ => None,
    };
    let result = (route.handler)(ctx.clone(), caller, req).await;
    if let Some((org, key_hash)) = idempotency {
        let response = match &result {
            Ok(r) => r.clone(),
            Err(e) => ApiResponse::error(e),
        };
        if let Err(e) = idempotency::finish(ctx, &org, &key_hash, &response).await {
            tracing::warn!(error = %e, "storing the Idempotency-Key response failed");
        }
    }
    result
}

/// Matches method and path against the route table (the local server's router).
pub struct Router {
    paths: matchit::Router<Vec<&'static Route>>,
}

pub enum Matched {
    Found(&'static Route, HashMap<String, String>),
    /// The path exists with these methods only.
    MethodNotAllowed(Vec<&'static str>),
    NotFound,
}

impl Router {
    pub fn new(routes: &[&'static Route]) -> Self {
        let mut by_path: Vec<(&'static str, Vec<&'static Route>)> = Vec::new();
        for r in routes {
            match by_path.iter_mut().find(|(p, _)| *p == r.path) {
                Some((_, list)) => list.push(r),
                None => by_path.push((r.path, vec![r])),
            }
        }
        let mut paths = matchit::Router::new();
        for (path, list) in by_path {
            paths
                .insert(path, list)
                .expect("route table paths are distinct and well formed");
        }
        Router { paths }
    }

    pub fn find(&self, method: &str, path: &str) -> Matched {
        match self.paths.at(path) {
            Ok(m) => match m
                .value
                .iter()
                .find(|r| r.method.eq_ignore_ascii_case(method))
            {
                Some(r) => Matched::Found(
                    r,
                    m.params
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                None => Matched::MethodNotAllowed(m.value.iter().map(|r| r.method).collect()),
            },
            Err(_) => Matched::NotFound,
        }
    }
}

/// Serves a request end to end against the route table (used by `sluice-local` and tests).
pub async fn serve(ctx: &AppContext, router: &Router, mut req: ApiRequest) -> ApiResponse {
    match router.find(&req.method, &req.path) {
        Matched::Found(route, params) => {
            req.path_params = params;
            dispatch(ctx, route, req).await
        }
        Matched::MethodNotAllowed(allowed) => ApiResponse {
            headers: vec![("allow", allowed.join(", "))],
            ..ApiResponse::error(&ApiError::MethodNotAllowed)
        },
        Matched::NotFound => ApiResponse::error(&ApiError::not_found(format!(
            "route {} {}",
            req.method, req.path
        ))),
    }
}
