//! Three real `openkvs serve` nodes on one Postgres, one S3 prefix and NATS
//! (design/0020-cluster.md; the harness is `tests/common/cluster.rs`):
//!
//! - streams spread over the nodes, every node names the same owner in GetDataEndpoint, and a
//!   PutMedia sent to a node that is not the owner is served there (it becomes the writer);
//! - one PutMedia per stream cluster-wide: a second one on another node is refused with
//!   `ConnectionLimitExceededException` until the first ends;
//! - fencing: the owner is paused (SIGSTOP) mid-session, another node takes the stream over, and
//!   when the old owner resumes, its in-flight fragments are refused (ACK ERROR 5000) and the index
//!   holds no row of its epoch after the takeover.
//!
//! Skipped (saying so) without Postgres, S3 and NATS unless `OPENKVS_CI` is set.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::cluster::{MEMBER_TTL_MS, TestCluster};
use common::producer::{PutOptions, Synth, put_media, put_media_head};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

fn addr_of(url: &str) -> SocketAddr {
    url.trim_start_matches("http://").parse().unwrap()
}

async fn data_endpoint(kvs: &aws_sdk_kinesisvideo::Client, stream: &str, api: &str) -> String {
    kvs.get_data_endpoint()
        .stream_name(stream)
        .api_name(api.into())
        .send()
        .await
        .unwrap()
        .data_endpoint
        .unwrap()
}

async fn create_stream(kvs: &aws_sdk_kinesisvideo::Client, name: &str) {
    kvs.create_stream().stream_name(name).data_retention_in_hours(24).send().await.unwrap();
}

/// `n` one-second clusters from `first_ms` on, after a header.
fn body(first_ms: u64, n: u64) -> Vec<Bytes> {
    let synth = Synth { tracks: vec![1] };
    let mut chunks = vec![synth.header()];
    chunks.extend((0..n).map(|i| synth.second(first_ms + i * 1000)));
    chunks
}

/// A PutMedia whose body is sent piece by piece while its ACKs are read as they come.
struct OpenPut {
    wr: tokio::net::tcp::OwnedWriteHalf,
    acks: mpsc::UnboundedReceiver<serde_json::Value>,
    status: u16,
}

impl OpenPut {
    async fn start(url: &str, stream: &str) -> Self {
        let addr = addr_of(url);
        let head = put_media_head(addr, &PutOptions::new(stream));
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let (mut rd, mut wr) = tcp.into_split();
        wr.write_all(head.as_bytes()).await.unwrap();
        let (tx, acks) = mpsc::unbounded_channel();
        let (status_tx, status_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut tmp = vec![0u8; 65536];
            let mut status_tx = Some(status_tx);
            let mut body = Vec::new();
            loop {
                match rd.read(&mut tmp).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&tmp[..n]),
                }
                if let Some(tx) = status_tx.take() {
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        status_tx = Some(tx);
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_string();
                    let _ = tx.send(head.split(' ').nth(1).unwrap().parse::<u16>().unwrap());
                    buf.drain(..end + 4);
                }
                // Whole chunks of the chunked body, then whole ACK lines.
                while let Some(p) = buf.windows(2).position(|w| w == b"\r\n") {
                    let size =
                        usize::from_str_radix(String::from_utf8_lossy(&buf[..p]).trim(), 16).unwrap_or(0);
                    if size == 0 || buf.len() < p + 2 + size + 2 {
                        break;
                    }
                    body.extend_from_slice(&buf[p + 2..p + 2 + size]);
                    buf.drain(..p + 4 + size);
                }
                while let Some(nl) = body.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = body.drain(..=nl).collect();
                    if let Ok(v) = serde_json::from_slice(&line) {
                        let _ = tx.send(v);
                    }
                }
            }
        });
        let mut put = Self { wr, acks, status: 0 };
        // The status arrives with the first ACK, after the first bytes (the header).
        put.send(&body(0, 0)[0]).await;
        put.status = tokio::time::timeout(Duration::from_secs(10), status_rx).await.unwrap().unwrap();
        put
    }

    async fn send(&mut self, chunk: &Bytes) {
        self.wr.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).await.unwrap();
        self.wr.write_all(chunk).await.unwrap();
        self.wr.write_all(b"\r\n").await.unwrap();
    }

    /// ACKs until one satisfies `pred` (returned last), within `within`.
    async fn until(
        &mut self,
        within: Duration,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> Vec<serde_json::Value> {
        let deadline = tokio::time::Instant::now() + within;
        let mut seen = Vec::new();
        loop {
            match tokio::time::timeout_at(deadline, self.acks.recv()).await {
                Ok(Some(ack)) => {
                    let done = pred(&ack);
                    seen.push(ack);
                    if done {
                        return seen;
                    }
                }
                Ok(None) => panic!("the PutMedia response ended; ACKs: {seen:?}"),
                Err(_) => panic!("no such ACK within {within:?}; ACKs: {seen:?}"),
            }
        }
    }

    async fn finish(mut self) -> Vec<serde_json::Value> {
        let _ = self.wr.write_all(b"0\r\n\r\n").await;
        let mut rest = Vec::new();
        while let Ok(Some(ack)) = tokio::time::timeout(Duration::from_secs(15), self.acks.recv()).await {
            rest.push(ack);
        }
        rest
    }
}

