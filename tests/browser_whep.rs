//! WHEP live view in a real browser, against HLS in the same run: `openkvs put --realtime` streams
//! the 20 s test pattern (2 s GOPs) into a stream; `GetWHEPStreamingSessionURL` (SigV4) hands out a
//! WHEP URL, and `tests/browser/whep.mjs` plays it in headless Chromium with a plain WHEP client
//! (two viewers, trickle ICE by PATCH, DELETE at the end) while `tests/browser/play.mjs` plays a
//! LIVE HLS session of the same stream. Both measure glass-to-glass latency (producer timestamp,
//! which `put --realtime` sets to the send time, to display) and the test prints both.
//!
//! Needs `/usr/bin/chromium` (or `CHROMIUM_PATH`), `node` and `npm ci` in `tests/browser`; without
//! them it prints "skipped: …" and passes. SQLite only: nothing here depends on the backend.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use aws_sdk_kinesisvideoarchivedmedia::types::{HlsDisplayFragmentTimestamp, HlsPlaybackMode};
use common::browser::{browser_dir, missing_prerequisite};
use common::{Backend, TestServer, raw_request, signed_json_post};

/// `openkvs put --realtime` of the 20 s moving test pattern, in a loop.
fn feed(endpoint: String, stream: &'static str) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let status = tokio::process::Command::new(env!("CARGO_BIN_EXE_openkvs"))
                .args(["put", "--realtime", "--stream", stream, "--endpoint", &endpoint])
                .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/h264_640x360_20s_2sgop.mkv"))
                .env("AWS_ACCESS_KEY_ID", "openkvs")
                .env("AWS_SECRET_ACCESS_KEY", "openkvs-secret")
                .env("AWS_REGION", "us-east-1")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .status()
                .await
                .expect("openkvs put runs");
            assert!(status.success(), "openkvs put failed");
        }
    })
}

/// The WHEP URL of `stream`, through the SigV4-signed openkvs operation.
pub async fn whep_url(srv: &TestServer, stream: &str) -> String {
    let body = format!(r#"{{"StreamName":"{stream}","Expires":600}}"#);
    let req = signed_json_post(
        srv.addr,
        "/openkvs/getWHEPStreamingSessionURL",
        &body,
        "kinesisvideo",
        "openkvs",
        "openkvs-secret",
        SystemTime::now(),
    );
    let resp = raw_request(srv.addr, &req).await;
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    resp.json()["WHEPStreamingSessionURL"].as_str().expect("WHEPStreamingSessionURL").to_owned()
}

async fn node(script: &str, args: &[&str], limit: Duration) -> serde_json::Value {
    let out = tokio::time::timeout(
        limit,
        tokio::process::Command::new("node")
            .arg(browser_dir().join(script))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .unwrap_or_else(|_| panic!("{script} finishes"))
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap_or_else(|_| {
        panic!(
            "{script} printed no JSON ({:?}): {stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn whep_plays_live_in_chromium_faster_than_hls() {
    if let Some(why) = missing_prerequisite("playwright-core") {
        println!("skipped: {why}");
        return;
    }
    let srv = TestServer::start(Backend::Sqlite).await;
    let stream = "whep-cam";
    srv.kvs().create_stream().stream_name(stream).data_retention_in_hours(1).send().await.unwrap();
    let producer = feed(srv.endpoint.clone(), stream);

    // HLS LIVE needs a fragment first; WHEP does not, but both start together for a fair race.
    let archived = srv.archived();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let hls = loop {
        let r = archived
            .get_hls_streaming_session_url()
            .stream_name(stream)
            .playback_mode(HlsPlaybackMode::Live)
            .display_fragment_timestamp(HlsDisplayFragmentTimestamp::Always)
            .send()
            .await;
        if let Ok(r) = r {
            break r.hls_streaming_session_url.unwrap();
        }
        assert!(tokio::time::Instant::now() < deadline, "no HLS session within 30 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let whep = whep_url(&srv, stream).await;

    let whep_args = ["--url", whep.as_str(), "--viewers", "2", "--seconds", "20"];
    let hls_args = ["--kind", "hls", "--url", hls.as_str(), "--mode", "live", "--seconds", "20"];
    let (whep_report, hls_report) = tokio::join!(
        node("whep.mjs", &whep_args, Duration::from_secs(150)),
        node("play.mjs", &hls_args, Duration::from_secs(150)),
    );
    producer.abort();
    println!("WHEP: {whep_report}");
    println!(
        "glass-to-glass latency p50: WHEP {} ms (p90 {}), HLS {} ms",
        whep_report["latencyMs"]["p50"], whep_report["latencyMs"]["p90"], hls_report["latencyMs"]["p50"]
    );
    assert_eq!(whep_report["ok"], true, "WHEP viewers did not play: {whep_report:#}");
    for s in whep_report["postStatus"].as_array().unwrap() {
        assert_eq!(s, 201);
    }
    for l in whep_report["location"].as_array().unwrap() {
        assert!(l.as_str().unwrap().starts_with("/whep/v1/sessions/"), "{l}");
    }
    for p in whep_report["patchStatus"].as_array().unwrap() {
        assert_eq!(p, &serde_json::json!([204]), "trickle PATCHes answered 204");
    }
    for size in whep_report["videoSize"].as_array().unwrap() {
        assert_eq!(size, "640x360");
    }
    let whep_p50 = whep_report["latencyMs"]["p50"].as_f64().expect("WHEP latency measured");
    assert!(whep_p50 < 1000.0, "WHEP p50 latency {whep_p50} ms");
    if let Some(hls_p50) = hls_report["latencyMs"]["p50"].as_f64() {
        assert!(whep_p50 < hls_p50, "WHEP ({whep_p50} ms) is not faster than HLS ({hls_p50} ms)");
    }
    srv.stop().await;
}
