//! Runs an in-process stand-in's axum router on its loopback listener until told to stop.

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Serves `app` on `listener` in a task; sending on (or dropping) the returned sender stops it
/// gracefully. A serving error is printed under `name`: the test then fails on its own request.
pub(crate) fn serve_until_stopped(
    name: &'static str,
    listener: TcpListener,
    app: Router,
) -> (oneshot::Sender<()>, JoinHandle<()>) {
    let (shutdown, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stopped.await;
        });
        if let Err(e) = serve.await {
            eprintln!("{name} stopped with an error: {e}");
        }
    });
    (shutdown, task)
}
