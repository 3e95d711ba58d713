//! The `detection` worker end to end with its real models (CenterNet and BlazeFace from the npm
//! package `@vladmandic/human`, run by `detection/detector.cjs`): clips made from pictures that
//! scikit-image ships (`astronaut`, `chelsea` the cat, `coffee`; tests/fixtures/README.md) and the
//! test patterns are ingested with PutMedia; the person must be found in the astronaut clip, the
//! cat in the chelsea clip, no person or animal in either test pattern; precision and recall over
//! every key frame are printed. Events are listed by `/openkvs/listAnalyzerEvents` and reach a
//! webhook and NATS (when a NATS server listens on 127.0.0.1:4222). A model brought by the user
//! (a copy of the packaged one with its own label list) is used when configured, and without the
//! package installed the worker reports itself unavailable while everything else goes on.
//!
//! Needs `npm ci` in `detection/`: skipped without it unless `OPENKVS_REQUIRE_DETECTOR=1` (CI).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::analysis::{call, create_tagged, events, nats_available, put_fixture, wait_caught_up};
use common::detection::{detector_dir, detector_installed};
use common::{Backend, TestServer};

async fn detection_status(srv: &TestServer) -> serde_json::Value {
    let (status, v) = call(srv, "describeWorkers", serde_json::json!({ "WorkerName": "detection" })).await;
    assert_eq!(status, 200, "{v}");
    v["Workers"][0].clone()
}

/// A webhook receiver: the JSON bodies it was sent.
async fn webhook() -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let rx = got.clone();
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            let rx = rx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 65536];
                let body = loop {
                    let k = sock.read(&mut chunk).await.unwrap_or(0);
                    if k == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..k]);
                    if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                        let len: usize = head
                            .lines()
                            .find_map(|l| {
                                l.strip_prefix("content-length:").map(|v| v.trim().parse().unwrap())
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            break buf[end + 4..end + 4 + len].to_vec();
                        }
                    }
                };
                if let Ok(v) = serde_json::from_slice(&body) {
                    rx.lock().unwrap().push(v);
                }
                let _ = sock
                    .write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    (url, got)
}

