//! Crash safety of the real binary (design/0006-crash-safety.md): concurrent PutMedia producers
//! stream small paced fragments while the `openkvs` process is `kill -9`ed at random moments and
//! restarted on the same data dir (and database), `OPENKVS_CRASH_CYCLES` times (default 10). Then
//! every fragment a producer saw PERSISTED must be listed and read back byte-identical, and every
//! listed fragment must read back whole (no torn bytes) and equal to what was sent for its timecode.
//! Runs on SQLite, on Postgres when `TEST_DATABASE_URL` is set, and on Postgres with fragments in S3
//! when `TEST_S3_ENDPOINT` is set too. A last variant sends fragments of many 16 KiB chunks in
//! pieces, so most kills land while a fragment is being streamed into the local store
//! (design/0024-ingest-efficiency.md): its bytes written so far must never become readable.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::producer::{PutOptions, Synth, cluster_payload, now_ms, put_media_head};
use common::{archived_client, kvs_client};
use openkvs::media::mkv::{DemuxLimits, MkvDemuxer, MkvEvent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

const STREAMS: usize = 4;

/// Startups whose store recovery cut unacknowledged bytes (from the server's log).
static RECOVERIES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The last lines the servers (all generations) wrote to stderr, printed when a check fails.
static SERVER_LOG: Mutex<std::collections::VecDeque<String>> = Mutex::new(std::collections::VecDeque::new());

fn keep_server_line(line: &str) {
    let mut log = SERVER_LOG.lock().unwrap_or_else(|p| p.into_inner());
    if log.len() == 300 {
        log.pop_front();
    }
    log.push_back(line.to_owned());
}

fn server_log_tail() -> String {
    let log = SERVER_LOG.lock().unwrap_or_else(|p| p.into_inner());
    log.iter().map(String::as_str).collect::<Vec<_>>().join("\n")
}

/// What every producer shares with the checker: per stream, the clusters sent (by timecode) and
/// the timecodes acknowledged PERSISTED.
#[derive(Default)]
struct Ledger {
    sent: HashMap<u64, Bytes>,
    persisted: HashSet<u64>,
    /// ERROR ACKs and refused requests (there must be none).
    errors: Vec<String>,
}

type Ledgers = Arc<Vec<Mutex<Ledger>>>;

/// The fragments the producers send.
#[derive(Debug, Clone, Copy)]
struct Shape {
    /// Frames per fragment.
    frames: i16,
    /// Each frame is `min_frame + (random % frame_spread)` bytes.
    min_frame: usize,
    frame_spread: u64,
    /// Send each fragment in body chunks of this size, pausing between them (`None`: whole).
    piece: Option<usize>,
}

/// Small fragments sent whole: about one sealed chunk each.
const SMALL: Shape = Shape { frames: 5, min_frame: 500, frame_spread: 3000, piece: None };

/// Fragments of 5 to 13 chunks, sent in 8 KiB pieces with pauses: a kill usually lands mid-fragment.
const STREAMED: Shape = Shape { frames: 8, min_frame: 10_000, frame_spread: 17_000, piece: Some(8192) };

/// A running `openkvs serve` child.
struct Proc {
    child: Child,
    addr: SocketAddr,
}

/// Spawns the server and waits for its "listening on" line; returns it with the time from spawn to
/// the first successful request.
async fn spawn_server(data_dir: &Path, db_url: Option<&str>, env: &[(&str, String)]) -> (Proc, Duration) {
    let started = Instant::now();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_openkvs"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .current_dir(data_dir)
        .env("OPENKVS_LOG", "info")
        .env_remove("OPENKVS_CONFIG")
        .env_remove("OPENKVS_DATABASE_URL")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(url) = db_url {
        cmd.args(["--database-url", url]);
    }
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    let mut child = cmd.spawn().expect("spawn openkvs");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Result<SocketAddr, String>>();
    // Keep draining stderr for the life of the process (a full pipe would block the server).
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        let mut seen = Vec::new();
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            keep_server_line(&line);
            if line.contains("store recovery: dropped") {
                RECOVERIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            if let Some(t) = &tx {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let addr = rest.split([',', ' ']).next().unwrap_or_default();
                    let _ = t.send(addr.parse().map_err(|e| format!("{e}: {line}")));
                    tx = None;
                } else {
                    seen.push(line);
                }
            } else if line.contains("ERROR") {
                eprintln!("server: {line}");
            }
        }
        if let Some(t) = tx {
            let _ = t.send(Err(format!("server exited before listening:\n{}", seen.join("\n"))));
        }
    });
    let addr = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(30)))
        .await
        .unwrap()
        .expect("server printed its address within 30 s")
        .unwrap_or_else(|e| panic!("{e}"));
    let kvs = kvs_client(&format!("http://{addr}"));
    loop {
        if kvs.list_streams().send().await.is_ok() {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "server never answered");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (Proc { child, addr }, started.elapsed())
}

