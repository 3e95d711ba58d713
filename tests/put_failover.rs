//! A producer that survives the loss of its server, on one node (design/0022-producer-failover.md):
//! - the server stores a resent fragment once: a PutMedia that sends again fragments already
//!   committed gets BUFFERING / RECEIVED / PERSISTED with their EXISTING fragment numbers, and
//!   ListFragments and GetMediaForFragmentList are unchanged by it (SQLite; Postgres too when
//!   `TEST_DATABASE_URL` is set);
//! - `openkvs put --realtime` (the built binary) streaming a 10-fragment file while its server is
//!   `kill -9`ed and restarted on the same port and data directory: it reconnects, resends what was
//!   not PERSISTED, and the stream ends up with every fragment exactly once.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use aws_sdk_kinesisvideoarchivedmedia::Client as ArchivedClient;
use bytes::Bytes;
use common::process::ServeProcess;
use common::producer::{PutOptions, Synth, put_media};
use common::{Backend, TestServer, archived_client};
use tokio::process::Command;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/h264_640x360_20s_2sgop.mkv");

/// Every fragment of a stream: (producer timestamp ms, fragment number), in producer time order.
async fn listed(archived: &ArchivedClient, stream: &str) -> Vec<(i64, String)> {
    let mut out: Vec<(i64, String)> = common::all_fragments(archived, stream)
        .await
        .iter()
        .map(|f| {
            let ts = f.producer_timestamp().map(|t| t.to_millis().unwrap()).unwrap();
            (ts, f.fragment_number().unwrap().to_owned())
        })
        .collect();
    out.sort();
    out
}

/// The Cluster elements of a GetMedia-style body, in order: the media, without the per-response
/// tags (MillisBehindNow and the continuation token change from call to call).
fn clusters_in(body: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 4 <= body.len() {
        if body[i..i + 4] != [0x1f, 0x43, 0xb6, 0x75] {
            i += 1;
            continue;
        }
        let first = body[i + 4];
        let len = first.leading_zeros() as usize + 1;
        let mut size = u64::from(first) & (0xff_u64 >> len);
        for &b in &body[i + 5..i + 4 + len] {
            size = (size << 8) | u64::from(b);
        }
        let end = i + 4 + len + size as usize;
        out.push(body[i..end].to_vec());
        i = end;
    }
    out
}

/// `FragmentTimecode` → `FragmentNumber` of one kind of ACK.
fn numbers(acks: &[&serde_json::Value]) -> Vec<(u64, String)> {
    acks.iter()
        .map(|a| (a["FragmentTimecode"].as_u64().unwrap(), a["FragmentNumber"].as_str().unwrap().to_owned()))
        .collect()
}

