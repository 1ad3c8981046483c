//! Business figures as CloudWatch embedded-metric-format lines on stdout, in the shape
//! Powertools for AWS Lambda writes (a `service` dimension on every metric), so its
//! tooling and dashboards read them. CloudWatch Logs turns each line into metrics; no
//! API call is made.

use std::io::Write as _;

use serde_json::{json, Map, Value};
use sluice_core::ports::{Measurement, Metrics, Unit};

pub struct EmfMetrics {
    namespace: String,
    service: String,
}

impl EmfMetrics {
    pub fn new(namespace: impl Into<String>, service: impl Into<String>) -> Self {
        EmfMetrics {
            namespace: namespace.into(),
            service: service.into(),
        }
    }

    /// One measurement's line.
    pub fn line(&self, m: &Measurement, timestamp_ms: i64) -> Value {
        let name = m.figure.name();
        let unit = match m.figure.unit() {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        };
        let mut dimensions = vec!["service"];
        let mut line = Map::new();
        line.insert("service".into(), json!(self.service));
        if let (Some(dim), Some(value)) = (m.figure.dimension(), &m.label) {
            dimensions.push(dim);
            line.insert(dim.into(), json!(value));
        }
        line.insert(name.into(), json!(m.value));
        line.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": [dimensions],
                    "Metrics": [{"Name": name, "Unit": unit}],
                }],
            }),
        );
        Value::Object(line)
    }
}

impl Metrics for EmfMetrics {
    fn record(&self, m: Measurement) {
        let now = time::OffsetDateTime::now_utc();
        let ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
        let line = self.line(&m, ms).to_string();
        // One write per line, so lines from concurrent invocations never interleave.
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_embedded_metric_format_with_its_dimension() {
        let emf = EmfMetrics::new("Sluice", "sluice");
        let line = emf.line(
            &Measurement::objects_failed("extract", 2),
            1_700_000_000_000,
        );
        assert_eq!(line["ObjectsFailed"], 2.0);
        assert_eq!(line["Stage"], "extract");
        assert_eq!(line["service"], "sluice");
        let spec = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(spec["Namespace"], "Sluice");
        assert_eq!(spec["Dimensions"], json!([["service", "Stage"]]));
        assert_eq!(
            spec["Metrics"],
            json!([{"Name": "ObjectsFailed", "Unit": "Count"}])
        );
        assert_eq!(line["_aws"]["Timestamp"], 1_700_000_000_000i64);
    }
}
