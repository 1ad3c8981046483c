//! Metadata filters in Amazon S3 Vectors' syntax, evaluated here for indexes that are not
//! S3 Vectors, and the vector arithmetic exact search needs. No I/O.
//!
//! `{"genre": "drama"}` is `{"genre": {"$eq": "drama"}}`; several keys in one object are
//! ANDed; `$and`/`$or` take lists. A list-valued metadata field matches `$eq`/`$in` when
//! any of its elements does, as in S3 Vectors.

use std::cmp::Ordering;

use serde_json::{Map, Value};

/// Whether `metadata` passes `filter`. A malformed filter matches nothing (filters are
/// validated with [`check`] where they enter the system).
pub fn matches(filter: &Value, metadata: &Map<String, Value>) -> bool {
    CompiledFilter::new(filter).matches(metadata)
}

/// A filter parsed once, for testing many rows: operators resolved, so a row costs its
/// field lookups and comparisons only.
#[derive(Debug, Clone)]
pub enum CompiledFilter {
    All(Vec<CompiledFilter>),
    Any(Vec<CompiledFilter>),
    Field(String, Vec<Condition>),
    /// Malformed: matches nothing.
    Never,
}

#[derive(Debug, Clone)]
pub enum Condition {
    Eq(Value),
    Ne(Value),
    In(Vec<Value>),
    Nin(Vec<Value>),
    Exists(bool),
    Compare(Ordering, bool, Value),
    Never,
}

impl CompiledFilter {
    pub fn new(filter: &Value) -> Self {
        let Some(obj) = filter.as_object() else {
            return CompiledFilter::Never;
        };
        let list = |cond: &Value| {
            cond.as_array()
                .map(|l| l.iter().map(CompiledFilter::new).collect())
        };
        CompiledFilter::All(
            obj.iter()
                .map(|(key, cond)| match key.as_str() {
                    "$and" => list(cond).map_or(CompiledFilter::Never, CompiledFilter::All),
                    "$or" => list(cond).map_or(CompiledFilter::Never, CompiledFilter::Any),
                    field => CompiledFilter::Field(field.to_string(), conditions(cond)),
                })
                .collect(),
        )
    }

    pub fn matches(&self, metadata: &Map<String, Value>) -> bool {
        match self {
            CompiledFilter::All(l) => l.iter().all(|f| f.matches(metadata)),
            CompiledFilter::Any(l) => l.iter().any(|f| f.matches(metadata)),
            CompiledFilter::Field(key, conds) => {
                let actual = metadata.get(key);
                conds.iter().all(|c| c.holds(actual))
            }
            CompiledFilter::Never => false,
        }
    }
}

fn conditions(cond: &Value) -> Vec<Condition> {
    let Some(ops) = cond
        .as_object()
        .filter(|o| o.keys().all(|k| k.starts_with('$')))
    else {
        return vec![Condition::Eq(cond.clone())];
    };
    let values = |want: &Value| want.as_array().cloned();
    ops.iter()
        .map(|(op, want)| match op.as_str() {
            "$eq" => Condition::Eq(want.clone()),
            "$ne" => Condition::Ne(want.clone()),
            "$in" => values(want).map_or(Condition::Never, Condition::In),
            // A malformed `$nin` excludes nothing, as before.
            "$nin" => Condition::Nin(values(want).unwrap_or_default()),
            "$exists" => Condition::Exists(want.as_bool().unwrap_or(true)),
            "$gt" => Condition::Compare(Ordering::Greater, false, want.clone()),
            "$gte" => Condition::Compare(Ordering::Greater, true, want.clone()),
            "$lt" => Condition::Compare(Ordering::Less, false, want.clone()),
            "$lte" => Condition::Compare(Ordering::Less, true, want.clone()),
            _ => Condition::Never,
        })
        .collect()
}

