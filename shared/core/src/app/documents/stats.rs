//! Aggregates over a collection's documents: group-by metrics and distinct values. The
//! documents stream through page by page; only the groups are held.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Document;
use crate::app::from_item;
use crate::app::lists::{each_item, Filter};
use crate::app::views::{record, DocumentView};
use crate::context::AppContext;
use crate::domain::aggregate::{Aggregation, AggregationResult, Aggregator};
use crate::domain::collection::Collection;
use crate::error::Error;
use crate::store::index;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DistinctValues {
    /// A dotted path (`metadata.category`).
    pub field: String,
    pub filters: Option<Value>,
    /// Values returned, most frequent first: 1 to 10 000 (100 by default).
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DistinctValue {
    pub value: Value,
    pub count: u64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Distinct {
    pub field: String,
    pub values: Vec<DistinctValue>,
    pub total_distinct: usize,
    pub query_info: Value,
}

/// Hands each readable document of the collection that `filters` match to `each`.
async fn each_document(
    ctx: &AppContext,
    collection: &Collection,
    filters: Option<&Value>,
    reader: Option<&str>,
    mut each: impl FnMut(&Value) -> Result<(), Error>,
) -> Result<(), Error> {
    let filter = Filter::optional(filters)?;
    let query = index::collection_documents(&collection.collection_id).limit(500);
    each_item(ctx.table.as_ref(), query, |item| {
        let d: Document = from_item(item)?;
        if d.may_read(reader) {
            let view = record(&DocumentView::from(&d))?;
            if filter.as_ref().is_none_or(|f| f.matches(&view)) {
                each(&view)?;
            }
        }
        Ok(true)
    })
    .await
}

pub async fn aggregate(
    ctx: &AppContext,
    collection: &Collection,
    spec: Aggregation,
    reader: Option<&str>,
) -> Result<AggregationResult, Error> {
    let filters = spec.filters.clone();
    let mut agg = Aggregator::new(spec)?;
    each_document(ctx, collection, filters.as_ref(), reader, |d| {
        Ok(agg.add(d)?)
    })
    .await?;
    Ok(agg.finish())
}

pub async fn distinct(
    ctx: &AppContext,
    collection: &Collection,
    req: DistinctValues,
    reader: Option<&str>,
) -> Result<Distinct, Error> {
    let limit = match req.limit.unwrap_or(100) {
        n @ 1..=10_000 => n,
        _ => return Err(Error::field("limit", "must be 1 to 10000")),
    };
    let spec: Aggregation = serde_json::from_value(serde_json::json!({
        "group_by": [{"field": req.field, "alias": "value"}],
        "aggregations": [{"function": "count", "alias": "count"}],
    }))
    .map_err(|e| Error::field("field", e.to_string()))?;
    let mut agg = Aggregator::new(spec)?.limited(limit as usize);
    each_document(ctx, collection, req.filters.as_ref(), reader, |d| {
        Ok(agg.add(d)?)
    })
    .await?;
    let result = agg.finish();
    Ok(Distinct {
        field: req.field,
        total_distinct: result.total_groups,
        values: result
            .results
            .into_iter()
            .map(|g| DistinctValue {
                value: g.group.get("value").cloned().unwrap_or(Value::Null),
                count: g.metrics.get("count").and_then(Value::as_u64).unwrap_or(0),
            })
            .collect(),
        query_info: result.query_info,
    })
}
