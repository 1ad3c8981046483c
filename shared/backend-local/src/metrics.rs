//! Business figures on `sluice-local`: a Prometheus registry (`GET /metrics` renders it
//! in the OpenMetrics text format Prometheus scrapes), and a debug line in the log for
//! each measurement.

use std::sync::Mutex;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};
use sluice_core::ports::{Figure, LoggedMetrics, Measurement, Metrics, Unit as FigureUnit};

/// A figure's label: its dimension's name (lowercase, as Prometheus labels are) and value.
type Labels = Vec<(String, String)>;

pub struct PrometheusMetrics {
    registry: Mutex<Registry>,
    series: Vec<(Figure, Series)>,
}

/// A figure's series: a count or a distribution of times, split by its dimension or not.
enum Series {
    Count(Counter<f64>),
    Counts(Family<Labels, Counter<f64>>),
    Times(Histogram),
    TimesBy(Family<Labels, Histogram>),
}

/// 1 ms to about 9 hours, doubling.
fn time_buckets() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 25))
}

impl Default for PrometheusMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl PrometheusMetrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("sluice");
        let mut series = Vec::new();
        for figure in Figure::ALL {
            let (name, help) = (snake(figure.name()), figure.help());
            let split = figure.dimension().is_some();
            let s = match (figure.unit(), split) {
                (FigureUnit::Count, false) => {
                    let c = Counter::<f64>::default();
                    registry.register(name, help, c.clone());
                    Series::Count(c)
                }
                (FigureUnit::Count, true) => {
                    let f = Family::<Labels, Counter<f64>>::default();
                    registry.register(name, help, f.clone());
                    Series::Counts(f)
                }
                (FigureUnit::Milliseconds, false) => {
                    let h = time_buckets();
                    registry.register_with_unit(name, help, millis(), h.clone());
                    Series::Times(h)
                }
                (FigureUnit::Milliseconds, true) => {
                    let f = Family::<Labels, Histogram>::new_with_constructor(time_buckets);
                    registry.register_with_unit(name, help, millis(), f.clone());
                    Series::TimesBy(f)
                }
            };
            series.push((figure, s));
        }
        PrometheusMetrics {
            registry: Mutex::new(registry),
            series,
        }
    }

    /// The registry in the OpenMetrics text format (Prometheus's exposition format).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        encode(&mut out, &registry).expect("writing to a String does not fail");
        out
    }
}

fn millis() -> Unit {
    Unit::Other("milliseconds".into())
}

impl Metrics for PrometheusMetrics {
    fn record(&self, m: Measurement) {
        let labels: Labels = match (m.figure.dimension(), &m.label) {
            (Some(dim), Some(value)) => vec![(dim.to_ascii_lowercase(), value.clone())],
            _ => Vec::new(),
        };
        if let Some((_, series)) = self.series.iter().find(|(f, _)| *f == m.figure) {
            match series {
                Series::Count(c) => {
                    c.inc_by(m.value);
                }
                Series::Counts(f) => {
                    f.get_or_create(&labels).inc_by(m.value);
                }
                Series::Times(h) => h.observe(m.value),
                Series::TimesBy(f) => f.get_or_create(&labels).observe(m.value),
            }
        }
        LoggedMetrics.record(m);
    }
}

/// `ObjectsRegistered` → `objects_registered`.
fn snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measurements_render_as_prometheus_text() {
        let m = PrometheusMetrics::new();
        m.record(Measurement::objects_registered(3));
        m.record(Measurement::objects_failed("extract", 2));
        m.record(Measurement::extraction_time("text", 12));
        let text = m.render();
        assert!(
            text.contains("\nsluice_objects_registered_total 3.0\n"),
            "{text}"
        );
        assert!(
            text.contains("\nsluice_objects_failed_total{stage=\"extract\"} 2.0\n"),
            "{text}"
        );
        assert!(
            text.contains("\nsluice_extraction_time_milliseconds_count{modality=\"text\"} 1\n"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
