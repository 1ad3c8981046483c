//! What every Lambda entry point shares: building the context once per cold start,
//! turning API Gateway events into `ApiRequest`s, and SQS batches into worker calls.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use futures::StreamExt;
use lambda_http::{Body, Request, RequestExt, Response};
use lambda_runtime::LambdaEvent;
use sluice_api::{ApiRequest, Route};
pub use sluice_backend_aws::Clients;
use sluice_core::ports::QueueName;
use sluice_core::{AppContext, Config};

pub type Error = lambda_http::Error;

/// The composition root of a Lambda: configuration (a bad `SLUICE_*` value stops the
/// cold start), then the AWS clients this function builds: a route's are those its
/// generated binary names (what its table entry grants), a worker gets them all.
async fn context(route: Option<&Route>, clients: Clients) -> Result<AppContext, Error> {
    sluice_core::telemetry::init(true);
    let config = Config::from_env()?;
    let names = sluice_backend_aws::AwsNames::from_env()?;
    let sdk = sluice_backend_aws::sdk_config().await;
    let ctx = sluice_backend_aws::context_with(&sdk, names, config, clients);
    Ok(match route {
        Some(route) => route.restrict(&ctx),
        None => ctx,
    })
}

/// What a process adds to the context beyond the AWS ports (models, extractors).
pub type Prepare = fn(AppContext) -> AppContext;

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn to_api_request(route: &Route, event: Request) -> ApiRequest {
    let request_id = event
        .lambda_context_ref()
        .map(|c| c.request_id.clone())
        .unwrap_or_default();
    let mut path_params: std::collections::HashMap<String, String> = event
        .path_parameters()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if path_params.is_empty() {
        // A Function URL or `cargo lambda watch` event names no route parameters.
        path_params = route.match_path(event.uri().path()).unwrap_or_default();
    }
    let query = event
        .query_string_parameters()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let (parts, body) = event.into_parts();
    let headers = sluice_api::header_map(&parts.headers);
    let body = match body {
        Body::Empty => bytes::Bytes::new(),
        Body::Text(t) => bytes::Bytes::from(t),
        Body::Binary(b) => bytes::Bytes::from(b),
        _ => bytes::Bytes::new(),
    };
    ApiRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        path_params,
        query,
        headers,
        body,
        request_id,
    }
}

/// Serves one route of the table as an HTTP API Lambda.
pub fn serve_route(route: &'static Route, clients: Clients) -> Result<(), Error> {
    serve_route_with(route, clients, |ctx| ctx)
}

/// Serves a route whose process needs more than the AWS ports (feature search embeds).
pub fn serve_route_with(
    route: &'static Route,
    clients: Clients,
    prepare: Prepare,
) -> Result<(), Error> {
    runtime()?.block_on(async move {
        let ctx = prepare(context(Some(route), clients).await?);
        lambda_http::run(lambda_http::service_fn(move |event: Request| {
            let ctx = ctx.clone();
            async move {
                let req = to_api_request(route, event);
                let request_id = req.request_id.clone();
                let resp = sluice_api::dispatch(&ctx, route, req).await;
                let mut out = Response::builder()
                    .status(resp.status)
                    .header("content-type", "application/json")
                    .header("x-request-id", request_id);
                for (name, value) in &resp.headers {
                    out = out.header(*name, value);
                }
                out.body(Body::from(resp.body.to_vec()))
                    .map_err(Error::from)
            }
        }))
        .await
    })
}

/// Works an SQS queue: each record handled on its own; failures are reported per
/// record (`ReportBatchItemFailures`) so only they are delivered again.
pub fn work_queue(queue: QueueName) -> Result<(), Error> {
    work_queue_with(queue, |ctx| ctx)
}

