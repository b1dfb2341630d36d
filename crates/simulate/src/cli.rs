//! `tidal simulate [SCENARIO.yaml] [--out DIR] [--seed N] [--runs N]` and
//! `tidal simulate compare A B [C …]`: arguments, the runs, the outputs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use tidal_runtime::stdout;

use crate::engine::{SimResult, Simulation};
use crate::progress::Progress;
use crate::runs::{Spread, cores, run_all};
use crate::scenario::Scenario;
use crate::{compare, report, summary::Summary};

/// Arguments of `tidal simulate`.
#[derive(Clone, Debug, Default, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    /// `compare`: several runs side by side.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Scenario file (YAML). Without one, the built-in default day of an online shop runs.
    pub scenario: Option<PathBuf>,
    /// Directory for summary.json, timeline.csv and report.html [default: a new directory
    /// under ./simulations/].
    #[arg(long, env = "TIDAL_SIMULATE_OUT")]
    pub out: Option<PathBuf>,
    /// Seed for every random choice, overriding the scenario's.
    #[arg(long, env = "TIDAL_SIMULATE_SEED")]
    pub seed: Option<u64>,
    /// Simulate only this much of the scenario (e.g. `2h`), for a quick look.
    #[arg(long, value_parser = humantime::parse_duration, env = "TIDAL_SIMULATE_DURATION")]
    pub duration: Option<Duration>,
    /// Fail (non-zero exit, after writing the outputs) when any demand went unmet: pods that
    /// never scheduled, or an HPA that wanted more than its max_replicas.
    #[arg(long, env = "TIDAL_SIMULATE_STRICT")]
    pub strict: bool,
    /// Run this many seeds (the seed, the seed + 1, …) in parallel on all cores and report
    /// each figure's median and 95th percentile across runs (`spread.json`); each run's
    /// outputs go to `seed-N/` under the output directory.
    #[arg(long, default_value_t = 1, env = "TIDAL_SIMULATE_RUNS", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub runs: u32,
}

/// Subcommands of `tidal simulate`.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum Command {
    /// Compare runs side by side: scenario files (run now) or finished run directories
    /// (their summary.json). Writes compare.json and compare.html and prints the table.
    Compare(compare::command::CompareArgs),
}

/// Exit code of a run that finished but left demand unmet under `--strict`.
pub const EXIT_UNMET_DEMAND: i32 = 3;

/// `--strict` and the run left demand unmet (the outputs are written).
#[derive(Debug, thiserror::Error)]
#[error(
    "--strict: demand went unmet ({pods} pods never scheduled, {hpas} HPAs wanted more than \
     max_replicas); see the summary above and {summary}"
)]
pub struct UnmetDemandError {
    /// Pods that never scheduled.
    pub pods: usize,
    /// HPAs held below their own recommendation.
    pub hpas: usize,
    /// The written summary.
    pub summary: String,
}

/// `tidal simulate` as the binary runs it; returns the process exit code: 0 done, 1 an error
/// (printed once, as one message: scenario mistakes are the user's input, not a crash, so
/// never with a backtrace), [`EXIT_UNMET_DEMAND`] for unmet demand under `--strict`.
pub async fn main(args: Args) -> i32 {
    match run(args).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {}", error_text(&e));
            if e.is::<UnmetDemandError>() {
                EXIT_UNMET_DEMAND
            } else {
                1
            }
        }
    }
}

/// An error and its causes on one line, without a backtrace.
pub fn error_text(e: &anyhow::Error) -> String {
    format!("{e:#}")
}

/// Runs the simulation the arguments describe, writes the outputs and prints a summary.
pub async fn run(args: Args) -> anyhow::Result<()> {
    if let Some(Command::Compare(c)) = args.command {
        return compare::command::run(c).await;
    }
    let mut scenario = match &args.scenario {
        Some(path) => Scenario::load(path)?,
        None => Scenario::default_day()?,
    };
    scenario = adjust(scenario, args.seed, args.duration)?;
    let out = output_dir(args.out.as_deref(), "")?;
    if args.runs > 1 {
        return run_seeds(scenario, args.runs, &out).await;
    }
    let total = (scenario.warmup + scenario.duration).as_secs();
    let progress = Progress::new(total);
    let result = Simulation::new(scenario)?.run(&progress).await?;
    write_outputs(&out, &result)?;
    stdout::print(&describe(&result.summary, &out))?;
    let unmet = &result.summary.unmet_demand;
    if args.strict && !unmet.is_empty() {
        return Err(UnmetDemandError {
            pods: unmet.unscheduled_pods(),
            hpas: unmet
                .hpas_at_max
                .iter()
                .filter(|h| h.hours_above_max > 0.0)
                .count(),
            summary: out.join("summary.json").display().to_string(),
        }
        .into());
    }
    Ok(())
}

