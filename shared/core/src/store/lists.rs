//! List requests (`POST .../list` bodies and `GET` query strings), filters, and pages.
//!
//! Lists read one partition in sort-key (creation) order with a cursor; filters are
//! applied to what is read, page by page, the way a DynamoDB filter expression is,
//! with a bound on how much one request reads. Nothing scans the table.

use std::collections::HashMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

use super::from_item;
use crate::error::Error;
use crate::ports::{Item, Query, Table};

pub const DEFAULT_PAGE_SIZE: usize = 100;
pub const MAX_PAGE_SIZE: usize = 1000;
/// At most this many pages are read to fill one filtered page.
const MAX_PAGES_PER_REQUEST: usize = 10;

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListRequest {
    pub limit: Option<i64>,
    pub page_size: Option<i64>,
    pub offset: Option<i64>,
    pub page: Option<i64>,
    pub cursor: Option<String>,
    pub next_cursor: Option<String>,
    pub after: Option<String>,
    /// Equality map `{field: value}` or `{"AND"|"OR"|"NOT": [conditions]}` with
    /// conditions `{field, operator, value}` (eq, ne, gt, gte, lt, lte, in, nin, contains, exists).
    pub filters: Option<Value>,
    /// `{field: "created_at", direction: "asc"|"desc"}`.
    pub sort: Option<Value>,
    pub sorts: Option<Vec<Value>>,
    pub search: Option<String>,
    pub include_total: Option<bool>,
    pub case_sensitive: Option<bool>,
    pub return_presigned_urls: Option<bool>,
    /// Top-level fields to keep in each result (ids are always kept).
    pub select: Option<Vec<String>>,
}

impl ListRequest {
    /// The body's fields win over the query string's, as the API documents.
    pub fn merge_query(mut self, query: &HashMap<String, String>) -> Result<Self, Error> {
        let int = |name: &str| -> Result<Option<i64>, Error> {
            query
                .get(name)
                .map(|v| {
                    v.parse::<i64>()
                        .map_err(|_| Error::field(name, "must be an integer"))
                })
                .transpose()
        };
        self.limit = self.limit.or(int("limit")?);
        self.page_size = self.page_size.or(int("page_size")?);
        self.offset = self.offset.or(int("offset")?);
        self.page = self.page.or(int("page")?);
        for (field, name) in [
            (&mut self.cursor, "cursor"),
            (&mut self.next_cursor, "next_cursor"),
            (&mut self.after, "after"),
        ] {
            if field.is_none() {
                *field = query.get(name).cloned();
            }
        }
        if self.search.is_none() {
            self.search = query.get("search").cloned();
        }
        if self.include_total.is_none() {
            self.include_total = query.get("include_total").map(|v| v == "true");
        }
        Ok(self)
    }

    pub fn page_size(&self) -> Result<usize, Error> {
        let (field, size) = match (self.limit, self.page_size) {
            (Some(l), _) => ("limit", l),
            (None, Some(p)) => ("page_size", p),
            (None, None) => return Ok(DEFAULT_PAGE_SIZE),
        };
        if !(1..=MAX_PAGE_SIZE as i64).contains(&size) {
            return Err(Error::field(
                field,
                format!("must be between 1 and {MAX_PAGE_SIZE}"),
            ));
        }
        Ok(size as usize)
    }

    pub fn cursor(&self) -> Result<Option<String>, Error> {
        if self.offset.is_some_and(|o| o > 0) || self.page.is_some_and(|p| p > 1) {
            return Err(Error::field(
                "offset",
                "offset and page are not supported: pass the previous page's next_cursor",
            ));
        }
        Ok(self
            .cursor
            .clone()
            .or_else(|| self.next_cursor.clone())
            .or_else(|| self.after.clone())
            .filter(|c| !c.is_empty()))
    }

    /// Lists are in creation order; `sort` may only flip the direction.
    pub fn descending(&self) -> Result<bool, Error> {
        let sort = self
            .sort
            .clone()
            .or_else(|| self.sorts.as_ref().and_then(|s| s.first().cloned()));
        let Some(sort) = sort.filter(|s| !s.is_null()) else {
            return Ok(false);
        };
        let field = sort
            .get("field")
            .and_then(Value::as_str)
            .unwrap_or("created_at");
        if !matches!(
            field,
            "created_at" | "namespace_id" | "bucket_id" | "object_id"
        ) {
            return Err(Error::field(
                "sort.field",
                "lists are ordered by creation: sort by created_at",
            ));
        }
        match sort
            .get("direction")
            .and_then(Value::as_str)
            .unwrap_or("asc")
            .to_ascii_lowercase()
            .as_str()
        {
            "asc" | "ascending" => Ok(false),
            "desc" | "descending" => Ok(true),
            other => Err(Error::field(
                "sort.direction",
                format!("expected asc or desc, got {other:?}"),
            )),
        }
    }

