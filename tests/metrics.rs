//! `GET /metrics`, `/health` and `/ready`: a scrape after real PutMedia ingest and reads carries
//! the ingest counters, the ACK latency histograms by type, the index commit histogram, request and
//! byte counters per operation, store bytes and worker series, each declared with HELP and TYPE;
//! the per-stream frames, sessions, producer-connected and last-fragment-age series, `build_info`
//! and `process_*`; GetMedia and HLS readers counted while they read, HLS resources under their KVS
//! names, a deleted stream's label freed;
//! `/ready` turns 503 when the store cannot take a write; the separate `[metrics] listen` listener
//! serves the same endpoints and nothing else; fragments that do not start on a key frame are
//! accepted, persisted and counted (metrics and `/openkvs/describeIngestHealth`).

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use common::producer::{PutOptions, Synth, now_ms, put_media, split_file};
use common::{Backend, TestServer, raw_request, signed_json_post};
use openkvs::archive::{FaultSwitch, FaultyStore};

async fn get(addr: std::net::SocketAddr, path: &str) -> common::RawResponse {
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    raw_request(addr, req.as_bytes()).await
}

/// `name{labels}` → value, for every sample line.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').expect("sample line");
            (k.to_owned(), v.parse::<f64>().unwrap_or_else(|_| panic!("bad value in {l}")))
        })
        .collect()
}

