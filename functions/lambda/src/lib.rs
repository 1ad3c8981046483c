//! What every Lambda entry point shares: building the context once per cold start,
//! turning API Gateway events into `ApiRequest`s, and SQS batches into worker calls.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use futures::StreamExt;
use lambda_http::{Body, Request, RequestExt, Response};
use lambda_runtime::LambdaEvent;
use sluice_api::{ApiRequest, Route};
pub use sluice_backend_aws::Clients;

/// The storage connectors syncs read through, for the functions granted credentials
/// (`Clients::credentials(connectors)`): built here, in the composition root, so only
/// those functions link them.
pub fn connectors(
    sdk: &sluice_backend_aws::SdkConfig,
    config: &Config,
) -> std::sync::Arc<dyn sluice_core::ports::Connectors> {
    std::sync::Arc::new(sluice_connectors::Registry::from_sdk(sdk, config))
}
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
    // Powertools' variables, so its tooling finds the figures where it looks.
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let metrics = sluice_backend_aws::EmfMetrics::new(
        var("POWERTOOLS_METRICS_NAMESPACE", "Sluice"),
        var("POWERTOOLS_SERVICE_NAME", "sluice"),
    );
    let ctx = ctx.with_metrics(std::sync::Arc::new(metrics));
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
    // The invocation's id where the runtime gives one, else API Gateway's own.
    let request_id = event
        .lambda_context_ref()
        .map(|c| c.request_id.clone())
        .filter(|id| !id.is_empty())
        .or_else(|| match event.request_context_ref() {
            Some(lambda_http::request::RequestContext::ApiGatewayV2(c)) => c.request_id.clone(),
            _ => None,
        })
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
        let ctx = prepare(context(None, Clients::all().credentials(connectors)).await?);
        lambda_runtime::run(lambda_runtime::service_fn(
            move |event: LambdaEvent<SqsEvent>| {
                let ctx = ctx.clone();
                async move { Ok::<_, Error>(work_records(&ctx, queue, event.payload).await) }
            },
        ))
        .await
    })
}

/// The records of one SQS event, handled side by side (they are independent). Only the
/// records whose failure is retryable are reported, so only they are delivered again;
/// the rest are done, or dropped for good (see `jobs::settle`).
async fn work_records(ctx: &AppContext, queue: QueueName, event: SqsEvent) -> SqsBatchResponse {
    let failures: Vec<BatchItemFailure> = futures::stream::iter(event.records)
        .map(|record| async move {
            let id = record.message_id.clone().unwrap_or_default();
            let count = record
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|c| c.parse().ok())
                .unwrap_or(1);
            let body = record.body.unwrap_or_default();
            let result = sluice_core::jobs::handle(ctx, queue, &body, count).await;
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
    response
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
        let ctx = context(None, Clients::all().credentials(connectors)).await?;
        lambda_runtime::run(lambda_runtime::service_fn(
            move |event: LambdaEvent<serde_json::Value>| {
                let ctx = ctx.clone();
                async move {
                    let Some(key) = stored_object_key(&event.payload) else {
                        tracing::warn!(event = %event.payload, "not an S3 Object Created event; ignored");
                        return Ok(());
                    };
                    sluice_core::app::uploads::on_stored(&ctx, key)
                        .await
                        .map_err(diagnostic)
                }
            },
        ))
        .await
    })
}

/// The object key of an S3 `Object Created` event as EventBridge delivers it, used
/// verbatim: S3's own notifications (SQS, SNS) URL-encode the key, but EventBridge's
/// events carry it as stored (AWS's examples show `:` and `/` unescaped). A key that does
/// not parse as an upload's is ignored by `on_stored`, and the client's confirm remains.
fn stored_object_key(event: &serde_json::Value) -> Option<&str> {
    if event["source"] != "aws.s3" || event["detail-type"] != "Object Created" {
        return None;
    }
    event["detail"]["object"]["key"].as_str()
}

/// On a schedule (every minute): starts due sync runs and resumes lapsed ones.
pub fn poll_syncs() -> Result<(), Error> {
    runtime()?.block_on(async move {
        let ctx = context(None, Clients::all().credentials(connectors)).await?;
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
        let ctx = context(None, Clients::all().credentials(connectors)).await?;
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
            &sluice_api::routes::objects::OBJECTS_GET,
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
            &sluice_api::routes::objects::OBJECTS_GET,
            event(include_str!("../tests/data/function_url_get_object.json")),
        );
        assert_eq!(req.path, "/v1/buckets/bkt_01example/objects/obj_01example");
        assert_eq!(req.path_params["bucket_identifier"], "bkt_01example");
        assert_eq!(req.path_params["object_identifier"], "obj_01example");
    }

    #[test]
    fn a_base64_body_arrives_decoded_with_its_headers() {
        let req = to_api_request(
            &sluice_api::routes::objects::OBJECTS_CREATE,
            event(include_str!(
                "../tests/data/apigw_v2_create_object_base64.json"
            )),
        );
        assert_eq!(req.method, "POST");
        assert_eq!(req.request_id, "req-apigw-post");
        assert_eq!(req.path_params["bucket_identifier"], "docs");
        assert_eq!(req.header("idempotency-key"), Some("k-1"));
        let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
        assert_eq!(body["blobs"][0]["content"], "h\u{e9}llo");
    }

    #[test]
    fn the_upload_key_of_an_object_created_event_is_taken_verbatim() {
        let recorded: serde_json::Value = serde_json::from_str(include_str!(
            "../tests/data/eventbridge_s3_object_created.json"
        ))
        .unwrap();
        assert_eq!(
            stored_object_key(&recorded),
            Some("ns_01example/bkt_01example/uploads/upl_01example/field notes: v2+final.txt")
        );
        let mut deleted = recorded.clone();
        deleted["detail-type"] = "Object Deleted".into();
        assert_eq!(stored_object_key(&deleted), None);
        let mut scheduled = recorded;
        scheduled["source"] = "aws.events".into();
        assert_eq!(stored_object_key(&scheduled), None);
    }

    /// Of three records, only the one that can still succeed (its task not committed
    /// yet) is reported for redelivery; an orphan past its receives and a body no
    /// version can read are done with.
    #[tokio::test]
    async fn only_retryable_records_are_reported_as_batch_item_failures() {
        let memory = sluice_core::testing::Memory::new();
        let recorded: SqsEvent =
            serde_json::from_str(include_str!("../tests/data/sqs_tasks_three_records.json"))
                .unwrap();
        assert_eq!(recorded.records.len(), 3);
        let response = work_records(&memory.ctx, QueueName::Tasks, recorded).await;
        let reported: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(reported, ["msg-not-committed-yet"]);
    }
}