    /// Keeps only the `select`ed fields (dot paths; ids always stay).
    pub fn project(&self, results: Vec<Value>) -> Vec<Value> {
        let Some(select) = self.select.as_ref().filter(|s| !s.is_empty()) else {
            return results;
        };
        results
            .into_iter()
            .map(|record| {
                let mut out = serde_json::Map::new();
                if let Value::Object(m) = &record {
                    for (k, v) in m.iter().filter(|(k, _)| k.ends_with("_id")) {
                        out.insert(k.clone(), v.clone());
                    }
                }
                for path in select {
                    copy_path(&record, &mut out, &path.split('.').collect::<Vec<_>>());
                }
                Value::Object(out)
            })
            .collect()
    }

    pub fn filter(&self, search_fields: &'static [&'static str]) -> Result<Filter, Error> {
        let case_sensitive = self.case_sensitive.unwrap_or(false);
        let mut parts = Vec::new();
        if let Some(f) = self.filters.as_ref().filter(|f| !f.is_null()) {
            parts.push(Filter::parse(f, case_sensitive)?);
        }
        if let Some(term) = self.search.as_ref().filter(|s| !s.is_empty()) {
            let any = search_fields
                .iter()
                .map(|f| Filter::Cond {
                    field: f.to_string(),
                    op: Op::Contains,
                    value: json!(term),
                    case_sensitive,
                })
                .collect();
            parts.push(Filter::Or(any));
        }
        Ok(Filter::And(parts))
    }
}

/// Copies the value at `path` (if any) from `from` into `to`, creating parents.
fn copy_path(from: &Value, to: &mut serde_json::Map<String, Value>, path: &[&str]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    let Some(v) = from.get(*first) else { return };
    if rest.is_empty() {
        to.insert(first.to_string(), v.clone());
    } else if let Value::Object(child) = to
        .entry(first.to_string())
        .or_insert_with(|| Value::Object(Default::default()))
    {
        copy_path(v, child, rest);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    In,
    Nin,
    Contains,
    Exists,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Vec<Filter>),
    Cond {
        field: String,
        op: Op,
        value: Value,
        case_sensitive: bool,
    },
}

fn lookup<'a>(record: &'a Value, path: &str) -> Option<&'a Value> {
    let direct = path.split('.').try_fold(record, |v, seg| v.get(seg));
    // Object metadata fields may be named without the `metadata.` prefix.
    direct.or_else(|| {
        record
            .get("metadata")
            .and_then(|m| path.split('.').try_fold(m, |v, seg| v.get(seg)))
    })
}

fn fold(v: &Value, case_sensitive: bool) -> Value {
    match v {
        Value::String(s) if !case_sensitive => Value::String(s.to_lowercase()),
        other => other.clone(),
    }
}

fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

impl Filter {
    /// A request's optional `filters` (absent or null: none), case-insensitive.
    pub fn optional(v: Option<&Value>) -> Result<Option<Filter>, Error> {
        v.filter(|f| !f.is_null())
            .map(|f| Filter::parse(f, false))
            .transpose()
    }

    pub fn parse(v: &Value, case_sensitive: bool) -> Result<Filter, Error> {
        let obj = v
            .as_object()
            .ok_or_else(|| Error::field("filters", "must be an object"))?;
        let case_sensitive = obj
            .get("case_sensitive")
            .and_then(Value::as_bool)
            .unwrap_or(case_sensitive);
        let mut parts = Vec::new();
        for (k, val) in obj {
            let list = || -> Result<Vec<Filter>, Error> {
                val.as_array()
                    .ok_or_else(|| Error::field(format!("filters.{k}"), "must be a list"))?
                    .iter()
                    .map(|c| Filter::parse_condition(c, case_sensitive))
                    .collect()
            };
            match k.as_str() {
                "AND" | "and" => parts.push(Filter::And(list()?)),
                "OR" | "or" => parts.push(Filter::Or(list()?)),
                "NOT" | "not" => parts.push(Filter::Not(list()?)),
                "case_sensitive" => {}
                field => parts.push(Filter::Cond {
                    field: field.to_string(),
                    op: Op::Eq,
                    value: val.clone(),
                    case_sensitive,
                }),
            }
        }
        Ok(Filter::And(parts))
    }

