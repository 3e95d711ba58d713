//! Retention enforcement with a fake clock (design/0010-retention.md): fragments older than their
//! stream's DataRetentionInHours (by server timestamp) disappear from ListFragments and their whole
//! segment files from disk, while newer fragments stay listed and readable; a stream whose every
//! fragment expired loses its files too (its open segment included) and takes new fragments
//! afterwards; DeleteStream removes the stream's directory, and a directory a crash left behind for
//! a deleted stream is removed by the next pass.

mod common;

use std::path::Path;
use std::sync::Arc;

use aws_credential_types::Credentials;
use common::producer::{PutOptions, Synth, now_ms, put_media};
use common::{Backend, fresh_postgres_db, postgres_url};
use openkvs::app::Config;
use openkvs::app::Server;
use openkvs::clock::FakeClock;
use openkvs::retention::Janitor;

const HOUR_MS: i64 = 3_600_000;

struct Running {
    addr: std::net::SocketAddr,
    janitor: Arc<Janitor>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

async fn start(config: &Config, clock: &FakeClock) -> Running {
    let server = Server::bind_with_clock(config, Arc::new(clock.clone())).await.expect("server binds");
    let addr = server.local_addr();
    let janitor = server.retention_janitor();
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = rx.await;
    }));
    Running { addr, janitor, stop, task }
}

impl Running {
    async fn halt(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap();
    }

    fn kvs(&self) -> aws_sdk_kinesisvideo::Client {
        use aws_sdk_kinesisvideo::config::{BehaviorVersion, Region};
        aws_sdk_kinesisvideo::Client::from_conf(
            aws_sdk_kinesisvideo::Config::builder()
                .http_client(openkvs::producer::control::sdk_http_client())
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .credentials_provider(Credentials::new("openkvs", "openkvs-secret", None, None, "t"))
                .endpoint_url(format!("http://{}", self.addr))
                .build(),
        )
    }

    fn archived(&self) -> aws_sdk_kinesisvideoarchivedmedia::Client {
        use aws_sdk_kinesisvideoarchivedmedia::config::{BehaviorVersion, Region};
        aws_sdk_kinesisvideoarchivedmedia::Client::from_conf(
            aws_sdk_kinesisvideoarchivedmedia::Config::builder()
                .http_client(openkvs::producer::control::sdk_http_client())
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .credentials_provider(Credentials::new("openkvs", "openkvs-secret", None, None, "t"))
                .endpoint_url(format!("http://{}", self.addr))
                .build(),
        )
    }

    /// Sends `n` one-second fragments; returns their producer timecodes (all PERSISTED).
    async fn ingest(&self, stream: &str, n: u64) -> Vec<u64> {
        let synth = Synth { tracks: vec![1] };
        let eofr = openkvs::media::mkv::rewrite::end_of_fragment_tags();
        let t0 = now_ms();
        let mut chunks = vec![synth.header()];
        for i in 0..n {
            chunks.push(synth.second(t0 + i * 1000));
            chunks.push(eofr.clone());
        }
        let put = put_media(self.addr, &PutOptions::new(stream), &chunks).await;
        assert_eq!(put.status, 200, "{}", String::from_utf8_lossy(&put.error_body));
        let persisted = put.timecodes("PERSISTED");
        assert_eq!(persisted.len() as u64, n, "{:?}", put.acks);
        persisted
    }

    /// Every listed fragment's (producer timecode, number), after reading them all back.
    async fn listed(&self, stream: &str) -> Vec<(i64, String)> {
        let page =
            self.archived().list_fragments().stream_name(stream).max_results(1000).send().await.unwrap();
        let mut out: Vec<(i64, String)> = page
            .fragments()
            .iter()
            .map(|f| {
                (
                    f.producer_timestamp().unwrap().to_millis().unwrap(),
                    f.fragment_number().unwrap().to_owned(),
                )
            })
            .collect();
        out.sort();
        if !out.is_empty() {
            let media = self
                .archived()
                .get_media_for_fragment_list()
                .stream_name(stream)
                .set_fragments(Some(out.iter().map(|(_, n)| n.clone()).collect()))
                .send()
                .await
                .expect("every listed fragment is readable");
            let body = media.payload.collect().await.unwrap().into_bytes();
            let docs = body.windows(4).filter(|w| *w == [0x1A, 0x45, 0xDF, 0xA3]).count();
            assert_eq!(docs, out.len(), "one Matroska document per listed fragment");
        }
        out
    }
}

fn segments(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            let mut v: Vec<String> = entries.map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
            v.sort();
            v
        }
        Err(_) => Vec::new(),
    }
}

/// The store directories (stream ids) present now.
fn stream_dirs(root: &Path) -> Vec<i64> {
    let mut v: Vec<i64> = segments(root).iter().filter_map(|n| n.parse().ok()).collect();
    v.sort();
    v
}

