//! The analysis fan-out end to end: a custom analyzer plugged in beside the built-in ones sees
//! every persisted fragment exactly once per pause/resume cycle and across a server restart; a
//! panicking analyzer is isolated and retried, and a fragment that always fails is skipped with an
//! `analyzer_error` event; the motion worker finds motion in the moving test pattern and none in a
//! static scene; the thumbnail worker writes real JPEGs, and PUTs them into the bucket of an
//! `s3://` destination under AWS's key layout (against the S3 server of `TEST_S3_ENDPOINT`;
//! skipped when unset unless `OPENKVS_REQUIRE_S3=1`), waiting out an S3 outage without holding up
//! ingest or analysis; webhooks are retried and HMAC-signed; events and fragments reach NATS /
//! JetStream (skipped when no NATS server listens on 127.0.0.1:4222, unless
//! `OPENKVS_REQUIRE_NATS=1`). The matrix tests run on SQLite and Postgres.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use common::analysis::{call, create_tagged, events, fixture, nats_available, put_fixture, wait_caught_up};
use common::producer::{PutOptions, put_media, split_file};
use common::{Backend, TestServer, raw_request};
use openkvs::workers::{AnalysisOutput, Analyzer, AnalyzerError, EventDraft, FragmentInput, WorkerSpec};

backend_tests!(s3_sample: [fragments_ingested_while_the_server_is_down_are_analysed_after_restart, thumbnails_are_written_as_jpeg_images];
    a_paused_worker_catches_up_every_missed_fragment_once,
    fragments_ingested_while_the_server_is_down_are_analysed_after_restart,
    a_panicking_analyzer_is_isolated_retried_and_skipped_with_an_error_event,
    motion_in_the_test_pattern_and_none_in_a_static_scene,
    thumbnails_are_written_as_jpeg_images,
    a_tag_change_applies_to_the_next_fragment,
    aws_configurations_drive_images_and_notifications,
    webhooks_are_retried_and_signed,
    events_and_fragments_reach_nats_and_jetstream,
    analysis_api_errors,
);

/// A custom analyzer that records every fragment it sees (and can be told to panic).
#[derive(Debug, Default)]
struct Recorder {
    name: String,
    seen: Mutex<Vec<(String, String)>>,
    /// Panic on the first attempt of every fragment whose ordinal (in arrival) is a multiple of 3.
    flaky: bool,
    /// Always panic on fragments with this number.
    poison: Mutex<Option<String>>,
    attempts: Mutex<HashMap<String, usize>>,
    calls: AtomicUsize,
}

impl Recorder {
    fn named(name: &str) -> Arc<Self> {
        Arc::new(Self { name: name.to_owned(), ..Default::default() })
    }

    fn seen_on(&self, stream: &str) -> Vec<String> {
        self.seen.lock().unwrap().iter().filter(|(s, _)| s == stream).map(|(_, n)| n.clone()).collect()
    }
}

#[async_trait]
impl Analyzer for Recorder {
    fn name(&self) -> &str {
        &self.name
    }

    async fn analyze(&self, input: FragmentInput) -> Result<AnalysisOutput, AnalyzerError> {
        let n = input.record.number.as_str().to_owned();
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        let attempt = {
            let mut a = self.attempts.lock().unwrap();
            let e = a.entry(n.clone()).or_default();
            *e += 1;
            *e
        };
        if self.poison.lock().unwrap().as_deref() == Some(n.as_str()) {
            panic!("poisoned fragment {n}");
        }
        if self.flaky && attempt == 1 && call.is_multiple_of(3) {
            panic!("flaky first attempt");
        }
        // Prove the bytes are readable through the analyzer's media source.
        let cluster = input.media.cluster(&input.record).await?;
        assert_eq!(cluster.len() as i64, input.record.size_bytes);
        self.seen.lock().unwrap().push((input.stream.stream.name.as_str().to_owned(), n));
        Ok(AnalysisOutput {
            events: vec![EventDraft {
                kind: "seen".into(),
                producer_ts_ms: input.record.producer_ts_ms,
                end_ts_ms: None,
                score: None,
                detail: serde_json::json!({ "Bytes": cluster.len() }),
            }],
        })
    }
}

fn spec(analyzer: Arc<Recorder>) -> WorkerSpec {
    WorkerSpec { analyzer, streams: vec!["*".into()] }
}

fn quick_retries(c: &mut openkvs::app::Config) {
    c.workers.retry_backoff_ms = 5;
}

