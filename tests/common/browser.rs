//! What the headless-Chromium tests share: where the node harnesses live and whether this machine
//! can run them (Debian Chromium, node, `npm ci` in `tests/browser`). Tests that cannot run print
//! "skipped: …" and pass.

use std::path::{Path, PathBuf};

/// `tests/browser`: the node harnesses and their `node_modules`.
pub fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Why a browser test cannot run here, if it cannot; `npm_package` is the package its harness
/// needs from `tests/browser/node_modules`.
pub fn missing_prerequisite(npm_package: &str) -> Option<String> {
    let chromium = std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return Some(format!("no Chromium at {chromium} (apt-get install chromium)"));
    }
    if !std::process::Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success()) {
        return Some("no node".into());
    }
    if !browser_dir().join("node_modules").join(npm_package).exists() {
        return Some("tests/browser/node_modules missing (cd tests/browser && npm ci)".into());
    }
    None
}
