//! Business figures: what an operator charts and alarms on, recorded where they happen.
//! An adapter writes them out: CloudWatch embedded-metric-format lines in Lambda, a
//! Prometheus registry (`GET /metrics`) on `sluice-local`, a list in tests.

/// What is measured. Names and units are the adapters' metric names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Figure {
    /// Objects registered (by the API, uploads or syncs).
    ObjectsRegistered,
    /// Objects a batch processed into documents.
    ObjectsProcessed,
    /// Objects a batch failed, by the stage that failed (`Stage`).
    ObjectsFailed,
    /// From a batch's submit to its end, by how it ended (`Status`).
    BatchDuration,
    /// Files a sync page went through, by what became of them (`Outcome`).
    SyncFiles,
    /// Webhook delivery attempts, by their result (`Result`).
    WebhookAttempts,
    /// Extracting one object's documents, by its modality (`Modality`).
    ExtractionTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Figure {
    pub const ALL: [Figure; 7] = [
        Figure::ObjectsRegistered,
        Figure::ObjectsProcessed,
        Figure::ObjectsFailed,
        Figure::BatchDuration,
        Figure::SyncFiles,
        Figure::WebhookAttempts,
        Figure::ExtractionTime,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Figure::ObjectsRegistered => "ObjectsRegistered",
            Figure::ObjectsProcessed => "ObjectsProcessed",
            Figure::ObjectsFailed => "ObjectsFailed",
            Figure::BatchDuration => "BatchDuration",
            Figure::SyncFiles => "SyncFiles",
            Figure::WebhookAttempts => "WebhookAttempts",
            Figure::ExtractionTime => "ExtractionTime",
        }
    }

    pub fn unit(self) -> Unit {
        match self {
            Figure::BatchDuration | Figure::ExtractionTime => Unit::Milliseconds,
            _ => Unit::Count,
        }
    }

    /// The dimension it is split by, if any.
    pub fn dimension(self) -> Option<&'static str> {
        match self {
            Figure::ObjectsFailed => Some("Stage"),
            Figure::BatchDuration => Some("Status"),
            Figure::SyncFiles => Some("Outcome"),
            Figure::WebhookAttempts => Some("Result"),
            Figure::ExtractionTime => Some("Modality"),
            Figure::ObjectsRegistered | Figure::ObjectsProcessed => None,
        }
    }

    pub fn help(self) -> &'static str {
        match self {
            Figure::ObjectsRegistered => "Objects registered (API, uploads, syncs)",
            Figure::ObjectsProcessed => "Objects batches processed into documents",
            Figure::ObjectsFailed => "Objects batches failed, by stage",
            Figure::BatchDuration => "Batch submit-to-end time, by outcome",
            Figure::SyncFiles => "Files sync pages went through, by outcome",
            Figure::WebhookAttempts => "Webhook delivery attempts, by result",
            Figure::ExtractionTime => "Time to extract one object's documents, by modality",
        }
    }
}

/// One measurement: a figure, its value, and its dimension's value when it has one.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    pub figure: Figure,
    pub value: f64,
    pub label: Option<String>,
}

impl Measurement {
    fn of(figure: Figure, value: f64, label: Option<&str>) -> Self {
        debug_assert_eq!(figure.dimension().is_some(), label.is_some());
        Measurement {
            figure,
            value,
            label: label.map(str::to_string),
        }
    }
    pub fn objects_registered(n: usize) -> Self {
        Self::of(Figure::ObjectsRegistered, n as f64, None)
    }
    pub fn objects_processed(n: usize) -> Self {
        Self::of(Figure::ObjectsProcessed, n as f64, None)
    }
    pub fn objects_failed(stage: &str, n: usize) -> Self {
        Self::of(Figure::ObjectsFailed, n as f64, Some(stage))
    }
    pub fn batch_duration(status: &str, millis: u64) -> Self {
        Self::of(Figure::BatchDuration, millis as f64, Some(status))
    }
    pub fn sync_files(outcome: &str, n: i64) -> Self {
        Self::of(Figure::SyncFiles, n as f64, Some(outcome))
    }
    pub fn webhook_attempt(delivered: bool) -> Self {
        let result = if delivered { "delivered" } else { "failed" };
        Self::of(Figure::WebhookAttempts, 1.0, Some(result))
    }
    pub fn extraction_time(modality: &str, millis: u64) -> Self {
        Self::of(Figure::ExtractionTime, millis as f64, Some(modality))
    }
}

pub trait Metrics: Send + Sync {
    /// Records a measurement; never fails the work it measures.
    fn record(&self, m: Measurement);
}

/// Measurements go to the log (at debug, target `sluice_metrics`): the default of a
/// process that has no other writer.
pub struct LoggedMetrics;

impl Metrics for LoggedMetrics {
    fn record(&self, m: Measurement) {
        tracing::debug!(
            target: "sluice_metrics",
            metric = m.figure.name(),
            value = m.value,
            label = m.label.as_deref().unwrap_or(""),
            "metric"
        );
    }
}