async fn a_paused_worker_catches_up_every_missed_fragment_once(backend: Backend) {
    let rec = Recorder::named("recorder");
    let srv = TestServer::start_with_workers(backend, quick_retries, vec![spec(rec.clone())]).await;
    create_tagged(&srv, "paused", &[]).await;
    let mut expected = put_fixture(&srv, "paused", "h264_640x360_20s_2sgop.mkv").await;
    assert_eq!(expected.len(), 10);
    wait_caught_up(&srv, "recorder", "paused", expected.last().unwrap(), Duration::from_secs(90)).await;
    for cycle in 0..2 {
        let (status, v) = call(&srv, "pauseWorker", serde_json::json!({ "WorkerName": "recorder" })).await;
        assert_eq!(status, 200, "{v}");
        let before = rec.seen_on("paused").len();
        let missed = put_fixture(&srv, "paused", "h264_640x360_20s_2sgop.mkv").await;
        assert_eq!(missed.len(), 10);
        let (_, v) = call(&srv, "describeWorkers", serde_json::json!({ "WorkerName": "recorder" })).await;
        assert_eq!(v["Workers"][0]["Status"], "PAUSED", "{v}");
        let lag = &v["Workers"][0]["Streams"][0];
        assert_eq!(lag["FragmentsBehind"], 10, "cycle {cycle}: {v}");
        assert!(lag["MillisBehind"].as_i64().unwrap() >= 0);
        assert_eq!(rec.seen_on("paused").len(), before, "a paused worker analysed something");
        let (status, _) = call(&srv, "resumeWorker", serde_json::json!({ "WorkerName": "recorder" })).await;
        assert_eq!(status, 200);
        expected.extend(missed);
        wait_caught_up(&srv, "recorder", "paused", expected.last().unwrap(), Duration::from_secs(90)).await;
        assert_eq!(rec.seen_on("paused"), expected, "cycle {cycle}: every fragment once, in order");
    }
    let recorded = events(&srv, "paused", Some("seen"), 7).await;
    assert_eq!(recorded.len(), expected.len());
    // Events come in producer-time order; the three uploads overlap in producer time.
    let mut numbers: Vec<&str> = recorded.iter().map(|e| e["FragmentNumber"].as_str().unwrap()).collect();
    numbers.sort();
    assert_eq!(numbers, expected.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(recorded[0]["Worker"], "recorder");
    srv.stop().await;
}

async fn fragments_ingested_while_the_server_is_down_are_analysed_after_restart(backend: Backend) {
    let rec = Recorder::named("recorder");
    let srv = TestServer::start_with_workers(backend, quick_retries, vec![spec(rec.clone())]).await;
    create_tagged(&srv, "restart", &[]).await;
    let first = put_fixture(&srv, "restart", "h264_640x360_20s_2sgop.mkv").await;
    wait_caught_up(&srv, "recorder", "restart", first.last().unwrap(), Duration::from_secs(90)).await;
    // Every worker stopped (paused), fragments arrive, then the whole server restarts.
    for w in ["recorder", "motion", "thumbnails"] {
        let (status, v) = call(&srv, "pauseWorker", serde_json::json!({ "WorkerName": w })).await;
        assert_eq!(status, 200, "{w}: {v}");
    }
    let missed = put_fixture(&srv, "restart", "h264_640x360_20s_2sgop.mkv").await;
    assert_eq!(missed.len(), 10);
    assert_eq!(rec.seen_on("restart"), first);
    let srv = srv.restart().await;
    wait_caught_up(&srv, "recorder", "restart", missed.last().unwrap(), Duration::from_secs(90)).await;
    let mut all = first.clone();
    all.extend(missed);
    assert_eq!(rec.seen_on("restart"), all);
    srv.stop().await;
}

async fn a_panicking_analyzer_is_isolated_retried_and_skipped_with_an_error_event(backend: Backend) {
    let rec = Arc::new(Recorder { name: "flaky".into(), flaky: true, ..Default::default() });
    let srv = TestServer::start_with_workers(backend, quick_retries, vec![spec(rec.clone())]).await;
    create_tagged(&srv, "flaky", &[]).await;
    let numbers = put_fixture(&srv, "flaky", "h264_640x360_20s_2sgop.mkv").await;
    wait_caught_up(&srv, "flaky", "flaky", numbers.last().unwrap(), Duration::from_secs(90)).await;
    assert_eq!(rec.seen_on("flaky"), numbers, "every fragment analysed despite panics");
    let (_, v) = call(&srv, "describeWorkers", serde_json::json!({ "WorkerName": "flaky" })).await;
    assert!(v["Workers"][0]["Panics"].as_u64().unwrap() >= 3, "{v}");
    assert_eq!(v["Workers"][0]["FragmentsFailed"], 0, "{v}");

    // A fragment that always panics is skipped after max_attempts, with an analyzer_error event;
    // the fragments after it are still analysed.
    // (Paused first, so nothing of the new batch is analysed before the poison is set.)
    let (status, _) = call(&srv, "pauseWorker", serde_json::json!({ "WorkerName": "flaky" })).await;
    assert_eq!(status, 200);
    let third = put_fixture(&srv, "flaky", "h264_640x360_20s_2sgop.mkv").await;
    *rec.poison.lock().unwrap() = Some(third[4].clone());
    call(&srv, "resumeWorker", serde_json::json!({ "WorkerName": "flaky" })).await;
    wait_caught_up(&srv, "flaky", "flaky", third.last().unwrap(), Duration::from_secs(90)).await;
    let seen = rec.seen_on("flaky");
    assert!(!seen.contains(&third[4]));
    assert!(seen.contains(&third[5]) && seen.contains(&third[9]));
    let errors = events(&srv, "flaky", Some("analyzer_error"), 7).await;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["FragmentNumber"], third[4].as_str());
    assert!(errors[0]["Detail"]["message"].as_str().unwrap().contains("gave up after 3 attempts"));
    // The server is still healthy.
    srv.kvs().describe_stream().stream_name("flaky").send().await.unwrap();
    srv.stop().await;
}

