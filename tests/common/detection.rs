//! What the detection tests share: where the detector is installed (and whether a test must skip
//! without it), ingesting a fixture clip with PutMedia, creating a stream with tags, the
//! `/openkvs/*` analysis operations (`listAnalyzerEvents`, `describeWorkers`) and waiting for the
//! detection worker to reach a fragment.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use super::producer::{PutOptions, put_media, split_file};
use super::{TestServer, raw_request, signed_json_post};

/// `detection/`: `detector.cjs` and its `node_modules`.
pub fn detector_dir() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("detection")
}

/// Whether `npm ci` was run in `detection/`; without it a test prints "skipped" and passes,
/// unless `OPENKVS_REQUIRE_DETECTOR` is set (CI), where it fails.
pub fn detector_installed() -> bool {
    let ok = detector_dir().join("node_modules/@vladmandic/human/models/centernet.json").is_file();
    if !ok {
        assert!(
            std::env::var_os("OPENKVS_REQUIRE_DETECTOR").is_none(),
            "OPENKVS_REQUIRE_DETECTOR set but detection/node_modules is missing (run `npm ci` in detection/)"
        );
        eprintln!("skipped: the detector is not installed (run `npm ci` in detection/)");
    }
    ok
}

/// A file of `tests/fixtures`.
pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// PutMedia of a fixture clip (timecodes relative to now); the PERSISTED fragment numbers.
pub async fn put_fixture(srv: &TestServer, stream: &str, file: &str) -> Vec<String> {
    let (header, items) = split_file(&fixture(file));
    let mut chunks = vec![header];
    chunks.extend(items.into_iter().map(|(_, b)| b));
    let mut opts = PutOptions::new(stream);
    opts.timecode_type = "RELATIVE";
    let r = put_media(srv.addr, &opts, &chunks).await;
    r.of("PERSISTED").iter().map(|a| a["FragmentNumber"].as_str().unwrap().to_owned()).collect()
}

/// CreateStream with 24 h retention and these tags.
pub async fn create(srv: &TestServer, stream: &str, tags: &[(&str, &str)]) {
    let mut req = srv.kvs().create_stream().stream_name(stream).data_retention_in_hours(24);
    for (k, v) in tags {
        req = req.tags(*k, *v);
    }
    req.send().await.unwrap();
}

/// A signed `/openkvs/<op>` call: status and JSON answer.
pub async fn call(srv: &TestServer, op: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let req = signed_json_post(
        srv.addr,
        &format!("/openkvs/{op}"),
        &body.to_string(),
        "kinesisvideo",
        "openkvs",
        "openkvs-secret",
        SystemTime::now(),
    );
    let resp = raw_request(srv.addr, &req).await;
    (resp.status, resp.json())
}

/// Every event of one kind on a stream (all pages).
pub async fn events(srv: &TestServer, stream: &str, kind: &str) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = serde_json::json!({ "StreamName": stream, "MaxResults": 100, "Kind": kind });
        if let Some(t) = &token {
            body["NextToken"] = t.clone().into();
        }
        let (status, v) = call(srv, "listAnalyzerEvents", body).await;
        assert_eq!(status, 200, "{v}");
        out.extend(v["Events"].as_array().unwrap().iter().cloned());
        match v["NextToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => return out,
        }
    }
}

/// The detection worker's `describeWorkers` entry.
pub async fn detection_status(srv: &TestServer) -> serde_json::Value {
    let (status, v) = call(srv, "describeWorkers", serde_json::json!({ "WorkerName": "detection" })).await;
    assert_eq!(status, 200, "{v}");
    v["Workers"][0].clone()
}

/// Waits (up to 2 min) until the detection worker finished fragment `last` of `stream`.
pub async fn wait_caught_up(srv: &TestServer, stream: &str, last: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let w = detection_status(srv).await;
        let done = w["Streams"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["StreamName"] == stream && s["LastFragmentNumber"] == last);
        if done {
            return;
        }
        assert!(Instant::now() < deadline, "detection did not reach {last} on {stream}: {w}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