/// Applies `--seed` and `--duration` to a scenario.
pub fn adjust(
    mut scenario: Scenario,
    seed: Option<u64>,
    duration: Option<Duration>,
) -> anyhow::Result<Scenario> {
    if let Some(seed) = seed {
        scenario = scenario.with_seed(seed);
    }
    if let Some(d) = duration {
        anyhow::ensure!(!d.is_zero(), "--duration must be greater than zero");
        scenario = scenario.with_duration(d);
    }
    Ok(scenario)
}

/// `out` if given, else a new directory under `./simulations/` (its name prefixed with
/// `prefix`); created.
pub fn output_dir(out: Option<&Path>, prefix: &str) -> anyhow::Result<PathBuf> {
    let out = match out {
        Some(dir) => dir.to_path_buf(),
        None => new_output_dir(Path::new("simulations"), prefix)?,
    };
    std::fs::create_dir_all(&out)
        .with_context(|| format!("creating output directory {}", out.display()))?;
    Ok(out)
}

/// `--runs N`: N seeds in parallel; each run's outputs in `seed-S/`, the spread in
/// `spread.json`.
async fn run_seeds(scenario: Scenario, runs: u32, out: &Path) -> anyhow::Result<()> {
    let scenarios: Vec<Scenario> = (0..u64::from(runs))
        .map(|i| scenario.clone().with_seed(scenario.seed.wrapping_add(i)))
        .collect();
    let out_dir = out.to_path_buf();
    let summaries = tokio::task::spawn_blocking(move || {
        run_all(&scenarios, cores(), |_, result| {
            let result = result?;
            let dir = out_dir.join(format!("seed-{}", result.summary.seed));
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("creating output directory {}", dir.display()))?;
            write_outputs(&dir, &result)?;
            Ok(serde_json::to_value(&result.summary)?)
        })
    })
    .await?
    .into_iter()
    .collect::<anyhow::Result<Vec<_>>>()?;
    let spread = Spread::new(&summaries);
    spread
        .write(out)
        .with_context(|| format!("writing {}", out.join("spread.json").display()))?;
    stdout::print(&format!(
        "{}Spread: {}\n",
        spread.to_text(),
        out.join("spread.json").display()
    ))?;
    Ok(())
}

/// Writes `summary.json`, `timeline.csv` and `report.html` into `dir` (which must exist).
pub fn write_outputs(dir: &Path, result: &SimResult) -> anyhow::Result<()> {
    let ctx = |f: &str| format!("writing {}", dir.join(f).display());
    result
        .summary
        .write(dir)
        .with_context(|| ctx("summary.json"))?;
    result
        .recording
        .write_timeline(dir)
        .with_context(|| ctx("timeline.csv"))?;
    report::write(
        dir,
        &result.recording,
        &result.summary,
        result.status.as_ref(),
    )
    .with_context(|| ctx("report.html"))?;
    Ok(())
}

/// A directory under `parent` that does not exist yet, named by the UTC time
/// (`20261121-153000`, then `…-2`, `…-3` if taken).
fn new_output_dir(parent: &Path, prefix: &str) -> anyhow::Result<PathBuf> {
    let stamp = format!("{prefix}{}", chrono::Utc::now().format("%Y%m%d-%H%M%S"));
    for n in 1..1000 {
        let name = if n == 1 {
            stamp.clone()
        } else {
            format!("{stamp}-{n}")
        };
        let dir = parent.join(name);
        if !dir.exists() {
            return Ok(dir);
        }
    }
    anyhow::bail!("no free output directory name under {}", parent.display())
}

/// The short text printed at the end of a run.
pub fn describe(s: &Summary, out: &Path) -> String {
    format!(
        "Simulated {scenario:?}: {hours} h in {wall:.1} s (seed {seed}).\n\
         \x20 nodes         {low} at the lowest load, {high} at the highest (min {min}, max {max})\n\
         \x20 node-hours    {nh:.0} (lower bound {lb:.0}), cost ${cost:.0}\n\
         \x20 pod wait      p50 {p50:.0} s, p95 {p95:.0} s, max {pmax:.0} s ({pods} pods)\n\
         \x20 autoscaler    {ups} scale-ups, {downs} nodes removed, {failed} failed scale-ups, {fb} fallbacks\n\
         \x20 spot          {spot} instances reclaimed\n\
         {unmet}Report: {report}\n",
        scenario = s.scenario,
        hours = s.duration_hours,
        wall = s.wall_time_seconds,
        seed = s.seed,
        low = s.nodes_at_lowest_load,
        high = s.nodes_at_highest_load,
        min = s.nodes_min,
        max = s.nodes_max,
        nh = s.node_hours,
        lb = s.node_hours_lower_bound,
        cost = s.cost,
        p50 = s.pending_pod_seconds_p50,
        p95 = s.pending_pod_seconds_p95,
        pmax = s.pending_pod_seconds_max,
        pods = s.pods_counted,
        ups = s.counters.scale_ups,
        downs = s.counters.scale_downs,
        failed = s.counters.failed_scale_ups,
        fb = s.counters.fallbacks,
        spot = s.counters.spot_interruptions,
        unmet = s.unmet_demand.describe(),
        report = out.join("report.html").display(),
    )
}
