//! Controller-wide settings: kube-controller-manager's `--horizontal-pod-autoscaler-*` flags.

use std::time::Duration;

use super::HpaError;
use super::spec::HpaBehavior;

/// Settings shared by every HPA, validated on construction.
///
/// Defaults are kube-controller-manager's flag defaults: tolerance 0.1, CPU
/// initialization period 5 min, initial readiness delay 30 s, downscale stabilization
/// window 5 min. SPEC §1 quotes 120 s and 10 s; those are the constants of the upstream
/// unit tests (`defaultTestingCPUInitializationPeriod`, `…DelayOfInitialReadinessStatus`),
/// not what a cluster runs, so they are not the defaults here; set them with
/// [`HpaControllerConfig::try_new`] to reproduce those tests.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HpaControllerConfig {
    tolerance: f64,
    cpu_initialization_period: Duration,
    initial_readiness_delay: Duration,
    downscale_stabilization_window: Duration,
    scaled_to_zero_condition: bool,
}

/// `--horizontal-pod-autoscaler-tolerance` default.
pub const DEFAULT_TOLERANCE: f64 = 0.1;
/// `--horizontal-pod-autoscaler-cpu-initialization-period` default.
pub const DEFAULT_CPU_INITIALIZATION_PERIOD: Duration = Duration::from_secs(300);
/// `--horizontal-pod-autoscaler-initial-readiness-delay` default.
pub const DEFAULT_INITIAL_READINESS_DELAY: Duration = Duration::from_secs(30);
/// `--horizontal-pod-autoscaler-downscale-stabilization` default.
pub const DEFAULT_DOWNSCALE_STABILIZATION_WINDOW: Duration = Duration::from_secs(300);

impl Default for HpaControllerConfig {
    fn default() -> Self {
        Self {
            tolerance: DEFAULT_TOLERANCE,
            cpu_initialization_period: DEFAULT_CPU_INITIALIZATION_PERIOD,
            initial_readiness_delay: DEFAULT_INITIAL_READINESS_DELAY,
            downscale_stabilization_window: DEFAULT_DOWNSCALE_STABILIZATION_WINDOW,
            scaled_to_zero_condition: false,
        }
    }
}

impl HpaControllerConfig {
    /// Settings with the given values; the tolerance must be finite and non-negative.
    pub fn try_new(
        tolerance: f64,
        cpu_initialization_period: Duration,
        initial_readiness_delay: Duration,
        downscale_stabilization_window: Duration,
    ) -> Result<Self, HpaError> {
        if !tolerance.is_finite() || tolerance < 0.0 {
            return Err(HpaError::InvalidConfig {
                field: "tolerance",
                reason: format!("must be a finite number >= 0, got {tolerance}"),
            });
        }
        Ok(Self {
            tolerance,
            cpu_initialization_period,
            initial_readiness_delay,
            downscale_stabilization_window,
            scaled_to_zero_condition: false,
        })
    }

    /// The same settings with the scale-from-zero rule of Kubernetes 1.36 and later with
    /// the `HPAScaleToZero` gate on (KEP-2021, `ScaledToZero` condition) on or off.
    ///
    /// Off (the default, SPEC §1 and Kubernetes up to 1.35): a target at zero replicas is
    /// scaled from its metrics when `minReplicas` is 0, and left alone otherwise. On: the
    /// HPA scales a target from zero only if the HPA itself scaled it there (an HPA with
    /// `minReplicas: 0` and an Object or External metric), so a target an operator scaled
    /// to zero by hand stays off.
    pub fn with_scaled_to_zero_condition(mut self, enabled: bool) -> Self {
        self.scaled_to_zero_condition = enabled;
        self
    }

    /// Usage ratios within `1 ± tolerance` cause no scaling.
    pub fn tolerance(&self) -> f64 {
        self.tolerance
    }

    /// After a pod starts, CPU samples count only once it is Ready and a full sample
    /// window has passed since it became Ready.
    pub fn cpu_initialization_period(&self) -> Duration {
        self.cpu_initialization_period
    }

    /// A pod not Ready whose last readiness change came within this delay of its start is
    /// taken as never having been Ready, and its CPU sample is not trusted.
    pub fn initial_readiness_delay(&self) -> Duration {
        self.initial_readiness_delay
    }

    /// Scale-down stabilization window without `behavior` (and the default with it).
    pub fn downscale_stabilization_window(&self) -> Duration {
        self.downscale_stabilization_window
    }

    /// Whether scaling from zero follows the `ScaledToZero` condition (see
    /// [`Self::with_scaled_to_zero_condition`]).
    pub fn scaled_to_zero_condition(&self) -> bool {
        self.scaled_to_zero_condition
    }
}

/// Usage-ratio tolerances for each direction.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerances {
    /// Ratios down to `1 − scale_down` cause no scale-down.
    pub scale_down: f64,
    /// Ratios up to `1 + scale_up` cause no scale-up.
    pub scale_up: f64,
}

impl Tolerances {
    /// The same tolerance both ways.
    pub fn symmetric(tolerance: f64) -> Self {
        Self {
            scale_down: tolerance,
            scale_up: tolerance,
        }
    }

    /// The controller's tolerance, overridden per direction by `behavior.*.tolerance`.
    pub fn for_hpa(config: &HpaControllerConfig, behavior: Option<&HpaBehavior>) -> Self {
        let mut t = Self::symmetric(config.tolerance());
        if let Some(behavior) = behavior {
            let of = |rules: &Option<super::spec::HpaScalingRules>| {
                rules.as_ref().and_then(|r| r.tolerance).map(|q| q.as_f64())
            };
            if let Some(down) = of(&behavior.scale_down) {
                t.scale_down = down;
            }
            if let Some(up) = of(&behavior.scale_up) {
                t.scale_up = up;
            }
        }
        t
    }

    /// Whether `ratio` is close enough to 1 to leave the replica count alone
    /// (both bounds inclusive, as upstream).
    pub fn is_within(&self, ratio: f64) -> bool {
        (1.0 - self.scale_down) <= ratio && ratio <= (1.0 + self.scale_up)
    }
}
