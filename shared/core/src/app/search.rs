//! Feature search: a query (text, a vector, or an image for a multimodal model) against
//! the vector indexes of a namespace's collections, with metadata filters, hydrated into
//! documents.

use bytes::Bytes;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use super::collections::{self, Collection};
use super::documents::Document;
use super::from_item;
use super::lists::Filter;
use super::views::{DocumentView, SearchHit, SearchView};
use crate::context::AppContext;
use crate::domain::entities::Namespace;
use crate::error::Error;
use crate::ports::{EmbedError, EmbeddingSpec, Media, MediaKind, StoreError, VectorMatch};

use crate::domain::extractors::EMBEDDING_EXTRACTORS;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FeatureSearch {
    /// Collection ids or names; omitted or empty: every collection with embeddings.
    pub collection_identifiers: Option<Vec<String>>,
    pub query: SearchQuery,
    /// `mixpeek://<extractor>@<version>/embedding`; omitted: any embedding collection.
    pub feature_uri: Option<String>,
    pub top_k: Option<i64>,
    /// Mixpeek filters over `metadata.<key>`, `object_id`, `bucket_id`, `modality`.
    pub filters: Option<Value>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// `text` (default), `vector`, or with a multimodal model `image` (base64) or `url`.
    pub input_mode: Option<String>,
    pub text: Option<String>,
    pub url: Option<String>,
    pub image: Option<String>,
    pub vector: Option<Value>,
}

/// `(extractor, version)` from `mixpeek://text_extractor@v1/embedding`.
fn parse_feature_uri(uri: &str) -> Result<(String, String), Error> {
    let bad = || {
        Error::field(
            "feature_uri",
            format!("{uri:?} is not mixpeek://<extractor>@<version>/embedding"),
        )
    };
    let rest = uri.strip_prefix("mixpeek://").ok_or_else(bad)?;
    let (extractor, feature) = rest.split_once('/').ok_or_else(bad)?;
    let (name, version) = extractor.split_once('@').ok_or_else(bad)?;
    if !EMBEDDING_EXTRACTORS.contains(&name) {
        return Err(Error::field(
            "feature_uri",
            format!("{name} has no searchable features (embedding extractors: {EMBEDDING_EXTRACTORS:?})"),
        ));
    }
    if feature != "embedding" {
        return Err(Error::field(
            "feature_uri",
            format!("{name}@{version} has no feature {feature:?}; it has \"embedding\""),
        ));
    }
    Ok((name.to_string(), version.to_string()))
}

/// A filter field → its key in the vector metadata.
fn vector_field(name: &str) -> Option<String> {
    match name {
        "object_id" | "source_object_id" | "root_object_id" => Some("object_id".into()),
        "bucket_id" | "source_bucket_id" => Some("bucket_id".into()),
        "modality" => Some("modality".into()),
        n if n.starts_with("metadata.") && n.len() > 9 => Some(n.to_string()),
        _ => None,
    }
}

/// The query's vector in `spec`'s space (text and media are embedded by that model).
async fn query_vector(
    ctx: &AppContext,
    q: &SearchQuery,
    spec: &EmbeddingSpec,
) -> Result<Vec<f32>, Error> {
    let model = || ctx.embedders.get(spec).map_err(model_error);
    match q.input_mode.as_deref().unwrap_or("text") {
        "text" => {
            let text = q
                .text
                .as_deref()
                .filter(|t| !t.trim().is_empty())
                .ok_or_else(|| Error::field("query.text", "a text query needs text"))?;
            model()?.embed_query(text).await.map_err(model_error)
        }
        "vector" => {
            let raw = q
                .vector
                .as_ref()
                .ok_or_else(|| Error::field("query.vector", "a vector query needs a vector"))?;
            // The SDK allows a list of vectors; one is searched.
            let flat = match raw {
                Value::Array(a) if a.first().is_some_and(Value::is_array) && a.len() == 1 => &a[0],
                other => other,
            };
            let vector: Vec<f32> = flat
                .as_array()
                .filter(|a| !a.is_empty())
                .and_then(|a| a.iter().map(|x| x.as_f64().map(|f| f as f32)).collect())
                .ok_or_else(|| {
                    Error::field("query.vector", "must be a non-empty list of numbers")
                })?;
            // 1e308 is valid JSON but no f32: it would score every document NaN.
            let norm: f32 = vector.iter().map(|x| x * x).sum();
            if !norm.is_finite() {
                return Err(Error::field(
                    "query.vector",
                    "its numbers must be finite 32-bit floats, small enough that their squares sum to one too",
                ));
            }
            Ok(vector)
        }
        mode @ ("image" | "url") => {
            let model = model()?;
            if !model.media().contains(&MediaKind::Image) {
                return Err(Error::field(
                    "query.input_mode",
                    format!(
                        "{mode} queries need a multimodal embedding model; these collections embed with {} (text only): search with text, or use a namespace created with embedding_backend \"bedrock\"",
                        spec.model
                    ),
                ));
            }
            let bytes = query_image(ctx, q, mode).await?;
            let extractors = ctx.extractors.clone();
            let (format, bytes) =
                tokio::task::spawn_blocking(move || extractors.image_for_model(&bytes))
                    .await
                    .map_err(|e| Error::Internal(anyhow::anyhow!(e)))?
                    .map_err(|why| Error::field(format!("query.{mode}"), why))?;
            let media = Media {
                kind: MediaKind::Image,
                format: &format,
                bytes: &bytes,
            };
            model.embed_media_query(&media).await.map_err(model_error)
        }
        other => Err(Error::field(
            "query.input_mode",
            format!("{other:?} is not one of text, vector, image, url"),
        )),
    }
}