fn stream_name(i: usize) -> String {
    format!("crash-{i}")
}

/// One producer: reconnects to whatever address the server has now and streams clusters (each
/// closed with the end-of-fragment tag) with small random pacing until its connection dies, then
/// waits for the next server. Records every cluster sent and every PERSISTED ACK.
async fn producer(
    i: usize,
    mut addr_rx: watch::Receiver<Option<SocketAddr>>,
    ledgers: Ledgers,
    stop: Arc<std::sync::atomic::AtomicBool>,
    shape: Shape,
) {
    let synth = Synth { tracks: vec![1] };
    let eofr = openkvs::media::mkv::rewrite::end_of_fragment_tags();
    let mut timecode = now_ms();
    let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ (i as u64 + 1);
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let Some(addr) = *addr_rx.borrow_and_update() else {
            if addr_rx.changed().await.is_err() {
                return;
            }
            continue;
        };
        let Ok(tcp) = tokio::net::TcpStream::connect(addr).await else {
            // The server is gone: wait for the next one.
            let _ = tokio::time::timeout(Duration::from_secs(5), addr_rx.changed()).await;
            continue;
        };
        tcp.set_nodelay(true).unwrap();
        let (mut rd, mut wr) = tcp.into_split();
        let ledgers2 = ledgers.clone();
        let reader = tokio::spawn(async move { read_acks(&mut rd, &ledgers2[i]).await });
        let mut opts = PutOptions::new(&stream_name(i));
        opts.producer_start = Some(format!("{}.{:03}", timecode / 1000, timecode % 1000));
        let mut ok = wr.write_all(put_media_head(addr, &opts).as_bytes()).await.is_ok()
            && write_chunk(&mut wr, &synth.header()).await;
        let t0 = Instant::now();
        let mut n = 0;
        while ok && !stop.load(std::sync::atomic::Ordering::Relaxed) && !reader.is_finished() {
            n += 1;
            timecode += 10;
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let frames: Vec<(u64, i16, bool, usize)> = (0..shape.frames)
                .map(|f| (1, f * 2, f == 0, shape.min_frame + (seed % shape.frame_spread) as usize))
                .collect();
            let cluster = Synth::cluster(timecode, &frames);
            ledgers[i].lock().unwrap().sent.insert(timecode, cluster.clone());
            match shape.piece {
                None => ok = write_chunk(&mut wr, &cluster).await,
                Some(piece) => {
                    for p in cluster.chunks(piece) {
                        ok = ok && write_chunk(&mut wr, p).await;
                        tokio::time::sleep(Duration::from_millis(1 + seed % 3)).await;
                    }
                }
            }
            ok = ok && write_chunk(&mut wr, &eofr).await;
            tokio::time::sleep(Duration::from_millis(2 + seed % 12)).await;
        }
        if std::env::var("CRASH_DEBUG").is_ok() {
            eprintln!("producer {i}: {n} clusters in {:?}, ok {ok}", t0.elapsed());
        }
        if ok && stop.load(std::sync::atomic::Ordering::Relaxed) {
            // Stopping: end the body and let the last ACKs arrive.
            let _ = wr.write_all(b"0\r\n\r\n").await;
            let _ = tokio::time::timeout(Duration::from_secs(10), reader).await;
            return;
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), reader).await;
        // Connection died (the server was killed): wait for a new address.
        let _ = tokio::time::timeout(Duration::from_secs(5), addr_rx.changed()).await;
    }
}

async fn write_chunk(wr: &mut tokio::net::tcp::OwnedWriteHalf, data: &[u8]) -> bool {
    let mut buf = format!("{:x}\r\n", data.len()).into_bytes();
    buf.extend_from_slice(data);
    buf.extend_from_slice(b"\r\n");
    wr.write_all(&buf).await.is_ok()
}

