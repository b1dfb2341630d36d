//! The signal that starts a graceful shutdown: SIGTERM (what Kubernetes sends) or Ctrl-C.

use std::future::Future;

use tokio::signal::unix::{SignalKind, signal};

/// Returns a future that resolves on the first SIGTERM or SIGINT.
///
/// The SIGTERM handler is installed when this is called (inside a tokio runtime), not when the
/// future is first polled, so a signal that arrives in between is not lost.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    let term = signal(SignalKind::terminate());
    async move {
        let term = async {
            match term {
                Ok(mut term) => {
                    term.recv().await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the process");
                    std::future::pending::<()>().await;
                }
            }
        };
        let ctrl_c = async {
            if let Err(e) = tokio::signal::ctrl_c().await {
                tracing::warn!(error = %e, "cannot listen for Ctrl-C");
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            () = term => tracing::info!("SIGTERM received, shutting down"),
            () = ctrl_c => tracing::info!("Ctrl-C received, shutting down"),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[tokio::test]
    async fn resolves_on_sigterm() {
        let stop = shutdown_signal();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &std::process::id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        // Would hang (and the process would have died of SIGTERM) without the handler.
        stop.await;
    }
}
