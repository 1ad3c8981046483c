//! The local server: the route table over HTTP, the presigned blob endpoint, and the
//! queue pollers, all in one process.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sluice_api::{ApiRequest, ApiResponse, Router, ROUTES};
use sluice_backend_local::{self as local, BlobAccessError, BlobBody, LocalBlobStore};
use sluice_core::app::{auth, uploads};
use sluice_core::net::NetGuard;
use sluice_core::ports::QueueName;
use sluice_core::{AppContext, Config};
use tokio::sync::watch;

pub struct Options {
    pub data_dir: PathBuf,
    pub addr: SocketAddr,
    pub api_key: Option<String>,
    /// Refuse to start when others can read the data dir's secrets (else warn).
    pub strict: bool,
}

pub struct Server {
    pub url: String,
    pub api_key: String,
    /// Whether this server made the key (not given by `--api-key` / `SLUICE_API_KEY`):
    /// only such a key is printed.
    pub key_was_made: bool,
    pub ctx: AppContext,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

struct Shared {
    ctx: AppContext,
    router: Router,
    blobs: Arc<LocalBlobStore>,
}

const DEV_KEY_FILE: &str = "dev-api-key";

/// The dev key: given, or the one made at first start (kept in a 0600 file beside
/// the data; the table holds only its hash).
fn dev_key(data_dir: &std::path::Path, given: Option<String>) -> anyhow::Result<String> {
    if let Some(k) = given {
        return Ok(k);
    }
    let path = data_dir.join(DEV_KEY_FILE);
    if let Ok(k) = std::fs::read_to_string(&path) {
        return Ok(k.trim().to_string());
    }
    let key = auth::generate_key();
    local::private::write_new(&path, key.as_bytes())?;
    Ok(key)
}

impl Server {
    pub async fn start(opts: Options) -> anyhow::Result<Server> {
        local::private::create_dir(&opts.data_dir)?;
        let exposed = local::private::exposed(&opts.data_dir);
        if !exposed.is_empty() {
            let list: Vec<String> = exposed
                .iter()
                .map(|(p, mode)| format!("{} ({mode:o})", p.display()))
                .collect();
            let why = format!(
                "others can read the data dir's secrets or enter it: {}; chmod 700 the dir and 600 the files",
                list.join(", ")
            );
            if opts.strict {
                anyhow::bail!("{why} (refused: --strict)");
            }
            tracing::warn!(data_dir = %opts.data_dir.display(), "{why}");
            eprintln!("warning: {why}");
        }
        let listener = tokio::net::TcpListener::bind(opts.addr).await?;
        let bound = listener.local_addr()?;
        let url = format!("http://{bound}");
        let config = Config::from_env()?;
        let (ctx, blobs) = local::context(&opts.data_dir, &url, config)?;
        // One process runs every route and worker: it embeds and extracts.
        let embedders =
            sluice_bedrock::with_bedrock(sluice_models::embedders(ctx.config.models_dir.clone()));
        let sealer = ctx.sealer.clone();
        let guard = NetGuard::unless(ctx.config.allow_private_urls);
        let ctx = ctx
            .with_embedders(embedders)
            .with_extractors(sluice_extract::Extractors::shared())
            .with_connectors(
                Arc::new(sluice_connectors::S3Connectors::new(guard)),
                sealer,
            );
        // A missing model is a start-up error, not a surprise at the first batch.
        let embedders = ctx.embedders.clone();
        tokio::task::spawn_blocking(move || embedders.local())
            .await?
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        blobs.set_public_url(&url);
        let key_was_made = opts.api_key.is_none();
        let api_key = dev_key(&opts.data_dir, opts.api_key)?;
        auth::ensure_key(&ctx, "local", &api_key)
            .await
            .map_err(|e| anyhow::anyhow!("registering the dev key: {e}"))?;

        let (shutdown, rx) = watch::channel(false);
        let mut tasks = Vec::new();
        for q in QueueName::ALL {
            tasks.push(tokio::spawn(sluice_core::jobs::poll(
                ctx.clone(),
                q,
                rx.clone(),
            )));
        }
        tasks.push(tokio::spawn(sweep(ctx.clone(), rx.clone())));
        tasks.push(tokio::spawn(poll_syncs(ctx.clone(), rx.clone())));
        let shared = Arc::new(Shared {
            ctx: ctx.clone(),
            router: Router::new(&ROUTES),
            blobs,
        });
        let app = axum::Router::new().fallback(handle).with_state(shared);
        let mut srx = rx.clone();
        tasks.push(tokio::spawn(async move {
            let stop = async move {
                let _ = srx.wait_for(|v| *v).await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await
            {
                tracing::error!(error = %e, "server stopped");
            }
        }));
        tracing::info!(%url, "sluice-local ready");
        Ok(Server {
            url,
            api_key,
            key_was_made,
            ctx,
            shutdown,
            tasks,
        })
    }

    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }

    pub async fn run_until_signal(self) -> anyhow::Result<()> {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        ctrl_c.await?;
        tracing::info!("shutting down");
        self.stop().await;
        Ok(())
    }
}

/// The local stand-in for the scheduled sweeper.
async fn sweep(ctx: AppContext, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(ctx.config.sweep);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        if let Err(e) = sluice_core::jobs::sweep(&ctx).await {
            tracing::warn!(error = %e, "sweep failed");
        }
    }
}

/// The local stand-in for the sync poller's EventBridge schedule.
async fn poll_syncs(ctx: AppContext, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(ctx.config.sync_poll);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        if let Err(e) = sluice_core::app::syncs::engine::poll(&ctx).await {
            tracing::warn!(error = %e, "sync poll failed");
        }
    }
}

