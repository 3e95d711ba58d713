//! WebRTC through openkvs signaling in a real browser: the official KVS WebRTC SDK for JavaScript
//! (npm `amazon-kinesis-video-streams-webrtc`, unmodified) with the AWS JS SDK v3 control-plane
//! clients pointed at openkvs runs a master page on Chromium's fake camera and viewer pages
//! (`tests/browser/webrtc.mjs`); every viewer must render live video (`videoWidth > 0`,
//! `currentTime` advancing) over loopback host candidates. Time-to-first-frame is printed.
//!
//! openkvs runs with a TLS listener (the JS SDK only accepts `wss://` channel endpoints) on a
//! self-signed certificate the test browser is told to accept. Needs `/usr/bin/chromium` (or
//! `CHROMIUM_PATH`), `node` and `npm ci` in `tests/browser` (`.ci/run` does both); without them the
//! test prints "skipped: …" and passes. Runs once (SQLite): nothing here depends on the backend.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::browser::{browser_dir, missing_prerequisite};
use common::{Backend, TestServer};

/// One Chromium harness at a time: two at once on a 2-core machine starve each other's encoders.
static BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn run_harness(endpoint: &str, channel: &str, viewers: usize, extra: &[&str]) -> serde_json::Value {
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(browser_dir().join("webrtc.mjs"))
        .args(extra)
        .args([
            "--endpoint",
            endpoint,
            "--channel",
            channel,
            "--viewers",
            &viewers.to_string(),
            "--seconds",
            "60",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(150), cmd.output())
        .await
        .expect("webrtc.mjs finishes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap_or_else(|_| {
            panic!(
                "webrtc.mjs printed no JSON (exit {:?}): {stdout}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
        });
    assert_ne!(out.status.code(), Some(2), "harness error: {report:#}");
    report
}

/// The bundled SDK pages and a server with a TLS listener (the JS SDK wants `wss://`); `None`
/// (after printing why) when the browser prerequisites are missing.
async fn tls_server(
    tweak: impl FnOnce(&mut openkvs::app::Config),
) -> Option<(TestServer, tempfile::TempDir)> {
    if let Some(why) = missing_prerequisite("amazon-kinesis-video-streams-webrtc") {
        println!("skipped: {why}");
        return None;
    }
    let build = tokio::process::Command::new("npm")
        .args(["run", "--silent", "build:webrtc"])
        .current_dir(browser_dir())
        .status()
        .await
        .unwrap();
    assert!(build.success(), "bundling the KVS WebRTC SDK failed");
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let srv = TestServer::start_with(Backend::Sqlite, |c| {
        c.tls.cert = Some(cert_path.clone());
        c.tls.key = Some(key_path.clone());
        c.tls.listen = Some("127.0.0.1:0".parse().unwrap());
        tweak(c);
    })
    .await;
    Some((srv, dir))
}

#[tokio::test(flavor = "multi_thread")]
async fn kvs_webrtc_sdk_master_and_viewers_connect_through_openkvs() {
    let Some((srv, _dir)) = tls_server(|_| {}).await else { return };
    let _one = BROWSER.lock().await;
    srv.kvs().create_signaling_channel().channel_name("front-door").send().await.unwrap();
    let endpoint = format!("https://127.0.0.1:{}", srv.tls_addr.unwrap().port());
    let viewers = std::env::var("OPENKVS_WEBRTC_VIEWERS").ok().and_then(|v| v.parse().ok()).unwrap_or(2);
    let report = run_harness(&endpoint, "front-door", viewers, &[]).await;
    assert_eq!(report["ok"], true, "WebRTC through openkvs failed: {report:#}");
    assert_eq!(report["connected"], viewers, "{report:#}");
    println!("time to first frame ({viewers} viewers): {}", report["timeToFirstFrameMs"]);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn relay_only_peers_connect_through_openkvs_turn_relay() {
    let Some((srv, _dir)) = tls_server(|c| c.turn.public_ip = Some("127.0.0.1".parse().unwrap())).await
    else {
        return;
    };
    let _one = BROWSER.lock().await;
    srv.kvs().create_signaling_channel().channel_name("back-door").send().await.unwrap();
    let endpoint = format!("https://127.0.0.1:{}", srv.tls_addr.unwrap().port());
    let report = run_harness(&endpoint, "back-door", 1, &["--relay"]).await;
    assert_eq!(report["ok"], true, "relay-only WebRTC through openkvs failed: {report:#}");
    let pair = &report["viewerCandidatePairs"][0];
    assert_eq!(
        (pair["local"].as_str(), pair["remote"].as_str()),
        (Some("relay"), Some("relay")),
        "{report:#}"
    );
    let allocations = common::metric_value(srv.addr, "openkvs_turn_allocations_total").await;
    let relayed = common::metric_value(srv.addr, "openkvs_turn_relayed_bytes_total").await;
    println!(
        "relay-only: first frame {} ms, {allocations} TURN allocations, {relayed} bytes relayed, pair {pair}",
        report["timeToFirstFrameMs"]["p50"]
    );
    assert!(allocations >= 2.0, "master and viewer each allocate: {allocations}");
    // 2 s of video (the harness's --relay run), counted in and out of the relay.
    assert!(relayed > 200_000.0, "the video went through the relay: {relayed} bytes");
    assert!(pair["bytesReceived"].as_f64().unwrap_or(0.0) > 50_000.0, "{report:#}");
    srv.stop().await;
}
