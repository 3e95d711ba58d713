//! The web console in a real browser: headless Debian Chromium driven by playwright-core
//! (`tests/browser/console.mjs`) signs in, creates a stream with the motion and thumbnails analyzers,
//! and, while `openkvs put --realtime` streams the moving test pattern into it (started here as soon
//! as the stream exists), sees the ingest bitrate in the stream list, the live video playing
//! (`video.currentTime` advances), fragments, key-frame thumbnails and a motion marker on the
//! timeline, downloads a clip of a selected range (an MP4), replays from a click on the timeline and
//! opens the worker status, where the thumbnails worker lists its uploads to the S3 bucket of the
//! stream's image destination (an S3 server that is down: retries and the last error). No CSP
//! violation or page error may occur.
//!
//! It also checks that the Media type column shows the ingested codec (the stream is created
//! without one), that the ingest stat cards name their 30 s window and cut no value off, and that
//! at a 390 px viewport no page scrolls sideways (`scrollWidth <= innerWidth`, header included).
//!
//! Full-page screenshots (sign-in, stream list, live view, timeline, workers, and the three pages at
//! 390 px) and the clip are saved to `OPENKVS_SCREENSHOT_DIR` (default
//! `target/console-screenshots/`), for CI artifacts.
//!
//! A second case checks detection events in the console: the astronaut clip
//! (`tests/fixtures/detection_astronaut.mkv`) is ingested into a stream with the detection worker
//! on (selection `ALL`), and the console must show a `person` label marker on the timeline, the
//! person's image with its box in the events list, and, through the "Range…" dialog, only the
//! person's events in a range around them and nothing in a range an hour earlier
//! (`detection.png`). It needs `npm ci` in `detection/` too; skipped without it unless
//! `OPENKVS_REQUIRE_DETECTOR=1`.
//!
//! Needs `/usr/bin/chromium` (or `CHROMIUM_PATH`), `node` and `npm ci` in `tests/browser`; without
//! them the test prints "skipped: …" and passes. It runs once (SQLite).

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::browser::{browser_dir, missing_prerequisite};
use common::{Backend, TestServer};

fn screenshot_dir() -> PathBuf {
    match std::env::var_os("OPENKVS_SCREENSHOT_DIR").filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots"),
    }
}

/// `openkvs put --realtime` of the 20 s moving test pattern into `stream` (which must exist).
fn put(endpoint: &str, stream: &str) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_openkvs"))
        .args(["put", "--realtime", "--stream", stream, "--endpoint", endpoint])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/h264_640x360_20s_2sgop.mkv"))
        .env("AWS_ACCESS_KEY_ID", "openkvs")
        .env("AWS_SECRET_ACCESS_KEY", "openkvs-secret")
        .env("AWS_REGION", "us-east-1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("openkvs put starts")
}

