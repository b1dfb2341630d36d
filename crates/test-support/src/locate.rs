//! Finding the server binaries the tests start.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::HarnessError;

/// One place a binary may be.
#[derive(Debug, Clone)]
pub(crate) enum Place {
    /// An environment variable naming the binary; when set it must be right (no silent fallback).
    Env(&'static str),
    /// A fixed path.
    File(PathBuf),
    /// Every directory of `$PATH`, looking for this file name.
    SearchPath(&'static str),
}

/// The workspace root, where `scripts/test` creates `.venv`.
pub(crate) fn workspace_root() -> PathBuf {
    // test-support lives at <root>/crates/test-support.
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Finds `program` in `places`, in order, reading variables through `env` (injected for tests).
pub(crate) fn locate(
    program: &'static str,
    install_hint: &'static str,
    places: &[Place],
    env: impl Fn(&str) -> Option<OsString>,
) -> Result<PathBuf, HarnessError> {
    let mut searched = Vec::new();
    for place in places {
        match place {
            Place::Env(var) => {
                let Some(value) = env(var).filter(|v| !v.is_empty()) else {
                    searched.push(format!("${var} (unset)"));
                    continue;
                };
                let path = PathBuf::from(value);
                if is_executable(&path) {
                    return Ok(path);
                }
                // An explicit override that is wrong must not be papered over by another copy.
                searched.push(format!("${var}={} (no executable there)", path.display()));
                return Err(not_found(program, install_hint, searched));
            }
            Place::File(path) => {
                if is_executable(path) {
                    return Ok(path.clone());
                }
                searched.push(path.display().to_string());
            }
            Place::SearchPath(name) => {
                let dirs = env("PATH").unwrap_or_default();
                if let Some(found) = std::env::split_paths(&dirs)
                    .map(|dir| dir.join(name))
                    .find(|p| is_executable(p))
                {
                    return Ok(found);
                }
                searched.push("$PATH".to_owned());
            }
        }
    }
    Err(not_found(program, install_hint, searched))
}

fn not_found(
    program: &'static str,
    install_hint: &'static str,
    searched: Vec<String>,
) -> HarnessError {
    HarnessError::BinaryNotFound {
        program,
        searched: searched.join(", "),
        install_hint,
    }
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::collections::HashMap;

    fn env_of(vars: &[(&str, &Path)]) -> impl Fn(&str) -> Option<OsString> + use<> {
        let map: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_os_str().to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn make_exe(dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn env_override_wins() {
        let dir = tempfile::tempdir().unwrap();
        let exe = make_exe(dir.path(), "tool");
        let places = [Place::Env("TOOL"), Place::SearchPath("tool")];
        let found = locate("tool", "hint", &places, env_of(&[("TOOL", exe.as_path())])).unwrap();
        assert_eq!(found, exe);
    }

    #[test]
    fn wrong_env_override_is_an_error_naming_the_variable() {
        let dir = tempfile::tempdir().unwrap();
        make_exe(dir.path(), "tool");
        let missing = dir.path().join("nope");
        let places = [Place::Env("TOOL"), Place::SearchPath("tool")];
        let env = env_of(&[("TOOL", missing.as_path()), ("PATH", dir.path())]);
        let err = locate("tool", "install it", &places, env).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("$TOOL="), "{msg}");
        assert!(msg.contains("install it"), "{msg}");
    }

    #[test]
    fn searches_path_then_fixed_files() {
        let dir = tempfile::tempdir().unwrap();
        let exe = make_exe(dir.path(), "tool");
        let places = [Place::Env("TOOL"), Place::SearchPath("tool")];
        let found = locate("tool", "hint", &places, env_of(&[("PATH", dir.path())])).unwrap();
        assert_eq!(found, exe);

        let places = [Place::SearchPath("tool"), Place::File(exe.clone())];
        let found = locate("tool", "hint", &places, env_of(&[])).unwrap();
        assert_eq!(found, exe);
    }

    #[test]
    fn non_executable_file_is_skipped_and_missing_binary_lists_every_place() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("tool");
        std::fs::write(&plain, "data").unwrap();
        let places = [
            Place::Env("TOOL"),
            Place::File(plain),
            Place::SearchPath("tool"),
        ];
        let err = locate("tool", "run ./scripts/test", &places, env_of(&[])).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("tool not found"), "{msg}");
        assert!(msg.contains("$TOOL (unset)"), "{msg}");
        assert!(msg.contains("$PATH"), "{msg}");
        assert!(msg.contains("run ./scripts/test"), "{msg}");
    }
}