/// Reads the chunked ACK stream until it ends or breaks, recording PERSISTED timecodes as they come
/// (a connection cut by `kill -9` keeps every ACK line that arrived whole).
async fn read_acks(rd: &mut tokio::net::tcp::OwnedReadHalf, ledger: &Mutex<Ledger>) {
    let mut raw = Vec::new();
    let mut tmp = vec![0u8; 16384];
    let mut head_done = false;
    let mut last_persisted: Option<u64> = None;
    let mut body = Vec::new();
    loop {
        match rd.read(&mut tmp).await {
            Ok(0) | Err(_) => return,
            Ok(n) => raw.extend_from_slice(&tmp[..n]),
        }
        if !head_done {
            let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
            let status = String::from_utf8_lossy(&raw[..p]).split(' ').nth(1).unwrap_or("").to_owned();
            if status != "200" {
                ledger.lock().unwrap().errors.push(String::from_utf8_lossy(&raw).into_owned());
                return;
            }
            raw.drain(..p + 4);
            head_done = true;
        }
        // De-chunk whatever is complete.
        while let Some(p) = raw.windows(2).position(|w| w == b"\r\n") {
            let size = usize::from_str_radix(String::from_utf8_lossy(&raw[..p]).trim(), 16).unwrap_or(0);
            if size == 0 {
                return;
            }
            if raw.len() < p + 2 + size + 2 {
                break;
            }
            body.extend_from_slice(&raw[p + 2..p + 2 + size]);
            raw.drain(..p + 4 + size);
        }
        while let Some(nl) = body.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = body.drain(..=nl).collect();
            let Ok(ack) = serde_json::from_slice::<serde_json::Value>(&line) else { continue };
            match ack["EventType"].as_str() {
                Some("PERSISTED") => {
                    let tc = ack["FragmentTimecode"].as_u64().expect("PERSISTED has a timecode");
                    let mut l = ledger.lock().unwrap();
                    if last_persisted.is_some_and(|last| tc <= last) {
                        l.errors.push(format!("PERSISTED out of order: {tc} after {last_persisted:?}"));
                    }
                    last_persisted = Some(tc);
                    l.persisted.insert(tc);
                }
                Some("ERROR") => ledger.lock().unwrap().errors.push(ack.to_string()),
                _ => {}
            }
        }
    }
}

/// Every listed fragment of a stream read back: timecode → (fragment number, Cluster payload).
async fn read_back(addr: SocketAddr, stream: &str) -> BTreeMap<u64, (String, Bytes)> {
    let am = archived_client(&format!("http://{addr}"));
    let numbers: Vec<String> = common::all_fragments(&am, stream)
        .await
        .iter()
        .filter_map(|f| f.fragment_number().map(str::to_owned))
        .collect();
    let mut out = BTreeMap::new();
    for batch in numbers.chunks(500) {
        let resp = am
            .get_media_for_fragment_list()
            .stream_name(stream)
            .set_fragments(Some(batch.to_vec()))
            .send()
            .await
            .expect("GetMediaForFragmentList of every listed fragment");
        let body = resp.payload.collect().await.expect("whole body").into_bytes();
        let mut d = MkvDemuxer::new(DemuxLimits::default());
        d.push(body.clone());
        d.finish();
        let (mut docs, mut start, mut tc) = (0usize, None, None);
        let mut clusters: Vec<(u64, Bytes)> = Vec::new();
        let mut tagged: Vec<String> = Vec::new();
        loop {
            match d.pull() {
                Ok(Some(MkvEvent::EbmlHeader { .. })) => docs += 1,
                Ok(Some(MkvEvent::ClusterStart { offset, .. })) => start = Some(offset as usize),
                Ok(Some(MkvEvent::ClusterTimecode { timecode })) => tc = Some(timecode),
                Ok(Some(MkvEvent::ClusterEnd { end_offset })) => {
                    let s = start.take().expect("cluster start");
                    let raw = body.slice(s..end_offset as usize);
                    clusters.push((
                        tc.take().expect("cluster timecode"),
                        Bytes::from(cluster_payload(&raw).to_vec()),
                    ));
                }
                Ok(Some(MkvEvent::Tags { tags, .. })) => tagged.extend(
                    tags.into_iter()
                        .filter(|t| t.name == "AWS_KINESISVIDEO_FRAGMENT_NUMBER" || t.name.contains("ERROR"))
                        .map(|t| {
                            if t.name.contains("ERROR") { format!("{}={}", t.name, t.value) } else { t.value }
                        }),
                ),
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => panic!("{stream}: GetMediaForFragmentList output is not valid Matroska: {e}"),
            }
        }
        if docs != batch.len() || clusters.len() != batch.len() {
            eprintln!("{stream}: server log tail:\n{}", server_log_tail());
        }
        assert_eq!(
            docs,
            batch.len(),
            "{stream}: one document per listed fragment ({} bytes; last tags {:?})",
            body.len(),
            &tagged[tagged.len().saturating_sub(3)..]
        );
        assert_eq!(clusters.len(), batch.len(), "{stream}: one whole Cluster per listed fragment");
        tagged.dedup();
        assert_eq!(tagged, batch, "{stream}: fragments come back in the order asked");
        for ((tc, payload), number) in clusters.into_iter().zip(batch) {
            assert!(
                out.insert(tc, (number.clone(), payload)).is_none(),
                "{stream}: timecode {tc} listed twice"
            );
        }
    }
    out
}

