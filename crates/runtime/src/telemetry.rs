//! The one tracing setup every binary uses: text or JSON lines on stderr, filtered by `RUST_LOG`.

use std::io::IsTerminal as _;
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// A log filter that does not parse.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The filter (from `RUST_LOG` or the default level) is not a valid directive list.
    #[error("invalid log filter {filter:?} from {origin}")]
    InvalidFilter {
        /// Where the filter came from: `RUST_LOG` or `--log-level`.
        origin: &'static str,
        /// The rejected filter.
        filter: String,
        /// The parser's complaint.
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },
}

/// Installs the global subscriber. `RUST_LOG`, when set, overrides `default_level` (e.g. `info`
/// or `tidal=debug,kube=warn`). Calling it again (as tests do) keeps the first subscriber.
pub fn init(format: LogFormat, default_level: &str) -> Result<(), TelemetryError> {
    let filter = build_filter(std::env::var("RUST_LOG").ok(), default_level)?;
    // Colours only on a terminal: log files and collectors get plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    // An error here only means a subscriber is already installed, which is fine for tests.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    Ok(())
}

/// Chooses the filter: a non-empty `RUST_LOG` wins over `default_level`.
fn build_filter(
    rust_log: Option<String>,
    default_level: &str,
) -> Result<EnvFilter, TelemetryError> {
    let (origin, filter) = match rust_log.filter(|s| !s.trim().is_empty()) {
        Some(s) => ("RUST_LOG", s),
        None => ("--log-level", default_level.to_owned()),
    };
    EnvFilter::try_new(&filter).map_err(|source| TelemetryError::InvalidFilter {
        origin,
        filter,
        source,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn rust_log_overrides_default_level() {
        let filter = build_filter(Some("tidal=debug".into()), "warn").unwrap();
        assert_eq!(filter.to_string(), "tidal=debug");
        let filter = build_filter(Some("  ".into()), "warn").unwrap();
        assert_eq!(filter.to_string(), "warn");
        let filter = build_filter(None, "info").unwrap();
        assert_eq!(filter.to_string(), "info");
    }

    #[test]
    fn bad_filter_names_its_origin() {
        let err = build_filter(None, "tidal=loud").unwrap_err();
        assert!(err.to_string().contains("--log-level"), "{err}");
        let err = build_filter(Some("x=[".into()), "info").unwrap_err();
        assert!(err.to_string().contains("RUST_LOG"), "{err}");
    }

    #[test]
    fn init_twice_is_harmless() {
        init(LogFormat::Json, "info").unwrap();
        init(LogFormat::Text, "debug").unwrap();
        tracing::info!("logged after two inits");
    }
}
