//! The `compare` subcommand: turns its inputs into summaries (running scenario files in
//! parallel, reading run directories), then writes and prints the comparison.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use serde_json::Value;
use tidal_runtime::stdout;

use super::{Comparison, Input, label};
use crate::cli::{adjust, output_dir, write_outputs};
use crate::runs::{cores, run_all};
use crate::scenario::Scenario;

/// Arguments of `tidal simulate compare`.
#[derive(Clone, Debug, clap::Args)]
pub struct CompareArgs {
    /// Scenario files or run directories (with summary.json); the first is the baseline.
    #[arg(required = true, num_args = 2..)]
    pub inputs: Vec<PathBuf>,
    /// Directory for compare.json, compare.html and the runs of scenario files
    /// [default: a new directory under ./simulations/].
    #[arg(long, env = "TIDAL_SIMULATE_OUT")]
    pub out: Option<PathBuf>,
    /// Seed for the scenario files, overriding theirs.
    #[arg(long, env = "TIDAL_SIMULATE_SEED")]
    pub seed: Option<u64>,
    /// Simulate only this much of each scenario file.
    #[arg(long, value_parser = humantime::parse_duration, env = "TIDAL_SIMULATE_DURATION")]
    pub duration: Option<Duration>,
}

/// What an input turned out to be.
enum Source {
    Summary(Value),
    Scenario(Box<Scenario>),
}

/// Runs the comparison the arguments describe.
pub async fn run(args: CompareArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.inputs.len() >= 2,
        "compare needs at least two scenario files or run directories"
    );
    let sources = args
        .inputs
        .iter()
        .map(|p| load(p, args.seed, args.duration))
        .collect::<anyhow::Result<Vec<Source>>>()?;
    let out = output_dir(args.out.as_deref(), "compare-")?;
    let mut scenarios = Vec::new();
    let mut run_dirs = Vec::new();
    for (i, (source, path)) in sources.iter().zip(&args.inputs).enumerate() {
        if let Source::Scenario(s) = source {
            scenarios.push((**s).clone());
            run_dirs.push(out.join(format!("{}-{}", label(i), stem(path))));
        }
    }
    let mut runs = tokio::task::spawn_blocking(move || {
        run_all(&scenarios, cores(), |i, result| {
            let result = result?;
            let dir = &run_dirs[i];
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            write_outputs(dir, &result)?;
            anyhow::Ok(serde_json::to_value(&result.summary)?)
        })
    })
    .await?
    .into_iter();
    let mut inputs = Vec::with_capacity(sources.len());
    for (i, (source, path)) in sources.into_iter().zip(&args.inputs).enumerate() {
        let summary = match source {
            Source::Summary(v) => v,
            Source::Scenario(_) => runs
                .next()
                .context("a scenario run is missing its result")??,
        };
        inputs.push(Input {
            label: label(i),
            source: path.display().to_string(),
            summary,
        });
    }
    let comparison = Comparison::new(&inputs);
    super::write(&out, &comparison)
        .with_context(|| format!("writing compare.json and compare.html in {}", out.display()))?;
    stdout::print(&format!(
        "{}Comparison: {}\n",
        comparison.to_text(),
        out.join("compare.html").display()
    ))?;
    Ok(())
}

/// A run directory's summary, or a scenario file ready to run.
fn load(path: &Path, seed: Option<u64>, duration: Option<Duration>) -> anyhow::Result<Source> {
    if path.is_dir() {
        let file = path.join("summary.json");
        let text = std::fs::read_to_string(&file).with_context(|| {
            format!(
                "{} is a directory without a readable summary.json (expected a finished run)",
                path.display()
            )
        })?;
        let value: Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not valid JSON", file.display()))?;
        anyhow::ensure!(
            value.is_object(),
            "{} does not hold a summary (expected a JSON object)",
            file.display()
        );
        return Ok(Source::Summary(value));
    }
    let scenario = Scenario::load(path)?;
    Ok(Source::Scenario(Box::new(adjust(
        scenario, seed, duration,
    )?)))
}

/// A directory-name-safe stem of a scenario file.
fn stem(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map_or("scenario".into(), |s| s.to_string_lossy());
    stem.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
