//! `tidal vpa`: an OOM-aware vertical pod autoscaler recommender, a drop-in for upstream's.

pub mod crd;
