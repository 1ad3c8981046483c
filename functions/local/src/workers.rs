//! The local stand-ins for the schedules: the sweeper and the sync poller.

use sluice_core::AppContext;
use tokio::sync::watch;

/// The local stand-in for the scheduled sweeper.
pub(crate) async fn sweep(ctx: AppContext, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(ctx.config.sweep);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        if let Err(e) = sluice_core::jobs::sweep(&ctx).await {
            tracing::warn!(error = %e, "sweep failed");
        }
    }
}

/// The local stand-in for the sync poller's EventBridge schedule.
pub(crate) async fn poll_syncs(ctx: AppContext, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(ctx.config.sync_poll);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        if let Err(e) = sluice_core::app::syncs::engine::poll(&ctx).await {
            tracing::warn!(error = %e, "sync poll failed");
        }
    }
}
