//! The second P3 baseline: a `lambda_http` function that reads one DynamoDB item per
//! request, its client built once at cold start (what a plain Sluice route must do too).
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::{run, service_fn, Body, Error, Request, Response};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let table = std::env::var("SLUICE_TABLE")?;
    run(service_fn(|_req: Request| {
        let (client, table) = (client.clone(), table.clone());
        async move {
            let item = client
                .get_item()
                .table_name(table)
                .key("pk", AttributeValue::S("hello".into()))
                .key("sk", AttributeValue::S("hello".into()))
                .send()
                .await?;
            let found = item.item().is_some();
            Ok::<_, Error>(Response::new(Body::from(format!("found: {found}"))))
        }
    }))
    .await
}
