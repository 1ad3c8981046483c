//! Vector indexes on Amazon S3 Vectors: one vector bucket, one index per collection,
//! cosine distance, float32. Filters are passed through (the port uses its syntax).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_s3vectors::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3vectors::types::{DataType, DistanceMetric, PutInputVector, VectorData};
use aws_sdk_s3vectors::Client;
use aws_smithy_types::{Document, Number};
use serde_json::{Map, Value};

use sluice_core::ports::{StoreError, StoreResult, VectorIndex, VectorMatch, VectorRecord};

/// PutVectors and DeleteVectors take at most 500 vectors per call.
const MAX_PER_CALL: usize = 500;
/// GetVectors takes at most 100 keys.
const MAX_GET_PER_CALL: usize = 100;

pub struct S3VectorIndex {
    client: Client,
    bucket: String,
}

impl S3VectorIndex {
    pub fn new(client: Client, bucket: String) -> Self {
        S3VectorIndex { client, bucket }
    }
}

/// Index names are 3–63 characters of lowercase letters, digits, hyphens and dots.
pub fn index_name(index: &str) -> String {
    let mut name: String = index
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '-' | '.' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '-',
        })
        .collect();
    name.truncate(63);
    while name.len() < 3 {
        name.push('-');
    }
    name
}

fn error_code<E: ProvideErrorMetadata>(e: &SdkError<E>) -> Option<&str> {
    e.as_service_error().and_then(|s| s.code())
}

fn backend<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(
    e: SdkError<E>,
) -> StoreError {
    match error_code(&e) {
        Some("TooManyRequestsException" | "ServiceUnavailableException") => StoreError::Busy,
        Some("NotFoundException") => StoreError::NotFound,
        _ => StoreError::Backend(aws_sdk_s3vectors::error::DisplayErrorContext(e).to_string()),
    }
}

pub fn to_document(v: &Value) -> Document {
    match v {
        Value::Null => Document::Null,
        Value::Bool(b) => Document::Bool(*b),
        Value::Number(n) => Document::Number(if let Some(u) = n.as_u64() {
            Number::PosInt(u)
        } else if let Some(i) = n.as_i64() {
            Number::NegInt(i)
        } else {
            Number::Float(n.as_f64().unwrap_or(0.0))
        }),
        Value::String(s) => Document::String(s.clone()),
        Value::Array(a) => Document::Array(a.iter().map(to_document).collect()),
        Value::Object(o) => Document::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), to_document(v)))
                .collect::<HashMap<_, _>>(),
        ),
    }
}

pub fn from_document(d: &Document) -> Value {
    match d {
        Document::Null => Value::Null,
        Document::Bool(b) => Value::Bool(*b),
        Document::Number(Number::PosInt(u)) => Value::from(*u),
        Document::Number(Number::NegInt(i)) => Value::from(*i),
        Document::Number(Number::Float(f)) => Value::from(*f),
        Document::String(s) => Value::String(s.clone()),
        Document::Array(a) => Value::Array(a.iter().map(from_document).collect()),
        Document::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), from_document(v)))
                .collect(),
        ),
    }
}

