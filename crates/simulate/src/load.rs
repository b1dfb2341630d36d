//! Load curves: how much traffic a workload receives at each instant of the simulated day.
//!
//! Load is a unitless number (requests per second, messages, …); a workload turns it into CPU
//! with its `cpu_per_unit`. Curves are evaluated at an offset from the start of the simulation,
//! which starts at midnight, so `daily_sine`'s `peak_at` is a time of day.

use std::f64::consts::PI;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;

use crate::noise::LoadNoise;
use crate::scenario::fields::{HumanDuration, TimeOfDay};

const DAY_SECS: f64 = 86_400.0;

/// A load curve as written in a scenario file (`load:` of a workload).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum LoadSpec {
    /// The same load all the time: `constant: 100`.
    Constant(f64),
    /// A step function: `steps: [{at: 0s, value: 10}, {at: 2h, value: 50}]`.
    Steps(Vec<StepSpec>),
    /// A day-periodic wave: half a cosine up from `trough` at `trough_at` to `peak` at `peak_at`,
    /// half a cosine back down (a plain sine when the two are twelve hours apart, the default).
    DailySine(DailySineSpec),
    /// A recorded series from a CSV file, linearly interpolated.
    Csv(CsvSpec),
}

/// One step of a `steps` curve: from `at` on, the load is `value`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// Offset from the start of the simulation.
    pub at: HumanDuration,
    /// The load from then on.
    pub value: f64,
}

/// The parameters of a `daily_sine` curve.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DailySineSpec {
    /// The lowest load of the day (reached twelve hours before/after the peak).
    pub trough: f64,
    /// The highest load of the day.
    pub peak: f64,
    /// Time of day of the peak, `HH:MM` (the simulation starts at 00:00).
    pub peak_at: TimeOfDay,
    /// Time of day of the trough; default twelve hours from the peak.
    #[serde(default)]
    pub trough_at: Option<TimeOfDay>,
}

/// A recorded series: a CSV file of `seconds,value` rows (a header row is allowed).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CsvSpec {
    /// The file, relative to the scenario file's directory.
    pub path: PathBuf,
}