fn json_response(r: &ApiResponse, request_id: &str) -> Response {
    let mut resp = (
        StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        r.body.clone(),
    )
        .into_response();
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    for (name, value) in &r.headers {
        if let Ok(v) = HeaderValue::from_str(value) {
            resp.headers_mut().insert(*name, v);
        }
    }
    resp
}

/// An S3-style refusal from the local blob endpoint, in the error envelope.
fn error_response(status: u16, message: &str, request_id: &str) -> Response {
    let kind = match status {
        403 => "AccessDenied",
        404 => "NoSuchKey",
        400 => "BadRequest",
        _ => "InternalError",
    };
    let body = serde_json::json!({
        "success": false,
        "status": status,
        "error": {"type": kind, "message": message, "details": {}},
    });
    json_response(
        &ApiResponse {
            status,
            body: serde_json::to_vec(&body).unwrap_or_default().into(),
            headers: Vec::new(),
        },
        request_id,
    )
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| {
            sluice_core::domain::ids::IdKind::Event
                .new_id()
                .replacen("evt_", "req_", 1)
        });
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let headers = sluice_api::header_map(&parts.headers);
    let limit = shared
        .ctx
        .config
        .max_body_bytes
        .max(shared.ctx.config.max_inline_bytes);
    if let Some(key) = path.strip_prefix(local::BLOB_ROUTE) {
        let key = percent(key);
        return blob_request(
            &shared,
            parts.method.as_str(),
            &key,
            &query,
            &headers,
            body,
            &request_id,
        )
        .await;
    }
    let bytes = match axum::body::to_bytes(body, limit + 1).await {
        Ok(b) if b.len() <= shared.ctx.config.max_body_bytes => b,
        Ok(_) | Err(_) => {
            let e = sluice_api::ApiError::PayloadTooLarge {
                limit: shared.ctx.config.max_body_bytes,
            };
            return json_response(&ApiResponse::error(&e), &request_id);
        }
    };
    let api_req = ApiRequest {
        method: parts.method.as_str().to_string(),
        path,
        path_params: HashMap::new(),
        query: query.into_iter().collect(),
        headers,
        body: bytes,
        request_id: request_id.clone(),
    };
    // A panic fails only its request (a 500 in the envelope); the server goes on.
    let serving =
        std::panic::AssertUnwindSafe(sluice_api::serve(&shared.ctx, &shared.router, api_req));
    let resp = match futures::FutureExt::catch_unwind(serving).await {
        Ok(resp) => resp,
        Err(_) => {
            tracing::error!(request_id, "the request's handler panicked");
            ApiResponse::error(&sluice_api::ApiError::App(
                sluice_core::error::Error::Internal(anyhow::anyhow!(
                    "the request could not be handled"
                )),
            ))
        }
    };
    json_response(&resp, &request_id)
}

fn percent(s: &str) -> String {
    url::form_urlencoded::parse(format!("k={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The local stand-in for S3 presigned URLs: signature, expiry and pinned fields checked.
async fn blob_request(
    shared: &Shared,
    method: &str,
    key: &str,
    query: &[(String, String)],
    headers: &HashMap<String, String>,
    body: Body,
    request_id: &str,
) -> Response {
    let pinned = match shared.blobs.authorize(method, key, query) {
        Ok(p) => p,
        Err(e) => return error_response(e.status(), &e.to_string(), request_id),
    };
    match method {
        "GET" => {
            // A large blob streams from its file, never read whole into memory.
            let (meta, body) = match shared.blobs.open_blob(key).await {
                Ok(Some(found)) => found,
                Ok(None) => {
                    return error_response(404, "The specified key does not exist.", request_id)
                }
                Err(e) => return error_response(500, &e.to_string(), request_id),
            };
            let body = match body {
                BlobBody::Packed(bytes) => Body::from(bytes),
                BlobBody::File(file) => Body::from_stream(tokio_util::io::ReaderStream::new(file)),
            };
            let mut resp = (StatusCode::OK, body).into_response();
            if let Some(ct) = meta
                .content_type
                .and_then(|c| HeaderValue::from_str(&c).ok())
            {
                resp.headers_mut().insert("content-type", ct);
            }
            resp.headers_mut()
                .insert("content-length", HeaderValue::from(meta.size));
            resp
        }
        "PUT" => {
            let ct = headers.get("content-type").map(String::as_str);
            let checksum = headers.get("x-amz-checksum-sha256").map(String::as_str);
            match shared
                .blobs
                .put_checked(key, body.into_data_stream(), &pinned, ct, checksum)
                .await
            {
                Ok(meta) => {
                    // Where S3 notifies EventBridge, the local PUT handler confirms the
                    // upload itself before answering, so a client's confirm that follows
                    // is a cheap read. A concurrent confirm still races it safely: the
                    // completion is conditional, exactly one wins.
                    if let Err(e) = uploads::on_stored(&shared.ctx, key).await {
                        tracing::warn!(error = %e, key, "confirming a stored upload failed");
                    }
                    let mut resp = StatusCode::OK.into_response();
                    if let Some(etag) = meta.etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
                        resp.headers_mut().insert("etag", etag);
                    }
                    resp
                }
                Err(e @ BlobAccessError::BadRequest(_)) => {
                    error_response(400, &e.to_string(), request_id)
                }
                Err(e) => error_response(e.status(), &e.to_string(), request_id),
            }
        }
        _ => error_response(403, "method not signed", request_id),
    }
}
