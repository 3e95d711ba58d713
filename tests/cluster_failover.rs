//! Issue 18, test (c): `kill -9` of a stream owner during a 20-stream ingest on a 3-node cluster
//! (design/0022-producer-failover.md, design/0020-cluster.md).
//!
//! Three `openkvs serve` processes share one Postgres, one S3 prefix and NATS (`TestCluster`).
//! Twenty in-process producers — `put_media_reconnecting`, what `openkvs put` and `bench ingest`
//! run — stream the 20 s, 10-fragment fixture in real time, each to the owner GetDataEndpoint
//! names, asking any live node again when they reconnect. Once every producer has a PERSISTED
//! fragment, the node owning the most streams is killed. Then:
//! - every producer whose stream that node owned has its next PERSISTED ACK within 10 s of the kill,
//!   from another node;
//! - every producer ends with all 10 fragments PERSISTED and none dropped;
//! - ListFragments of every stream holds exactly the producer timestamps the producer saw
//!   PERSISTED (ABSOLUTE timecodes are epoch ms), each once: 0 lost, 0 duplicated.
//!
//! Needs Postgres (`TEST_DATABASE_URL`), S3 (`TEST_S3_ENDPOINT`) and NATS on 127.0.0.1:4222; skipped
//! without them unless `OPENKVS_CI` is set. About 40 s.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::archived_client;
use common::cluster::{TestCluster, resolver, spawn_realtime_producer};
use openkvs::media::mkv::rewrite::FragmentPolicy;
use openkvs::producer::body::PreparedFile;
use openkvs::producer::session::Tracker;

const FIXTURE: &[u8] = include_bytes!("fixtures/h264_640x360_20s_2sgop.mkv");
const STREAMS: usize = 20;
const FRAGMENTS: usize = 10;
/// Issue 18: every producer resumes on another node within this long.
const RESUME_BOUND: Duration = Duration::from_secs(10);

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_killed_during_20_stream_ingest_loses_and_duplicates_nothing() {
    let Some(mut cluster) = TestCluster::start(3).await else { return };
    let clients: Arc<Vec<_>> = Arc::new((0..cluster.len()).map(|i| cluster.kvs(i)).collect());
    let names: Vec<String> = (0..STREAMS).map(|i| format!("{}-cam-{i}", cluster.prefix)).collect();
    let mut owners = Vec::new();
    for name in &names {
        clients[0].create_stream().stream_name(name).data_retention_in_hours(24).send().await.unwrap();
        let endpoint = resolver(clients.clone(), name.clone())().await.unwrap();
        owners.push(cluster.index_of(&endpoint).unwrap_or_else(|| panic!("{endpoint} is no node")));
    }
    let victim = (0..cluster.len()).max_by_key(|&n| owners.iter().filter(|&&o| o == n).count()).unwrap();
    let victim_streams: Vec<usize> = (0..STREAMS).filter(|&i| owners[i] == victim).collect();
    assert!(!victim_streams.is_empty(), "rendezvous hashing gave node {victim} no stream: {owners:?}");

    let prepared = PreparedFile::new(Bytes::from_static(FIXTURE), FragmentPolicy::default()).unwrap();
    assert_eq!(prepared.clusters(), FRAGMENTS);
    let mut tasks = Vec::new();
    let mut trackers = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let tracker = Tracker::reconnecting();
        trackers.push(tracker.clone());
        let base = now_ms() + i as u64; // distinct producer timestamps per stream, for the logs
        tasks.push(spawn_realtime_producer(clients.clone(), name, &prepared, base, tracker).await);
    }

    // Every producer has a PERSISTED fragment: kill the owner of the most streams.
    let deadline = Instant::now() + Duration::from_secs(20);
    while trackers.iter().any(|t| t.progress().persisted == 0) {
        assert!(Instant::now() < deadline, "not every producer had a PERSISTED fragment within 20 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let killed_at: Vec<Duration> = trackers.iter().map(|t| t.elapsed()).collect();
    cluster.kill(victim);

    let mut reports = Vec::new();
    for (i, task) in tasks.into_iter().enumerate() {
        let run = tokio::time::timeout(Duration::from_secs(60), task)
            .await
            .unwrap_or_else(|_| panic!("producer {i} did not end within 60 s"))
            .unwrap()
            .unwrap_or_else(|e| panic!("producer {i}: {e}"));
        reports.push(run);
    }

    let survivor = cluster.running()[0];
    let archived = archived_client(&cluster.url(survivor));
    for (i, run) in reports.iter().enumerate() {
        let r = &run.report;
        assert!(r.ok(), "producer {i} ({}): {:?} {:?} {:?}", names[i], r.failure, r.errors, run.stats);
        assert_eq!(run.stats.fragments_dropped, 0, "producer {i}");
        let persisted: Vec<i64> =
            r.fragments.iter().filter(|f| f.persisted.is_some()).map(|f| f.timecode as i64).collect();
        assert_eq!(persisted.len(), FRAGMENTS, "producer {i}: {:?}", run.stats);
        if victim_streams.contains(&i) {
            assert!(run.stats.reconnects >= 1, "producer {i} of the killed node never reconnected");
            let next = r
                .fragments
                .iter()
                .filter_map(|f| f.persisted)
                .filter(|&p| p >= killed_at[i])
                .min()
                .expect("a PERSISTED after the kill");
            assert!(
                next - killed_at[i] <= RESUME_BOUND,
                "producer {i} resumed {:?} after the kill ({:?})",
                next - killed_at[i],
                run.stats
            );
        }
        let page = archived.list_fragments().stream_name(&names[i]).max_results(1000).send().await.unwrap();
        let mut listed: Vec<i64> =
            page.fragments().iter().map(|f| f.producer_timestamp().unwrap().to_millis().unwrap()).collect();
        listed.sort_unstable();
        let mut want = persisted.clone();
        want.sort_unstable();
        // The ACK's timecode and the listed producer timestamp are the same instant, each rounded
        // to a millisecond on its own path (the start timestamp header carries sub-milliseconds).
        assert_eq!(
            listed.len(),
            want.len(),
            "stream {}: every PERSISTED fragment listed exactly once",
            names[i]
        );
        assert!(
            listed.iter().zip(&want).all(|(l, w)| (l - w).abs() <= 1),
            "stream {}: every PERSISTED fragment listed exactly once: listed {listed:?}, persisted {want:?}",
            names[i]
        );
    }
    let recoveries: Vec<u64> =
        victim_streams.iter().flat_map(|&i| reports[i].stats.recovery_ms.iter().copied()).collect();
    eprintln!(
        "killed node {victim} owning {} of {STREAMS} streams; recovery (interruption → next PERSISTED) ms: {recoveries:?}",
        victim_streams.len()
    );
    cluster.stop().await;
}
