//! Issue 18, tests (e) and (f): coordination across the nodes of a real cluster
//! (design/0025-cluster-coordination.md), on the three-process harness `TestCluster`.
//!
//! - (e) signaling across nodes: a master's WebSocket on node 0 and a viewer's on node 1, opened
//!   with presigned URLs exactly as the KVS WebRTC SDKs open them, exchange an SDP offer and
//!   answer and ICE candidates both ways; a newer master on node 1 replaces the one on node 0
//!   (GO_AWAY) and receives the viewer's next message.
//! - (f) workers continue after a node dies: the key-frame image worker runs on a stream fed by a
//!   reconnecting producer; the node holding the worker's lease is killed (`kill -9`); every
//!   fragment of the stream — those persisted after the kill included — ends up with the worker's
//!   events (analysed by the surviving node), none missed (repeats allowed: at-least-once).
//!
//! Needs Postgres (`TEST_DATABASE_URL`), S3 (`TEST_S3_ENDPOINT`) and NATS on 127.0.0.1:4222; skipped
//! without them unless `OPENKVS_CI` is set. About 30 s (the two tests run at once).

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_kinesisvideo::types::{ChannelRole, SingleMasterConfiguration};
use bytes::Bytes;
use common::cluster::{ClusterOptions, TestCluster, spawn_realtime_producer};
use common::signaling::{connect, quiet, recv, send, wss_endpoint};
use openkvs::media::mkv::rewrite::FragmentPolicy;
use openkvs::producer::body::PreparedFile;
use openkvs::producer::session::Tracker;
use serde_json::json;

const FIXTURE: &[u8] = include_bytes!("fixtures/h264_640x360_20s_2sgop.mkv");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e_signaling_between_a_master_and_a_viewer_on_different_nodes() {
    let Some(cluster) = TestCluster::start(2).await else { return };
    let arn = cluster
        .kvs(0)
        .create_signaling_channel()
        .channel_name(format!("{}-door", cluster.prefix))
        .single_master_configuration(SingleMasterConfiguration::builder().message_ttl_seconds(10).build())
        .send()
        .await
        .unwrap()
        .channel_arn
        .unwrap();
    let on_0 = wss_endpoint(&cluster.kvs(0), &arn, ChannelRole::Master).await;
    let on_1 = wss_endpoint(&cluster.kvs(1), &arn, ChannelRole::Viewer).await;
    assert_ne!(on_0, on_1, "each node answers its own endpoint");
    let started = Instant::now();
    let mut master = connect(&on_0, &arn, None).await;
    let mut viewer = connect(&on_1, &arn, Some("viewer-b")).await;

    send(&mut viewer, json!({"action":"SDP_OFFER","messagePayload":"b2ZmZXI=","correlationId":"1"})).await;
    assert_eq!(
        recv(&mut master).await,
        json!({"messageType":"SDP_OFFER","messagePayload":"b2ZmZXI=","senderClientId":"viewer-b"})
    );
    send(
        &mut master,
        json!({"action":"SDP_ANSWER","recipientClientId":"viewer-b","messagePayload":"YW5zd2Vy"}),
    )
    .await;
    assert_eq!(recv(&mut viewer).await, json!({"messageType":"SDP_ANSWER","messagePayload":"YW5zd2Vy"}));
    // ICE candidates both ways, in order, with the C SDK's casing from the master.
    for c in ["Y2FuZC0x", "Y2FuZC0y"] {
        send(&mut viewer, json!({"action":"ICE_CANDIDATE","messagePayload":c})).await;
    }
    for c in ["Y2FuZC0x", "Y2FuZC0y"] {
        let m = recv(&mut master).await;
        assert_eq!(
            (m["messageType"].as_str(), m["messagePayload"].as_str()),
            (Some("ICE_CANDIDATE"), Some(c))
        );
        assert_eq!(m["senderClientId"], "viewer-b");
    }
    send(
        &mut master,
        json!({"action":"ICE_CANDIDATE","RecipientClientId":"viewer-b","MessagePayload":"bWFzdGVyLWNhbmQ="}),
    )
    .await;
    assert_eq!(recv(&mut viewer).await["messagePayload"], "bWFzdGVyLWNhbmQ=");
    let exchange = started.elapsed();

    // A newer master on node 1 replaces the one on node 0, cluster-wide.
    let mut master_b = connect(&on_1, &arn, None).await;
    assert_eq!(recv(&mut master).await, json!({"messageType":"GO_AWAY"}));
    send(&mut viewer, json!({"action":"ICE_CANDIDATE","messagePayload":"bGF0ZXI="})).await;
    let m = recv(&mut master_b).await;
    assert_eq!(
        (m["senderClientId"].as_str(), m["messagePayload"].as_str()),
        (Some("viewer-b"), Some("bGF0ZXI="))
    );
    assert!(quiet(&mut viewer).await, "the viewer receives nothing it did not ask for");
    eprintln!("connect + offer/answer + 3 candidates across nodes: {exchange:?}");
    cluster.stop().await;
}