/// A load curve is invalid or its data cannot be read.
#[derive(Debug, Error)]
pub enum LoadError {
    /// A value is negative or not a finite number.
    #[error("load value {value} is not a finite number >= 0")]
    InvalidValue {
        /// The offending value.
        value: f64,
    },
    /// A `steps` curve has no steps or steps out of order.
    #[error("steps must be non-empty and ordered by `at`")]
    StepsOrder,
    /// A `daily_sine` curve has its trough and peak at the same time of day.
    #[error("daily_sine trough_at must differ from peak_at")]
    SineTimes,
    /// A `daily_sine` curve has its trough above its peak.
    #[error("daily_sine trough {trough} is above peak {peak}")]
    SineOrder {
        /// The trough.
        trough: f64,
        /// The peak.
        peak: f64,
    },
    /// The CSV file cannot be read.
    #[error("cannot read load series {path}: {source}")]
    CsvRead {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A CSV row is malformed.
    #[error("{path}:{line}: {message}")]
    CsvRow {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// A validated load curve, ready to evaluate.
#[derive(Clone, Debug, PartialEq)]
pub enum LoadCurve {
    /// Always this value.
    Constant(f64),
    /// `(offset seconds, value)` pairs sorted by offset; before the first step the first value holds.
    Steps(Vec<(f64, f64)>),
    /// Half-cosine ramps between the trough (at `trough_secs`) and the peak (`rise_secs` later).
    DailySine {
        /// Lowest value.
        trough: f64,
        /// Highest value.
        peak: f64,
        /// Seconds after midnight of the trough.
        trough_secs: f64,
        /// Seconds from the trough to the peak (the fall takes the rest of the day).
        rise_secs: f64,
    },
    /// Sorted `(offset seconds, value)` points, linearly interpolated, held flat beyond the ends.
    Series(Vec<(f64, f64)>),
    /// Another curve times a seeded noise factor.
    Noisy(Box<LoadCurve>, LoadNoise),
}

impl LoadCurve {
    /// Validates a curve from a scenario; CSV paths are resolved against `base_dir`.
    pub fn from_spec(spec: &LoadSpec, base_dir: &Path) -> Result<Self, LoadError> {
        match spec {
            LoadSpec::Constant(v) => Ok(LoadCurve::Constant(check_value(*v)?)),
            LoadSpec::Steps(steps) => {
                let points = steps
                    .iter()
                    .map(|s| Ok((s.at.0.as_secs_f64(), check_value(s.value)?)))
                    .collect::<Result<Vec<_>, LoadError>>()?;
                if points.is_empty() || points.windows(2).any(|w| w[0].0 > w[1].0) {
                    return Err(LoadError::StepsOrder);
                }
                Ok(LoadCurve::Steps(points))
            }
            LoadSpec::DailySine(s) => {
                let (trough, peak) = (check_value(s.trough)?, check_value(s.peak)?);
                if trough > peak {
                    return Err(LoadError::SineOrder { trough, peak });
                }
                let peak_secs = s.peak_at.0.as_secs_f64();
                let trough_secs = s
                    .trough_at
                    .map_or((peak_secs + DAY_SECS / 2.0) % DAY_SECS, |t| {
                        t.0.as_secs_f64()
                    });
                let rise_secs = (peak_secs - trough_secs).rem_euclid(DAY_SECS);
                if rise_secs == 0.0 {
                    return Err(LoadError::SineTimes);
                }
                Ok(LoadCurve::DailySine {
                    trough,
                    peak,
                    trough_secs,
                    rise_secs,
                })
            }
            LoadSpec::Csv(c) => {
                let path = base_dir.join(&c.path);
                let text = std::fs::read_to_string(&path).map_err(|source| LoadError::CsvRead {
                    path: path.clone(),
                    source,
                })?;
                Ok(LoadCurve::Series(parse_series(&text, &path)?))
            }
        }
    }

    /// The load at `offset` after the start of the simulation.
    pub fn at(&self, offset: Duration) -> f64 {
        let t = offset.as_secs_f64();
        match self {
            LoadCurve::Constant(v) => *v,
            LoadCurve::Steps(points) => {
                // The last step whose offset has been reached; the first one before any.
                let idx = points.partition_point(|(at, _)| *at <= t);
                points[idx.saturating_sub(1)].1
            }
            LoadCurve::DailySine {
                trough,
                peak,
                trough_secs,
                rise_secs,
            } => {
                let since_trough = (t - trough_secs).rem_euclid(DAY_SECS);
                // 0 at the trough, 1 at the peak, along half a cosine each way.
                let up = if since_trough < *rise_secs {
                    (1.0 - (PI * since_trough / rise_secs).cos()) / 2.0
                } else {
                    let fall = DAY_SECS - rise_secs;
                    (1.0 + (PI * (since_trough - rise_secs) / fall).cos()) / 2.0
                };
                trough + (peak - trough) * up
            }
            LoadCurve::Series(points) => interpolate(points, t),
            LoadCurve::Noisy(base, noise) => base.at(offset) * noise.at(t),
        }
    }

    /// This curve with `noise` on it.
    pub fn with_noise(self, noise: LoadNoise) -> LoadCurve {
        LoadCurve::Noisy(Box::new(self), noise)
    }
}

fn check_value(v: f64) -> Result<f64, LoadError> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(LoadError::InvalidValue { value: v })
    }
}

fn interpolate(points: &[(f64, f64)], t: f64) -> f64 {
    let idx = points.partition_point(|(at, _)| *at <= t);
    match (idx.checked_sub(1).map(|i| points[i]), points.get(idx)) {
        (Some((t0, v0)), Some(&(t1, v1))) if t1 > t0 => v0 + (v1 - v0) * (t - t0) / (t1 - t0),
        (Some((_, v0)), _) => v0,
        (None, Some(&(_, v1))) => v1,
        (None, None) => 0.0,
    }
}

/// Parses `seconds,value` rows. Blank lines and `#` comments are skipped; a first row whose
/// first field is not a number is taken as a header.
fn parse_series(text: &str, path: &Path) -> Result<Vec<(f64, f64)>, LoadError> {
    let row_error = |line: usize, message: String| LoadError::CsvRow {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut points: Vec<(f64, f64)> = Vec::new();
    let mut seen_row = false;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let row = raw.trim();
        if row.is_empty() || row.starts_with('#') {
            continue;
        }
        let mut fields = row.split(',').map(str::trim);
        let (Some(first), Some(second), None) = (fields.next(), fields.next(), fields.next())
        else {
            return Err(row_error(
                line,
                format!("expected `seconds,value`, got `{row}`"),
            ));
        };
        let is_header = !seen_row && first.parse::<f64>().is_err();
        seen_row = true;
        if is_header {
            continue;
        }
        let at: f64 = first
            .parse()
            .map_err(|_| row_error(line, format!("`{first}` is not a number of seconds")))?;
        let value: f64 = second
            .parse()
            .map_err(|_| row_error(line, format!("`{second}` is not a number")))?;
        if !at.is_finite() || at < 0.0 {
            return Err(row_error(line, format!("time {at} must be >= 0")));
        }
        check_value(value).map_err(|e| row_error(line, e.to_string()))?;
        if points.last().is_some_and(|(prev, _)| *prev > at) {
            return Err(row_error(
                line,
                format!("time {at} is before the previous row"),
            ));
        }
        points.push((at, value));
    }
    if points.is_empty() {
        return Err(row_error(0, "no data rows".to_string()));
    }
    Ok(points)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn hours(h: f64) -> Duration {
        Duration::from_secs_f64(h * 3600.0)
    }

    #[test]
    fn daily_sine_rises_from_trough_to_peak_and_falls_back() {
        let spec = |trough_at: Option<f64>| {
            LoadSpec::DailySine(DailySineSpec {
                trough: 100.0,
                peak: 1000.0,
                peak_at: TimeOfDay(hours(19.0)),
                trough_at: trough_at.map(|h| TimeOfDay(hours(h))),
            })
        };
        let c = LoadCurve::from_spec(&spec(None), Path::new(".")).unwrap();
        assert!((c.at(hours(19.0)) - 1000.0).abs() < 1e-6);
        assert!((c.at(hours(7.0)) - 100.0).abs() < 1e-6);
        assert!((c.at(hours(13.0)) - 550.0).abs() < 1e-6);
        assert!((c.at(hours(1.0)) - 550.0).abs() < 1e-6);
        assert!(c.at(hours(18.0)) < c.at(hours(19.0)));
        // Asymmetric: trough at 04:00, a 15 h rise, a 9 h fall.
        let c = LoadCurve::from_spec(&spec(Some(4.0)), Path::new(".")).unwrap();
        assert!((c.at(hours(4.0)) - 100.0).abs() < 1e-6);
        assert!((c.at(hours(19.0)) - 1000.0).abs() < 1e-6);
        assert!((c.at(hours(11.5)) - 550.0).abs() < 1e-6);
        assert!((c.at(hours(23.5)) - 550.0).abs() < 1e-6);
        assert!((c.at(hours(28.0)) - 100.0).abs() < 1e-6, "periodic");
        assert!(matches!(
            LoadCurve::from_spec(&spec(Some(19.0)), Path::new(".")),
            Err(LoadError::SineTimes)
        ));
    }

    #[test]
    fn steps_hold_until_the_next_step() {
        let c = LoadCurve::Steps(vec![(0.0, 10.0), (3600.0, 50.0)]);
        assert_eq!(c.at(hours(0.5)), 10.0);
        assert_eq!(c.at(hours(1.0)), 50.0);
        assert_eq!(c.at(hours(20.0)), 50.0);
    }

    #[test]
    fn series_interpolates_and_holds_at_the_ends() {
        let path = Path::new("t.csv");
        let points = parse_series("time,value\n0,10\n# gap\n100,20\n\n200,0\n", path).unwrap();
        let c = LoadCurve::Series(points);
        assert_eq!(c.at(Duration::from_secs(50)), 15.0);
        assert_eq!(c.at(Duration::from_secs(150)), 10.0);
        assert_eq!(c.at(Duration::from_secs(999)), 0.0);
    }

    #[test]
    fn series_errors_name_the_line() {
        let err = parse_series("0,1\n10,x\n", Path::new("t.csv")).unwrap_err();
        assert_eq!(err.to_string(), "t.csv:2: `x` is not a number");
        let err = parse_series("0,1\n10,2\n5,3\n", Path::new("t.csv")).unwrap_err();
        assert!(err.to_string().starts_with("t.csv:3:"), "{err}");
    }

    proptest::proptest! {
        #[test]
        fn daily_sine_stays_between_trough_and_peak_and_repeats_daily(
            trough in 0.0f64..1e6,
            extra in 0.0f64..1e6,
            peak_min in 0u64..1440,
            trough_min in 0u64..1440,
            t in 0u64..(3 * 86_400),
        ) {
            proptest::prop_assume!(peak_min != trough_min);
            let spec = LoadSpec::DailySine(DailySineSpec {
                trough,
                peak: trough + extra,
                peak_at: TimeOfDay(Duration::from_secs(peak_min * 60)),
                trough_at: Some(TimeOfDay(Duration::from_secs(trough_min * 60))),
            });
            let c = LoadCurve::from_spec(&spec, Path::new(".")).unwrap();
            let v = c.at(Duration::from_secs(t));
            let slack = 1e-9 * (trough + extra).max(1.0);
            proptest::prop_assert!(v >= trough - slack && v <= trough + extra + slack, "{v}");
            let next_day = c.at(Duration::from_secs(t + 86_400));
            proptest::prop_assert!((v - next_day).abs() <= slack * 10.0);
        }

        #[test]
        fn series_values_stay_within_the_recorded_range(
            values in proptest::collection::vec(0.0f64..1e4, 1..20),
            t in 0.0f64..5_000.0,
        ) {
            let points: Vec<(f64, f64)> = values.iter().enumerate().map(|(i, v)| (i as f64 * 100.0, *v)).collect();
            let (lo, hi) = values.iter().fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
            let v = LoadCurve::Series(points).at(Duration::from_secs_f64(t));
            proptest::prop_assert!(v >= lo - 1e-9 && v <= hi + 1e-9);
        }
    }

    #[test]
    fn invalid_specs_are_rejected() {
        let sine = LoadSpec::DailySine(DailySineSpec {
            trough: 5.0,
            peak: 1.0,
            peak_at: TimeOfDay(Duration::ZERO),
            trough_at: None,
        });
        assert!(matches!(
            LoadCurve::from_spec(&sine, Path::new(".")),
            Err(LoadError::SineOrder { .. })
        ));
        assert!(LoadCurve::from_spec(&LoadSpec::Constant(-1.0), Path::new(".")).is_err());
        assert!(LoadCurve::from_spec(&LoadSpec::Steps(vec![]), Path::new(".")).is_err());
    }
}