async fn motion_in_the_test_pattern_and_none_in_a_static_scene(backend: Backend) {
    let srv = TestServer::start(backend).await;
    create_tagged(&srv, "moving", &[("openkvs:analyzers", "motion")]).await;
    create_tagged(&srv, "still", &[("openkvs:analyzers", "motion")]).await;
    let moving = put_fixture(&srv, "moving", "h264_640x360_20s_2sgop.mkv").await;
    let still = put_fixture(&srv, "still", "h264_static_640x360_10s.mkv").await;
    assert_eq!((moving.len(), still.len()), (10, 5));
    wait_caught_up(&srv, "motion", "moving", moving.last().unwrap(), Duration::from_secs(90)).await;
    wait_caught_up(&srv, "motion", "still", still.last().unwrap(), Duration::from_secs(90)).await;
    let found = events(&srv, "moving", Some("motion_start"), 7).await;
    assert!(!found.is_empty(), "no motion found in the moving test pattern");
    let first = &found[0];
    assert!(first["Score"].as_f64().unwrap() >= 0.01, "{first}");
    let start = first["ProducerTimestamp"].as_f64().unwrap();
    let (_, listed) = fragments_span(&srv, "moving").await;
    assert!(start >= listed.0 && start <= listed.1, "motion at {start} outside the stream {listed:?}");
    assert!(events(&srv, "still", None, 7).await.is_empty(), "events in a static scene");
    // A stream without the tag is not analysed by motion.
    create_tagged(&srv, "untagged", &[]).await;
    put_fixture(&srv, "untagged", "h264_640x360_20s_2sgop.mkv").await;
    let (_, v) = call(&srv, "describeWorkers", serde_json::json!({ "WorkerName": "motion" })).await;
    let streams: Vec<&str> = v["Workers"][0]["Streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["StreamName"].as_str().unwrap())
        .collect();
    assert!(!streams.contains(&"untagged"), "{v}");
    srv.stop().await;
}

/// (stream id unused) and the producer time span of a stream's fragments, epoch seconds.
async fn fragments_span(srv: &TestServer, stream: &str) -> ((), (f64, f64)) {
    let out = srv.archived().list_fragments().stream_name(stream).send().await.unwrap();
    let mut lo = f64::MAX;
    let mut hi = f64::MIN;
    for f in out.fragments() {
        let t = f.producer_timestamp().unwrap().as_secs_f64();
        lo = lo.min(t);
        hi = hi.max(t + f.fragment_length_in_milliseconds() as f64 / 1000.0);
    }
    ((), (lo, hi))
}

/// The workers cache a stream's tags (on a single node until the API changes them); TagStream drops
/// the entry, so a worker the new tag selects takes the very next fragments.
async fn a_tag_change_applies_to_the_next_fragment(backend: Backend) {
    let srv = TestServer::start_with(backend, |c| c.workers.thumbnails.sampling_interval_ms = 4000).await;
    create_tagged(&srv, "retagged", &[("openkvs:analyzers", "motion")]).await;
    let first = put_fixture(&srv, "retagged", "h264_640x360_20s_2sgop.mkv").await;
    wait_caught_up(&srv, "motion", "retagged", first.last().unwrap(), Duration::from_secs(60)).await;
    srv.kvs()
        .tag_stream()
        .stream_name("retagged")
        .tags("openkvs:analyzers", "thumbnails")
        .send()
        .await
        .unwrap();
    let second = put_fixture(&srv, "retagged", "h264_640x360_20s_2sgop.mkv").await;
    wait_caught_up(&srv, "thumbnails", "retagged", second.last().unwrap(), Duration::from_secs(60)).await;
    assert!(!events(&srv, "retagged", Some("image"), 50).await.is_empty(), "thumbnails after the new tag");
    srv.stop().await;
}

async fn thumbnails_are_written_as_jpeg_images(backend: Backend) {
    let srv = TestServer::start_with(backend, |c| c.workers.thumbnails.sampling_interval_ms = 4000).await;
    create_tagged(&srv, "thumbs", &[("openkvs:analyzers", "thumbnails")]).await;
    let numbers = put_fixture(&srv, "thumbs", "h264_640x360_20s_2sgop.mkv").await;
    wait_caught_up(&srv, "thumbnails", "thumbs", numbers.last().unwrap(), Duration::from_secs(90)).await;
    let images = events(&srv, "thumbs", Some("image"), 7).await;
    assert!((4..=6).contains(&images.len()), "20 s at 4 s sampling: {} images", images.len());
    for e in &images {
        let ts = (e["ProducerTimestamp"].as_f64().unwrap() * 1000.0).round() as i64;
        assert_eq!(ts % 4000, 0, "images are taken at multiples of the interval: {e}");
        let path = e["Detail"]["Path"].as_str().unwrap();
        assert!(path.starts_with(srv.dir.path().join("images").join("thumbs").to_str().unwrap()), "{path}");
        let bytes = std::fs::read(path).unwrap();
        assert_eq!(&bytes[..3], &[0xFF, 0xD8, 0xFF], "JPEG magic");
        let img = image::load_from_memory(&bytes).unwrap();
        assert_eq!((img.width(), img.height()), (320, 180));
    }
    srv.stop().await;
}

async fn webhooks_are_retried_and_signed(backend: Backend) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A receiver that fails the first two deliveries and accepts the third.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    // (request head, body) of every delivery.
    type Deliveries = Arc<Mutex<Vec<(String, Vec<u8>)>>>;
    let received: Deliveries = Arc::default();
    let rx = received.clone();
    tokio::spawn(async move {
        let mut n = 0;
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 65536];
            let (head, body) = loop {
                let k = sock.read(&mut chunk).await.unwrap();
                if k == 0 {
                    break (String::new(), Vec::new());
                }
                buf.extend_from_slice(&chunk[..k]);
                if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..end]).to_string();
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len {
                        break (head, buf[end + 4..end + 4 + len].to_vec());
                    }
                }
            };
            n += 1;
            let status = if n <= 2 { "500 Internal Server Error" } else { "204 No Content" };
            rx.lock().unwrap().push((head, body));
            let _ = sock
                .write_all(
                    format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").as_bytes(),
                )
                .await;
        }
    });
    let hook = url.clone();
    let rec = Recorder::named("recorder");
    let srv = TestServer::start_with_workers(
        backend,
        move |c| {
            c.workers.notifications.webhook_url = Some(hook);
            c.workers.notifications.webhook_secret = Some("hook-secret".into());
            c.workers.notifications.webhook_backoff_ms = 10;
        },
        vec![WorkerSpec { analyzer: rec.clone(), streams: vec!["hooked".into()] }],
    )
    .await;
    create_tagged(&srv, "hooked", &[]).await;
    // One fragment: one event batch.
    let (header, items) = split_file(&fixture("h264_640x360_20s_2sgop.mkv"));
    let mut opts = PutOptions::new("hooked");
    opts.timecode_type = "RELATIVE";
    let r = put_media(srv.addr, &opts, &[header, items[0].1.clone()]).await;
    assert_eq!(r.of("PERSISTED").len(), 1);
    let deadline = Instant::now() + Duration::from_secs(30);
    while received.lock().unwrap().len() < 3 {
        assert!(
            Instant::now() < deadline,
            "webhook not retried: {} deliveries",
            received.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let got = received.lock().unwrap().clone();
    assert_eq!(got[0].1, got[2].1, "the same batch is re-sent");
    for (i, (head, body)) in got.iter().enumerate() {
        let header = |name: &str| {
            head.lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
                })
                .unwrap_or_else(|| panic!("no {name} header in {head}"))
        };
        assert!(head.starts_with("POST /hook HTTP/1.1"), "{head}");
        let ts: i64 = header("x-openkvs-timestamp").parse().unwrap();
        let expected = openkvs::workers::notify::webhook::signature(b"hook-secret", ts, body);
        assert_eq!(header("x-openkvs-signature"), expected);
        assert_eq!(header("x-openkvs-delivery-attempt"), (i + 1).to_string());
    }
    let v: serde_json::Value = serde_json::from_slice(&got[2].1).unwrap();
    assert_eq!(v["StreamName"], "hooked");
    assert_eq!(v["Events"][0]["Kind"], "seen");
    assert_eq!(v["Events"][0]["Worker"], "recorder");
    srv.stop().await;
}