async fn scrape_after_ingest(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.kvs().create_stream().stream_name("cam-m").data_retention_in_hours(1).send().await.unwrap();
    let synth = Synth { tracks: vec![1] };
    let eofr = openkvs::media::mkv::rewrite::end_of_fragment_tags();
    let t0 = now_ms();
    let mut chunks = vec![synth.header()];
    for i in 0..3 {
        chunks.push(synth.second(t0 + i * 1000));
        chunks.push(eofr.clone());
    }
    let sent: u64 = chunks.iter().map(|c| c.len() as u64).sum();
    let put = put_media(server.addr, &PutOptions::new("cam-m"), &chunks).await;
    assert_eq!(put.status, 200);
    assert_eq!(put.timecodes("PERSISTED").len(), 3, "{:?}", put.acks);
    // A refused PutMedia (unknown stream) counts as a connection error.
    let refused = put_media(server.addr, &PutOptions::new("no-such-stream"), &chunks[..1]).await;
    assert_eq!(refused.status, 404);
    let listed = server.archived().list_fragments().stream_name("cam-m").send().await.unwrap();
    assert_eq!(listed.fragments().len(), 3);

    let health = get(server.addr, "/health").await;
    assert_eq!(health.status, 200);
    let ready = get(server.addr, "/ready").await;
    assert_eq!(ready.status, 200, "{}", String::from_utf8_lossy(&ready.body));
    assert_eq!(ready.json()["index"], "ok");

    let resp = get(server.addr, "/metrics").await;
    assert_eq!(resp.status, 200);
    assert!(resp.header("content-type").unwrap().starts_with("text/plain; version=0.0.4"));
    let text = String::from_utf8(resp.body).unwrap();
    let s = samples(&text);
    let v = |k: &str| *s.get(k).unwrap_or_else(|| panic!("no sample {k} in\n{text}"));
    assert_eq!(v("openkvs_put_media_incoming_fragments_total"), 3.0);
    assert_eq!(v("openkvs_put_media_persisted_fragments_total"), 3.0);
    assert_eq!(v("openkvs_put_media_incoming_bytes_total"), sent as f64);
    assert_eq!(v("openkvs_stream_incoming_fragments_total{stream=\"cam-m\"}"), 3.0);
    assert_eq!(v("openkvs_put_media_sessions_total"), 1.0);
    assert_eq!(v("openkvs_put_media_active_connections"), 0.0);
    assert_eq!(v("openkvs_put_media_connection_errors_total"), 1.0);
    assert_eq!(v("openkvs_put_media_ack_latency_seconds_count{type=\"RECEIVED\"}"), 3.0);
    assert_eq!(v("openkvs_put_media_ack_latency_seconds_count{type=\"PERSISTED\"}"), 3.0);
    assert_eq!(v("openkvs_put_media_ack_latency_seconds_bucket{type=\"PERSISTED\",le=\"+Inf\"}"), 3.0);
    assert!(v("openkvs_index_call_seconds_count{call=\"insert_fragments\"}") >= 1.0);
    assert_eq!(v("openkvs_requests_total{operation=\"CreateStream\"}"), 1.0);
    assert_eq!(v("openkvs_requests_total{operation=\"ListFragments\"}"), 1.0);
    assert_eq!(v("openkvs_request_errors_total{operation=\"PutMedia\",class=\"4xx\"}"), 1.0);
    assert!(v("openkvs_response_bytes_total{operation=\"ListFragments\"}") > 0.0);
    assert!(v("openkvs_request_latency_seconds_count{operation=\"ListFragments\"}") == 1.0);
    assert!(v("openkvs_store_bytes") > 0.0);
    // PutMedia.IncomingFrames (25 frames a fragment), FragmentIngestionLatency, per-stream sessions.
    assert_eq!(v("openkvs_put_media_incoming_frames_total"), 75.0);
    assert_eq!(v("openkvs_stream_incoming_frames_total{stream=\"cam-m\"}"), 75.0);
    assert_eq!(v("openkvs_put_media_fragment_ingestion_latency_seconds_count"), 3.0);
    assert_eq!(v("openkvs_stream_put_media_sessions_total{stream=\"cam-m\"}"), 1.0);
    // The camera is gone: no producer connected, its last fragment ages.
    assert_eq!(v("openkvs_stream_producer_connected{stream=\"cam-m\"}"), 0.0);
    let age = v("openkvs_stream_last_fragment_age_seconds{stream=\"cam-m\"}");
    assert!((0.0..60.0).contains(&age), "{age}");
    assert_eq!(v("openkvs_active_readers{protocol=\"GetMedia\"}"), 0.0);
    assert!(text.contains("openkvs_build_info{"), "{text}");
    if std::path::Path::new("/proc/self/stat").exists() {
        assert!(v("process_resident_memory_bytes") > 0.0 && v("process_open_fds") > 0.0);
        assert!(v("process_start_time_seconds") > 1.0e9 && s.contains_key("process_cpu_seconds_total"));
    }
    for kvs in [
        "PutMedia.IncomingBytes",
        "PutMedia.IncomingFragments",
        "PutMedia.IncomingFrames",
        "PutMedia.FragmentIngestionLatency",
        "PutMedia.FragmentPersistLatency",
        "PutMedia.ConnectionErrors",
        "GetMedia.OutgoingBytes",
        "GetMedia.OutgoingFragments",
        "GetMedia.MillisBehindNow",
        "GetHLSMediaPlaylist.Requests",
        "ListFragments.Latency",
    ] {
        assert!(text.contains(kvs), "no HELP names {kvs}");
    }
    assert!(text.contains("# HELP openkvs_put_media_incoming_bytes_total "));
    assert!(text.contains("openkvs_worker_lag_fragments{worker="), "worker lag series:\n{text}");
    // Every sample belongs to a declared family.
    let declared: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    for name in s.keys() {
        let base = name.split('{').next().unwrap();
        let family =
            ["_bucket", "_sum", "_count"].iter().fold(base, |n, suf| n.strip_suffix(suf).unwrap_or(n));
        assert!(declared.contains(&base) || declared.contains(&family), "undeclared sample {name}");
    }
    // GetMediaForFragmentList bytes are counted as sent.
    let numbers: Vec<String> =
        listed.fragments().iter().map(|f| f.fragment_number().unwrap().to_owned()).collect();
    let media = server
        .archived()
        .get_media_for_fragment_list()
        .stream_name("cam-m")
        .set_fragments(Some(numbers))
        .send()
        .await
        .unwrap();
    let body = media.payload.collect().await.unwrap().into_bytes();
    let text = String::from_utf8(get(server.addr, "/metrics").await.body).unwrap();
    let s = samples(&text);
    assert_eq!(s["openkvs_response_bytes_total{operation=\"GetMediaForFragmentList\"}"], body.len() as f64);
    server.stop().await;
}

