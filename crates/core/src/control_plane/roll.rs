//! The roll of a self-managed control plane to a new instance type, one instance at a time:
//! add one of the new type, wait until it is healthy (node Ready, API server `/readyz`), remove
//! one of the old type, until none is left; never fewer healthy instances than the minimum.
//!
//! The roll's record ([`RollRecord`]) is stored with the group (an ASG tag), so a restarted
//! controller reads it back and carries on; [`next_step`] is a pure function of that record and
//! what the group looks like now.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::time::Timestamp;

/// What is remembered about a roll in progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RollRecord {
    /// The instance type being left.
    pub from: String,
    /// The instance type being rolled to.
    pub to: String,
    /// The launch-template version before the roll (restored on failure).
    pub previous_version: i64,
    /// The launch-template version with the new type.
    pub new_version: i64,
    /// The group's desired capacity before the roll (restored at the end).
    pub desired: u32,
    /// The group's maximum size before the roll (raised by one during it).
    pub max: u32,
    /// When the replacement now starting was requested; `None` when none is.
    pub launched_at: Option<Timestamp>,
}

/// A stored roll record that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("roll record {text:?}: {problem}")]
pub struct RollRecordError {
    /// The stored text.
    pub text: String,
    /// What is wrong with it.
    pub problem: String,
}

impl fmt::Display for RollRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "from={} to={} previous={} new={} desired={} max={} launched={}",
            self.from,
            self.to,
            self.previous_version,
            self.new_version,
            self.desired,
            self.max,
            self.launched_at.map_or(0, Timestamp::as_millis)
        )
    }
}

impl FromStr for RollRecord {
    type Err = RollRecordError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = |problem: String| RollRecordError {
            text: text.to_owned(),
            problem,
        };
        let mut fields = std::collections::BTreeMap::new();
        for pair in text.split_whitespace() {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| err(format!("{pair:?} is not key=value")))?;
            fields.insert(k, v);
        }
        let get = |k: &str| {
            fields
                .get(k)
                .copied()
                .ok_or_else(|| err(format!("missing {k}")))
        };
        fn num<T: FromStr>(
            v: &str,
            k: &str,
            err: &dyn Fn(String) -> RollRecordError,
        ) -> Result<T, RollRecordError> {
            v.parse()
                .map_err(|_| err(format!("{k}={v} is not a number")))
        }
        let launched: i64 = num(get("launched")?, "launched", &err)?;
        Ok(Self {
            from: get("from")?.to_owned(),
            to: get("to")?.to_owned(),
            previous_version: num(get("previous")?, "previous", &err)?,
            new_version: num(get("new")?, "new", &err)?,
            desired: num(get("desired")?, "desired", &err)?,
            max: num(get("max")?, "max", &err)?,
            launched_at: (launched > 0).then_some(Timestamp::from_millis(launched)),
        })
    }
}

/// One instance of the group as the roll sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RollInstance {
    /// Instance id.
    pub id: String,
    /// Its instance type.
    pub instance_type: String,
    /// Node Ready and API server `/readyz` answered.
    pub healthy: bool,
}

/// The group now (instances leaving the group are not listed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RollView {
    /// The launch-template version the group launches from.
    pub group_version: i64,
    /// The group's instances.
    pub instances: Vec<RollInstance>,
}

/// Settings of a roll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RollSettings {
    /// A roll only starts with at least this many healthy control-plane instances, and never
    /// leaves fewer.
    pub min_healthy: u32,
    /// A replacement not healthy within this stops the roll.
    pub replacement_timeout: Duration,
}

impl Default for RollSettings {
    fn default() -> Self {
        Self {
            min_healthy: 2,
            replacement_timeout: Duration::from_secs(15 * 60),
        }
    }
}

/// What to do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RollStep {
    /// Point the group at the new launch-template version.
    PointGroupAtNewVersion,
    /// Add one instance (desired + 1), remembering when.
    LaunchReplacement,
    /// A replacement is starting: wait.
    WaitForReplacement {
        /// The replacement, once it appeared.
        instance: Option<String>,
    },
    /// A replacement is healthy: remove this old instance (and forget the launch time).
    RemoveOld {
        /// The instance to remove.
        instance: String,
    },
    /// No old instance is left: restore desired and max, forget the record.
    Finish,
    /// Stop: remove these unhealthy replacements, restore the previous version, desired and
    /// max, forget the record.
    RollBack {
        /// Replacements to remove.
        remove: Vec<String>,
        /// Why.
        reason: String,
    },
}

impl RollStep {
    /// A bounded label for metrics and logs.
    pub fn label(&self) -> &'static str {
        match self {
            RollStep::PointGroupAtNewVersion => "point_group",
            RollStep::LaunchReplacement => "launch",
            RollStep::WaitForReplacement { .. } => "wait_replacement",
            RollStep::RemoveOld { .. } => "remove_old",
            RollStep::Finish => "finish",
            RollStep::RollBack { .. } => "roll_back",
        }
    }
}

/// The next step of the roll `record` given the group `view` at `now`.
pub fn next_step(
    record: &RollRecord,
    view: &RollView,
    settings: RollSettings,
    now: Timestamp,
) -> RollStep {
    if view.group_version != record.new_version {
        return RollStep::PointGroupAtNewVersion;
    }
    let (new, old): (Vec<&RollInstance>, Vec<&RollInstance>) = view
        .instances
        .iter()
        .partition(|i| i.instance_type == record.to);
    if old.is_empty() {
        return RollStep::Finish;
    }
    let unhealthy_new: Vec<&RollInstance> = new.iter().copied().filter(|i| !i.healthy).collect();
    let total = u32::try_from(view.instances.len()).unwrap_or(u32::MAX);
    let waiting =
        !unhealthy_new.is_empty() || (record.launched_at.is_some() && total <= record.desired);
    if waiting {
        let launched = record.launched_at.unwrap_or(now);
        if now.since(launched) >= settings.replacement_timeout {
            let ids: Vec<String> = unhealthy_new.iter().map(|i| i.id.clone()).collect();
            let reason = if ids.is_empty() {
                format!(
                    "no {} replacement appeared within {:?}",
                    record.to, settings.replacement_timeout
                )
            } else {
                format!(
                    "replacement {} ({}) not healthy within {:?}",
                    ids.join(", "),
                    record.to,
                    settings.replacement_timeout
                )
            };
            return RollStep::RollBack {
                remove: ids,
                reason,
            };
        }
        return RollStep::WaitForReplacement {
            instance: unhealthy_new.first().map(|i| i.id.clone()),
        };
    }
    if total > record.desired {
        // The replacement is up and every new instance is healthy. An unhealthy old instance
        // goes first (it costs no healthy capacity); a healthy one only goes when every
        // instance is healthy, so at least `desired` healthy remain, which is never below the
        // minimum (a roll only starts with the minimum healthy).
        let victim = old.iter().find(|i| !i.healthy).or_else(|| old.first());
        if let Some(victim) = victim {
            return RollStep::RemoveOld {
                instance: victim.id.clone(),
            };
        }
    }
    RollStep::LaunchReplacement
}
