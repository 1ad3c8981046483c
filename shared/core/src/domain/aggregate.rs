//! Group-by aggregation over records (documents, objects), as Mixpeek's aggregate
//! routes take it: groups by fields (with date truncation or parts, or numeric ranges),
//! metrics per group, `having`, sort and limit. Records stream through [`Aggregator::add`];
//! it holds one accumulator per group, never the records, and refuses more than
//! [`MAX_GROUPS`] groups.

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::schema::FieldError;

/// Groups one aggregation may hold.
pub const MAX_GROUPS: usize = 10_000;
/// Values `push` and `add_to_set` keep per group.
const MAX_LISTED: usize = 1_000;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Aggregation {
    #[serde(default)]
    pub group_by: Vec<GroupBy>,
    pub aggregations: Vec<Metric>,
    /// The list filter syntax, applied before grouping (by the caller).
    pub filters: Option<Value>,
    pub having: Option<Vec<Having>>,
    /// A list field: each of its elements counts as a record of its own.
    pub unwind: Option<String>,
    pub range_buckets: Option<Vec<RangeBuckets>>,
    /// A group field or metric alias.
    pub sort_by: Option<String>,
    /// `asc` or `desc` (default).
    pub sort_direction: Option<String>,
    /// Groups returned, 1 to 1 000 (100 by default).
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupBy {
    pub field: String,
    pub alias: Option<String>,
    pub date_trunc: Option<String>,
    pub date_part: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Function {
    Count,
    CountDistinct,
    Sum,
    Avg,
    Min,
    Max,
    First,
    Last,
    Push,
    AddToSet,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Metric {
    pub function: Function,
    pub field: Option<String>,
    pub alias: String,
    pub distinct_field: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Having {
    pub field: String,
    /// `eq`, `ne`, `gt`, `gte`, `lt`, `lte`.
    pub operator: String,
    pub value: Value,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RangeBuckets {
    pub field: String,
    /// Ascending lower bounds: a value falls in `[b[i], b[i+1])`.
    pub boundaries: Vec<f64>,
    pub default_bucket: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct GroupResult {
    pub group: Map<String, Value>,
    pub metrics: Map<String, Value>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AggregationResult {
    pub results: Vec<GroupResult>,
    pub total_groups: usize,
    pub query_info: Value,
}

enum Acc {
    Count(u64),
    Distinct(BTreeSet<String>),
    Sum(f64),
    Avg(f64, u64),
    Min(Option<Value>),
    Max(Option<Value>),
    First(Option<Value>),
    Last(Option<Value>),
    Push(Vec<Value>),
    Set(BTreeSet<String>),
}

pub struct Aggregator {
    spec: Aggregation,
    limit: usize,
    groups: BTreeMap<String, (Map<String, Value>, Vec<Acc>)>,
    records: u64,
}

fn bad(field: impl Into<String>, reason: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        reason: reason.into(),
    }
}

/// The value at a dotted path (`metadata.category`).
pub fn lookup<'a>(record: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(record, |v, k| v.get(k))
}

impl Aggregator {
    pub fn new(spec: Aggregation) -> Result<Self, FieldError> {
        if spec.aggregations.is_empty() {
            return Err(bad("aggregations", "name at least one"));
        }
        for (i, m) in spec.aggregations.iter().enumerate() {
            let needs_field = !matches!(m.function, Function::Count);
            let field = m.field.as_ref().or(m.distinct_field.as_ref());
            if needs_field && field.is_none() {
                return Err(bad(
                    format!("aggregations[{i}].field"),
                    "this function needs a field",
                ));
            }
        }
        for (i, g) in spec.group_by.iter().enumerate() {
            if let Some(u) = &g.date_trunc {
                truncate("2000-01-01T00:00:00Z", u).ok_or_else(|| {
                    bad(
                        format!("group_by[{i}].date_trunc"),
                        format!("{u:?} is not a unit"),
                    )
                })?;
            }
            if let Some(p) = &g.date_part {
                part("2000-01-01T00:00:00Z", p).ok_or_else(|| {
                    bad(
                        format!("group_by[{i}].date_part"),
                        format!("{p:?} is not a part"),
                    )
                })?;
            }
        }
        for (i, r) in spec.range_buckets.iter().flatten().enumerate() {
            if r.boundaries.len() < 2 || r.boundaries.windows(2).any(|w| w[0] >= w[1]) {
                return Err(bad(
                    format!("range_buckets[{i}].boundaries"),
                    "two or more, ascending",
                ));
            }
        }
        let limit = match spec.limit.unwrap_or(100) {
            n @ 1..=1000 => n as usize,
            _ => return Err(bad("limit", "must be 1 to 1000")),
        };
        Ok(Aggregator {
            spec,
            limit,
            groups: BTreeMap::new(),
            records: 0,
        })
    }

    /// Returns up to `n` groups (distinct values allow more than an aggregation's 1 000).
    pub fn limited(mut self, n: usize) -> Self {
        self.limit = n;
        self
    }

    /// Adds a record (each element of its `unwind` list, when there is one).
    pub fn add(&mut self, record: &Value) -> Result<(), FieldError> {
        let unwound = self.spec.unwind.as_ref().and_then(|f| {
            lookup(record, f)
                .and_then(Value::as_array)
                .map(|a| (f.clone(), a.clone()))
        });
        match unwound {
            Some((field, items)) => {
                for item in items {
                    let mut one = record.clone();
                    set_path(&mut one, &field, item);
                    self.add_one(&one)?;
                }
                Ok(())
            }
            None => self.add_one(record),
        }
    }

    fn add_one(&mut self, record: &Value) -> Result<(), FieldError> {
        self.records += 1;
        let group = self.group_of(record);
        let key = Value::Object(group.clone()).to_string();
        if !self.groups.contains_key(&key) && self.groups.len() >= MAX_GROUPS {
            return Err(bad(
                "group_by",
                format!(
                    "makes more than {MAX_GROUPS} groups; group by fewer values or filter first"
                ),
            ));
        }
        let metrics = &self.spec.aggregations;
        let (_, accs) = self.groups.entry(key).or_insert_with(|| {
            (
                group,
                metrics.iter().map(|m| Acc::new(m.function)).collect(),
            )
        });
        for (acc, m) in accs.iter_mut().zip(metrics) {
            let field = m.distinct_field.as_ref().or(m.field.as_ref());
            acc.add(field.and_then(|f| lookup(record, f)));
        }
        Ok(())
    }

    fn group_of(&self, record: &Value) -> Map<String, Value> {
        let mut group = Map::new();
        for g in &self.spec.group_by {
            let value = lookup(record, &g.field).cloned().unwrap_or(Value::Null);
            let value = match (&g.date_trunc, &g.date_part, value.as_str()) {
                (Some(unit), _, Some(t)) => {
                    truncate(t, unit).map(Value::from).unwrap_or(Value::Null)
                }
                (_, Some(p), Some(t)) => part(t, p).map(Value::from).unwrap_or(Value::Null),
                _ => value,
            };
            group.insert(g.alias.clone().unwrap_or_else(|| g.field.clone()), value);
        }
        for r in self.spec.range_buckets.iter().flatten() {
            let x = lookup(record, &r.field).and_then(Value::as_f64);
            group.insert(r.field.clone(), bucket_label(r, x));
        }
        group
    }

    pub fn finish(self) -> AggregationResult {
        let mut results: Vec<GroupResult> = self
            .groups
            .into_values()
            .map(|(group, accs)| GroupResult {
                group,
                metrics: self
                    .spec
                    .aggregations
                    .iter()
                    .zip(accs)
                    .map(|(m, a)| (m.alias.clone(), a.value()))
                    .collect(),
            })
            .filter(|r| self.spec.having.iter().flatten().all(|h| holds(h, r)))
            .collect();
        let total_groups = results.len();
        let desc = self.spec.sort_direction.as_deref() != Some("asc");
        let sort_by = self.spec.sort_by.clone();
        results.sort_by(|a, b| {
            let key = |r: &GroupResult| match &sort_by {
                Some(k) => r
                    .metrics
                    .get(k)
                    .or_else(|| r.group.get(k))
                    .cloned()
                    .unwrap_or(Value::Null),
                None => r.metrics.values().next().cloned().unwrap_or(Value::Null),
            };
            let order = compare(&key(a), &key(b));
            if desc {
                order.reverse()
            } else {
                order
            }
        });
        results.truncate(self.limit);
        AggregationResult {
            results,
            total_groups,
            query_info: json!({"records_scanned": self.records, "max_groups": MAX_GROUPS}),
        }
    }
}

impl Acc {
    fn new(f: Function) -> Acc {
        match f {
            Function::Count => Acc::Count(0),
            Function::CountDistinct => Acc::Distinct(BTreeSet::new()),
            Function::Sum => Acc::Sum(0.0),
            Function::Avg => Acc::Avg(0.0, 0),
            Function::Min => Acc::Min(None),
            Function::Max => Acc::Max(None),
            Function::First => Acc::First(None),
            Function::Last => Acc::Last(None),
            Function::Push => Acc::Push(Vec::new()),
            Function::AddToSet => Acc::Set(BTreeSet::new()),
        }
    }

    fn add(&mut self, v: Option<&Value>) {
        let present = v.filter(|v| !v.is_null());
        match (self, present) {
            (Acc::Count(n), _) => *n += 1,
            (Acc::Distinct(s), Some(v)) => {
                s.insert(v.to_string());
            }
            (Acc::Sum(s), Some(v)) => *s += v.as_f64().unwrap_or(0.0),
            (Acc::Avg(s, n), Some(v)) if v.is_number() => {
                *s += v.as_f64().unwrap_or(0.0);
                *n += 1;
            }
            (Acc::Min(m), Some(v)) if m.as_ref().is_none_or(|m| compare(v, m).is_lt()) => {
                *m = Some(v.clone())
            }
            (Acc::Max(m), Some(v)) if m.as_ref().is_none_or(|m| compare(v, m).is_gt()) => {
                *m = Some(v.clone())
            }
            (Acc::First(f @ None), Some(v)) => *f = Some(v.clone()),
            (Acc::Last(l), Some(v)) => *l = Some(v.clone()),
            (Acc::Push(p), Some(v)) if p.len() < MAX_LISTED => p.push(v.clone()),
            (Acc::Set(s), Some(v)) if s.len() < MAX_LISTED => {
                s.insert(v.to_string());
            }
            _ => {}
        }
    }

    fn value(self) -> Value {
        match self {
            Acc::Count(n) => json!(n),
            Acc::Distinct(s) => json!(s.len()),
            Acc::Sum(s) => json!(s),
            Acc::Avg(_, 0) => Value::Null,
            Acc::Avg(s, n) => json!(s / n as f64),
            Acc::Min(v) | Acc::Max(v) | Acc::First(v) | Acc::Last(v) => v.unwrap_or(Value::Null),
            Acc::Push(p) => Value::Array(p),
            Acc::Set(s) => s
                .iter()
                .filter_map(|x| serde_json::from_str::<Value>(x).ok())
                .collect(),
        }
    }
}

/// Numbers by value, then strings, then anything else by its JSON.
pub fn compare(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        _ => match (a.as_str(), b.as_str()) {
            (Some(x), Some(y)) => x.cmp(y),
            _ => a.to_string().cmp(&b.to_string()),
        },
    }
}

fn holds(h: &Having, r: &GroupResult) -> bool {
    let Some(v) = r.metrics.get(&h.field).or_else(|| r.group.get(&h.field)) else {
        return false;
    };
    let o = compare(v, &h.value);
    match h.operator.as_str() {
        "eq" => o.is_eq(),
        "ne" => o.is_ne(),
        "gt" => o.is_gt(),
        "gte" => o.is_ge(),
        "lt" => o.is_lt(),
        "lte" => o.is_le(),
        _ => false,
    }
}

fn bucket_label(r: &RangeBuckets, x: Option<f64>) -> Value {
    let found = x.and_then(|x| {
        r.boundaries
            .windows(2)
            .find(|w| w[0] <= x && x < w[1])
            .map(|w| format!("{}-{}", w[0], w[1]))
    });
    found
        .map(Value::from)
        .or_else(|| r.default_bucket.clone().map(Value::from))
        .unwrap_or(Value::Null)
}

fn set_path(record: &mut Value, path: &str, value: Value) {
    let mut at = record;
    let mut parts = path.split('.').peekable();
    while let Some(k) = parts.next() {
        if parts.peek().is_none() {
            if let Some(m) = at.as_object_mut() {
                m.insert(k.to_string(), value);
            }
            return;
        }
        match at.get_mut(k) {
            Some(next) => at = next,
            None => return,
        }
    }
}

fn truncate(t: &str, unit: &str) -> Option<String> {
    let t = OffsetDateTime::parse(t, &Rfc3339).ok()?;
    let day = t.replace_time(time::Time::MIDNIGHT);
    let cut = match unit {
        "year" => day
            .replace_month(time::Month::January)
            .ok()?
            .replace_day(1)
            .ok()?,
        "month" => day.replace_day(1).ok()?,
        "week" => day - time::Duration::days(t.weekday().number_days_from_monday() as i64),
        "day" => day,
        "hour" => t
            .replace_minute(0)
            .ok()?
            .replace_second(0)
            .ok()?
            .replace_nanosecond(0)
            .ok()?,
        "minute" => t.replace_second(0).ok()?.replace_nanosecond(0).ok()?,
        "second" => t.replace_nanosecond(0).ok()?,
        _ => return None,
    };
    cut.format(&Rfc3339).ok()
}

fn part(t: &str, unit: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(t, &Rfc3339).ok()?;
    Some(match unit {
        "year" => t.year() as i64,
        "month" => t.month() as i64,
        "week" => t.iso_week() as i64,
        "day" => t.day() as i64,
        "dayOfWeek" => t.weekday().number_from_sunday() as i64,
        "dayOfYear" => t.ordinal() as i64,
        "hour" => t.hour() as i64,
        "minute" => t.minute() as i64,
        "second" => t.second() as i64,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(v: Value) -> Aggregation {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn groups_metrics_having_sort_and_limit() {
        let mut a = Aggregator::new(spec(json!({
            "group_by": [{"field": "metadata.kind"}],
            "aggregations": [
                {"function": "count", "alias": "n"},
                {"function": "sum", "field": "metadata.price", "alias": "total"},
                {"function": "avg", "field": "metadata.price", "alias": "mean"},
                {"function": "max", "field": "metadata.price", "alias": "top"},
                {"function": "count_distinct", "field": "metadata.color", "alias": "colors"},
            ],
            "having": [{"field": "n", "operator": "gte", "value": 2}],
            "sort_by": "total",
        })))
        .unwrap();
        for (kind, price, color) in [
            ("a", 1, "red"),
            ("a", 3, "red"),
            ("b", 10, "blue"),
            ("b", 20, "green"),
            ("c", 5, "red"),
        ] {
            a.add(&json!({"metadata": {"kind": kind, "price": price, "color": color}}))
                .unwrap();
        }
        let r = a.finish();
        assert_eq!(r.total_groups, 2, "c has one record and fails having");
        assert_eq!(r.results[0].group["metadata.kind"], "b");
        assert_eq!(r.results[0].metrics["total"], json!(30.0));
        assert_eq!(r.results[0].metrics["mean"], json!(15.0));
        assert_eq!(r.results[0].metrics["top"], json!(20));
        assert_eq!(r.results[0].metrics["colors"], json!(2));
        assert_eq!(r.results[1].metrics["n"], json!(2));
    }

    #[test]
    fn dates_ranges_and_unwind() {
        let mut a = Aggregator::new(spec(json!({
            "group_by": [{"field": "created_at", "date_trunc": "month", "alias": "month"}],
            "range_buckets": [{"field": "size", "boundaries": [0, 10, 100], "default_bucket": "huge"}],
            "unwind": "tags",
            "aggregations": [{"function": "add_to_set", "field": "tags", "alias": "tags"}],
        })))
        .unwrap();
        a.add(&json!({"created_at": "2026-03-14T10:00:00Z", "size": 5, "tags": ["x", "y"]}))
            .unwrap();
        a.add(&json!({"created_at": "2026-03-20T10:00:00Z", "size": 500, "tags": ["x"]}))
            .unwrap();
        let r = a.finish();
        let groups: Vec<_> = r
            .results
            .iter()
            .map(|g| (g.group["month"].clone(), g.group["size"].clone()))
            .collect();
        assert!(groups.contains(&(json!("2026-03-01T00:00:00Z"), json!("0-10"))));
        assert!(groups.contains(&(json!("2026-03-01T00:00:00Z"), json!("huge"))));
        let small = r
            .results
            .iter()
            .find(|g| g.group["size"] == "0-10")
            .unwrap();
        assert_eq!(small.metrics["tags"], json!(["x", "y"]));
    }

    #[test]
    fn refusals_name_the_field() {
        let e = Aggregator::new(spec(
            json!({"aggregations": [{"function": "sum", "alias": "s"}]}),
        ))
        .err()
        .unwrap();
        assert_eq!(e.field, "aggregations[0].field");
        let e = Aggregator::new(spec(
            json!({"aggregations": [{"function": "count", "alias": "n"}], "limit": 0}),
        ))
        .err()
        .unwrap();
        assert_eq!(e.field, "limit");
        let e = Aggregator::new(spec(json!({"aggregations": [{"function": "count", "alias": "n"}], "group_by": [{"field": "t", "date_trunc": "fortnight"}]}))).err().unwrap();
        assert_eq!(e.field, "group_by[0].date_trunc");
    }
}