async fn ready_fails_when_the_store_cannot_write(backend: Backend) {
    let switch = FaultSwitch::new();
    let s2 = switch.clone();
    let server =
        TestServer::start_with_store(backend, |_| {}, move |inner| Arc::new(FaultyStore::new(inner, s2)))
            .await;
    assert_eq!(get(server.addr, "/ready").await.status, 200);
    switch.set(true);
    let ready = get(server.addr, "/ready").await;
    assert_eq!(ready.status, 503);
    assert_eq!(ready.json()["index"], "ok");
    assert!(ready.json()["store"].as_str().unwrap().starts_with("not writable"), "{:?}", ready.json());
    assert_eq!(get(server.addr, "/health").await.status, 200, "the process is still up");
    switch.set(false);
    assert_eq!(get(server.addr, "/ready").await.status, 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn separate_metrics_listener_serves_only_the_operations_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = openkvs::app::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        ..Default::default()
    };
    config.metrics.listen = Some("127.0.0.1:0".parse().unwrap());
    let server = openkvs::app::Server::bind(&config).await.unwrap();
    let maddr = server.metrics_addr().expect("metrics listener bound");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = rx.await;
    }));
    let m = get(maddr, "/metrics").await;
    assert_eq!(m.status, 200);
    assert!(String::from_utf8_lossy(&m.body).contains("openkvs_store_bytes "));
    assert_eq!(get(maddr, "/ready").await.status, 200);
    assert_eq!(get(maddr, "/listStreams").await.status, 404, "no API on the metrics listener");
    let _ = tx.send(());
    task.await.unwrap();
}

