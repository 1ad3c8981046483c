//! AWS backends: DynamoDB (table), S3 (blobs), SQS (queues), EventBridge (events),
//! S3 Vectors (vector indexes). Bedrock embeddings are `sluice-bedrock`, so only the
//! processes that embed link its SDK.
//!
//! Names come from the environment the SAM template sets; `AWS_ENDPOINT_URL` points
//! every client at a stand-in such as moto for tests.

mod dynamo;
mod emf;
mod eventbridge;
mod kms;
mod s3;
mod s3vectors;
mod sqs;

pub use aws_config::SdkConfig;
pub use dynamo::DynamoTable;
pub use emf::EmfMetrics;
pub use eventbridge::EventBridgeBus;
pub use kms::KmsSealer;
pub use s3::S3BlobStore;
pub use s3vectors::S3VectorIndex;
pub use sqs::SqsQueue;

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context as _;

use sluice_core::ports::absent::Absent;
use sluice_core::ports::{BlobStore, Connectors, EventBus, Queue, QueueName, Sealer, VectorIndex};
use sluice_core::{AppContext, Config};

/// Resource names, as the template passes them to every function.
#[derive(Debug, Clone)]
pub struct AwsNames {
    pub table: String,
    pub bucket: String,
    pub event_bus: String,
    pub vector_bucket: String,
    pub queue_urls: HashMap<QueueName, String>,
    /// The KMS key that wraps connection credentials' data keys.
    pub credential_key: String,
}

impl AwsNames {
    pub fn from_env() -> anyhow::Result<Self> {
        let var = |name: &str| {
            std::env::var(name).with_context(|| format!("environment variable {name} is not set"))
        };
        let mut queue_urls = HashMap::new();
        for q in QueueName::ALL {
            let name = format!("SLUICE_{}_QUEUE_URL", q.as_str().to_ascii_uppercase());
            queue_urls.insert(q, var(&name)?);
        }
        Ok(AwsNames {
            table: var("SLUICE_TABLE")?,
            bucket: var("SLUICE_BUCKET")?,
            event_bus: var("SLUICE_EVENT_BUS")?,
            vector_bucket: var("SLUICE_VECTOR_BUCKET")?,
            queue_urls,
            credential_key: var("SLUICE_CREDENTIAL_KEY")?,
        })
    }
}

/// Shared SDK configuration: region, credentials and endpoint from the environment.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

pub async fn context(names: AwsNames, config: Config) -> AppContext {
    let sdk = sdk_config().await;
    context_from(&sdk, names, config)
}

/// The clients a process builds beyond the table, as constructors. A route's generated
/// binary names the ones its route is granted (`Clients::table().blobs()`), so the binary
/// links only those SDK clients; a client left out is an absent port.
#[derive(Clone, Copy)]
pub struct Clients {
    blobs: Option<Build<dyn BlobStore>>,
    queues: Option<Build<dyn Queue>>,
    events: Option<Build<dyn EventBus>>,
    vectors: Option<Build<dyn VectorIndex>>,
    sealer: Option<Build<dyn Sealer>>,
    connectors: Option<BuildConnectors>,
}

/// Builds one port's client from the shared SDK configuration and the stack's names.
type Build<P> = fn(&aws_config::SdkConfig, &AwsNames) -> Arc<P>;
/// Builds the storage connectors (which reach tenants' endpoints behind the server's
/// network guard): given by the composition root that needs them (`sluice-lambda`'s
/// `connectors`), so this crate links no provider's code.
pub type BuildConnectors = fn(&aws_config::SdkConfig, &Config) -> Arc<dyn Connectors>;