#[tokio::test(flavor = "multi_thread")]
async fn console_end_to_end_in_chromium() {
    if let Some(why) = missing_prerequisite("playwright-core") {
        println!("skipped: {why}");
        return;
    }
    // `s3://` image destinations go to a loopback port nothing listens on: S3 is down.
    let dead_s3 = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let srv = TestServer::start_with(Backend::Sqlite, |c| {
        c.edge.poll_interval_secs = 1;
        c.destinations.s3.endpoint = Some(format!("http://{dead_s3}"));
        c.destinations.s3.access_key_id = Some("console".into());
        c.destinations.s3.secret_access_key = Some("console-secret".into());
    })
    .await;
    let stream = "lobby-cam";
    // A real RTSP camera for the "Add camera" form (tests/rtsp/server.py).
    let camera = common::rtsp::RtspCamera::start(&["--auth", "digest", "--password", "cam-pw-7"]);
    let shots = screenshot_dir();
    std::fs::create_dir_all(&shots).unwrap();

    let mut console = tokio::process::Command::new("node")
        .arg(browser_dir().join("console.mjs"))
        .args(["--url", &srv.endpoint, "--stream", stream, "--screenshots"])
        .arg(&shots)
        .args(["--camera-url", &camera.url(Some(("camera", "cam-pw-7")))])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node starts");

    // Feed the stream while the console drives: start `put` once the console has created it, and
    // again when a run ends (each run is 20 s of video), until the console is done.
    let kvs = srv.kvs();
    let endpoint = srv.endpoint.clone();
    let producer = tokio::spawn(async move {
        for _ in 0..600 {
            if kvs.describe_stream().stream_name(stream).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        common::enable_image_generation(&kvs, stream, "s3://console-images/lobby", 2000, None).await;
        let mut runs = 0;
        loop {
            let status = put(&endpoint, stream).wait().await.unwrap();
            runs += 1;
            assert!(status.success(), "openkvs put failed (run {runs})");
        }
    });

    let out = tokio::time::timeout(Duration::from_secs(280), async {
        let mut stdout = console.stdout.take().unwrap();
        let mut stderr = console.stderr.take().unwrap();
        let (mut o, mut e) = (Vec::new(), Vec::new());
        use tokio::io::AsyncReadExt;
        let _ = tokio::join!(stdout.read_to_end(&mut o), stderr.read_to_end(&mut e));
        let status = console.wait().await.unwrap();
        (status, o, e)
    })
    .await
    .expect("console.mjs finishes");
    producer.abort();
    let (status, stdout, stderr) = out;
    let stdout = String::from_utf8_lossy(&stdout);
    let line = stdout.lines().last().unwrap_or("");
    let report: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|_| {
        panic!(
            "console.mjs printed no JSON (exit {status:?}): {stdout}\n{}",
            String::from_utf8_lossy(&stderr)
        )
    });
    println!("console report: {report:#}");
    assert_ne!(status.code(), Some(2), "harness error: {report:#}");
    assert_eq!(report["ok"], true, "console end-to-end failed: {report:#}");
    let checks = &report["checks"];
    for check in [
        "wrongSecretRefused",
        "signedIn",
        "cookieHiddenFromScript",
        "streamCreated",
        "streamListShowsIngest",
        "liveVideoPlays",
        "liveOverWebRtc",
        "timelineFragments",
        "replayFromTimeline",
        "cameraAdded",
    ] {
        assert_eq!(checks[check], true, "{check}: {report:#}");
    }
    assert!(checks["liveFallsBackToHls"]["playingAfterMs"].as_u64().is_some(), "{report:#}");
    assert!(checks["thumbnails"].as_u64().unwrap_or(0) >= 2, "{report:#}");
    assert!(checks["motionMarkers"].as_u64().unwrap_or(0) >= 1, "{report:#}");
    assert!(checks["clip"]["bytes"].as_u64().unwrap_or(0) > 20_000, "{report:#}");
    assert!(checks["workers"].as_u64().unwrap_or(0) >= 2, "{report:#}");
    assert!(checks["uploads"].as_str().is_some_and(|row| row.contains("s3://console-images")), "{report:#}");
    for name in ["sign-in.png", "streams.png", "live.png", "timeline.png", "workers.png"] {
        let png = std::fs::read(shots.join(name)).unwrap_or_default();
        assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "screenshot {name}");
    }
    // The console created the stream with the analyzers tag, like any other client would.
    let tags = srv.kvs().list_tags_for_stream().stream_name(stream).send().await.unwrap();
    let analyzers = tags.tags().and_then(|t| t.get("openkvs:analyzers")).cloned().unwrap_or_default();
    assert!(analyzers.contains("motion") && analyzers.contains("thumbnails"), "{analyzers}");
    println!("screenshots in {}", shots.display());
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn console_shows_detection_events_in_chromium() {
    use common::analysis::{create_tagged, events, put_fixture, wait_caught_up};
    use common::detection::{detector_dir, detector_installed};
    if let Some(why) = missing_prerequisite("playwright-core") {
        println!("skipped: {why}");
        return;
    }
    if !detector_installed() {
        return;
    }
    let srv = TestServer::start_with(Backend::Sqlite, |c| {
        c.workers.detection.detector_dir = Some(detector_dir());
    })
    .await;
    let stream = "porch-cam";
    create_tagged(&srv, stream, &[("openkvs:analyzers", "detection"), ("openkvs:detection", "ALL")]).await;
    let numbers = put_fixture(&srv, stream, "detection_astronaut.mkv").await;
    wait_caught_up(
        &srv,
        "detection",
        stream,
        numbers.last().expect("fragments persisted"),
        Duration::from_secs(120),
    )
    .await;
    let starts = events(&srv, stream, Some("object_start"), 100).await;
    let person = starts.iter().find(|e| e["Detail"]["Name"] == "person").expect("a person detected");
    let at_ms = (person["ProducerTimestamp"].as_f64().unwrap() * 1000.0).round() as i64;
    let shots = screenshot_dir();
    std::fs::create_dir_all(&shots).unwrap();

    let console = tokio::process::Command::new("node")
        .arg(browser_dir().join("console.mjs"))
        .args(["--url", &srv.endpoint, "--detection-stream", stream, "--detection-at", &at_ms.to_string()])
        .args(["--seconds", "60", "--screenshots"])
        .arg(&shots)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let out =
        tokio::time::timeout(Duration::from_secs(90), console).await.expect("console.mjs finishes").unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap_or_else(|_| {
            panic!(
                "console.mjs printed no JSON (exit {:?}): {stdout}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
        });
    println!("console report: {report:#}");
    assert_ne!(out.status.code(), Some(2), "harness error: {report:#}");
    assert_eq!(report["ok"], true, "console detection checks failed: {report:#}");
    let checks = &report["checks"];
    let markers: Vec<&str> =
        checks["labelMarkers"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect();
    // Both labels before the filter (the astronaut's face too), only the person after it.
    assert!(markers.contains(&"person") && markers.contains(&"face"), "{report:#}");
    assert!(checks["eventImage"]["boxPixels"].as_u64().unwrap_or(0) >= 100, "{report:#}");
    assert_eq!(checks["eventImage"]["width"], 320, "{report:#}");
    let listed = checks["filterPersonInRange"]["listed"].as_array().unwrap();
    assert!(listed.iter().all(|l| l.as_str().unwrap().starts_with("person ")), "{report:#}");
    assert_eq!(checks["filterRangeExcludes"], true, "{report:#}");
    let png = std::fs::read(shots.join("detection.png")).unwrap_or_default();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "screenshot detection.png");
    srv.stop().await;
}
