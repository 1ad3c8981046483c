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
    let Some(obj) = filter.as_object() else {
        return false;
    };
    obj.iter().all(|(key, cond)| match key.as_str() {
        "$and" => cond
            .as_array()
            .is_some_and(|l| l.iter().all(|f| matches(f, metadata))),
        "$or" => cond
            .as_array()
            .is_some_and(|l| l.iter().any(|f| matches(f, metadata))),
        field => field_matches(metadata.get(field), cond),
    })
}

fn field_matches(actual: Option<&Value>, cond: &Value) -> bool {
    let Some(ops) = cond
        .as_object()
        .filter(|o| o.keys().all(|k| k.starts_with('$')))
    else {
        return equal(actual, cond);
    };
    ops.iter().all(|(op, want)| match op.as_str() {
        "$eq" => equal(actual, want),
        "$ne" => !equal(actual, want),
        "$in" => want
            .as_array()
            .is_some_and(|l| l.iter().any(|w| equal(actual, w))),
        "$nin" => !want
            .as_array()
            .is_some_and(|l| l.iter().any(|w| equal(actual, w))),
        "$exists" => actual.is_some() == want.as_bool().unwrap_or(true),
        "$gt" => order(actual, want) == Some(Ordering::Greater),
        "$gte" => matches!(
            order(actual, want),
            Some(Ordering::Greater | Ordering::Equal)
        ),
        "$lt" => order(actual, want) == Some(Ordering::Less),
        "$lte" => matches!(order(actual, want), Some(Ordering::Less | Ordering::Equal)),
        _ => false,
    })
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
