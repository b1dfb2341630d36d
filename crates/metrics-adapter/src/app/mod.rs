//! `tidal metrics-adapter`: flags, validation, and wiring of store, collection, API, admin and
//! debug servers, with a graceful shutdown on SIGTERM.
//!
//! Ports: the API (`--secure-port`, TLS, front-proxy authentication and delegated
//! authorization), the admin port (`--admin-port`: `/metrics`, `/healthz`, `/readyz`, no
//! authentication, so nothing tenant-specific), and, only with `--enable-debug-collectors`,
//! `/debug/collectors` on `--debug-address` (loopback by default: it lists every namespace's
//! HPAs, sources and errors).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use futures::FutureExt;
use prometheus_client::registry::Registry;
use rustls::ServerConfig;
use tidal_runtime::{Clock, Readiness, admin};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api::{self, ApiState};
use crate::auth::RequestHeaderAuth;
use crate::authorization::Authorizer;
use crate::collection::Collection;
use crate::debug_server::{self, DebugBody, DebugServer};
use crate::metrics::{Metrics, ValueAgeCollector};
use crate::server::{ConnectionLimits, serve_tls};
use crate::store::MetricStore;
use crate::supervisor::{Shutdown, Supervisor};
use crate::tls;
use crate::tls_source::{Loaded, TlsSource};

/// How often expired values are dropped from memory (they are never served regardless).
const PURGE_INTERVAL: Duration = Duration::from_secs(60);
/// How often certificate files and the front-proxy CA are re-read.
const TLS_RELOAD_INTERVAL: Duration = Duration::from_secs(60);

mod args;
#[cfg(test)]
mod tests;

use args::configured_region;
pub use args::{Args, ArgsError, TenancyArgs};

/// A background task and the name its failure is reported under.
type NamedTask = (&'static str, JoinHandle<()>);

/// What startup loads and checks before anything is served.
struct Prepared {
    client: kube::Client,
    source: TlsSource,
    loaded: Loaded,
}

/// Loads certificates and the requestheader CA: every file is read before the first network call.
async fn prepare(args: &Args) -> anyhow::Result<Prepared> {
    args.validate()?;
    let mut source = TlsSource {
        cert_file: args.tls_cert_file.clone(),
        key_file: args.tls_private_key_file.clone(),
        ca_file: args.requestheader_client_ca_file.clone(),
        client: None,
        allowed_names_flag: args.requestheader_allowed_names.clone(),
    };
    if source.ca_file.is_some() {
        // Fail on unreadable files before talking to the cluster.
        source.load().await?;
    } else {
        tls::certificates_from_file(&source.cert_file, "serving certificate")?;
        tls::private_key_from_file(&source.key_file)?;
    }
    let client = tidal_runtime::kube_client().await?;
    source.client = Some(client.clone());
    let loaded = source.load().await?;
    tracing::info!(client_ca = %loaded.ca.origin, allowed_names = ?loaded.ca.allowed_names, "front-proxy authentication configured");
    Ok(Prepared {
        client,
        source,
        loaded,
    })
}

/// Runs the metrics adapter until SIGTERM/SIGINT: validates flags and files first, then serves.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let prepared = prepare(&args).await?;
    let readiness = Readiness::new();
    let supervisor = Supervisor::new(readiness.clone());
    let shutdown = shutdown_on_signal_or_failure(&supervisor, args.tenancy.task_failure_grace);
    let clock = Clock::system();
    let store = MetricStore::new();
    let mut registry = Registry::with_prefix("tidal_metrics_adapter");
    let metrics = Metrics::new(&mut registry);
    ValueAgeCollector::register(&mut registry, store.clone(), clock.clone());
    let collection = Collection::new(
        prepared.client.clone(),
        store.clone(),
        args.collection_settings(configured_region().await),
        metrics.clone(),
        clock.clone(),
    )?;
    let debug_body: DebugBody = {
        let (debug, clock) = (collection.debug(), clock.clone());
        Arc::new(move || debug.json(clock.now()))
    };
    let side = serve_side_ports(&args, registry, &readiness, debug_body, &shutdown).await?;
    let api_addr = SocketAddr::new(args.bind_address, args.secure_port);
    let listener = tokio::net::TcpListener::bind(api_addr)
        .await
        .with_context(|| format!("cannot listen on {api_addr} (--secure-port)"))?;
    let authorizer = args.authorizer(prepared.client.clone())?;
    let auth = Arc::new(RequestHeaderAuth::new(
        prepared.loaded.ca.allowed_names.clone(),
    ));
    let background = Background {
        collection,
        store: store.clone(),
        clock: clock.clone(),
        supervisor: supervisor.clone(),
    };
    let (tls, tasks) = spawn_background(prepared, &auth, background, &shutdown);
    // A task that already died keeps the adapter unready until the grace period ends it.
    if supervisor.failure().is_none() {
        readiness.set_ready(true);
    }
    tracing::info!(addr = %api_addr, "metrics API listening");
    let state = ApiState {
        store,
        metrics,
        clock,
    };
    let limits = args.connection_limits();
    serve_api(listener, tls, state, auth, authorizer, limits, shutdown).await;
    readiness.set_ready(false);
    for (name, task) in tasks {
        task.await.with_context(|| format!("{name} task failed"))?;
    }
    side.stopped().await?;
    if let Some(task) = supervisor.failure() {
        anyhow::bail!(
            "the {task} task stopped unexpectedly; exiting so Kubernetes restarts the adapter"
        );
    }
    tracing::info!("metrics adapter stopped");
    Ok(())
}

