//! The layering rules of `src/lib.rs`, checked by reading the sources (the "CI grep" of
//! ARCHITECTURE.md): nothing below `api` speaks HTTP server-side (axum, hyper, http) except the
//! outbound client; `media` imports nothing else from the crate and does no I/O; `index` imports
//! only `model`; `imaging` only `media`. (Unit-test folders inside `src/` are exempt.)

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs")
            // Unit-test folders (e.g. `auth/sigv4/tests/`, which cross-checks against the AWS SDK
            // signer through `http` types) are not part of the layer.
            && !path.components().any(|c| c.as_os_str() == "tests")
        {
            out.push(path);
        }
    }
}

/// Code lines (comments dropped) of every source file under `src/<module>`.
fn files(module: &str) -> Vec<(String, Vec<String>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    let target = root.join(module);
    if target.is_dir() {
        sources(&target, &mut paths);
    } else {
        paths.push(root.join(format!("{module}.rs")));
    }
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let lines = text
                .lines()
                .map(str::trim_start)
                .filter(|l| !l.starts_with("//"))
                .map(str::to_owned)
                .collect();
            (p.strip_prefix(&root).unwrap().display().to_string(), lines)
        })
        .collect()
}

fn violations(module: &str, forbidden: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for (file, lines) in files(module) {
        for (i, line) in lines.iter().enumerate() {
            if forbidden.iter().any(|f| line.contains(f)) {
                out.push(format!("src/{file}: {line}  (code line {})", i + 1));
            }
        }
    }
    out
}

const HTTP: &[&str] = &["axum::", "use axum", "hyper::", "use hyper", "http::", "use http"];

#[test]
fn nothing_below_api_speaks_http() {
    let mut bad = Vec::new();
    for module in [
        "model",
        "index",
        "media",
        "ingest",
        "playback",
        "workers",
        "retention",
        "store",
        "imaging",
        "signaling",
        "metrics",
        "auth",
        "webrtc",
    ] {
        bad.extend(violations(module, HTTP));
    }
    assert!(bad.is_empty(), "HTTP types below api:\n{}", bad.join("\n"));
}

#[test]
fn media_is_pure() {
    let io = ["crate::", "std::fs", "std::net", "tokio", "std::thread", "std::process"];
    let bad: Vec<String> =
        violations("media", &io).into_iter().filter(|l| !l.contains("crate::media::")).collect();
    assert!(bad.is_empty(), "media imports the crate or does I/O:\n{}", bad.join("\n"));
}

#[test]
fn index_imports_only_model() {
    let bad: Vec<String> = violations("index", &["crate::"])
        .into_iter()
        .filter(|l| !l.contains("crate::model") && !l.contains("crate::index"))
        .collect();
    assert!(bad.is_empty(), "index imports more than model:\n{}", bad.join("\n"));
}

#[test]
fn imaging_imports_only_media() {
    let bad: Vec<String> = violations("imaging", &["crate::"])
        .into_iter()
        .filter(|l| !l.contains("crate::media") && !l.contains("crate::imaging"))
        .collect();
    assert!(bad.is_empty(), "imaging imports more than media:\n{}", bad.join("\n"));
}
