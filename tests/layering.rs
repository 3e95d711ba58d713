//! The layering rules of `src/lib.rs`, checked by reading the sources (the "CI grep" of
//! ARCHITECTURE.md): nothing below `api` speaks HTTP server-side (axum, hyper, http) except the
//! outbound client; `media` imports nothing else from the crate and does no I/O; only `archive`
//! reaches the index and the fragment store, which import only `model`, `clock` and their own
//! errors; `imaging` imports only `media`; `config` imports no subsystem; `producer`, `bench` and
//! `edge` are clients beside the server (`app` alone hosts the edge agent). (Unit-test folders
//! inside `src/` are exempt.)

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
        "archive",
        "media",
        "ingest",
        "playback",
        "workers",
        "retention",
        "imaging",
        "signaling",
        "metrics",
        "auth",
        "edge",
        "webrtc",
        "turn_relay",
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

/// Every `crate::` path of the code lines: what a file imports from the crate (paths through
/// `super::` are checked separately).
fn crate_paths(lines: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for line in lines {
        let mut rest = line.as_str();
        while let Some(at) = rest.find("crate::") {
            let path: String =
                rest[at..].chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').collect();
            out.push(path);
            rest = &rest[at + 7..];
        }
    }
    out
}

#[test]
fn index_and_store_import_only_model_clock_and_themselves() {
    let mut bad = Vec::new();
    for module in ["archive/index", "archive/store"] {
        let own = format!("crate::{}", module.replace('/', "::"));
        for (file, lines) in files(module) {
            // A file's own unit tests (at its end) may reach anything.
            let end = lines.iter().position(|l| l.starts_with("#[cfg(test)]")).unwrap_or(lines.len());
            let lines = &lines[..end];
            for path in crate_paths(lines) {
                // `s3_client` builds an S3 client and imports nothing of the crate (checked below).
                let allowed = path.starts_with("crate::model")
                    || path.starts_with("crate::clock")
                    || path.starts_with("crate::s3_client")
                    || path.starts_with(&own);
                if !allowed {
                    bad.push(format!("src/{file}: {path}"));
                }
            }
            // `super::` from a module's root file would reach into `archive`.
            if file.ends_with("mod.rs") {
                bad.extend(
                    lines.iter().filter(|l| l.contains("super::")).map(|l| format!("src/{file}: {l}")),
                );
            } else {
                bad.extend(
                    lines.iter().filter(|l| l.contains("super::super")).map(|l| format!("src/{file}: {l}")),
                );
            }
        }
    }
    assert!(bad.is_empty(), "index/store import more than model, clock and themselves:\n{}", bad.join("\n"));
    let s3_client =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/s3_client.rs")).unwrap();
    let lines: Vec<String> = s3_client.lines().map(str::to_owned).collect();
    assert!(crate_paths(&lines).is_empty(), "s3_client imports from the crate: {:?}", crate_paths(&lines));
}

/// The names `archive` re-exports for itself, its tests and `app` only: reaching the index or
/// the store directly. Nothing else in `src` may name them.
const ARCHIVE_INTERNALS: &[&str] =
    &["Index", "open_index", "FragmentStore", "LocalStore", "FaultyStore", "FaultSwitch"];

#[test]
fn only_archive_reaches_the_index_and_the_store() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    sources(&root, &mut all);
    let archive = root.join("archive");
    let mut bad = Vec::new();
    for path in all.into_iter().filter(|p| !p.starts_with(&archive)) {
        let file = path.strip_prefix(&root).unwrap().display().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        // A file's own unit tests (at its end) may build an archive over a faulty store, as `app`'s
        // fault-injection hook does.
        let code: String = text
            .lines()
            .map(str::trim_start)
            .take_while(|l| !l.starts_with("#[cfg(test)]"))
            .filter(|l| !l.starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for module in ["crate::index", "crate::store", "archive::index", "archive::store"] {
            if code.contains(module) {
                bad.push(format!("src/{file}: {module}"));
            }
        }
        // Names imported from the archive, and paths through it.
        let mut named: Vec<String> = Vec::new();
        let mut rest = code.as_str();
        while let Some(at) = rest.find("archive::") {
            let after = &rest[at + 9..];
            let taken: String = if let Some(list) = after.strip_prefix('{') {
                list.chars().take_while(|c| *c != '}').collect()
            } else {
                after.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()
            };
            named.extend(
                taken
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .filter(|t| !t.is_empty())
                    .map(String::from),
            );
            rest = after;
        }
        // `app` chooses implementations: it may name the store contract for the fault-injection hook.
        let exempt: &[&str] = if file == "app.rs" { &["FragmentStore"] } else { &[] };
        for name in named {
            if ARCHIVE_INTERNALS.contains(&name.as_str()) && !exempt.contains(&name.as_str()) {
                bad.push(format!("src/{file}: archive::{name}"));
            }
        }
    }
    assert!(bad.is_empty(), "outside archive, code reaches the index or the store:\n{}", bad.join("\n"));
    // And `archive` keeps them private modules.
    let archive_root = std::fs::read_to_string(archive.join("mod.rs")).unwrap();
    for module in ["index", "store"] {
        assert!(archive_root.contains(&format!("\nmod {module};")), "archive declares `mod {module};`");
        assert!(!archive_root.contains(&format!("pub mod {module};")), "archive keeps `{module}` private");
    }
}