async fn crash_cycles(db_url: Option<&str>, store_env: &[(&str, String)], shape: Shape) {
    let cycles: usize = std::env::var("OPENKVS_CRASH_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
    let dir = tempfile::tempdir().unwrap();
    let (mut proc, first) = spawn_server(dir.path(), db_url, store_env).await;
    let mut restart_times = Vec::new();
    let kvs = kvs_client(&format!("http://{}", proc.addr));
    for i in 0..STREAMS {
        kvs.create_stream().stream_name(stream_name(i)).data_retention_in_hours(24).send().await.unwrap();
    }
    let ledgers: Ledgers = Arc::new((0..STREAMS).map(|_| Mutex::new(Ledger::default())).collect());
    let (addr_tx, addr_rx) = watch::channel(Some(proc.addr));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let producers: Vec<_> = (0..STREAMS)
        .map(|i| tokio::spawn(producer(i, addr_rx.clone(), ledgers.clone(), stop.clone(), shape)))
        .collect();
    let mut seed = now_ms() | 1;
    for _ in 0..cycles {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        // Let the producers get going, then kill -9 at a random moment.
        tokio::time::sleep(Duration::from_millis(150 + seed % 600)).await;
        proc.child.kill().expect("SIGKILL");
        proc.child.wait().unwrap();
        addr_tx.send_replace(None);
        let (next, took) = spawn_server(dir.path(), db_url, store_env).await;
        restart_times.push(took);
        proc = next;
        addr_tx.send_replace(Some(proc.addr));
    }
    // A final stretch without a crash, then stop the producers cleanly.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for p in producers {
        tokio::time::timeout(Duration::from_secs(20), p).await.expect("producer stops").unwrap();
    }

    let mut checked = 0usize;
    let mut listed_total = 0usize;
    let sent_total: usize = ledgers.iter().map(|l| l.lock().unwrap().sent.len()).sum();
    for i in 0..STREAMS {
        let stream = stream_name(i);
        let back = read_back(proc.addr, &stream).await;
        let ledger = ledgers[i].lock().unwrap();
        assert!(ledger.errors.is_empty(), "{stream}: {:?}", ledger.errors);
        for tc in &ledger.persisted {
            let (number, payload) =
                back.get(tc).unwrap_or_else(|| panic!("{stream}: PERSISTED fragment {tc} is not listed"));
            let sent = &ledger.sent[tc];
            assert!(
                payload[..] == *cluster_payload(sent),
                "{stream}: fragment {number} ({tc}) differs from what was sent"
            );
            checked += 1;
        }
        for (tc, (number, payload)) in &back {
            let sent =
                ledger.sent.get(tc).unwrap_or_else(|| panic!("{stream}: listed {number} was never sent"));
            assert!(
                payload[..] == *cluster_payload(sent),
                "{stream}: listed fragment {number} ({tc}) is torn"
            );
        }
        listed_total += back.len();
        assert!(!ledger.persisted.is_empty(), "{stream}: nothing was ever PERSISTED");
    }
    restart_times.sort();
    let p50 = restart_times[restart_times.len() / 2];
    let max = *restart_times.last().unwrap();
    println!(
        "crash safety ({}): {cycles} kill -9 cycles, {checked} PERSISTED fragments checked byte-identical, \
         {listed_total} listed fragments read back whole ({sent_total} sent); restart (spawn -> first answer) p50 {p50:?} max {max:?} \
         (first start {first:?}); startups that cut torn tails (all tests so far): {}; {shape:?}",
        match (db_url.is_some(), store_env.is_empty()) {
            (false, _) => "sqlite",
            (true, true) => "postgres",
            (true, false) => "postgres+s3",
        },
        RECOVERIES.load(std::sync::atomic::Ordering::Relaxed)
    );
    proc.child.kill().ok();
    proc.child.wait().ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_persisted_fragment_sqlite() {
    crash_cycles(None, &[], SMALL).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_persisted_fragment_postgres() {
    if common::postgres_url().is_none() {
        eprintln!("TEST_DATABASE_URL unset: Postgres variant not run");
        return;
    }
    let (admin, name, url) = common::fresh_postgres_db().await;
    crash_cycles(Some(&url), &[], SMALL).await;
    common::drop_postgres_db(&admin, &name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_persisted_fragment_postgres_s3() {
    if !common::s3_variant_enabled() {
        return;
    }
    let (admin, name, url) = common::fresh_postgres_db().await;
    crash_cycles(Some(&url), &common::s3_server_env().await, SMALL).await;
    common::drop_postgres_db(&admin, &name).await;
}

/// Fragments of many sealed chunks streamed into the local store as they arrive, killed mid-way:
/// every PERSISTED one survives, no partly written one is ever listed or read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_fragment_while_fragments_stream_into_the_store() {
    crash_cycles(None, &[], STREAMED).await;
}