/// The test set: (stream, fixture, the labels that are really in it).
const SET: &[(&str, &str, &[&str])] = &[
    ("astronaut", "detection_astronaut.mkv", &["person", "face"]),
    ("chelsea", "detection_chelsea.mkv", &["cat"]),
    ("coffee", "detection_coffee.mkv", &["cup"]),
    ("pattern", "h264_640x360_20s_2sgop.mkv", &[]),
    ("still", "h264_static_640x360_10s.mkv", &[]),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_cats_and_cups_are_found_and_test_patterns_stay_empty() {
    use futures_util::StreamExt;
    if !detector_installed() {
        return;
    }
    let (hook, received) = webhook().await;
    let run = format!("t{}", uuid::Uuid::new_v4().simple());
    let nats = if nats_available() {
        Some(async_nats::connect("nats://127.0.0.1:4222").await.unwrap())
    } else {
        None
    };
    let mut sub = match &nats {
        Some(nc) => Some(nc.subscribe(format!("{run}.events.astronaut.object_start")).await.unwrap()),
        None => None,
    };
    let cfg_run = run.clone();
    let with_nats = nats.is_some();
    let srv = TestServer::start_with(Backend::Sqlite, move |c| {
        c.workers.detection.detector_dir = Some(detector_dir());
        c.workers.notifications.webhook_url = Some(hook);
        if with_nats {
            c.workers.notifications.nats_url = Some("nats://127.0.0.1:4222".into());
            c.workers.notifications.nats_subject_prefix = format!("{cfg_run}.events");
            c.workers.notifications.jetstream_stream = cfg_run.to_uppercase();
            c.workers.notifications.jetstream_subject_prefix = format!("{cfg_run}.fragments");
        }
    })
    .await;
    for (stream, _, _) in SET {
        create_tagged(&srv, stream, &[("openkvs:analyzers", "detection"), ("openkvs:detection", "ALL")])
            .await;
    }
    let mut key_frames: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (stream, file, _) in SET {
        let numbers = put_fixture(&srv, stream, file).await;
        assert!(!numbers.is_empty(), "{file} ingested");
        key_frames.insert(stream, numbers.iter().cloned().collect());
    }
    for (stream, ..) in SET {
        wait_caught_up(
            &srv,
            "detection",
            stream,
            key_frames[stream].last().unwrap(),
            Duration::from_secs(120),
        )
        .await;
    }

    // Per key frame (= fragment), the labels found; then precision/recall against the truth.
    let (mut tp, mut fp, mut fn_) = (0u32, 0u32, 0u32);
    let mut table = Vec::new();
    for (stream, _, truth) in SET {
        let labels = events(&srv, stream, Some("label"), 100).await;
        let mut by_frame: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for e in &labels {
            let bbox = &e["Detail"]["BoundingBox"];
            for k in ["Left", "Top", "Width", "Height"] {
                let v = bbox[k].as_f64().unwrap();
                assert!((0.0..=1.0).contains(&v), "{k} not normalised: {e}");
            }
            let c = e["Detail"]["Confidence"].as_f64().unwrap();
            assert!((40.0..=100.0).contains(&c), "confidence in percent, at least the minimum: {e}");
            assert_eq!(e["Worker"], "detection");
            let fragment = e["FragmentNumber"].as_str().unwrap().to_owned();
            assert!(key_frames[stream].contains(&fragment), "{e}");
            by_frame.entry(fragment).or_default().insert(e["Detail"]["Name"].as_str().unwrap().to_owned());
        }
        let (mut s_tp, mut s_fp, mut s_fn) = (0, 0, 0);
        for fragment in &key_frames[stream] {
            let found = by_frame.get(fragment).cloned().unwrap_or_default();
            for t in *truth {
                if found.contains(*t) {
                    s_tp += 1;
                } else {
                    s_fn += 1;
                }
            }
            s_fp += found.iter().filter(|f| !truth.contains(&f.as_str())).count() as u32;
        }
        let all: BTreeSet<&str> = by_frame.values().flatten().map(String::as_str).collect();
        table.push(format!(
            "| {stream} | {} | {} | {s_tp} | {s_fp} | {s_fn} | {} |",
            key_frames[stream].len(),
            truth.join(", "),
            all.into_iter().collect::<Vec<_>>().join(", ")
        ));
        tp += s_tp;
        fp += s_fp;
        fn_ += s_fn;
        match *stream {
            "astronaut" => {
                assert!(by_frame.values().any(|f| f.contains("person")), "no person: {by_frame:?}")
            }
            "chelsea" => assert!(by_frame.values().any(|f| f.contains("cat")), "no cat: {by_frame:?}"),
            "pattern" | "still" => {
                for e in &labels {
                    let category = e["Detail"]["Category"].as_str().unwrap();
                    assert!(!["PERSON", "PET", "ANIMAL"].contains(&category), "in a test pattern: {e}");
                }
            }
            _ => {}
        }
    }
    let precision = f64::from(tp) / f64::from((tp + fp).max(1));
    let recall = f64::from(tp) / f64::from((tp + fn_).max(1));
    eprintln!("| clip | key frames | truth | TP | FP | FN | labels found |\n|---|---|---|---|---|---|---|");
    eprintln!("{}", table.join("\n"));
    eprintln!("precision {precision:.2} recall {recall:.2} (TP {tp}, FP {fp}, FN {fn_}) over all key frames");

    // The person's presence: one start, with a JPEG of the frame and its boxes.
    let starts = events(&srv, "astronaut", Some("object_start"), 100).await;
    let person = starts.iter().find(|e| e["Detail"]["Name"] == "person").expect("object_start for person");
    assert_eq!(person["Detail"]["Category"], "PERSON");
    let jpeg = base64::engine::general_purpose::STANDARD
        .decode(person["Detail"]["Thumbnail"]["Base64"].as_str().unwrap())
        .unwrap();
    let img = image::load_from_memory(&jpeg).unwrap();
    assert_eq!(img.width(), 320);
    assert_eq!(starts.iter().filter(|e| e["Detail"]["Name"] == "person").count(), 1, "one span: {starts:?}");
    // The still scene was analysed once: the other key frames did not change (the motion gate).
    let w = detection_status(&srv).await;
    let delivered = w["Deliveries"][0]["Delivered"].as_u64().unwrap();
    let total: usize = key_frames.values().map(BTreeSet::len).sum();
    assert!(delivered < total as u64, "gated pictures are not sent to the models: {delivered} of {total}");

    // The webhook got the start with its thumbnail; NATS too.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let hit = received.lock().unwrap().iter().any(|b| {
            b["StreamName"] == "astronaut"
                && b["Events"].as_array().unwrap().iter().any(|e| {
                    e["Kind"] == "object_start"
                        && e["Detail"]["Name"] == "person"
                        && e["Detail"]["Thumbnail"].is_object()
                })
        });
        if hit {
            break;
        }
        assert!(Instant::now() < deadline, "no object_start for person at the webhook");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if let (Some(sub), Some(nc)) = (sub.as_mut(), &nats) {
        let mut names = Vec::new();
        while !names.contains(&"person".to_owned()) {
            let msg =
                tokio::time::timeout(Duration::from_secs(20), sub.next()).await.expect("NATS event").unwrap();
            let v: serde_json::Value = serde_json::from_slice(&msg.payload).unwrap();
            names.push(v["Events"][0]["Detail"]["Name"].as_str().unwrap().to_owned());
        }
        let js = async_nats::jetstream::new(nc.clone());
        let _ = js.delete_stream(run.to_uppercase()).await;
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_brought_by_the_user_reports_its_own_labels_and_selection_follows_tags() {
    if !detector_installed() {
        return;
    }
    // "Bring your own model": a copy of the packaged CenterNet elsewhere, with a label list of its
    // own (COCO's, the person renamed).
    let own = tempfile::tempdir().unwrap();
    let models = detector_dir().join("node_modules/@vladmandic/human/models");
    for f in ["centernet.json", "centernet.bin"] {
        std::fs::copy(models.join(f), own.path().join(f)).unwrap();
    }
    let mut labels: Vec<String> = COCO.split(',').map(str::to_owned).collect();
    labels[0] = "crew member".into();
    std::fs::write(own.path().join("labels.txt"), labels.join("\n")).unwrap();
    let (model, label_file) = (own.path().join("centernet.json"), own.path().join("labels.txt"));
    let srv = TestServer::start_with(Backend::Sqlite, move |c| {
        let d = &mut c.workers.detection;
        d.detector_dir = Some(detector_dir());
        d.object_model = Some(model);
        d.label_file = Some(label_file);
        d.faces = false;
    })
    .await;
    create_tagged(&srv, "own", &[("openkvs:analyzers", "detection"), ("openkvs:detection", "ALL")]).await;
    // PET only: the astronaut is not reported.
    create_tagged(&srv, "pets", &[("openkvs:analyzers", "detection"), ("openkvs:detection", "PET")]).await;
    let own_numbers = put_fixture(&srv, "own", "detection_astronaut.mkv").await;
    let pet_numbers = put_fixture(&srv, "pets", "detection_astronaut.mkv").await;
    wait_caught_up(&srv, "detection", "own", own_numbers.last().unwrap(), Duration::from_secs(120)).await;
    wait_caught_up(&srv, "detection", "pets", pet_numbers.last().unwrap(), Duration::from_secs(120)).await;
    let found = events(&srv, "own", Some("label"), 100).await;
    let names: BTreeSet<&str> = found.iter().map(|e| e["Detail"]["Name"].as_str().unwrap()).collect();
    assert!(names.contains("crew member"), "{names:?}");
    assert!(!names.contains("person") && !names.contains("face"), "{names:?}");
    assert!(events(&srv, "pets", Some("label"), 100).await.is_empty(), "PET selects no person");
    let w = detection_status(&srv).await;
    assert!(w["Deliveries"][0]["Destination"].as_str().unwrap().contains("detector.cjs"), "{w}");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_package_the_worker_is_unavailable_and_nothing_else_changes() {
    let empty = tempfile::tempdir().unwrap();
    let dir = empty.path().to_owned();
    let srv = TestServer::start_with(Backend::Sqlite, move |c| {
        c.workers.detection.detector_dir = Some(dir);
        c.workers.retry_backoff_ms = 10;
    })
    .await;
    create_tagged(&srv, "cam", &[("openkvs:analyzers", "detection,motion")]).await;
    let numbers = put_fixture(&srv, "cam", "h264_static_640x360_10s.mkv").await;
    assert_eq!(numbers.len(), 5, "ingest goes on");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let w = detection_status(&srv).await;
        let err = w["Deliveries"][0]["LastError"].as_str().unwrap_or_default().to_owned();
        if err.contains("unavailable") {
            assert!(err.contains("npm ci") || err.contains("does not exist"), "{err}");
            assert_eq!(w["FragmentsFailed"], 0, "fragments wait rather than being skipped: {w}");
            break;
        }
        assert!(Instant::now() < deadline, "detection not reported unavailable: {w}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The motion worker is not held up.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, v) = call(&srv, "describeWorkers", serde_json::json!({ "WorkerName": "motion" })).await;
        if v["Workers"][0]["Streams"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["LastFragmentNumber"] == *numbers.last().unwrap())
        {
            break;
        }
        assert!(Instant::now() < deadline, "motion held up: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    srv.stop().await;
}

/// COCO's 80 class names by index (the order CenterNet reports classes in).
const COCO: &str = "person,bicycle,car,motorcycle,airplane,bus,train,truck,boat,traffic light,fire hydrant,stop sign,parking meter,bench,bird,cat,dog,horse,sheep,cow,elephant,bear,zebra,giraffe,backpack,umbrella,handbag,tie,suitcase,frisbee,skis,snowboard,sports ball,kite,baseball bat,baseball glove,skateboard,surfboard,tennis racket,bottle,wine glass,cup,fork,knife,spoon,bowl,banana,apple,sandwich,orange,broccoli,carrot,hot dog,pizza,donut,cake,chair,couch,potted plant,bed,dining table,toilet,tv,laptop,mouse,remote,keyboard,cell phone,microwave,oven,toaster,sink,refrigerator,book,clock,vase,scissors,teddy bear,hair drier,toothbrush";