async fn events_and_fragments_reach_nats_and_jetstream(backend: Backend) {
    use futures_util::StreamExt;
    if !nats_available() {
        return;
    }
    let run = format!("t{}", uuid::Uuid::new_v4().simple());
    let nc = async_nats::connect("nats://127.0.0.1:4222").await.unwrap();
    let mut sub = nc.subscribe(format!("{run}.events.>")).await.unwrap();
    let rec = Recorder::named("recorder");
    let cfg_run = run.clone();
    let srv = TestServer::start_with_workers(
        backend,
        move |c| {
            let n = &mut c.workers.notifications;
            n.nats_url = Some("nats://127.0.0.1:4222".into());
            n.nats_subject_prefix = format!("{cfg_run}.events");
            n.jetstream_stream = cfg_run.to_uppercase();
            n.jetstream_subject_prefix = format!("{cfg_run}.fragments");
        },
        vec![WorkerSpec { analyzer: rec.clone(), streams: vec!["natsy".into()] }],
    )
    .await;
    create_tagged(&srv, "natsy", &[]).await;
    let numbers = put_fixture(&srv, "natsy", "h264_640x360_20s_2sgop.mkv").await;
    wait_caught_up(&srv, "jetstream", "natsy", numbers.last().unwrap(), Duration::from_secs(90)).await;
    // Core NATS: one message per event, on <prefix>.<stream>.<kind>.
    let mut got = Vec::new();
    while got.len() < numbers.len() {
        let msg =
            tokio::time::timeout(Duration::from_secs(20), sub.next()).await.expect("NATS event").unwrap();
        assert_eq!(msg.subject.as_str(), format!("{run}.events.natsy.seen"));
        let v: serde_json::Value = serde_json::from_slice(&msg.payload).unwrap();
        got.push(v["Events"][0]["FragmentNumber"].as_str().unwrap().to_owned());
    }
    assert_eq!(got, numbers);
    // JetStream: every persisted fragment, durable, with a de-duplication id.
    let js = async_nats::jetstream::new(nc.clone());
    let mut stream = js.get_stream(run.to_uppercase()).await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, numbers.len() as u64);
    let consumer: async_nats::jetstream::consumer::PullConsumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            filter_subject: format!("{run}.fragments.natsy"),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut msgs = consumer.fetch().max_messages(numbers.len()).messages().await.unwrap();
    let mut listed = Vec::new();
    while let Some(m) = msgs.next().await {
        let m = m.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
        assert_eq!(v["StreamName"], "natsy");
        assert!(v["FragmentSizeInBytes"].as_i64().unwrap() > 0);
        let id = m.headers.as_ref().and_then(|h| h.get("Nats-Msg-Id")).map(|v| v.to_string()).unwrap();
        assert!(id.ends_with(v["FragmentNumber"].as_str().unwrap()), "{id}");
        listed.push(v["FragmentNumber"].as_str().unwrap().to_owned());
        m.ack().await.unwrap();
    }
    assert_eq!(listed, numbers);
    js.delete_stream(run.to_uppercase()).await.unwrap();
    srv.stop().await;
}