async fn expired_fragments_disappear_from_list_and_disk(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    // The test drives passes itself; the fake clock runs ahead of the clients' real one.
    config.retention.enabled = false;
    config.auth.max_skew_secs = 86_400;
    if backend == Backend::Postgres {
        config.database_url = Some(fresh_postgres_db().await.2);
    }
    let root = dir.path().join("fragments");
    let clock = FakeClock::new(now_ms() as i64);

    let s = start(&config, &clock).await;
    s.kvs().create_stream().stream_name("gone").data_retention_in_hours(1).send().await.unwrap();
    let before: Vec<i64> = stream_dirs(&root);
    s.ingest("gone", 2).await;
    let gone_id = *stream_dirs(&root).iter().find(|id| !before.contains(id)).unwrap();
    s.kvs().create_stream().stream_name("keep").data_retention_in_hours(1).send().await.unwrap();
    s.ingest("keep", 3).await;
    let keep_id = *stream_dirs(&root).iter().find(|id| **id != gone_id).unwrap();
    s.kvs().create_stream().stream_name("live-only").data_retention_in_hours(0).send().await.unwrap();
    // Retention 0: RECEIVED only, nothing archived.
    let synth = Synth { tracks: vec![1] };
    let put = put_media(
        s.addr,
        &PutOptions::new("live-only"),
        &[synth.header(), synth.second(now_ms()), openkvs::media::mkv::rewrite::end_of_fragment_tags()],
    )
    .await;
    assert_eq!(put.timecodes("RECEIVED").len(), 1);
    assert!(put.timecodes("PERSISTED").is_empty());
    assert_eq!(stream_dirs(&root), vec![gone_id, keep_id], "retention 0 writes nothing");
    // Nothing is due yet.
    let pass = s.janitor.run_once().await.unwrap();
    assert_eq!((pass.fragments_deleted, pass.segments_deleted), (0, 0));
    s.halt().await;

    // A restart starts a new segment: the old fragments' segment is closed.
    clock.advance_millis(2 * HOUR_MS);
    let s = start(&config, &clock).await;
    let new = s.ingest("keep", 2).await;
    let keep_dir = root.join(keep_id.to_string());
    assert_eq!(segments(&keep_dir).len(), 2, "{:?}", segments(&keep_dir));
    assert_eq!(s.listed("keep").await.len(), 5);

    // 2.5 h after the first fragments: they (and all of "gone") are past 1 h; the new ones are not.
    clock.advance_millis(HOUR_MS / 2);
    let pass = s.janitor.run_once().await.unwrap();
    assert_eq!(pass.fragments_deleted, 5, "{pass:?}");
    assert_eq!(pass.segments_deleted, 2, "{pass:?}");
    assert!(pass.bytes_reclaimed > 0);
    let listed = s.listed("keep").await;
    // (Producer timestamps come back through the SDK's DateTime: compare within a millisecond.)
    assert_eq!(listed.len(), new.len(), "only the new fragments remain");
    for ((ts, _), tc) in listed.iter().zip(&new) {
        assert!((*ts - *tc as i64).abs() <= 1, "{listed:?} vs {new:?}");
    }
    assert_eq!(segments(&keep_dir).len(), 1, "the expired segment file is gone");
    assert!(s.listed("gone").await.is_empty());
    assert!(!root.join(gone_id.to_string()).exists(), "a stream with nothing left keeps no files");
    // A stream emptied by retention takes new fragments (into a new segment number).
    let again = s.ingest("gone", 1).await;
    assert_eq!(s.listed("gone").await.len(), again.len());
    assert!(segments(&root.join(gone_id.to_string())).iter().all(|n| n != &format!("{:016}.seg", 1)));
    // Idempotent.
    let pass = s.janitor.run_once().await.unwrap();
    assert_eq!((pass.fragments_deleted, pass.segments_deleted), (0, 0));

    // DeleteStream removes the stream's directory.
    let arn = s.kvs().describe_stream().stream_name("keep").send().await.unwrap();
    let arn = arn.stream_info().unwrap().stream_arn().unwrap().to_owned();
    s.kvs().delete_stream().stream_arn(arn).send().await.unwrap();
    assert!(!keep_dir.exists());
    // A crash between DeleteStream's commit and its unlink leaves the directory: the janitor removes it.
    std::fs::create_dir_all(&keep_dir).unwrap();
    std::fs::write(keep_dir.join(format!("{:016}.seg", 9)), b"left behind").unwrap();
    let pass = s.janitor.run_once().await.unwrap();
    assert_eq!(pass.orphan_streams_removed, 1);
    assert!(!keep_dir.exists());

    let metrics = common::raw_request(
        s.addr,
        format!("GET /metrics HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", s.addr).as_bytes(),
    )
    .await;
    let text = String::from_utf8(metrics.body).unwrap();
    assert!(text.contains("openkvs_retention_deleted_fragments_total 5\n"), "{text}");
    assert!(text.contains("openkvs_retention_deleted_segments_total 2\n"), "{text}");
    s.halt().await;
    let _ = postgres_url();
}

backend_tests!(index_only: expired_fragments_disappear_from_list_and_disk);
