//! What the analysis-worker tests (tests/analysis_workers.rs, tests/detection.rs) share: ingesting
//! a fixture, creating a tagged stream, calling openkvs's own `/openkvs/*` analysis operations,
//! listing analyzer events and waiting for a worker's cursor. It starts no server itself.

use std::time::{Duration, Instant, SystemTime};

use super::producer::{PutOptions, put_media, split_file};
use super::{TestServer, raw_request, signed_json_post};

/// The bytes of `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Ingests a fixture (RELATIVE timecodes from now); returns the PERSISTED fragment numbers.
pub async fn put_fixture(srv: &TestServer, stream: &str, file: &str) -> Vec<String> {
    let (header, items) = split_file(&fixture(file));
    let mut chunks = vec![header];
    chunks.extend(items.into_iter().map(|(_, b)| b));
    let mut opts = PutOptions::new(stream);
    opts.timecode_type = "RELATIVE";
    let r = put_media(srv.addr, &opts, &chunks).await;
    r.of("PERSISTED").iter().map(|a| a["FragmentNumber"].as_str().unwrap().to_owned()).collect()
}

/// CreateStream with 24 h retention and `tags`.
pub async fn create_tagged(srv: &TestServer, stream: &str, tags: &[(&str, &str)]) {
    let mut req = srv.kvs().create_stream().stream_name(stream).data_retention_in_hours(24);
    for (k, v) in tags {
        req = req.tags(*k, *v);
    }
    req.send().await.unwrap();
}

/// Calls one of openkvs's own analysis operations (`/openkvs/{op}`, SigV4 with the development key).
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

/// Every analyzer event of `stream` (of one kind, or all), following `NextToken` with `page`-sized
/// pages.
pub async fn events(srv: &TestServer, stream: &str, kind: Option<&str>, page: u32) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = serde_json::json!({ "StreamName": stream, "MaxResults": page });
        if let Some(k) = kind {
            body["Kind"] = k.into();
        }
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

/// Waits (at most `within`) until `worker`'s cursor on `stream` is `last`: it has finished every
/// fragment.
pub async fn wait_caught_up(srv: &TestServer, worker: &str, stream: &str, last: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let (status, v) = call(srv, "describeWorkers", serde_json::json!({ "WorkerName": worker })).await;
        assert_eq!(status, 200, "{v}");
        let done = v["Workers"][0]["Streams"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["StreamName"] == stream && s["LastFragmentNumber"] == last);
        if done {
            return;
        }
        assert!(Instant::now() < deadline, "{worker} did not reach {last} on {stream}: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether a NATS server listens on 127.0.0.1:4222; its absence fails the test when
/// `OPENKVS_REQUIRE_NATS` is set (CI).
pub fn nats_available() -> bool {
    let up =
        std::net::TcpStream::connect_timeout(&"127.0.0.1:4222".parse().unwrap(), Duration::from_millis(300))
            .is_ok();
    if !up {
        assert!(
            std::env::var_os("OPENKVS_REQUIRE_NATS").is_none(),
            "OPENKVS_REQUIRE_NATS set but no NATS on 127.0.0.1:4222"
        );
        eprintln!("NATS part skipped: no NATS server on 127.0.0.1:4222");
    }
    up
}