#[async_trait]
impl VectorIndex for S3VectorIndex {
    async fn ensure_index(&self, index: &str, dimensions: usize) -> StoreResult<()> {
        let name = index_name(index);
        let created = self
            .client
            .create_index()
            .vector_bucket_name(&self.bucket)
            .index_name(&name)
            .data_type(DataType::Float32)
            .dimension(dimensions as i32)
            .distance_metric(DistanceMetric::Cosine)
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            Err(e) if error_code(&e) == Some("ConflictException") => {
                let existing = self
                    .client
                    .get_index()
                    .vector_bucket_name(&self.bucket)
                    .index_name(&name)
                    .send()
                    .await
                    .map_err(backend)?;
                let have = existing.index().map(|i| i.dimension()).unwrap_or(0) as usize;
                if have != dimensions {
                    return Err(StoreError::Backend(format!(
                        "index {name} holds {have}-dimensional vectors, not {dimensions}"
                    )));
                }
                Ok(())
            }
            Err(e) => Err(backend(e)),
        }
    }

    async fn put(&self, index: &str, records: Vec<VectorRecord>) -> StoreResult<()> {
        let name = index_name(index);
        for chunk in records.chunks(MAX_PER_CALL) {
            let vectors = chunk
                .iter()
                .map(|r| {
                    PutInputVector::builder()
                        .key(&r.key)
                        .data(VectorData::Float32(r.vector.clone()))
                        .metadata(to_document(&Value::Object(r.metadata.clone())))
                        .build()
                        .map_err(StoreError::backend)
                })
                .collect::<StoreResult<Vec<_>>>()?;
            self.client
                .put_vectors()
                .vector_bucket_name(&self.bucket)
                .index_name(&name)
                .set_vectors(Some(vectors))
                .send()
                .await
                .map_err(backend)?;
        }
        Ok(())
    }

    async fn get(&self, index: &str, keys: &[String]) -> StoreResult<Vec<VectorRecord>> {
        let name = index_name(index);
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(MAX_GET_PER_CALL) {
            let sent = self
                .client
                .get_vectors()
                .vector_bucket_name(&self.bucket)
                .index_name(&name)
                .set_keys(Some(chunk.to_vec()))
                .return_data(true)
                .return_metadata(true)
                .send()
                .await;
            let got = match sent {
                Ok(got) => got,
                Err(e) if error_code(&e) == Some("NotFoundException") => return Ok(Vec::new()),
                Err(e) => return Err(backend(e)),
            };
            out.extend(got.vectors().iter().filter_map(|v| {
                let Some(VectorData::Float32(vector)) = v.data() else {
                    return None;
                };
                Some(VectorRecord {
                    key: v.key().to_string(),
                    vector: vector.clone(),
                    metadata: match v.metadata().map(from_document) {
                        Some(Value::Object(m)) => m,
                        _ => Map::new(),
                    },
                })
            }));
        }
        Ok(out)
    }

    async fn delete(&self, index: &str, keys: &[String]) -> StoreResult<()> {
        let name = index_name(index);
        for chunk in keys.chunks(MAX_PER_CALL) {
            let sent = self
                .client
                .delete_vectors()
                .vector_bucket_name(&self.bucket)
                .index_name(&name)
                .set_keys(Some(chunk.to_vec()))
                .send()
                .await;
            match sent {
                Ok(_) => {}
                // No index, no vectors to delete.
                Err(e) if error_code(&e) == Some("NotFoundException") => return Ok(()),
                Err(e) => return Err(backend(e)),
            }
        }
        Ok(())
    }

    async fn query(
        &self,
        index: &str,
        vector: &[f32],
        top_k: usize,
        filter: Option<&Value>,
    ) -> StoreResult<Vec<VectorMatch>> {
        let sent = self
            .client
            .query_vectors()
            .vector_bucket_name(&self.bucket)
            .index_name(index_name(index))
            .top_k(top_k.clamp(1, 100) as i32)
            .query_vector(VectorData::Float32(vector.to_vec()))
            .set_filter(filter.map(to_document))
            .return_metadata(true)
            .return_distance(true)
            .send()
            .await;
        let out = match sent {
            Ok(out) => out,
            Err(e) if error_code(&e) == Some("NotFoundException") => return Ok(Vec::new()),
            Err(e) => return Err(backend(e)),
        };
        Ok(out
            .vectors()
            .iter()
            .map(|v| VectorMatch {
                key: v.key().to_string(),
                // Cosine distance is 1 − similarity.
                score: 1.0 - v.distance().unwrap_or(1.0),
                metadata: match v.metadata().map(from_document) {
                    Some(Value::Object(m)) => m,
                    _ => Map::new(),
                },
            })
            .collect())
    }

    async fn drop_index(&self, index: &str) -> StoreResult<()> {
        let sent = self
            .client
            .delete_index()
            .vector_bucket_name(&self.bucket)
            .index_name(index_name(index))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            Err(e) if error_code(&e) == Some("NotFoundException") => Ok(()),
            Err(e) => Err(backend(e)),
        }
    }
}

/// Creates the vector bucket (for a stand-in; SAM does this in a real account).
pub async fn create_vector_bucket(client: &Client, bucket: &str) -> anyhow::Result<()> {
    match client
        .create_vector_bucket()
        .vector_bucket_name(bucket)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if error_code(&e) == Some("ConflictException") => Ok(()),
        Err(e) => Err(anyhow::anyhow!(
            aws_sdk_s3vectors::error::DisplayErrorContext(e).to_string()
        )),
    }
}