impl Condition {
    fn holds(&self, actual: Option<&Value>) -> bool {
        match self {
            Condition::Eq(want) => equal(actual, want),
            Condition::Ne(want) => !equal(actual, want),
            Condition::In(l) => l.iter().any(|w| equal(actual, w)),
            Condition::Nin(l) => !l.iter().any(|w| equal(actual, w)),
            Condition::Exists(want) => actual.is_some() == *want,
            Condition::Compare(side, or_equal, want) => match order(actual, want) {
                Some(Ordering::Equal) => *or_equal,
                Some(o) => o == *side,
                None => false,
            },
            Condition::Never => false,
        }
    }
}

fn equal(actual: Option<&Value>, want: &Value) -> bool {
    match actual {
        Some(Value::Array(items)) if !want.is_array() => items.iter().any(|i| scalar_eq(i, want)),
        Some(a) => scalar_eq(a, want),
        None => false,
    }
}

fn scalar_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn order(actual: Option<&Value>, want: &Value) -> Option<Ordering> {
    match (actual?, want) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        _ => None,
    }
}

/// Why `filter` is not a filter this syntax can express, if it is not.
pub fn check(filter: &Value) -> Result<(), String> {
    let obj = filter
        .as_object()
        .ok_or_else(|| "a filter is an object".to_string())?;
    for (key, cond) in obj {
        match key.as_str() {
            "$and" | "$or" => {
                let list = cond
                    .as_array()
                    .ok_or_else(|| format!("{key} takes a list of filters"))?;
                list.iter().try_for_each(check)?;
            }
            k if k.starts_with('$') => return Err(format!("unknown operator {k}")),
            _ => {
                if let Some(ops) = cond.as_object() {
                    for (op, want) in ops {
                        let ok = match op.as_str() {
                            "$eq" | "$ne" => !want.is_object() && !want.is_array(),
                            "$in" | "$nin" => want.is_array(),
                            "$exists" => want.is_boolean(),
                            "$gt" | "$gte" | "$lt" | "$lte" => want.is_number(),
                            _ => return Err(format!("unknown operator {op}")),
                        };
                        if !ok {
                            return Err(format!("{op} on {key:?} has a value of the wrong type"));
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// `v` scaled to unit length (a zero vector stays zero).
pub fn normalized(mut v: Vec<f32>) -> Vec<f32> {
    let norm = dot(&v, &v).sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

/// Dot product with independent accumulators, so the compiler can vectorise it.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = a.len() / 8 * 8;
    for (x, y) in a[..chunks].chunks_exact(8).zip(b[..chunks].chunks_exact(8)) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let tail: f32 = a[chunks..]
        .iter()
        .zip(&b[chunks..])
        .map(|(x, y)| x * y)
        .sum();
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn filters_follow_s3_vectors_semantics() {
        let m = meta(json!({"genre": "drama", "year": 2020, "tags": ["a", "b"]}));
        assert!(matches(&json!({"genre": "drama"}), &m));
        assert!(matches(&json!({"tags": {"$eq": "b"}}), &m));
        assert!(matches(&json!({"tags": {"$in": ["z", "a"]}}), &m));
        assert!(!matches(&json!({"tags": {"$nin": ["a"]}}), &m));
        assert!(matches(&json!({"year": {"$gte": 2020, "$lt": 2021}}), &m));
        assert!(!matches(&json!({"year": {"$gt": 2020}}), &m));
        assert!(matches(
            &json!({"$or": [{"genre": "comedy"}, {"year": 2020}]}),
            &m
        ));
        assert!(!matches(
            &json!({"$and": [{"genre": "drama"}, {"missing": {"$exists": true}}]}),
            &m
        ));
        assert!(matches(&json!({"missing": {"$exists": false}}), &m));
        assert!(matches(&json!({"missing": {"$ne": 1}}), &m));
        assert!(check(&json!({"year": {"$gt": "x"}})).is_err());
        assert!(check(&json!({"$not": []})).is_err());
        assert!(check(&json!({"$or": [{"a": {"$in": [1]}}]})).is_ok());
    }

    #[test]
    fn dot_matches_naive_sum() {
        let a: Vec<f32> = (0..387).map(|i| (i as f32).sin()).collect();
        let b: Vec<f32> = (0..387).map(|i| (i as f32).cos()).collect();
        let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-3);
        let n = normalized(a);
        assert!((dot(&n, &n) - 1.0).abs() < 1e-5);
    }
}
