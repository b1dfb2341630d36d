//! `tidal cp-autoscaler plan`: one pass through the dry-run wrappers, printed for a person.
//!
//! It reads what the controller reads (the control plane through the actuator's read-only
//! `observe`, the signals, the node count) and prints the size, the decision and why. It does
//! not know when the running controller last changed the size, so it reports what the load asks
//! for; the controller also honours its cooldowns and backoffs.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::Context as _;
use prometheus_client::registry::Registry;
use tidal_core::control_plane::Signal;
use tidal_runtime::Clock;

use super::{Flags, Mode, required, settings};
use crate::autoscaler::{Autoscaler, Outcome, Settings};
use crate::controller::DryRun;
use crate::eks::EksActuator;
use crate::kube::{KubeEvents, KubeNodeHealth, KubeNodes};
use crate::metrics::Metrics;
use crate::prometheus::PrometheusSignals;
use crate::self_managed::AsgActuator;

pub(super) async fn run(flags: Flags) -> anyhow::Result<()> {
    flags.validate()?;
    let sdk = flags.aws.sdk_config().await;
    let settings = settings(&flags, &sdk).await?;
    let signals = PrometheusSignals::new(
        flags.prometheus_url()?,
        flags.queries(),
        flags.query_step,
        flags.query_timeout,
    )?;
    let config = kube::Config::infer()
        .await
        .context("loading the Kubernetes client configuration")?;
    let client = tidal_runtime::kube_client_from(config.clone())?;
    let nodes = KubeNodes::new(client.clone());
    let events = DryRun::new(KubeEvents::new(
        client.clone(),
        None,
        KubeEvents::lease_reference(&flags.leader_election_namespace, &flags.lease_name),
    ));
    let metrics = Metrics::register(&mut Registry::default());
    let now = Clock::wall().now();
    let mut autoscaler = Autoscaler::new(settings.clone()).without_term_cooldown();
    let outcome = match flags.mode()? {
        Mode::Eks => {
            let cluster = required(&flags.cluster_name, "--cluster-name", "with --mode eks")?;
            let actuator = DryRun::new(EksActuator::new(aws_sdk_eks::Client::new(&sdk), cluster));
            autoscaler
                .run_once(&signals, &nodes, &actuator, &events, &metrics, now)
                .await?
        }
        Mode::SelfManaged => {
            let group = required(&flags.asg_name, "--asg-name", "with --mode self-managed")?;
            let health =
                KubeNodeHealth::new(client, config, flags.readyz_port, Duration::from_secs(5));
            let actuator = DryRun::new(AsgActuator::new(&sdk, group, health, flags.roll()));
            autoscaler
                .run_once(&signals, &nodes, &actuator, &events, &metrics, now)
                .await?
        }
    };
    Ok(tidal_runtime::stdout::print(&render(&outcome, &settings))?)
}

/// The plan as text.
pub fn render(o: &Outcome, settings: &Settings) -> String {
    let mut out = String::new();
    let s = &o.state;
    let _ = writeln!(out, "ladder:   {}", settings.ladder);
    let _ = writeln!(out, "current:  {}", s.size);
    if let Some(healthy) = s.healthy {
        let _ = writeln!(out, "healthy:  {healthy} control-plane instances");
    }
    match o.nodes {
        Some(n) => {
            let _ = writeln!(out, "nodes:    {n}");
        }
        None => {
            let _ = writeln!(out, "nodes:    unknown");
        }
    }
    let capacity = settings
        .ladder
        .position(&s.size)
        .and_then(|i| settings.ladder.get(i))
        .map(|r| r.capacity);
    for signal in Signal::ALL {
        let Some((_, latest)) = o.signals.get(signal).latest() else {
            continue;
        };
        let share = capacity
            .as_ref()
            .and_then(|c| signal.capacity(c))
            .map(|c| format!(" ({:.0}% of the current size)", latest / c * 100.0))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{:<9} {latest:.2}{share}",
            format!("{}:", signal.label())
        );
    }
    for e in &o.read_errors {
        let _ = writeln!(out, "error:    {e}");
    }
    let Some(d) = &o.decision else {
        let _ = writeln!(
            out,
            "change in progress: {} -> {} ({})",
            s.size,
            s.target.as_deref().unwrap_or("?"),
            s.phase
        );
        return out;
    };
    let target = o.target.as_deref().unwrap_or(&s.size);
    let _ = writeln!(
        out,
        "decision: {} {} -> {}",
        d.action().label(),
        s.size,
        target
    );
    let _ = writeln!(out, "why:      {}", d.reason);
    out
}