async fn analysis_api_errors(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let (status, v) = call(&srv, "pauseWorker", serde_json::json!({ "WorkerName": "nope" })).await;
    assert_eq!((status, v["__type"].as_str()), (404, Some("ResourceNotFoundException")), "{v}");
    let (status, v) = call(&srv, "pauseWorker", serde_json::json!({})).await;
    assert_eq!(status, 400, "{v}");
    let (status, v) = call(&srv, "listAnalyzerEvents", serde_json::json!({ "StreamName": "missing" })).await;
    assert_eq!((status, v["__type"].as_str()), (404, Some("ResourceNotFoundException")), "{v}");
    create_tagged(&srv, "errs", &[]).await;
    for bad in [
        serde_json::json!({ "StreamName": "errs", "MaxResults": 0 }),
        serde_json::json!({ "StreamName": "errs", "StartTimestamp": 10, "EndTimestamp": 5 }),
        serde_json::json!({ "StreamName": "errs", "NextToken": "!!" }),
        serde_json::json!({ "StreamName": "errs", "Bogus": 1 }),
        serde_json::json!({}),
    ] {
        let (status, v) = call(&srv, "listAnalyzerEvents", bad.clone()).await;
        assert_eq!(status, 400, "{bad} → {v}");
    }
    let (status, v) = call(&srv, "describeWorkers", serde_json::json!({})).await;
    assert_eq!(status, 200);
    let names: Vec<&str> =
        v["Workers"].as_array().unwrap().iter().map(|w| w["WorkerName"].as_str().unwrap()).collect();
    // Detection is listed (it selects no stream unless configured); no NATS configured: no
    // jetstream worker.
    assert_eq!(names, vec!["thumbnails", "motion", "detection"], "no NATS configured: no jetstream worker");
    // Unsigned requests are refused like every AWS operation.
    let resp = raw_request(
        srv.addr,
        format!("POST /openkvs/describeWorkers HTTP/1.1\r\nhost: {}\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{{}}", srv.addr).as_bytes(),
    )
    .await;
    assert!(resp.status == 403 || resp.status == 401 || resp.status == 400, "{}", resp.status);
    srv.stop().await;
}

