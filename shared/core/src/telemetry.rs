//! Structured logs: JSON lines (Lambda, CloudWatch) or human-readable (a terminal).

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// `SLUICE_LOG` holds `level` or `target=level,...` (e.g. `info,sluice=debug`). By
/// default Sluice's own crates log at INFO and libraries (ONNX Runtime, the AWS SDK,
/// hyper) only warnings: a first start shows Sluice's lines. A `Targets` filter, not
/// `EnvFilter`: it needs no regex engine in every Lambda binary.
pub fn init(json: bool) {
    let filter: Targets = std::env::var("SLUICE_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(default_filter);
    let registry = tracing_subscriber::registry().with(filter);
    let _ = if json {
        let layer = tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_writer(std::io::stderr);
        registry.with(layer).try_init()
    } else {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .compact()
                    .with_writer(std::io::stderr),
            )
            .try_init()
    };
}

/// INFO from Sluice's crates (targets `sluice_*`), WARN from everything else.
fn default_filter() -> Targets {
    Targets::new()
        .with_default(tracing::Level::WARN)
        .with_target("sluice", tracing::Level::INFO)
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::filter::Targets;

    #[test]
    fn libraries_are_quiet_by_default() {
        let f = super::default_filter();
        let at = |target: &str, level| f.would_enable(target, &level);
        assert!(at("sluice_local", tracing::Level::INFO));
        assert!(at("sluice_core::jobs", tracing::Level::INFO));
        assert!(!at("ort::logging", tracing::Level::INFO));
        assert!(!at("aws_config::imds", tracing::Level::INFO));
        assert!(at("aws_config::imds", tracing::Level::WARN));
        let _: Targets = f;
    }
}
