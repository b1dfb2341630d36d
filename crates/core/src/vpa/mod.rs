//! The vertical pod autoscaler's recommender math, sans IO: an OOM-aware drop-in for
//! kubernetes/autoscaler's `vertical-pod-autoscaler/pkg/recommender`.
//!
//! # Contract
//!
//! - **State.** The caller keeps one [`ContainerAggregate`] per (VPA, container name) and
//!   feeds it every matching pod's samples: [`ContainerAggregate::add_cpu_sample`]
//!   (cores), [`ContainerAggregate::add_memory_sample`] (working-set bytes) and
//!   [`ContainerAggregate::record_oom`] (bytes used at the kill and the memory request
//!   then). Each call passes `now`, the sample's time; nothing here reads a clock.
//!   Samples may arrive in any order within the current memory interval; memory samples
//!   older than it are refused ([`SampleOutcome::TooOld`]). The caller drops an aggregate
//!   when [`ContainerAggregate::is_expired`] (8 days without a sample or a kill).
//! - **Recommendation.** [`recommend`] takes the aggregates of one VPA by container name,
//!   its validated [`ResourcePolicy`] and `now`, and returns a [`VpaRecommendation`]:
//!   per container target, lower bound, upper bound and uncapped target (CPU in
//!   millicores, memory in bytes; `None` for a resource the policy does not control), and
//!   notes (capped to `minAllowed`/`maxAllowed`, memory raised by OOM kills, `maxAllowed`
//!   keeping an OOM-killed container below its need, no usage sample yet). It is a pure
//!   function: the same inputs give the same answer. A container with neither samples
//!   nor an OOM kill, or with mode `Off`, gets no entry.
//! - **Limits.** [`limit_for`] gives the limit the admission controller will set under
//!   `controlledValues` (the recommender itself publishes requests only, as upstream).
//! - **Checkpoints.** [`ContainerAggregate::to_checkpoint`] and
//!   [`ContainerAggregate::from_checkpoint`] convert to and from the status of upstream's
//!   `VerticalPodAutoscalerCheckpoint` (version "v3"), so either recommender can resume
//!   from the other's history. The OOM floor is not part of that format.
//!
//! # Upstream's algorithm, and where Tidal differs
//!
//! Histograms, memory peaks per interval, estimators, confidence, minimums and capping
//! follow upstream (see [`histogram`], [`recommender`]); the table tests in `tests/`
//! give upstream's numbers for the same sample streams. Deliberate differences:
//! - **OOM kills** ([`oom`]): an escalating, remembered floor beside the histograms
//!   instead of one artificial peak of ×1.2 the request; it works without samples and
//!   stops at `maxAllowed` with a note. Upstream's rule is kept as [`UpstreamOomRule`].
//! - **CPU sample weight**: every CPU sample weighs 0.1. Upstream weighs a sample by
//!   max(request in cores, 0.1), so raising the request makes older history fade faster;
//!   Tidal's recommendation does not depend on the request it produced itself.
//! - **One memory peak per container name per interval**, the largest across the VPA's
//!   pods (upstream keeps one per pod). Identical for one replica, more conservative for
//!   several, and the state no longer grows with the number of pods.

pub mod aggregate;
pub mod checkpoint;
pub mod histogram;
pub mod limits;
pub mod oom;
pub mod policy;
pub mod recommender;

#[cfg(test)]
mod tests;

pub use aggregate::{AggregationConfig, ContainerAggregate, SampleOutcome};
pub use checkpoint::{
    CHECKPOINT_VERSION, CheckpointError, ContainerCheckpoint, HistogramCheckpoint,
};
pub use histogram::{DecayingHistogram, HistogramOptions};
pub use limits::limit_for;
pub use oom::{OomMemory, OomOutcome, OomPolicy, OomRejected, UpstreamOomRule};
pub use policy::{
    Amounts, ContainerMode, ContainerPolicy, ControlledValues, PolicyError, ResourcePolicy,
    VpaResource,
};
pub use recommender::{
    ContainerRecommendation, NoteKind, RecommendationNote, RecommenderConfig, VpaRecommendation,
    recommend,
};
