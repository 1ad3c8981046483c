//! What every feature's route file uses: the route declaration, the use cases and
//! their request types, the views, the request and its caller.
#![allow(unused_imports)]

pub use serde_json::Value;
pub use sluice_core::app::batches::{
    self, AddObjects, CreateBatch, ListBatches, RetryBatch, SubmitBatch,
};
pub use sluice_core::app::buckets::{self, CreateBucket, UpdateBucket};
pub use sluice_core::app::collections::{self, CreateCollection};
pub use sluice_core::app::connections::{
    self, CreateConnection, ListConnections, UpdateConnection,
};
pub use sluice_core::app::namespaces::{self, CreateNamespace, UpdateNamespace};
pub use sluice_core::app::objects::{self, CreateObject, CreateObjectsBulk, PatchObject, Policy};
pub use sluice_core::app::search::{self, FeatureSearch};
pub use sluice_core::app::syncs::{
    self, CreateSync, ListDeadLetters, ListRuns, ListSyncs, RequeueDeadLetters, UpdateSync,
};
pub use sluice_core::app::tasks::{self, ListTasks};
pub use sluice_core::app::uploads::{
    self, ConfirmBulk, ConfirmUpload, CreateUpload, CreateUploadsBulk,
};
pub use sluice_core::app::views::*;
pub use sluice_core::app::webhooks::{self, CreateWebhook, ListWebhooks, UpdateWebhook};
pub use sluice_core::app::{documents, lineage};
pub use sluice_core::context::AppContext;
pub use sluice_core::domain::aggregate::{Aggregation, AggregationResult};
pub use sluice_core::domain::collection::Collection;
pub use sluice_core::domain::entities::Bucket;
pub use sluice_core::domain::extractors;
pub use sluice_core::ports::QueueName;
pub use sluice_core::store::lists::ListRequest;

pub use crate::error::ApiError;
pub(crate) use crate::route::routes;
pub use crate::route::Permission::*;
pub use crate::route::{optional, required, Access};
pub use crate::{ApiRequest, Caller};

pub type Reply<T> = Result<T, ApiError>;