/// Fragments of the stream, and those of them with at least one event of the `thumbnails` worker.
async fn fragments_and_analysed(cluster: &TestCluster, stream_id: i64) -> (Vec<String>, HashSet<String>) {
    let mut db = cluster.db().await;
    let fragments: Vec<String> = sqlx::query_scalar(
        "SELECT fragment_number FROM fragments WHERE stream_id = $1 ORDER BY fragment_number",
    )
    .bind(stream_id)
    .fetch_all(&mut db)
    .await
    .unwrap();
    let analysed: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT fragment_number FROM analyzer_events \
         WHERE stream_id = $1 AND worker = 'thumbnails' AND fragment_number IS NOT NULL",
    )
    .bind(stream_id)
    .fetch_all(&mut db)
    .await
    .unwrap();
    (fragments, analysed.into_iter().collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f_workers_continue_on_another_node_after_the_lease_holder_dies() {
    let options = ClusterOptions { cluster_lines: "worker_lease_ttl_ms = 1500".into(), ..Default::default() };
    let Some(mut cluster) = TestCluster::start_with(2, options).await else { return };
    let clients: Arc<Vec<_>> = Arc::new((0..cluster.len()).map(|i| cluster.kvs(i)).collect());
    let name = format!("{}-yard", cluster.prefix);
    clients[0].create_stream().stream_name(&name).data_retention_in_hours(24).send().await.unwrap();
    common::enable_image_generation(&clients[0], &name, "file://thumbs", 500, Some(64)).await;
    let mut db = cluster.db().await;
    let stream_id: i64 = sqlx::query_scalar("SELECT id FROM streams WHERE name = $1")
        .bind(&name)
        .fetch_one(&mut db)
        .await
        .unwrap();

    let base = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    let prepared = PreparedFile::new(Bytes::from_static(FIXTURE), FragmentPolicy::default()).unwrap();
    let producer =
        spawn_realtime_producer(clients.clone(), &name, &prepared, base, Tracker::reconnecting()).await;

    // The worker has analysed two fragments somewhere: kill the node holding its lease.
    let deadline = Instant::now() + Duration::from_secs(20);
    let holder = loop {
        let (_, analysed) = fragments_and_analysed(&cluster, stream_id).await;
        let holder: Option<String> = sqlx::query_scalar(
            "SELECT node_id FROM worker_leases WHERE worker = 'thumbnails' AND stream_id = $1 AND expires_at > now()",
        )
        .bind(stream_id)
        .fetch_optional(&mut db)
        .await
        .unwrap();
        if analysed.len() >= 2
            && let Some(h) = holder
        {
            break h;
        }
        assert!(Instant::now() < deadline, "the worker analysed fewer than 2 fragments within 20 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let victim = (0..cluster.len()).find(|&i| cluster.node_id(i) == holder).expect("the holder is a node");
    let (before_kill, _) = fragments_and_analysed(&cluster, stream_id).await;
    cluster.kill(victim);
    let killed = Instant::now();

    let run = tokio::time::timeout(Duration::from_secs(60), producer)
        .await
        .expect("the producer ends within 60 s")
        .unwrap()
        .unwrap();
    assert!(run.report.ok(), "{:?} {:?}", run.report.failure, run.report.errors);

    // Every fragment gets analysed, those persisted after the kill by the surviving node.
    let survivor = cluster.node_id(cluster.running()[0]);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (fragments, analysed) = fragments_and_analysed(&cluster, stream_id).await;
        let missing: Vec<&String> = fragments.iter().filter(|f| !analysed.contains(*f)).collect();
        if missing.is_empty() {
            let after: Vec<&String> = fragments.iter().filter(|f| !before_kill.contains(f)).collect();
            assert!(!after.is_empty(), "no fragment was persisted after the kill");
            eprintln!(
                "{} fragments, {} after the kill of {holder}; all analysed {:?} after the kill",
                fragments.len(),
                after.len(),
                killed.elapsed()
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "fragments never analysed after the kill of {holder}: {missing:?} (of {})",
            fragments.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let holder_now: String = sqlx::query_scalar(
        "SELECT node_id FROM worker_leases WHERE worker = 'thumbnails' AND stream_id = $1 AND expires_at > now()",
    )
    .bind(stream_id)
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(holder_now, survivor, "the surviving node holds the lease");
    cluster.stop().await;
}