    fn parse_condition(v: &Value, case_sensitive: bool) -> Result<Filter, Error> {
        let Some(field) = v.get("field").and_then(Value::as_str) else {
            return Filter::parse(v, case_sensitive);
        };
        let op = match v.get("operator").and_then(Value::as_str).unwrap_or("eq") {
            "eq" | "==" => Op::Eq,
            "ne" | "!=" => Op::Ne,
            "gt" => Op::Gt,
            "gte" => Op::Gte,
            "lt" => Op::Lt,
            "lte" => Op::Lte,
            "in" => Op::In,
            "nin" | "not_in" => Op::Nin,
            "contains" | "like" | "text" => Op::Contains,
            "exists" => Op::Exists,
            other => {
                return Err(Error::field(
                    "filters.operator",
                    format!("unsupported operator {other:?}"),
                ))
            }
        };
        Ok(Filter::Cond {
            field: field.to_string(),
            op,
            value: v.get("value").cloned().unwrap_or(Value::Null),
            case_sensitive,
        })
    }

    pub fn matches(&self, record: &Value) -> bool {
        match self {
            Filter::And(parts) => parts.iter().all(|p| p.matches(record)),
            Filter::Or(parts) => parts.is_empty() || parts.iter().any(|p| p.matches(record)),
            Filter::Not(parts) => !parts.iter().any(|p| p.matches(record)),
            Filter::Cond {
                field,
                op,
                value,
                case_sensitive,
            } => {
                let actual = lookup(record, field).map(|a| fold(a, *case_sensitive));
                let want = fold(value, *case_sensitive);
                match (op, actual) {
                    (Op::Exists, a) => a.is_some() == value.as_bool().unwrap_or(true),
                    (Op::Ne, a) => a.as_ref() != Some(&want),
                    (Op::Nin, a) => !want.as_array().is_some_and(|l| {
                        a.is_some_and(|a| l.iter().any(|w| fold(w, *case_sensitive) == a))
                    }),
                    (_, None) => false,
                    (Op::Eq, Some(a)) => a == want,
                    (Op::In, Some(a)) => want
                        .as_array()
                        .is_some_and(|l| l.iter().any(|w| fold(w, *case_sensitive) == a)),
                    (Op::Contains, Some(Value::String(a))) => {
                        want.as_str().is_some_and(|w| a.contains(w))
                    }
                    (Op::Contains, Some(Value::Array(a))) => a.contains(&want),
                    (Op::Contains, Some(_)) => false,
                    (Op::Gt, Some(a)) => compare(&a, &want) == Some(std::cmp::Ordering::Greater),
                    (Op::Gte, Some(a)) => {
                        compare(&a, &want).is_some_and(|o| o != std::cmp::Ordering::Less)
                    }
                    (Op::Lt, Some(a)) => compare(&a, &want) == Some(std::cmp::Ordering::Less),
                    (Op::Lte, Some(a)) => {
                        compare(&a, &want).is_some_and(|o| o != std::cmp::Ordering::Greater)
                    }
                }
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, Filter::And(p) if p.iter().all(Filter::is_empty))
    }

    /// The same filter in Amazon S3 Vectors' syntax, over flat keys that `field` maps a
    /// field name to (`None`: that field cannot be filtered on). `NOT` is pushed down
    /// to its conditions, which S3 Vectors can express.
    pub fn to_vector_filter(&self, field: &dyn Fn(&str) -> Option<String>) -> Result<Value, Error> {
        self.vector_filter(field, false)
    }

    fn vector_filter(
        &self,
        field: &dyn Fn(&str) -> Option<String>,
        negate: bool,
    ) -> Result<Value, Error> {
        let list = |parts: &[Filter], negate: bool| -> Result<Vec<Value>, Error> {
            parts
                .iter()
                .map(|p| p.vector_filter(field, negate))
                .collect()
        };
        Ok(match (self, negate) {
            (Filter::And(p), false) | (Filter::Not(p), false) if p.is_empty() => json!({}),
            (Filter::And(p), false) => json!({"$and": list(p, false)?}),
            (Filter::And(p), true) => json!({"$or": list(p, true)?}),
            (Filter::Or(p), false) => json!({"$or": list(p, false)?}),
            (Filter::Or(p), true) => json!({"$and": list(p, true)?}),
            // NOT [a, b] is "neither a nor b".
            (Filter::Not(p), false) => json!({"$and": list(p, true)?}),
            (Filter::Not(p), true) => json!({"$or": list(p, false)?}),
            (
                Filter::Cond {
                    field: name,
                    op,
                    value,
                    ..
                },
                negate,
            ) => {
                let key = field(name).ok_or_else(|| {
                    Error::field(
                        "filters",
                        format!("{name:?} cannot be filtered on here (use metadata.<key>, object_id, bucket_id or modality)"),
                    )
                })?;
                let op = match (op, negate) {
                    (Op::Eq, false) | (Op::Ne, true) => "$eq",
                    (Op::Ne, false) | (Op::Eq, true) => "$ne",
                    (Op::Gt, false) | (Op::Lte, true) => "$gt",
                    (Op::Gte, false) | (Op::Lt, true) => "$gte",
                    (Op::Lt, false) | (Op::Gte, true) => "$lt",
                    (Op::Lte, false) | (Op::Gt, true) => "$lte",
                    (Op::In, false) | (Op::Nin, true) => "$in",
                    (Op::Nin, false) | (Op::In, true) => "$nin",
                    (Op::Exists, _) => "$exists",
                    (Op::Contains, _) => {
                        return Err(Error::field(
                            "filters",
                            "contains is not supported in feature search; use eq or in",
                        ))
                    }
                };
                let value = match op {
                    "$exists" => json!(value.as_bool().unwrap_or(true) != negate),
                    _ => value.clone(),
                };
                json!({ key: { op: value } })
            }
        })
    }
}

/// Reads pages of `query` until `size` records pass `filter` (or the read bound is hit),
/// rendering each with `render`. Returns the results and the cursor to continue from.
pub async fn collect(
    table: &dyn Table,
    mut query: Query,
    size: usize,
    filter: &Filter,
    mut render: impl FnMut(Item) -> Result<Option<Value>, Error>,
) -> Result<(Vec<Value>, Option<String>), Error> {
    let mut results = Vec::new();
    for _ in 0..MAX_PAGES_PER_REQUEST {
        query.limit = size - results.len();
        let page = table.query(&query).await?;
        for item in page.items {
            if let Some(record) = render(item)? {
                if filter.matches(&record) {
                    results.push(record);
                }
            }
        }
        query.cursor = page.cursor;
        if results.len() >= size || query.cursor.is_none() {
            break;
        }
    }
    Ok((results, query.cursor))
}

/// Hands every item a query reaches, page by page, to `keep_going` until it says stop.
pub async fn each_item(
    table: &dyn Table,
    mut query: Query,
    mut keep_going: impl FnMut(Item) -> Result<bool, Error>,
) -> Result<(), Error> {
    loop {
        let page = table.query(&query).await?;
        for item in page.items {
            if !keep_going(item)? {
                return Ok(());
            }
        }
        query.cursor = page.cursor;
        if query.cursor.is_none() {
            return Ok(());
        }
    }
}

/// Every item a query reaches.
pub async fn all_items(table: &dyn Table, query: Query) -> Result<Vec<Item>, Error> {
    let mut out = Vec::new();
    each_item(table, query, |item| {
        out.push(item);
        Ok(true)
    })
    .await?;
    Ok(out)
}

/// Every record a query reaches.
pub async fn all_records<T: serde::de::DeserializeOwned>(
    table: &dyn Table,
    query: Query,
) -> Result<Vec<T>, Error> {
    all_items(table, query)
        .await?
        .into_iter()
        .map(from_item)
        .collect()
}

/// The list response shape the SDK reads.
pub fn page_json(
    results: Vec<Value>,
    next_cursor: Option<String>,
    page_size: usize,
    total: Option<i64>,
) -> Value {
    let count = results.len() as i64;
    json!({
        "results": results,
        "pagination": {
            "page_size": page_size,
            "next_cursor": next_cursor,
            "total": total,
            "total_pages": total.map(|t| (t + page_size as i64 - 1) / page_size as i64),
        },
        "total_count": total.unwrap_or(count),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_match_records() {
        let rec = json!({"bucket_name": "Photos", "metadata": {"price": 5, "tag": "a"}, "status": "PENDING"});
        let f = |v: Value| Filter::parse(&v, false).unwrap().matches(&rec);
        assert!(f(json!({"bucket_name": "photos"})));
        assert!(!Filter::parse(&json!({"bucket_name": "photos"}), true)
            .unwrap()
            .matches(&rec));
        assert!(f(json!({"metadata.price": 5})));
        assert!(f(json!({"price": 5})));
        assert!(f(
            json!({"AND": [{"field": "price", "operator": "gte", "value": 5}, {"field": "tag", "operator": "in", "value": ["a", "b"]}]})
        ));
        assert!(!f(
            json!({"OR": [{"field": "price", "operator": "lt", "value": 5}]})
        ));
        assert!(f(
            json!({"NOT": [{"field": "status", "operator": "eq", "value": "FAILED"}]})
        ));
        assert!(Filter::parse(
            &json!({"AND": [{"field": "x", "operator": "regex", "value": 1}]}),
            false
        )
        .is_err());
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert_eq!(
            ListRequest::default().page_size().unwrap(),
            DEFAULT_PAGE_SIZE
        );
        assert!(ListRequest {
            limit: Some(0),
            ..Default::default()
        }
        .page_size()
        .is_err());
        assert!(ListRequest {
            page_size: Some(1001),
            ..Default::default()
        }
        .page_size()
        .is_err());
        assert!(ListRequest {
            offset: Some(10),
            ..Default::default()
        }
        .cursor()
        .is_err());
    }
}