fn is(kind: &'static str) -> impl Fn(&serde_json::Value) -> bool {
    move |a| a["EventType"] == kind
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_spread_and_any_node_serves_put_media() {
    let Some(cluster) = TestCluster::start(3).await else { return };
    let kvs: Vec<_> = (0..3).map(|i| cluster.kvs(i)).collect();
    let names: Vec<String> = (0..30).map(|i| format!("spread-{i}")).collect();
    for name in &names {
        create_stream(&kvs[0], name).await;
    }
    // Every node names the same owner for the live APIs; the owners cover all three nodes.
    let mut owners: BTreeMap<usize, usize> = BTreeMap::new();
    for name in &names {
        let mut answers = BTreeSet::new();
        for (i, client) in kvs.iter().enumerate() {
            let put = data_endpoint(client, name, "PUT_MEDIA").await;
            assert_eq!(data_endpoint(client, name, "GET_MEDIA").await, put, "{name} on node {i}");
            answers.insert(put);
            // The archive APIs: any node, the one asked.
            assert_eq!(data_endpoint(client, name, "LIST_FRAGMENTS").await, cluster.url(i));
            assert_eq!(data_endpoint(client, name, "GET_HLS_STREAMING_SESSION_URL").await, cluster.url(i));
        }
        assert_eq!(answers.len(), 1, "nodes disagree on the owner of {name}: {answers:?}");
        let owner = cluster.index_of(answers.first().unwrap()).expect("the owner is a node's URL");
        *owners.entry(owner).or_default() += 1;
    }
    assert_eq!(owners.len(), 3, "30 streams all on {owners:?}");

    // A PutMedia to a node that is not the owner is served there, and while it runs that node
    // is the stream's owner for everyone.
    let name = &names[0];
    let owner = cluster.index_of(&data_endpoint(&kvs[1], name, "PUT_MEDIA").await).unwrap();
    let other = (owner + 1) % 3;
    let mut put = OpenPut::start(&cluster.url(other), name).await;
    assert_eq!(put.status, 200);
    let t0 = common::producer::now_ms();
    let chunks = body(t0, 4);
    for c in &chunks[1..] {
        put.send(c).await;
    }
    put.until(Duration::from_secs(10), is("PERSISTED")).await;
    for client in &kvs {
        assert_eq!(data_endpoint(client, name, "PUT_MEDIA").await, cluster.url(other));
    }
    let rest = put.finish().await;
    assert!(rest.iter().all(|a| a["EventType"] != "ERROR"), "{rest:?}");
    // What it stored is listed by every node (one index, one bucket).
    for i in 0..3 {
        let listed =
            common::archived_client(&cluster.url(i)).list_fragments().stream_name(name).send().await.unwrap();
        assert_eq!(listed.fragments().len(), 4, "node {i}");
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_put_media_anywhere_in_the_cluster_is_refused() {
    let Some(cluster) = TestCluster::start(3).await else { return };
    let kvs = cluster.kvs(0);
    create_stream(&kvs, "limit").await;
    let mut first = OpenPut::start(&cluster.url(0), "limit").await;
    assert_eq!(first.status, 200);
    let t0 = common::producer::now_ms();
    first.send(&body(t0, 1)[1]).await;
    first.until(Duration::from_secs(10), is("BUFFERING")).await;
    for i in 1..3 {
        let second =
            put_media(addr_of(&cluster.url(i)), &PutOptions::new("limit"), &body(t0 + 5000, 2)).await;
        assert_eq!(second.status, 400, "node {i}");
        assert_eq!(
            second.header("x-amzn-ErrorType").map(|t| t.split(':').next().unwrap()),
            Some("ConnectionLimitExceededException"),
            "node {i}"
        );
    }
    // Once the first session ends, another node may take the stream.
    let rest = first.finish().await;
    assert!(rest.iter().any(is("PERSISTED")), "{rest:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let next = put_media(addr_of(&cluster.url(2)), &PutOptions::new("limit"), &body(t0 + 5000, 2)).await;
        if next.status == 200 {
            assert_eq!(next.of("PERSISTED").len(), 2, "{:?}", next.acks);
            break;
        }
        // The first session's lease is released in the background as its response ends.
        assert!(Instant::now() < deadline, "still refused: {}", String::from_utf8_lossy(&next.error_body));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_owner_resumed_after_takeover_commits_nothing() {
    let Some(mut cluster) = TestCluster::start(3).await else { return };
    let kvs = cluster.kvs(0);
    create_stream(&kvs, "fenced").await;
    let a = cluster.index_of(&data_endpoint(&kvs, "fenced", "PUT_MEDIA").await).unwrap();
    let b = (a + 1) % 3;
    let t0 = common::producer::now_ms();

    // The owner ingests two fragments (PERSISTED), then is paused with a third in flight.
    let mut old = OpenPut::start(&cluster.url(a), "fenced").await;
    let chunks = body(t0, 6);
    for c in &chunks[1..4] {
        old.send(c).await;
    }
    let before: Vec<_> = old
        .until(Duration::from_secs(10), |a| {
            a["EventType"] == "PERSISTED" && a["FragmentTimecode"].as_u64() == Some(t0 + 1000)
        })
        .await;
    let old_persisted = before.iter().filter(|a| is("PERSISTED")(a)).count();
    cluster.pause(a);
    // Bytes the paused node will only read after it resumes: the rest of fragment 3, and 4 and 5.
    for c in &chunks[4..] {
        old.send(c).await;
    }

    // The others see it die, and the producer (here: the test) reconnects to the new owner.
    cluster.wait_converged(Duration::from_secs(10) + Duration::from_millis(MEMBER_TTL_MS)).await;
    let new_owner = data_endpoint(&cluster.kvs(b), "fenced", "PUT_MEDIA").await;
    let n = cluster.index_of(&new_owner).unwrap();
    assert_ne!(n, a, "the paused node still owns the stream");
    let taken = put_media(addr_of(&new_owner), &PutOptions::new("fenced"), &body(t0 + 10_000, 3)).await;
    assert_eq!(taken.status, 200, "{}", String::from_utf8_lossy(&taken.error_body));
    assert_eq!(taken.of("PERSISTED").len(), 3, "{:?}", taken.acks);

    // The old owner resumes: what it had in flight is refused, nothing more is committed.
    cluster.resume(a);
    let after = old.until(Duration::from_secs(15), is("ERROR")).await;
    let error = after.last().unwrap();
    assert_eq!(error["ErrorId"], 5000, "{after:?}");
    assert!(after.iter().all(|a| a["EventType"] != "PERSISTED"), "{after:?}");
    let rest = old.finish().await;
    assert!(rest.iter().all(|a| a["EventType"] != "PERSISTED"), "{rest:?}");

    // The index: the old epoch's rows are exactly those PERSISTED before the pause; every later
    // row is the new owner's epoch.
    let mut db = cluster.db().await;
    let rows: Vec<(Option<i64>, i64)> = sqlx::query_as(
        "SELECT f.writer_epoch, f.producer_ts_ms FROM fragments f JOIN streams s ON s.id = f.stream_id \
         WHERE s.name = 'fenced' ORDER BY f.fragment_number",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    let epochs: BTreeSet<i64> = rows.iter().map(|(e, _)| e.expect("cluster rows carry an epoch")).collect();
    assert_eq!(epochs.len(), 2, "{rows:?}");
    let (old_epoch, new_epoch) = (*epochs.first().unwrap(), *epochs.last().unwrap());
    assert_eq!(rows.iter().filter(|(e, _)| *e == Some(old_epoch)).count(), old_persisted, "{rows:?}");
    assert_eq!(rows.iter().filter(|(e, _)| *e == Some(new_epoch)).count(), 3, "{rows:?}");
    assert!(
        rows.iter().filter(|(e, _)| *e == Some(old_epoch)).all(|(_, ts)| (*ts as u64) < t0 + 2000),
        "{rows:?}"
    );
    let current: i64 = sqlx::query_scalar(
        "SELECT w.epoch FROM stream_writers w JOIN streams s ON s.id = w.stream_id WHERE s.name = 'fenced'",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(current, new_epoch);
    // Every committed fragment reads back whole from any node: the old owner's late upload
    // overwrote nothing.
    let listed =
        common::archived_client(&cluster.url(b)).list_fragments().stream_name("fenced").send().await.unwrap();
    let numbers: Vec<String> =
        listed.fragments().iter().filter_map(|f| f.fragment_number().map(str::to_owned)).collect();
    assert_eq!(numbers.len(), rows.len());
    let media = common::archived_client(&cluster.url((b + 1) % 3))
        .get_media_for_fragment_list()
        .stream_name("fenced")
        .set_fragments(Some(numbers))
        .send()
        .await
        .unwrap();
    let bytes = media.payload.collect().await.unwrap().into_bytes();
    assert!(bytes.len() > rows.len() * 5000, "{} bytes for {} fragments", bytes.len(), rows.len());
    cluster.stop().await;
}
