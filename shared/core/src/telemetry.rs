//! Structured logs: JSON lines (Lambda, CloudWatch) or human-readable (a terminal).

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// `SLUICE_LOG` holds `level` or `target=level,...` (e.g. `info,sluice=debug`). A
/// `Targets` filter, not `EnvFilter`: it needs no regex engine in every Lambda binary.
pub fn init(json: bool) {
    let filter: Targets = std::env::var("SLUICE_LOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
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