/// Sends a fixture file as it is, one PutMedia Cluster per file Cluster (RELATIVE timecodes).
async fn put_file_as_is(server: &TestServer, stream: &str, file: &str) -> common::producer::PutResult {
    let data = std::fs::read(format!("{}/tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let (header, items) = split_file(&data);
    let mut chunks = vec![header];
    chunks.extend(items.into_iter().map(|(_, b)| b));
    let mut opts = PutOptions::new(stream);
    opts.timecode_type = "RELATIVE";
    put_media(server.addr, &opts, &chunks).await
}

async fn describe_ingest_health(server: &TestServer, body: serde_json::Value) -> (u16, serde_json::Value) {
    let req = signed_json_post(
        server.addr,
        "/openkvs/describeIngestHealth",
        &body.to_string(),
        "kinesisvideo",
        "openkvs",
        "openkvs-secret",
        std::time::SystemTime::now(),
    );
    let resp = raw_request(server.addr, &req).await;
    (resp.status, resp.json())
}

/// ffmpeg's own Matroska (Clusters cut by time, 27 of them, 5 on a key frame) sent as it is: KVS
/// accepts every fragment, and so does openkvs, but it counts the 22 whose video starts mid-GOP,
/// per stream, and DescribeIngestHealth reports them from the index. A stream cut at key frames
/// counts none.
async fn fragments_without_key_frame_are_counted(backend: Backend) {
    let server = TestServer::start(backend).await;
    for name in ["by-time", "by-gop"] {
        server.kvs().create_stream().stream_name(name).data_retention_in_hours(1).send().await.unwrap();
    }
    let put = put_file_as_is(&server, "by-time", "h264_bframes_aac_640x360_10s.mkv").await;
    assert_eq!(put.status, 200);
    assert_eq!(put.timecodes("PERSISTED").len(), 27, "{:?}", put.acks);
    assert!(put.error_ids().is_empty(), "{:?}", put.acks);
    let put = put_file_as_is(&server, "by-gop", "h264_640x360_20s_2sgop.mkv").await;
    assert_eq!(put.timecodes("PERSISTED").len(), 10, "{:?}", put.acks);
    let listed = server.archived().list_fragments().stream_name("by-time").send().await.unwrap();
    assert_eq!(listed.fragments().len(), 27);

    let text = String::from_utf8(get(server.addr, "/metrics").await.body).unwrap();
    let s = samples(&text);
    let v = |k: &str| *s.get(k).unwrap_or_else(|| panic!("no sample {k} in\n{text}"));
    assert_eq!(v("openkvs_put_media_fragments_without_key_frame_total"), 22.0);
    assert_eq!(v("openkvs_stream_fragments_without_key_frame_total{stream=\"by-time\"}"), 22.0);
    assert_eq!(v("openkvs_stream_fragments_without_key_frame_total{stream=\"by-gop\"}"), 0.0);
    assert_eq!(v("openkvs_stream_incoming_fragments_total{stream=\"by-time\"}"), 27.0);

    let (status, h) = describe_ingest_health(&server, serde_json::json!({ "StreamName": "by-time" })).await;
    assert_eq!(status, 200, "{h}");
    assert_eq!(
        (h["FragmentsExamined"].as_u64(), h["FragmentsWithoutKeyFrame"].as_u64()),
        (Some(27), Some(22)),
        "{h}"
    );
    assert!(h["StreamARN"].as_str().unwrap().contains(":stream/by-time/"), "{h}");
    let last = &h["LastFragmentWithoutKeyFrame"];
    let numbers: Vec<&str> = listed.fragments().iter().filter_map(|f| f.fragment_number()).collect();
    assert!(numbers.contains(&last["FragmentNumber"].as_str().unwrap()), "{h}");
    assert!(last["ServerTimestamp"].as_f64().unwrap() >= h["OldestServerTimestamp"].as_f64().unwrap(), "{h}");
    let (_, h) =
        describe_ingest_health(&server, serde_json::json!({ "StreamName": "by-time", "MaxFragments": 3 }))
            .await;
    assert_eq!(h["FragmentsExamined"], 3, "{h}");
    let (_, h) = describe_ingest_health(&server, serde_json::json!({ "StreamName": "by-gop" })).await;
    assert_eq!(
        (h["FragmentsExamined"].as_u64(), h["FragmentsWithoutKeyFrame"].as_u64()),
        (Some(10), Some(0)),
        "{h}"
    );
    assert!(h.get("LastFragmentWithoutKeyFrame").is_none(), "{h}");
    let (status, e) =
        describe_ingest_health(&server, serde_json::json!({ "StreamName": "by-gop", "MaxFragments": 0 }))
            .await;
    assert_eq!((status, e["__type"].as_str()), (400, Some("InvalidArgumentException")), "{e}");
    let (status, e) = describe_ingest_health(&server, serde_json::json!({ "StreamName": "nope" })).await;
    assert_eq!((status, e["__type"].as_str()), (404, Some("ResourceNotFoundException")), "{e}");
    server.stop().await;
}

/// The reader series follow real clients: a GetMedia response (SDK) counts as an active reader of
/// its stream while it streams, with its fragments, bytes and distance behind now; HLS requests
/// count under their KVS resource names and their session as an active HLS reader; DeleteStream
/// frees the stream's label (its counts move to `_other`).
async fn reader_series_follow_get_media_and_hls(backend: Backend) {
    use aws_sdk_kinesisvideoarchivedmedia::types::{
        ContainerFormat, HlsFragmentSelector, HlsFragmentSelectorType, HlsPlaybackMode, HlsTimestampRange,
    };
    use aws_sdk_kinesisvideomedia::types::{StartSelector, StartSelectorType};
    let server = TestServer::start(backend).await;
    server.kvs().create_stream().stream_name("rd").data_retention_in_hours(1).send().await.unwrap();
    let put = put_file_as_is(&server, "rd", "h264_640x360_20s_2sgop.mkv").await;
    assert_eq!(put.timecodes("PERSISTED").len(), 10, "{:?}", put.acks);
    let scrape = || async { samples(&String::from_utf8(get(server.addr, "/metrics").await.body).unwrap()) };
    let poll = |key: &'static str, want: f64| {
        let scrape = &scrape;
        async move {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            loop {
                let s = scrape().await;
                if s.get(key) == Some(&want) {
                    return s;
                }
                assert!(std::time::Instant::now() < deadline, "{key} never reached {want}: {:?}", s.get(key));
                tokio::task::yield_now().await;
            }
        }
    };

    let media = server
        .media()
        .get_media()
        .stream_name("rd")
        .start_selector(
            StartSelector::builder().start_selector_type(StartSelectorType::Earliest).build().unwrap(),
        )
        .send()
        .await
        .unwrap();
    let s = poll("openkvs_stream_get_media_outgoing_fragments_total{stream=\"rd\"}", 10.0).await;
    assert_eq!(s["openkvs_active_readers{protocol=\"GetMedia\"}"], 1.0);
    assert_eq!(s["openkvs_stream_get_media_readers{stream=\"rd\"}"], 1.0);
    assert!(s["openkvs_stream_get_media_outgoing_bytes_total{stream=\"rd\"}"] > 100_000.0);
    // The last fragment sent was stored a moment ago: behind now by well under a minute.
    let behind = s["openkvs_stream_get_media_behind_now_seconds{stream=\"rd\"}"];
    assert!((0.0..60.0).contains(&behind), "{behind}");
    drop(media);
    let s = poll("openkvs_active_readers{protocol=\"GetMedia\"}", 0.0).await;
    assert!(!s.contains_key("openkvs_stream_get_media_behind_now_seconds{stream=\"rd\"}"));

    let now = now_ms() as i64;
    let url = server
        .archived()
        .get_hls_streaming_session_url()
        .stream_name("rd")
        .playback_mode(HlsPlaybackMode::OnDemand)
        .container_format(ContainerFormat::FragmentedMp4)
        .hls_fragment_selector(
            HlsFragmentSelector::builder()
                .fragment_selector_type(HlsFragmentSelectorType::ServerTimestamp)
                .timestamp_range(
                    HlsTimestampRange::builder()
                        .start_timestamp(
                            aws_sdk_kinesisvideoarchivedmedia::primitives::DateTime::from_millis(
                                now - 600_000,
                            ),
                        )
                        .end_timestamp(aws_sdk_kinesisvideoarchivedmedia::primitives::DateTime::from_millis(
                            now + 5_000,
                        ))
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap()
        .hls_streaming_session_url
        .unwrap();
    let master_path = url.strip_prefix(&server.endpoint).unwrap().to_owned();
    let master = get(server.addr, &master_path).await;
    assert_eq!(master.status, 200);
    let media_uri = String::from_utf8(master.body)
        .unwrap()
        .lines()
        .find(|l| l.starts_with("getHLSMediaPlaylist.m3u8"))
        .expect("a media playlist in the master")
        .to_owned();
    assert_eq!(get(server.addr, &format!("/hls/v1/{media_uri}")).await.status, 200);
    let s = scrape().await;
    assert_eq!(s["openkvs_requests_total{operation=\"GetHLSMasterPlaylist\"}"], 1.0);
    assert_eq!(s["openkvs_requests_total{operation=\"GetHLSMediaPlaylist\"}"], 1.0);
    assert_eq!(s["openkvs_requests_total{operation=\"GetHLSStreamingSessionURL\"}"], 1.0);
    assert_eq!(s["openkvs_active_readers{protocol=\"HLS\"}"], 1.0, "one session, two requests");
    assert_eq!(s["openkvs_active_readers{protocol=\"DASH\"}"], 0.0);

    server.kvs().delete_stream().stream_arn(stream_arn(&server, "rd").await).send().await.unwrap();
    let s = scrape().await;
    assert!(!s.contains_key("openkvs_stream_incoming_fragments_total{stream=\"rd\"}"), "label freed");
    assert_eq!(s["openkvs_stream_incoming_fragments_total{stream=\"_other\"}"], 10.0, "counts kept");
    assert_eq!(s["openkvs_put_media_incoming_fragments_total"], 10.0);
    server.stop().await;
}

async fn stream_arn(server: &TestServer, name: &str) -> String {
    let d = server.kvs().describe_stream().stream_name(name).send().await.unwrap();
    d.stream_info().unwrap().stream_arn().unwrap().to_owned()
}

backend_tests!(
    reader_series_follow_get_media_and_hls,
    scrape_after_ingest,
    ready_fails_when_the_store_cannot_write,
    fragments_without_key_frame_are_counted
);
