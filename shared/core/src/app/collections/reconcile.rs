//! A collection beside its sources: the objects of its buckets that produced no document
//! here (and why, from the object's own status), and documents whose object is gone.

use std::collections::HashSet;

use schemars::JsonSchema;
use serde::Serialize;

use crate::app::lists::each_item;
use crate::app::{from_item, keys};
use crate::context::AppContext;
use crate::domain::collection::{Collection, Document};
use crate::domain::entities::{Bucket, Namespace, Object};
use crate::domain::status::ObjectStatus;
use crate::domain::time::{now, parse};
use crate::error::Error;
use crate::ports::Query;
use crate::store::index;

#[derive(Debug, Serialize, JsonSchema)]
pub struct Discrepancy {
    pub object_id: String,
    pub bucket_id: Option<String>,
    /// `no_document` (not processed into this collection yet), `failed`, `skipped`, or
    /// `unknown` (a document whose object is gone).
    pub reason: String,
    pub status: Option<String>,
    pub age_seconds: Option<i64>,
    pub error: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Reconciliation {
    pub collection_id: String,
    pub source_object_count: usize,
    /// Source objects with at least one document here.
    pub produced_object_count: usize,
    pub document_count: i64,
    /// Source objects without a document here.
    pub delta: i64,
    pub discrepancies: Vec<Discrepancy>,
    pub discrepancies_truncated: bool,
    pub limit: usize,
}

pub async fn reconcile(
    ctx: &AppContext,
    ns: &Namespace,
    c: &Collection,
    limit: usize,
) -> Result<Reconciliation, Error> {
    if !(1..=1000).contains(&limit) {
        return Err(Error::field("limit", "must be 1 to 1000"));
    }
    // The objects that have documents here: ids only, one per object.
    let mut produced: HashSet<String> = HashSet::new();
    let mut documents = 0i64;
    let mut orphans: Vec<(String, String)> = Vec::new();
    each_item(
        ctx.table.as_ref(),
        index::collection_documents(&c.collection_id),
        |item| {
            let d: Document = from_item(item)?;
            documents += 1;
            if !d.object_id.is_empty() && produced.insert(d.object_id.clone()) {
                orphans.push((d.bucket_id, d.object_id));
            }
            Ok(true)
        },
    )
    .await?;
    let mut out = Reconciliation {
        collection_id: c.collection_id.clone(),
        source_object_count: 0,
        produced_object_count: 0,
        document_count: documents,
        delta: 0,
        discrepancies: Vec::new(),
        discrepancies_truncated: false,
        limit,
    };
    let mut seen: HashSet<String> = HashSet::new();
    for bucket in source_buckets(ctx, ns, c).await? {
        let query = Query::partition(keys::bkt_pk(&bucket.bucket_id)).prefix("OBJ#");
        each_item(ctx.table.as_ref(), query, |item| {
            let o: Object = from_item(item)?;
            out.source_object_count += 1;
            seen.insert(o.object_id.clone());
            if produced.contains(&o.object_id) {
                out.produced_object_count += 1;
            } else {
                out.delta += 1;
                note(&mut out, missing(&o));
            }
            Ok(true)
        })
        .await?;
    }
    for (bucket_id, object_id) in orphans.into_iter().filter(|(_, o)| !seen.contains(o)) {
        let gone = Discrepancy {
            object_id,
            bucket_id: Some(bucket_id),
            reason: "unknown".into(),
            status: None,
            age_seconds: None,
            error: Some("its documents remain but the object is gone".into()),
        };
        note(&mut out, gone);
    }
    Ok(out)
}

fn note(out: &mut Reconciliation, d: Discrepancy) {
    if out.discrepancies.len() < out.limit {
        out.discrepancies.push(d);
    } else {
        out.discrepancies_truncated = true;
    }
}

/// Why a source object has no document here, from its own status.
fn missing(o: &Object) -> Discrepancy {
    let reason = match o.status {
        ObjectStatus::Failed => "failed",
        ObjectStatus::Skipped => "skipped",
        _ => "no_document",
    };
    Discrepancy {
        object_id: o.object_id.clone(),
        bucket_id: Some(o.bucket_id.clone()),
        reason: reason.into(),
        status: Some(o.status.as_str().into()),
        age_seconds: parse(&o.created_at).map(|t| (now() - t).whole_seconds()),
        error: o.error.clone(),
    }
}

async fn source_buckets(
    ctx: &AppContext,
    ns: &Namespace,
    c: &Collection,
) -> Result<Vec<Bucket>, Error> {
    let all = crate::app::buckets::all(ctx, ns).await?;
    let sources = c.source_bucket_ids.as_ref();
    Ok(all
        .into_iter()
        .filter(|b| sources.is_none_or(|ids| ids.contains(&b.bucket_id)))
        .collect())
}