/// UpdateImageGenerationConfiguration turns the thumbnail worker on for an untagged stream with
/// the configuration's format, size, interval and destination (a `file://` directory under the
/// image root); UpdateNotificationConfiguration with an http URI makes that URL receive the
/// stream's events.
async fn aws_configurations_drive_images_and_notifications(backend: Backend) {
    use aws_sdk_kinesisvideo::types::{
        ConfigurationStatus, Format, ImageGenerationConfiguration, ImageGenerationDestinationConfig,
        ImageSelectorType, NotificationConfiguration, NotificationDestinationConfig,
    };
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A webhook receiver that accepts everything and keeps the bodies.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/kvs", listener.local_addr().unwrap());
    let bodies: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let keep = bodies.clone();
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 65536];
            loop {
                let k = sock.read(&mut chunk).await.unwrap_or(0);
                if k == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..k]);
                if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len {
                        keep.lock().unwrap().push(buf[end + 4..end + 4 + len].to_vec());
                        break;
                    }
                }
            }
            let _ =
                sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
        }
    });
    let srv = TestServer::start(backend).await;
    create_tagged(&srv, "configured", &[]).await;
    let kvs = srv.kvs();
    kvs.update_image_generation_configuration()
        .stream_name("configured")
        .image_generation_configuration(
            ImageGenerationConfiguration::builder()
                .status(ConfigurationStatus::Enabled)
                .image_selector_type(ImageSelectorType::ProducerTimestamp)
                .destination_config(
                    ImageGenerationDestinationConfig::builder()
                        .uri("file://bucket/prefix")
                        .destination_region("us-east-1")
                        .build()
                        .unwrap(),
                )
                .sampling_interval(5000)
                .format(Format::Png)
                .width_pixels(200)
                .height_pixels(100)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    kvs.update_notification_configuration()
        .stream_name("configured")
        .notification_configuration(
            NotificationConfiguration::builder()
                .status(ConfigurationStatus::Enabled)
                .destination_config(NotificationDestinationConfig::builder().uri(&hook).build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let numbers = put_fixture(&srv, "configured", "h264_640x360_20s_2sgop.mkv").await;
    wait_caught_up(&srv, "thumbnails", "configured", numbers.last().unwrap(), Duration::from_secs(90)).await;
    let images = events(&srv, "configured", Some("image"), 7).await;
    assert!((3..=5).contains(&images.len()), "20 s at 5 s sampling: {} images", images.len());
    let dir = srv.dir.path().join("images/bucket/prefix/configured");
    for e in &images {
        let path = e["Detail"]["Path"].as_str().unwrap();
        assert!(path.starts_with(dir.to_str().unwrap()), "{path}");
        let img = image::load_from_memory_with_format(&std::fs::read(path).unwrap(), image::ImageFormat::Png)
            .unwrap();
        assert_eq!((img.width(), img.height()), (200, 100));
    }
    // The motion worker does not run here (no tag), so every event is an image event; each was
    // delivered to the configured webhook.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let delivered: usize = bodies
            .lock()
            .unwrap()
            .iter()
            .map(|b| {
                serde_json::from_slice::<serde_json::Value>(b).unwrap()["Events"].as_array().unwrap().len()
            })
            .sum();
        if delivered == images.len() {
            break;
        }
        assert!(Instant::now() < deadline, "{delivered} of {} events delivered", images.len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let first: serde_json::Value = serde_json::from_slice(&bodies.lock().unwrap()[0]).unwrap();
    assert_eq!(first["StreamName"], "configured");
    assert_eq!(first["Events"][0]["Kind"], "image");
    srv.stop().await;
}

/// A stream name is never a path: streams named `.`, `..` and other names made only of dots,
/// dashes and underscores (all valid KVS names) each get their own image directory inside the
/// image root, and nothing is written next to it (`..`) or shared (`.`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dotted_stream_names_keep_their_images_apart() {
    let srv =
        TestServer::start_with(Backend::Sqlite, |c| c.workers.thumbnails.sampling_interval_ms = 10_000).await;
    let names = [".", "..", "...", "-", "_", ".-_", "_.", "-.."];
    let root = srv.dir.path().join("images");
    for name in names {
        create_tagged(&srv, name, &[("openkvs:analyzers", "thumbnails")]).await;
        let numbers = put_fixture(&srv, name, "h264_640x360_20s_2sgop.mkv").await;
        wait_caught_up(&srv, "thumbnails", name, numbers.last().unwrap(), Duration::from_secs(90)).await;
    }
    let mut dirs = Vec::new();
    for name in names {
        let images = events(&srv, name, Some("image"), 7).await;
        assert!(!images.is_empty(), "{name:?}: no images");
        let escaped = openkvs::model::StreamName::parse(name).unwrap().path_segments().join("/");
        let own = root.join(&escaped);
        for e in &images {
            let path = std::path::PathBuf::from(e["Detail"]["Path"].as_str().unwrap());
            let real = std::fs::canonicalize(&path).unwrap();
            assert_eq!(real.parent().unwrap(), std::fs::canonicalize(&own).unwrap(), "{name:?}: {path:?}");
        }
        let files = std::fs::read_dir(&own).unwrap().count();
        assert_eq!(files, images.len(), "{name:?}: its directory holds exactly its images");
        dirs.push(escaped);
    }
    let mut listed: Vec<String> =
        std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    listed.sort();
    dirs.sort();
    assert_eq!(listed, dirs, "one directory per stream, nothing else in the image root");
    // `images/..` is the data dir: no image may land there.
    let stray: Vec<_> = std::fs::read_dir(srv.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".jpg") || n.ends_with(".tmp"))
        .collect();
    assert!(stray.is_empty(), "images written beside the image root: {stray:?}");
    srv.stop().await;
}

/// The thumbnails worker's upload status for `s3://bucket`, once `done` accepts it.
async fn wait_uploads(
    srv: &TestServer,
    bucket: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, v) =
            call(srv, "describeWorkers", serde_json::json!({ "WorkerName": "thumbnails" })).await;
        assert_eq!(status, 200, "{v}");
        let destination = format!("s3://{bucket}");
        let found = v["Workers"][0]["Deliveries"]
            .as_array()
            .expect("the thumbnails worker reports its deliveries")
            .iter()
            .find(|d| d["Destination"] == destination.as_str())
            .cloned();
        if let Some(d) = found.filter(|d| done(d)) {
            return d;
        }
        assert!(Instant::now() < deadline, "uploads to {bucket} did not settle: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An S3 client on the test server, to look at what openkvs wrote.
fn test_bucket_client(endpoint: &str, bucket: &str) -> object_store::aws::AmazonS3 {
    let _ = rustls::crypto::ring::default_provider().install_default();
    object_store::aws::AmazonS3Builder::new()
        .with_endpoint(endpoint)
        .with_allow_http(true)
        .with_virtual_hosted_style_request(false)
        .with_bucket_name(bucket)
        .with_region("us-east-1")
        .with_access_key_id("openkvs-test")
        .with_secret_access_key("openkvs-test-secret")
        .build()
        .unwrap()
}

/// Every object key under `prefix`.
async fn list_keys(client: &object_store::aws::AmazonS3, prefix: &str) -> Vec<String> {
    use futures_util::TryStreamExt;
    use object_store::ObjectStore;
    let path = object_store::path::Path::from(prefix);
    let metas: Vec<_> = client.list(Some(&path)).try_collect().await.unwrap();
    let mut keys: Vec<String> = metas.into_iter().map(|m| m.location.to_string()).collect();
    keys.sort();
    keys
}

/// The test S3 server, its bucket (created if missing) and a fresh key prefix starting with
/// `name`; `None` (saying so) when `TEST_S3_ENDPOINT` is unset.
async fn s3_test_destination(name: &str) -> Option<(String, String, String)> {
    let Some(endpoint) = common::s3_endpoint() else {
        eprintln!("TEST_S3_ENDPOINT unset: S3 image delivery not tested");
        return None;
    };
    let bucket = common::s3_bucket();
    common::ensure_s3_bucket(&endpoint, &bucket).await;
    Some((endpoint, bucket, format!("{name}-{}", uuid::Uuid::new_v4().simple())))
}

/// Points the server's `s3://` image destinations at `endpoint` with the test credentials.
fn image_s3_endpoint(c: &mut openkvs::app::Config, endpoint: &str) {
    c.destinations.s3.endpoint = Some(endpoint.to_owned());
    c.destinations.s3.access_key_id = Some("openkvs-test".into());
    c.destinations.s3.secret_access_key = Some("openkvs-test-secret".into());
}

/// An `s3://bucket/prefix` destination: each image is PUT into that bucket on the configured S3
/// server as `prefix/<AccountID>_<StreamName>_<ImageTimecode>_<GUID>.jpg` (the layout AWS
/// documents) with AWS's object metadata, and its `image` event names that key; streams named `.`
/// and `..` get keys of their own. Listed and read back through the S3 API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_are_put_into_s3_under_the_documented_keys() {
    use object_store::{Attribute, ObjectStoreExt};
    let Some((endpoint, bucket, prefix)) = s3_test_destination("some-prefix").await else { return };
    let srv = TestServer::start_with(Backend::Sqlite, |c| image_s3_endpoint(c, &endpoint)).await;
    let names = ["cam-1", ".", ".."];
    for name in names {
        create_tagged(&srv, name, &[]).await;
        common::enable_image_generation(
            &srv.kvs(),
            name,
            &format!("s3://{bucket}/{prefix}/"),
            5000,
            Some(320),
        )
        .await;
        let numbers = put_fixture(&srv, name, "h264_640x360_20s_2sgop.mkv").await;
        wait_caught_up(&srv, "thumbnails", name, numbers.last().unwrap(), Duration::from_secs(90)).await;
    }
    let status = wait_uploads(&srv, &bucket, |d| d["Pending"] == 0).await;
    let client = test_bucket_client(&endpoint, &bucket);
    let listed = list_keys(&client, &prefix).await;
    assert_eq!(status["Delivered"].as_u64(), Some(listed.len() as u64), "{status}");
    assert_eq!((status["Failed"].as_u64(), status["Dropped"].as_u64()), (Some(0), Some(0)), "{status}");
    let mut from_events = Vec::new();
    for name in names {
        let images = events(&srv, name, Some("image"), 7).await;
        assert!((3..=5).contains(&images.len()), "{name:?}: 20 s at 5 s sampling: {} images", images.len());
        for e in &images {
            let key = e["Detail"]["Key"].as_str().unwrap().to_owned();
            let ts = (e["ProducerTimestamp"].as_f64().unwrap() * 1000.0).round() as i64;
            // prefix/000000000000_<name>_<ts>_<GUID>.jpg
            let file = key.strip_prefix(&format!("{prefix}/")).unwrap_or_else(|| panic!("{key}"));
            let rest =
                file.strip_prefix(&format!("000000000000_{name}_{ts}_")).unwrap_or_else(|| panic!("{key}"));
            let guid = rest.strip_suffix(".jpg").unwrap_or_else(|| panic!("{key}"));
            assert!(uuid::Uuid::parse_str(guid).is_ok() && guid.len() == 36, "{key}");
            assert_eq!(e["Detail"]["Uri"], format!("s3://{bucket}/{key}").as_str());
            let got = client.get(&object_store::path::Path::from(key.as_str())).await.unwrap();
            let meta =
                |m: &'static str| got.attributes.get(&Attribute::Metadata(m.into())).map(|v| v.to_string());
            assert_eq!(
                meta("aws_kinesisvideo_fragment_number").as_deref(),
                e["FragmentNumber"].as_str(),
                "{key}"
            );
            assert_eq!(meta("aws_kinesisvideo_producer_timestamp"), Some(ts.to_string()), "{key}");
            assert!(meta("aws_kinesisvideo_server_timestamp").is_some(), "{key}");
            assert_eq!(
                got.attributes.get(&Attribute::ContentType).map(|v| v.to_string()).as_deref(),
                Some("image/jpeg")
            );
            let bytes = got.bytes().await.unwrap();
            assert_eq!(&bytes[..3], &[0xFF, 0xD8, 0xFF], "JPEG magic");
            let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg).unwrap();
            assert_eq!((img.width(), img.height()), (320, 180));
            from_events.push(key);
        }
    }
    from_events.sort();
    assert_eq!(from_events, listed, "one object per image event, nothing else under the prefix");
    // Nothing was written locally for these streams.
    assert!(!srv.dir.path().join("images").exists(), "no local images for s3:// destinations");
    srv.stop().await;
}

