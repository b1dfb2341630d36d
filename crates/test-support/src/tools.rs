//! Command-line tools the deploy checks run: `promtool` (Debian's prometheus package) and
//! `kubectl` (for `kubectl kustomize`, which works offline).

use std::path::PathBuf;

use crate::HarnessError;
use crate::locate::{Place, locate};

/// Finds `promtool` ($TIDAL_PROMTOOL, else `$PATH`, else /usr/bin/promtool).
pub fn promtool() -> Result<PathBuf, HarnessError> {
    let places = [
        Place::Env("TIDAL_PROMTOOL"),
        Place::SearchPath("promtool"),
        Place::File("/usr/bin/promtool".into()),
    ];
    locate(
        "promtool",
        "Install it with ./scripts/test (the Debian prometheus package ships it), \
         or: apt-get install prometheus; or point TIDAL_PROMTOOL at a promtool binary.",
        &places,
        |k| std::env::var_os(k),
    )
}

/// Finds `kubectl` ($TIDAL_KUBECTL, else `$PATH`, else /usr/bin/kubectl); the deploy checks run
/// `kubectl kustomize`, which needs no cluster.
pub fn kubectl() -> Result<PathBuf, HarnessError> {
    let places = [
        Place::Env("TIDAL_KUBECTL"),
        Place::SearchPath("kubectl"),
        Place::File("/usr/bin/kubectl".into()),
    ];
    locate(
        "kubectl",
        "Install kubectl (it includes kustomize), or point TIDAL_KUBECTL at a kubectl binary.",
        &places,
        |k| std::env::var_os(k),
    )
}