async fn resent_fragments_are_stored_once(backend: Backend) {
    let srv = TestServer::start(backend).await;
    srv.kvs().create_stream().stream_name("resend").data_retention_in_hours(24).send().await.unwrap();
    let synth = Synth { tracks: vec![1] };
    let header = synth.header();
    let clusters: Vec<Bytes> = (0..5).map(|i| synth.second(i * 1000)).collect();
    // RELATIVE timecodes under one producer start timestamp: the reconnecting producer's case
    // that needs the header to map a resend to the same producer timestamps.
    let opts = PutOptions { timecode_type: "RELATIVE", ..PutOptions::new("resend") };
    let body = |range: std::ops::Range<usize>| {
        std::iter::once(header.clone()).chain(clusters[range].iter().cloned()).collect::<Vec<_>>()
    };

    let first = put_media(srv.addr, &opts, &body(0..3)).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.timecodes("PERSISTED"), [0, 1000, 2000], "{:?}", first.acks);
    let stored = numbers(&first.of("PERSISTED"));
    let archived = srv.archived();
    let before = listed(&archived, "resend").await;
    assert_eq!(before.len(), 3);
    let media = |numbers: Vec<String>| {
        let archived = archived.clone();
        async move {
            let resp = archived
                .get_media_for_fragment_list()
                .stream_name("resend")
                .set_fragments(Some(numbers))
                .send()
                .await
                .expect("GetMediaForFragmentList");
            clusters_in(&resp.payload.collect().await.expect("the whole body").into_bytes())
        }
    };
    let media_before = media(before.iter().map(|(_, n)| n.clone()).collect()).await;
    assert_eq!(media_before.len(), 3);

    // The producer lost its connection after fragment 0's PERSISTED: it resends 1 and 2, then goes on.
    let second = put_media(srv.addr, &opts, &body(1..5)).await;
    assert_eq!(second.status, 200);
    assert!(second.error_ids().is_empty(), "{:?}", second.acks);
    assert_eq!(second.timecodes("PERSISTED"), [1000, 2000, 3000, 4000], "{:?}", second.acks);
    for kind in ["BUFFERING", "RECEIVED", "PERSISTED"] {
        let acked = numbers(&second.of(kind));
        assert_eq!(
            acked[..2],
            stored[1..3],
            "{kind} ACKs of the resent fragments carry their stored numbers"
        );
        assert!(!stored.iter().any(|s| acked[2..].contains(s)), "new fragments get new numbers");
    }

    let after = listed(&archived, "resend").await;
    assert_eq!(after.len(), 5, "each fragment once: {after:?}");
    assert_eq!(after[..3], before[..], "the stored fragments are unchanged");
    let timestamps: Vec<i64> = after.iter().map(|(ts, _)| ts - after[0].0).collect();
    assert_eq!(timestamps, [0, 1000, 2000, 3000, 4000]);
    assert_eq!(media(before.iter().map(|(_, n)| n.clone()).collect()).await, media_before);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resent_fragments_are_stored_once_sqlite() {
    resent_fragments_are_stored_once(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resent_fragments_are_stored_once_postgres() {
    if common::postgres_url().is_none() {
        eprintln!("TEST_DATABASE_URL not set: Postgres variant skipped");
        return;
    }
    resent_fragments_are_stored_once(Backend::Postgres).await;
}

/// `openkvs put` with the development key and nothing else from the AWS environment.
fn put_command(endpoint: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_openkvs"));
    for var in ["AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION"] {
        cmd.env_remove(var);
    }
    cmd.env("AWS_ACCESS_KEY_ID", "openkvs")
        .env("AWS_SECRET_ACCESS_KEY", "openkvs-secret")
        .env("AWS_CONFIG_FILE", "/nonexistent/openkvs-test/config")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/openkvs-test/credentials")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .arg("put")
        .args(["--endpoint", endpoint, "--region", "us-east-1"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_survives_kill_9_and_restart_of_its_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(dir.path(), &[]);
    let endpoint = server.url("http");
    let port = server.port("http");
    let put = put_command(
        &endpoint,
        &["--stream", "failover", "--create", "--realtime", "--reconnect-timeout", "30", "--json", FIXTURE],
    )
    .spawn()
    .expect("spawn openkvs put");

    // Mid-stream: once a few fragments are PERSISTED, kill -9 the server.
    let archived = archived_client(&endpoint);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let n = match archived.list_fragments().stream_name("failover").send().await {
            Ok(page) => page.fragments().len(),
            Err(_) => 0,
        };
        if n >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "no 2 fragments persisted within 20 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(server); // SIGKILL, then wait for the process
    let killed_at = Instant::now();
    let server = ServeProcess::start(dir.path(), &["--listen", &format!("127.0.0.1:{port}")]);
    let restarted_in = killed_at.elapsed();

    let out = tokio::time::timeout(Duration::from_secs(60), put.wait_with_output())
        .await
        .expect("openkvs put ends within 60 s")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}\nstdout: {stdout}\nstderr: {stderr}", out.status);
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(summary["ok"], true, "{summary}");
    assert_eq!(summary["fragments_persisted"], 10, "{summary}");
    assert!(summary["reconnect"]["reconnects"].as_u64().unwrap() >= 1, "{summary}\n{stderr}");
    assert_eq!(summary["reconnect"]["fragments_dropped"], 0, "{summary}");
    assert!(stderr.contains("reconnecting to"), "one line per reconnect: {stderr}");

    // 0 lost, 0 duplicated: ten fragments, 2 s apart, each once.
    let fragments = listed(&archived_client(&server.url("http")), "failover").await;
    let offsets: Vec<i64> = fragments.iter().map(|(ts, _)| ts - fragments[0].0).collect();
    assert_eq!(offsets, (0..10).map(|i| i * 2000).collect::<Vec<i64>>(), "{fragments:?}");
    let recovery = summary["reconnect"]["recovery_ms"].as_array().unwrap();
    eprintln!(
        "server restarted in {restarted_in:?}; recovery (interruption → next PERSISTED) {recovery:?} ms"
    );
}