/// The admin server and, when enabled, the debug server.
struct SidePorts {
    admin: admin::AdminServer,
    debug: Option<DebugServer>,
}

impl SidePorts {
    async fn stopped(self) -> anyhow::Result<()> {
        self.admin.stopped().await?;
        if let Some(debug) = self.debug {
            debug.task.await.context("debug server task failed")??;
        }
        Ok(())
    }
}

/// Starts the admin port (`/metrics`, `/healthz`, `/readyz`) and, with
/// `--enable-debug-collectors`, `/debug/collectors` on `--debug-address`.
async fn serve_side_ports(
    args: &Args,
    registry: Registry,
    readiness: &Readiness,
    debug_body: DebugBody,
    shutdown: &Shutdown,
) -> anyhow::Result<SidePorts> {
    let admin = admin::serve(
        SocketAddr::new(args.bind_address, args.admin_port),
        Arc::new(registry),
        readiness.clone(),
        Router::new(),
        shutdown.clone(),
    )
    .await?;
    let debug = if args.enable_debug_collectors {
        let addr = args.debug_address;
        Some(debug_server::serve(addr, debug_body, shutdown.clone()).await?)
    } else {
        None
    };
    Ok(SidePorts { admin, debug })
}

/// The supervised work beside the API: collection and purging of expired values.
struct Background {
    collection: Collection,
    store: MetricStore,
    clock: Clock,
    supervisor: Supervisor,
}

/// Starts what runs beside the API until shutdown: TLS reloading, collection and purging.
/// Returns the receiver of the current TLS configuration and the named tasks.
fn spawn_background(
    prepared: Prepared,
    auth: &Arc<RequestHeaderAuth>,
    background: Background,
    shutdown: &Shutdown,
) -> (watch::Receiver<Arc<ServerConfig>>, [NamedTask; 3]) {
    let (tls_tx, tls_rx) = watch::channel(prepared.loaded.config.clone());
    let reloading = tokio::spawn(prepared.source.reload_loop(
        prepared.loaded,
        tls_tx,
        Arc::clone(auth),
        TLS_RELOAD_INTERVAL,
        shutdown.clone(),
    ));
    let Background {
        collection,
        store,
        clock,
        supervisor,
    } = background;
    let collecting = tokio::spawn(collection.run(shutdown.clone(), supervisor.clone()));
    let purging = supervisor.spawn(
        "purge",
        shutdown,
        purge_loop(store, clock, shutdown.clone()),
    );
    let tasks = [
        ("collection", collecting),
        ("purge", purging),
        ("TLS reload", reloading),
    ];
    (tls_rx, tasks)
}

/// Resolves on SIGTERM/SIGINT, or `grace` after a supervised task stopped.
fn shutdown_on_signal_or_failure(supervisor: &Supervisor, grace: Duration) -> Shutdown {
    let signal = tidal_runtime::shutdown_signal();
    let failed = supervisor.failed(grace);
    async move {
        tokio::select! {
            () = signal => {}
            _ = failed => {}
        }
    }
    .boxed()
    .shared()
}

/// Serves the metrics API on `listener` within `limits` until `shutdown` resolves (used by
/// [`run`], the tests and the load-test server).
pub async fn serve_api(
    listener: tokio::net::TcpListener,
    tls: watch::Receiver<Arc<ServerConfig>>,
    state: ApiState,
    auth: Arc<RequestHeaderAuth>,
    authorizer: Authorizer,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()> + Send,
) {
    let router = api::router(state, auth, authorizer);
    serve_tls(listener, tls, router, limits, shutdown).await;
}

async fn purge_loop(store: MetricStore, clock: Clock, shutdown: Shutdown) {
    let mut tick = tokio::time::interval(PURGE_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let dropped = store.purge_expired(clock.now());
                if dropped > 0 {
                    tracing::debug!(dropped, "dropped expired metric values");
                }
            }
            () = shutdown.clone() => return,
        }
    }
}