impl Clients {
    /// The table only.
    pub fn table() -> Self {
        Clients {
            blobs: None,
            queues: None,
            events: None,
            vectors: None,
            sealer: None,
            connectors: None,
        }
    }
    /// Every AWS client of the stack (the workers, the tools, the tests); the storage
    /// connectors are added with [`Clients::credentials`].
    pub fn all() -> Self {
        Self::table().blobs().queues().events().vectors().sealer()
    }
    pub fn blobs(mut self) -> Self {
        self.blobs = Some(|sdk, names| {
            let store = S3BlobStore::new(s3::client(sdk), names.bucket.clone());
            Arc::new(store.signing_with(sdk.credentials_provider()))
        });
        self
    }
    pub fn queues(mut self) -> Self {
        self.queues = Some(|sdk, names| {
            Arc::new(SqsQueue::new(
                aws_sdk_sqs::Client::new(sdk),
                names.queue_urls.clone(),
            ))
        });
        self
    }
    pub fn events(mut self) -> Self {
        self.events = Some(|sdk, names| {
            Arc::new(EventBridgeBus::new(
                aws_sdk_eventbridge::Client::new(sdk),
                names.event_bus.clone(),
            ))
        });
        self
    }
    /// The KMS key that seals secrets at rest (webhook signing secrets).
    pub fn sealer(mut self) -> Self {
        self.sealer = Some(|sdk, names| {
            Arc::new(KmsSealer::new(
                aws_sdk_kms::Client::new(sdk),
                names.credential_key.clone(),
            ))
        });
        self
    }
    /// The KMS key for connection credentials, and the storage connectors that read
    /// external stores with the credentials it opens.
    pub fn credentials(mut self, connectors: BuildConnectors) -> Self {
        self = self.sealer();
        self.connectors = Some(connectors);
        self
    }
    pub fn vectors(mut self) -> Self {
        self.vectors = Some(|sdk, names| {
            Arc::new(S3VectorIndex::new(
                aws_sdk_s3vectors::Client::new(sdk),
                names.vector_bucket.clone(),
            ))
        });
        self
    }
}

pub fn context_from(sdk: &aws_config::SdkConfig, names: AwsNames, config: Config) -> AppContext {
    context_with(sdk, names, config, Clients::all())
}

/// A context with the table and the clients `clients` names; the others are absent.
pub fn context_with(
    sdk: &aws_config::SdkConfig,
    names: AwsNames,
    config: Config,
    clients: Clients,
) -> AppContext {
    let mut table = DynamoTable::new(aws_sdk_dynamodb::Client::new(sdk), names.table.clone());
    if std::env::var("SLUICE_EMULATOR_SERIALIZE_TRANSACTIONS").as_deref() == Ok("true") {
        table = table.serialize_transactions();
    }
    let blobs: Arc<dyn BlobStore> = match clients.blobs {
        Some(build) => build(sdk, &names),
        None => Arc::new(Absent("the blob bucket")),
    };
    let queue: Arc<dyn Queue> = match clients.queues {
        Some(build) => build(sdk, &names),
        None => Arc::new(Absent("any queue")),
    };
    let events: Arc<dyn EventBus> = match clients.events {
        Some(build) => build(sdk, &names),
        None => Arc::new(Absent("the event bus")),
    };
    let vectors: Arc<dyn VectorIndex> = match clients.vectors {
        Some(build) => build(sdk, &names),
        None => Arc::new(Absent("the vector bucket")),
    };
    let mut ctx = AppContext::new(Arc::new(table), blobs, queue, events, vectors, config);
    if let Some(sealer) = clients.sealer {
        ctx.sealer = sealer(sdk, &names);
    }
    if let Some(connectors) = clients.connectors {
        ctx.connectors = connectors(sdk, &ctx.config);
    }
    ctx
}

/// Creates the table, bucket, queues and bus (for a stand-in like moto; SAM does this
/// in a real account). Returns the names to use.
pub async fn provision(sdk: &aws_config::SdkConfig, prefix: &str) -> anyhow::Result<AwsNames> {
    let table = format!("{prefix}-table");
    dynamo::create_table(&aws_sdk_dynamodb::Client::new(sdk), &table).await?;
    let bucket = format!("{prefix}-blobs");
    s3::create_bucket(&s3::client(sdk), &bucket).await?;
    let sqs_client = aws_sdk_sqs::Client::new(sdk);
    let mut queue_urls = HashMap::new();
    for q in QueueName::ALL {
        queue_urls.insert(
            q,
            sqs::create_queue(&sqs_client, &format!("{prefix}-{}", q.as_str())).await?,
        );
    }
    let vector_bucket = format!("{prefix}-vectors");
    s3vectors::create_vector_bucket(&aws_sdk_s3vectors::Client::new(sdk), &vector_bucket).await?;
    let event_bus = format!("{prefix}-events");
    let events = aws_sdk_eventbridge::Client::new(sdk);
    eventbridge::create_bus(&events, &event_bus).await?;
    // The template's rule: every Sluice event to the webhooks queue.
    let webhooks_arn = sqs::queue_arn(&sqs_client, &queue_urls[&QueueName::Webhooks]).await?;
    eventbridge::route_to_queue(
        &events,
        &event_bus,
        &format!("{prefix}-to-webhooks"),
        &webhooks_arn,
    )
    .await?;
    let credential_key = kms::create_key(
        &aws_sdk_kms::Client::new(sdk),
        &format!("{prefix} connection credentials"),
    )
    .await?;
    Ok(AwsNames {
        table,
        bucket,
        event_bus,
        vector_bucket,
        queue_urls,
        credential_key,
    })
}