/// The bytes of an image query: base64 in `image`, or fetched from `url` (behind the
/// same guard as blob URLs).
async fn query_image(ctx: &AppContext, q: &SearchQuery, mode: &str) -> Result<Bytes, Error> {
    use base64::Engine as _;
    if mode == "image" {
        let data = q
            .image
            .as_deref()
            .ok_or_else(|| Error::field("query.image", "an image query needs a base64 image"))?;
        // A data URL's header is not part of the image.
        let data = data.split_once(";base64,").map_or(data, |(_, d)| d);
        return base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map(Bytes::from)
            .map_err(|e| Error::field("query.image", format!("is not base64: {e}")));
    }
    let url = q
        .url
        .as_deref()
        .ok_or_else(|| Error::field("query.url", "a url query needs a url"))?;
    ctx.http
        .fetch(url, MODEL_IMAGE_BYTES_MAX)
        .await
        .map(|f| f.bytes)
        .map_err(|e| Error::field("query.url", format!("{url}: {e}")))
}

/// Largest image a query may fetch.
const MODEL_IMAGE_BYTES_MAX: usize = 25 * 1024 * 1024;

fn model_error(e: EmbedError) -> Error {
    match e {
        EmbedError::Unavailable(why) => Error::NotReady(format!("embeddings: {why}")),
        EmbedError::Failed(why) => Error::Internal(anyhow::anyhow!(why)),
    }
}

async fn collections_for(
    ctx: &AppContext,
    ns: &Namespace,
    req: &FeatureSearch,
    wanted: Option<&(String, String)>,
) -> Result<Vec<Collection>, Error> {
    let fits = |c: &Collection| match wanted {
        Some((name, version)) => {
            c.feature_extractor.feature_extractor_name == *name
                && c.feature_extractor.version == *version
        }
        None => EMBEDDING_EXTRACTORS.contains(&c.feature_extractor.feature_extractor_name.as_str()),
    };
    match req.collection_identifiers.as_deref() {
        None | Some([]) => Ok(collections::all(ctx, &ns.namespace_id)
            .await?
            .into_iter()
            .filter(|c| fits(c))
            .collect()),
        Some(idents) => {
            let mut out = Vec::new();
            for ident in idents {
                let c = collections::get(ctx, ns, ident).await?;
                if !fits(&c) {
                    return Err(Error::field(
                        "collection_identifiers",
                        format!(
                            "collection {ident:?} is fed by {} {}, which has no feature {}",
                            c.feature_extractor.feature_extractor_name,
                            c.feature_extractor.version,
                            req.feature_uri.as_deref().unwrap_or("embedding")
                        ),
                    ));
                }
                if !out
                    .iter()
                    .any(|o: &Collection| o.collection_id == c.collection_id)
                {
                    out.push(c);
                }
            }
            Ok(out)
        }
    }
}

