//! Playback in a real browser: headless Debian Chromium driven by playwright-core
//! (`tests/browser/play.mjs`) plays openkvs session URLs with hls.js and dash.js from npm:
//! ON_DEMAND HLS and DASH of the H.264 + AAC fixture to the end, and LIVE HLS and DASH while
//! `openkvs put --realtime` ingests, asserting that `video.currentTime` advances and no fatal player
//! error occurs. The glass-to-glass latency the page measures (frame sent by the producer →
//! rendered) is printed, not asserted.
//!
//! Needs `/usr/bin/chromium` (or `CHROMIUM_PATH`), `node` and `npm ci` in `tests/browser`
//! (`.ci/run` does both); without them the test prints "skipped: …" and passes. It runs once
//! (SQLite): nothing in it depends on the index backend.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use aws_sdk_kinesisvideoarchivedmedia::primitives::DateTime;
use aws_sdk_kinesisvideoarchivedmedia::types::{
    DashDisplayFragmentTimestamp, DashFragmentSelector, DashFragmentSelectorType, DashPlaybackMode,
    DashTimestampRange, HlsDisplayFragmentTimestamp, HlsFragmentSelector, HlsFragmentSelectorType,
    HlsPlaybackMode, HlsTimestampRange,
};
use common::browser::{browser_dir, missing_prerequisite};
use common::producer::{PutOptions, now_ms, put_media, split_file};
use common::{Backend, TestServer};

/// Runs play.mjs and returns its JSON report.
async fn play(kind: &str, url: &str, mode: &str, extra: &[&str]) -> serde_json::Value {
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(browser_dir().join("play.mjs"))
        .args(["--kind", kind, "--url", url, "--mode", mode])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("play.mjs finishes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or("");
    let report: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|_| {
        panic!(
            "play.mjs printed no JSON (exit {:?}): {stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_ne!(out.status.code(), Some(2), "harness error: {report}");
    report
}

fn assert_played(report: &serde_json::Value, what: &str) {
    assert_eq!(report["ok"], true, "{what} did not play: {report:#}");
    assert!(report["advanced"].as_f64().unwrap_or(0.0) >= 2.0, "{what}: {report:#}");
    assert_eq!(report["fatalErrors"].as_array().map(Vec::len), Some(0), "{what}: {report:#}");
}

fn range() -> (DateTime, DateTime) {
    let now = now_ms() as i64;
    (DateTime::from_millis(now - 600_000), DateTime::from_millis(now + 5000))
}

#[tokio::test(flavor = "multi_thread")]
async fn hls_and_dash_play_in_chromium() {
    if let Some(why) = missing_prerequisite("playwright-core") {
        println!("skipped: {why}");
        return;
    }
    let srv = TestServer::start(Backend::Sqlite).await;
    let am = srv.archived();

    // ON_DEMAND: H.264 + AAC, played to the end with hls.js and dash.js (side by side).
    srv.kvs().create_stream().stream_name("vod").data_retention_in_hours(24).send().await.unwrap();
    let (header, items) = split_file(
        &std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gst_h264_aac_10s.mkv"))
            .unwrap(),
    );
    let mut chunks = vec![header];
    chunks.extend(items.into_iter().map(|(_, b)| b));
    let mut opts = PutOptions::new("vod");
    opts.timecode_type = "RELATIVE";
    assert_eq!(put_media(srv.addr, &opts, &chunks).await.of("PERSISTED").len(), 5);
    let (start, end) = range();
    let hls = am
        .get_hls_streaming_session_url()
        .stream_name("vod")
        .playback_mode(HlsPlaybackMode::OnDemand)
        .hls_fragment_selector(
            HlsFragmentSelector::builder()
                .fragment_selector_type(HlsFragmentSelectorType::ServerTimestamp)
                .timestamp_range(
                    HlsTimestampRange::builder().start_timestamp(start).end_timestamp(end).build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap()
        .hls_streaming_session_url
        .unwrap();
    let dash = am
        .get_dash_streaming_session_url()
        .stream_name("vod")
        .playback_mode(DashPlaybackMode::OnDemand)
        .dash_fragment_selector(
            DashFragmentSelector::builder()
                .fragment_selector_type(DashFragmentSelectorType::ServerTimestamp)
                .timestamp_range(
                    DashTimestampRange::builder().start_timestamp(start).end_timestamp(end).build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap()
        .dash_streaming_session_url
        .unwrap();
    let (h, d) = tokio::join!(
        play("hls", &hls, "ondemand", &["--expect-end"]),
        play("dash", &dash, "ondemand", &["--expect-end"])
    );
    assert_played(&h, "HLS ON_DEMAND");
    assert_played(&d, "DASH ON_DEMAND");
    assert!(h["advanced"].as_f64().unwrap() > 9.0, "played to the end: {h:#}");
    assert!(d["advanced"].as_f64().unwrap() > 9.0, "played to the end: {d:#}");

    // LIVE while `openkvs put --realtime` streams 20 s of H.264 (frames paced like a camera).
    let mut put = tokio::process::Command::new(env!("CARGO_BIN_EXE_openkvs"))
        .args(["put", "--realtime", "--create", "--stream", "live", "--endpoint", &srv.endpoint])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/h264_640x360_20s_2sgop.mkv"))
        .env("AWS_ACCESS_KEY_ID", "openkvs")
        .env("AWS_SECRET_ACCESS_KEY", "openkvs-secret")
        .env("AWS_REGION", "us-east-1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // A LIVE session needs a fragment: wait for the first one.
    let hls_live = loop {
        let r = am
            .get_hls_streaming_session_url()
            .stream_name("live")
            .display_fragment_timestamp(HlsDisplayFragmentTimestamp::Always)
            .send()
            .await;
        if let Ok(r) = r {
            break r.hls_streaming_session_url.unwrap();
        }
        assert!(put.try_wait().unwrap().is_none(), "openkvs put ended early");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let dash_live = am
        .get_dash_streaming_session_url()
        .stream_name("live")
        .display_fragment_timestamp(DashDisplayFragmentTimestamp::Always)
        .send()
        .await
        .unwrap()
        .dash_streaming_session_url
        .unwrap();
    let (h, d) = tokio::join!(
        play("hls", &hls_live, "live", &["--seconds", "14"]),
        play("dash", &dash_live, "live", &["--seconds", "14"])
    );
    assert_played(&h, "HLS LIVE");
    assert_played(&d, "DASH LIVE");
    println!(
        "glass-to-glass latency (frame sent by openkvs put --realtime -> rendered), hls.js: {}",
        h["latencyMs"]
    );
    println!("glass-to-glass latency, dash.js: {}", d["latencyMs"]);
    let status = tokio::time::timeout(Duration::from_secs(30), put.wait()).await.expect("put ends").unwrap();
    assert!(status.success(), "openkvs put failed");
    srv.stop().await;
}
