//! The console's files, compiled into the binary from `console/` at the repository root (nothing
//! is read from disk or fetched at run time; `console/vendor/` holds the committed build of hls.js,
//! see `console/README.md`).
//!
//! `GET /` and `GET /console/` answer `index.html`; `GET /console/<file>` answers that file. Every
//! answer carries its content type, `Cache-Control: no-cache` with a content `ETag` (a revalidation
//! is a `304`), and the security headers: a `Content-Security-Policy` allowing only this origin
//! (plus the configured public URL's, where session URLs point), `blob:` media and images, no
//! inline script or style, no framing; `nosniff`; no referrer across origins.
//!
//! Owns the asset table and those headers; it must not look at sessions.

use std::sync::LazyLock;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::api::{ApiSettings, AppState};

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// Path under `console/` (and under `/console/` in URLs).
    pub path: &'static str,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// The bytes.
    pub body: &'static [u8],
}

macro_rules! assets {
    ($($path:literal => $type:literal,)*) => {
        /// Every file the console serves.
        pub static ASSETS: &[Asset] = &[
            $(Asset {
                path: $path,
                content_type: $type,
                body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/console/", $path)),
            },)*
        ];
    };
}

assets! {
    "index.html" => "text/html; charset=utf-8",
    "style.css" => "text/css; charset=utf-8",
    "favicon.svg" => "image/svg+xml",
    "app.js" => "text/javascript; charset=utf-8",
    "api.js" => "text/javascript; charset=utf-8",
    "ui.js" => "text/javascript; charset=utf-8",
    "format.js" => "text/javascript; charset=utf-8",
    "player.js" => "text/javascript; charset=utf-8",
    "timeline.js" => "text/javascript; charset=utf-8",
    "views/sign_in.js" => "text/javascript; charset=utf-8",
    "views/streams.js" => "text/javascript; charset=utf-8",
    "views/stream.js" => "text/javascript; charset=utf-8",
    "views/workers.js" => "text/javascript; charset=utf-8",
    "vendor/hls.light.min.mjs" => "text/javascript; charset=utf-8",
}

static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS.iter().map(|a| format!("\"{}\"", &crate::auth::sigv4::sha256_hex(a.body)[..32])).collect()
});

/// The `Content-Security-Policy` of console responses.
pub fn content_security_policy(settings: &ApiSettings) -> String {
    let mut connect = String::from("'self'");
    let public_url = settings.public_url.as_deref().map(crate::api::without_default_port);
    if let Some(origin) = public_url.as_deref().and_then(origin_of) {
        connect.push(' ');
        connect.push_str(&origin);
    }
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; \
         media-src 'self' blob:; connect-src {connect}; worker-src 'self' blob:; font-src 'self'; \
         manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// `scheme://host[:port]` of an absolute http(s) URL.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if !matches!(scheme, "http" | "https") {
        return None;
    }
    let host = rest.split(['/', '?', '#']).next().filter(|h| !h.is_empty())?;
    host.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
        .then(|| format!("{scheme}://{host}"))
}

fn serve(state: &AppState, headers: &HeaderMap, path: &str) -> Response {
    let Some(i) = ASSETS.iter().position(|a| a.path == path) else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "Not found.\n",
        )
            .into_response();
    };
    let asset = &ASSETS[i];
    let etag = &ETAGS[i];
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut resp = if fresh { StatusCode::NOT_MODIFIED.into_response() } else { asset.body.into_response() };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&content_security_policy(&state.settings)) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    resp
}

/// `GET /`, `GET /console/`: the console page.
pub async fn index(State(state): State<AppState>, headers: HeaderMap) -> Response {
    serve(&state, &headers, "index.html")
}

/// `GET /console/<file>`.
pub async fn asset(State(state): State<AppState>, Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&state, &headers, &path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path as FsPath, PathBuf};

    fn console_dir() -> PathBuf {
        FsPath::new(env!("CARGO_MANIFEST_DIR")).join("console")
    }

    fn files_under(dir: &FsPath, base: &FsPath, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            let rel = p.strip_prefix(base).unwrap().to_string_lossy().replace('\\', "/");
            if p.is_dir() {
                if rel != "node_modules" {
                    files_under(&p, base, out);
                }
            } else {
                out.push(rel);
            }
        }
    }

    #[test]
    fn console_assets_table_lists_every_served_file() {
        let dir = console_dir();
        let mut files = Vec::new();
        files_under(&dir, &dir, &mut files);
        // Build inputs and notes are not served.
        let not_served = ["README.md", "package.json", "package-lock.json", "build.mjs", "vendor/SHA256SUMS"];
        for f in files.iter().filter(|f| !not_served.contains(&f.as_str())) {
            assert!(ASSETS.iter().any(|a| a.path == f), "console/{f} is not in the asset table");
        }
    }

    #[test]
    fn console_csp_is_self_only_plus_the_public_url() {
        let mut settings = ApiSettings { account_id: "0".into(), public_url: None, tls_listener: None };
        let csp = content_security_policy(&settings);
        assert!(csp.contains("default-src 'none'"));
        assert!(csp.contains("script-src 'self';"));
        assert!(csp.contains("connect-src 'self';"));
        assert!(csp.contains("media-src 'self' blob:"));
        assert!(!csp.contains("unsafe"));
        settings.public_url = Some("https://kvs.example.com:8443/base".into());
        assert!(
            content_security_policy(&settings).contains("connect-src 'self' https://kvs.example.com:8443;")
        );
        settings.public_url = Some("https://evil; script-src *".into());
        assert!(content_security_policy(&settings).contains("connect-src 'self';"));
    }

    /// The committed hls.js build is the npm package's file, byte for byte: its SHA-256 is recorded
    /// in `console/vendor/SHA256SUMS` by `console/build.mjs`, and where an installed copy of the
    /// same version exists (`console/node_modules`, or `tests/browser/node_modules` in CI) the
    /// bytes are compared too.
    #[test]
    fn console_vendored_hls_matches_its_build_step() {
        let dir = console_dir();
        let vendored = std::fs::read(dir.join("vendor/hls.light.min.mjs")).unwrap();
        let sums = std::fs::read_to_string(dir.join("vendor/SHA256SUMS")).unwrap();
        let line = sums
            .lines()
            .find(|l| l.ends_with("  hls.light.min.mjs"))
            .expect("hls.light.min.mjs in SHA256SUMS");
        assert_eq!(line.split_whitespace().next(), Some(crate::auth::sigv4::sha256_hex(&vendored).as_str()));
        let pinned = |package_json: &FsPath| -> Option<String> {
            let v: serde_json::Value = serde_json::from_slice(&std::fs::read(package_json).ok()?).ok()?;
            ["devDependencies", "dependencies"]
                .iter()
                .find_map(|section| v.get(section)?.get("hls.js")?.as_str().map(str::to_owned))
        };
        let ours = pinned(&dir.join("package.json")).expect("console/package.json pins hls.js");
        assert!(sums.contains(&format!("hls.js@{ours}")), "SHA256SUMS records the pinned version {ours}");
        let browser_tests = dir.join("../tests/browser");
        assert_eq!(pinned(&browser_tests.join("package.json")).as_deref(), Some(ours.as_str()));
        for installed in [dir.join("node_modules/hls.js"), browser_tests.join("node_modules/hls.js")] {
            let Ok(bytes) = std::fs::read(installed.join("dist/hls.light.min.mjs")) else { continue };
            assert_eq!(
                bytes,
                vendored,
                "{} differs from console/vendor (run npm run build in console/)",
                installed.display()
            );
        }
    }
}