pub async fn features_search(
    ctx: &AppContext,
    ns: &Namespace,
    req: &FeatureSearch,
    reader: Option<&str>,
) -> Result<SearchView, Error> {
    let top_k = req.top_k.unwrap_or(25);
    if !(1..=1000).contains(&top_k) {
        return Err(Error::field("top_k", "must be from 1 to 1000"));
    }
    let top_k = top_k as usize;
    let wanted = req
        .feature_uri
        .as_deref()
        .map(parse_feature_uri)
        .transpose()?;
    let filter = match &req.filters {
        None => None,
        Some(f) => {
            let parsed = Filter::parse(f, true)?;
            (!parsed.is_empty())
                .then(|| parsed.to_vector_filter(&vector_field))
                .transpose()?
        }
    };
    let collections = collections_for(ctx, ns, req, wanted.as_ref()).await?;
    // One query vector per embedding model among the collections (usually one).
    let mut vectors: Vec<(EmbeddingSpec, Vec<f32>)> = Vec::new();
    for c in &collections {
        let spec = EmbeddingSpec::of(c.feature_extractor.params.as_ref());
        if !vectors.iter().any(|(s, _)| *s == spec) {
            let v = query_vector(ctx, &req.query, &spec).await?;
            vectors.push((spec, v));
        }
    }

    let mut hits: Vec<(String, VectorMatch)> = Vec::new();
    for c in &collections {
        let spec = EmbeddingSpec::of(c.feature_extractor.params.as_ref());
        let Some((_, vector)) = vectors.iter().find(|(s, _)| *s == spec) else {
            continue;
        };
        let found = ctx
            .vectors
            .query(&c.collection_id, vector, top_k, filter.as_ref())
            .await
            .map_err(|e| match e {
                StoreError::Backend(why) if why.contains("dimensions") => {
                    Error::field("query.vector", why)
                }
                // The index failed (or its stand-in lacks QueryVectors, as moto does): a
                // clear 503 naming it, not a bare 500.
                StoreError::Backend(why) => {
                    Error::NotReady(format!("the vector index could not answer: {why}"))
                }
                other => other.into(),
            })?;
        hits.extend(found.into_iter().map(|m| (c.collection_id.clone(), m)));
    }
    hits.sort_by(|a, b| b.1.score.total_cmp(&a.1.score));
    hits.truncate(top_k);

    // The documents behind the hits, in one read; a hit whose document is gone is dropped.
    let wanted_keys = hits
        .iter()
        .filter_map(|(col, m)| super::documents::key_of_match(col, m))
        .collect();
    let mut docs: std::collections::HashMap<String, Document> = Default::default();
    for item in ctx.table.get_many(wanted_keys).await? {
        let d: Document = from_item(item)?;
        docs.insert(d.document_id.clone(), d);
    }
    let results: Vec<SearchHit> = hits
        .iter()
        .filter_map(|(_, m)| {
            let doc = docs.get(&m.key).filter(|d| d.may_read(reader))?;
            Some(SearchHit {
                document: DocumentView::from(doc),
                score: m.score,
            })
        })
        .collect();
    Ok(SearchView {
        total: results.len(),
        results,
        top_k,
        feature_uri: req.feature_uri.clone(),
        collection_ids: collections
            .iter()
            .map(|c| c.collection_id.clone())
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn feature_uris_name_an_embedding() {
        assert_eq!(
            parse_feature_uri("mixpeek://text_extractor@v1/embedding").unwrap(),
            ("text_extractor".into(), "v1".into())
        );
        assert!(parse_feature_uri("mixpeek://passthrough_extractor@v1/embedding").is_err());
        assert!(parse_feature_uri("mixpeek://text_extractor@v1/colour").is_err());
        assert!(parse_feature_uri("text_extractor").is_err());
    }

    #[cfg(feature = "testing")]
    #[tokio::test]
    async fn a_vector_query_must_be_finite() {
        let m = crate::testing::Memory::new();
        let spec = EmbeddingSpec::local();
        let query = |v: Value| SearchQuery {
            input_mode: Some("vector".into()),
            text: None,
            url: None,
            image: None,
            vector: Some(v),
        };
        for bad in [
            serde_json::json!([1e308, 0.0]),
            serde_json::json!([1e30, 1e30]),
        ] {
            let err = query_vector(&m.ctx, &query(bad.clone()), &spec)
                .await
                .unwrap_err();
            assert!(err.to_string().contains("finite"), "{bad}: {err}");
        }
        let ok = query_vector(&m.ctx, &query(serde_json::json!([[0.5, -0.5]])), &spec)
            .await
            .unwrap();
        assert_eq!(ok, vec![0.5, -0.5]);
    }

    #[test]
    fn mixpeek_filters_become_s3_vectors_filters() {
        let f = Filter::parse(
            &json!({"AND": [{"field": "metadata.genre", "operator": "eq", "value": "drama"}],
                    "NOT": [{"field": "metadata.year", "operator": "lt", "value": 2000}]}),
            true,
        )
        .unwrap();
        let v = f.to_vector_filter(&vector_field).unwrap();
        let m = |j: Value| j.as_object().unwrap().clone();
        use crate::domain::vector_filter::matches;
        assert!(matches(
            &v,
            &m(json!({"metadata.genre": "drama", "metadata.year": 2001}))
        ));
        assert!(!matches(
            &v,
            &m(json!({"metadata.genre": "drama", "metadata.year": 1999}))
        ));
        assert!(!matches(
            &v,
            &m(json!({"metadata.genre": "comedy", "metadata.year": 2001}))
        ));
        let bad = Filter::parse(&json!({"created_at": "x"}), true).unwrap();
        assert!(bad.to_vector_filter(&vector_field).is_err());
    }
}