/// A TCP relay to the S3 server that can be switched off: while off it accepts and closes every
/// connection at once (S3 down), while on it relays to the real server.
struct S3Switch {
    endpoint: String,
    up: Arc<std::sync::atomic::AtomicBool>,
}

impl S3Switch {
    async fn start(target: &str) -> Self {
        let hostport = target.trim_start_matches("http://").trim_end_matches('/').to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let up = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let on = up.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !on.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let hostport = hostport.clone();
                tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&hostport).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Self { endpoint, up }
    }

    fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }
}

/// S3 is down while a stream with an `s3://` destination ingests: every fragment is still
/// PERSISTED and analysed (the cursor does not wait on S3), the worker status shows the uploads
/// retrying with the last error, the bounded queue drops (and counts) what does not fit, and no
/// `image` event claims an image that is not in the bucket. When S3 comes back the queued images
/// arrive, each with its event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_uploads_wait_out_an_s3_outage_without_holding_up_ingest() {
    let Some((endpoint, bucket, prefix)) = s3_test_destination("outage").await else { return };
    let s3 = S3Switch::start(&endpoint).await;
    let srv = TestServer::start_with(Backend::Sqlite, |c| {
        image_s3_endpoint(c, &s3.endpoint);
        let d = &mut c.destinations.s3;
        (d.queue_capacity, d.max_concurrent_puts, d.max_attempts) = (1, 1, 100_000);
        (d.retry_backoff_ms, d.max_backoff_ms) = (50, 200);
    })
    .await;
    create_tagged(&srv, "outage", &[]).await;
    common::enable_image_generation(
        &srv.kvs(),
        "outage",
        &format!("s3://{bucket}/{prefix}"),
        2000,
        Some(320),
    )
    .await;
    let numbers = put_fixture(&srv, "outage", "h264_640x360_20s_2sgop.mkv").await;
    assert_eq!(numbers.len(), 10, "every fragment PERSISTED while S3 is down");
    wait_caught_up(&srv, "thumbnails", "outage", numbers.last().unwrap(), Duration::from_secs(90)).await;
    // One image retrying, one queued, the rest dropped; nothing delivered, nothing claimed.
    let down = wait_uploads(&srv, &bucket, |d| d["Retries"].as_u64() >= Some(3)).await;
    assert_eq!((down["Delivered"].as_u64(), down["Pending"].as_u64()), (Some(0), Some(2)), "{down}");
    assert!(down["Dropped"].as_u64() >= Some(6), "{down}");
    assert!(
        down["LastError"].as_str().is_some_and(|m| !m.is_empty()) && down["LastErrorTimestamp"].is_number(),
        "{down}"
    );
    assert!(events(&srv, "outage", Some("image"), 7).await.is_empty(), "no image event before its upload");
    let scrape = raw_request(
        srv.addr,
        format!("GET /metrics HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", srv.addr).as_bytes(),
    )
    .await;
    let text = String::from_utf8(scrape.body).unwrap();
    assert!(
        text.lines().any(|l| l.starts_with("openkvs_worker_uploads_total{worker=\"thumbnails\",outcome=\"dropped\"}")),
        "{text}"
    );
    s3.set_up(true);
    let back = Instant::now();
    let up = wait_uploads(&srv, &bucket, |d| d["Pending"] == 0).await;
    eprintln!("S3 back: the queued images were delivered within {:?} ({up})", back.elapsed());
    assert_eq!(up["Delivered"].as_u64(), Some(2), "{up}");
    let generated = up["Delivered"].as_u64().unwrap() + up["Dropped"].as_u64().unwrap();
    assert!((9..=11).contains(&generated), "20 s at 2 s sampling: {generated} images ({up})");
    let images = events(&srv, "outage", Some("image"), 7).await;
    let mut keys: Vec<String> =
        images.iter().map(|e| e["Detail"]["Key"].as_str().unwrap().to_owned()).collect();
    keys.sort();
    assert_eq!(keys, list_keys(&test_bucket_client(&endpoint, &bucket), &prefix).await);
    srv.stop().await;
}