/// Works a queue whose messages need more than the AWS ports (the batch worker embeds).
pub fn work_queue_with(queue: QueueName, prepare: Prepare) -> Result<(), Error> {
    runtime()?.block_on(async move {
        let ctx = prepare(context(None, Clients::all()).await?);
        lambda_runtime::run(lambda_runtime::service_fn(
            move |event: LambdaEvent<SqsEvent>| {
                let ctx = ctx.clone();
                async move {
                    // The records of one event are independent: handled side by side.
                    let ctx = &ctx;
                    let failures: Vec<BatchItemFailure> = futures::stream::iter(
                        event.payload.records,
                    )
                    .map(|record| async move {
                        let id = record.message_id.clone().unwrap_or_default();
                        let count = record
                            .attributes
                            .get("ApproximateReceiveCount")
                            .and_then(|c| c.parse().ok())
                            .unwrap_or(1);
                        let body = record.body.unwrap_or_default();
                        let result = sluice_core::jobs::handle(ctx, queue, &body, count).await;
                        // Only retryable failures are reported, so only they come back.
                        sluice_core::jobs::settle(queue, result).err()?;
                        tracing::warn!(message_id = %id, "reported as a batch item failure");
                        let mut failure = BatchItemFailure::default();
                        failure.item_identifier = id;
                        Some(failure)
                    })
                    .buffer_unordered(4)
                    .filter_map(|f| async move { f })
                    .collect()
                    .await;
                    let mut response = SqsBatchResponse::default();
                    response.batch_item_failures = failures;
                    Ok::<_, Error>(response)
                }
            },
        ))
        .await
    })
}

/// A failed invocation as Lambda reports it: the error type says whether a retry (the
/// asynchronous invoke's two, or the schedule's next run) can help.
fn diagnostic(e: sluice_core::Error) -> lambda_runtime::Diagnostic {
    tracing::error!(error = %e, retryable = e.retryable(), "invocation failed");
    lambda_runtime::Diagnostic {
        error_type: if e.retryable() {
            "Retryable"
        } else {
            "NonRetryable"
        }
        .into(),
        error_message: e.to_string(),
    }
}

/// Confirms uploads from S3 `Object Created` events (EventBridge): the store itself
/// tells Sluice the bytes arrived, so an upload completes without a client confirm.
pub fn confirm_stored_uploads() -> Result<(), Error> {
    runtime()?.block_on(async move {
        let ctx = context(None, Clients::all()).await?;
        lambda_runtime::run(lambda_runtime::service_fn(
            move |event: LambdaEvent<serde_json::Value>| {
                let ctx = ctx.clone();
                async move {
                    let key = event.payload["detail"]["object"]["key"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    sluice_core::app::uploads::on_stored(&ctx, &key)
                        .await
                        .map_err(diagnostic)
                }
            },
        ))
        .await
    })
}

/// On a schedule (every minute): starts due sync runs and resumes lapsed ones.
pub fn poll_syncs() -> Result<(), Error> {
    runtime()?.block_on(async move {
        let ctx = context(None, Clients::all()).await?;
        lambda_runtime::run(lambda_runtime::service_fn(
            move |_: LambdaEvent<serde_json::Value>| {
                let ctx = ctx.clone();
                async move {
                    let started = sluice_core::app::syncs::engine::poll(&ctx)
                        .await
                        .map_err(diagnostic)?;
                    Ok::<_, lambda_runtime::Diagnostic>(serde_json::json!({"started": started}))
                }
            },
        ))
        .await
    })
}

/// On a schedule: fails expired pending uploads (removing their bytes) and batches
/// that stopped making progress.
pub fn sweep() -> Result<(), Error> {
    runtime()?.block_on(async move {
        let ctx = context(None, Clients::all()).await?;
        lambda_runtime::run(lambda_runtime::service_fn(
            move |_event: LambdaEvent<serde_json::Value>| {
                let ctx = ctx.clone();
                async move {
                    sluice_core::jobs::sweep(&ctx).await.map_err(diagnostic)?;
                    Ok::<_, lambda_runtime::Diagnostic>(serde_json::json!({ "swept": true }))
                }
            },
        ))
        .await
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: &str) -> Request {
        lambda_http::request::from_str(json).expect("a recorded HTTP API event")
    }

    #[test]
    fn api_gateway_events_carry_their_path_parameters() {
        let req = to_api_request(
            &sluice_api::routes::OBJECTS_GET,
            event(include_str!("../tests/data/apigw_v2_get_object.json")),
        );
        assert_eq!(req.method, "GET");
        assert_eq!(req.path_params["bucket_identifier"], "docs");
        assert_eq!(req.path_params["object_identifier"], "obj_01example");
        assert_eq!(req.query["include"], "all");
        assert_eq!(req.header("x-namespace"), Some("ns_01example"));
    }

    #[test]
    fn function_url_events_are_matched_against_the_route() {
        let req = to_api_request(
            &sluice_api::routes::OBJECTS_GET,
            event(include_str!("../tests/data/function_url_get_object.json")),
        );
        assert_eq!(req.path, "/v1/buckets/bkt_01example/objects/obj_01example");
        assert_eq!(req.path_params["bucket_identifier"], "bkt_01example");
        assert_eq!(req.path_params["object_identifier"], "obj_01example");
    }
}