#[test]
fn imaging_imports_only_media() {
    let bad: Vec<String> = violations("imaging", &["crate::"])
        .into_iter()
        .filter(|l| !l.contains("crate::media") && !l.contains("crate::imaging"))
        .collect();
    assert!(bad.is_empty(), "imaging imports more than media:\n{}", bad.join("\n"));
}

/// `crate::…` paths a module's code names, other than its own.
fn crate_imports(module: &str) -> Vec<String> {
    violations(module, &["crate::"])
        .into_iter()
        .filter(|l| l.replace(&format!("crate::{module}::"), "").contains("crate::"))
        .collect()
}

#[test]
fn producer_bench_and_edge_are_clients_beside_the_server() {
    let allowed = |l: &String, extra: &[&str]| {
        let mut rest = l.clone();
        for m in ["crate::media", "crate::outbound"].iter().chain(extra) {
            rest = rest.replace(m, "");
        }
        !rest.contains("crate::")
    };
    let bad: Vec<String> =
        crate_imports("producer").into_iter().filter(|l| !allowed(l, &["crate::producer"])).collect();
    assert!(bad.is_empty(), "producer imports more than media and outbound:\n{}", bad.join("\n"));
    let bad: Vec<String> = crate_imports("bench")
        .into_iter()
        .filter(|l| !allowed(l, &["crate::producer", "crate::bench"]))
        .collect();
    assert!(bad.is_empty(), "bench imports more than producer, media and outbound:\n{}", bad.join("\n"));
    let bad: Vec<String> = crate_imports("edge")
        .into_iter()
        .filter(|l| !allowed(l, &["crate::producer", "crate::model", "crate::edge"]))
        .collect();
    assert!(
        bad.is_empty(),
        "edge imports more than model, media, outbound and producer:\n{}",
        bad.join("\n")
    );
    let axum = ["axum::", "use axum"];
    let mut bad = violations("producer", &axum);
    bad.extend(violations("bench", &axum));
    bad.extend(violations("edge", &axum));
    assert!(bad.is_empty(), "a client uses the server framework:\n{}", bad.join("\n"));
    // Nothing in the server reaches into a client; `app` alone hosts the edge agent (inside
    // `openkvs serve`), and reaches no further than `edge` itself.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut server = Vec::new();
    sources(&root, &mut server);
    let bad: Vec<String> = server
        .iter()
        .filter(|p| {
            let rel = p.strip_prefix(&root).unwrap();
            !rel.starts_with("producer")
                && !rel.starts_with("bench")
                && !rel.starts_with("edge")
                && !rel.ends_with("main.rs")
        })
        .flat_map(|p| {
            let rel = p.strip_prefix(&root).unwrap();
            let hosts_edge = rel.starts_with("app") || rel == Path::new("app.rs");
            std::fs::read_to_string(p)
                .unwrap()
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .filter(|l| {
                    l.contains("crate::producer")
                        || l.contains("crate::bench")
                        || (l.contains("crate::edge") && !hosts_edge)
                })
                .map(|l| format!("{}: {l}", p.display()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(bad.is_empty(), "the server imports a client:\n{}", bad.join("\n"));
}

#[test]
fn config_imports_no_subsystem() {
    let bad = crate_imports("config");
    assert!(bad.is_empty(), "config imports a subsystem (each owns its config section):\n{}", bad.join("\n"));
}
