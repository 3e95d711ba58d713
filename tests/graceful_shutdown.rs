//! Graceful shutdown of the real binary (app.rs, design/0010-retention.md "Graceful shutdown"): a
//! producer streams fragments, each Cluster sent in two halves with a pause between them, and the
//! server gets SIGTERM mid-ingest. The process must exit 0 within the bound, the PutMedia response
//! must end cleanly (no ERROR ACK), the fragment in progress at the signal must be finished and
//! PERSISTED, and after a restart on the same data dir every fragment the producer saw PERSISTED
//! must be listed and readable with GetMediaForFragmentList.

mod common;

use std::collections::BTreeSet;
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::producer::{PutOptions, Synth, now_ms, put_media_head};
use common::{Backend, archived_client, fresh_postgres_db, kvs_client};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// SIGTERM to exit: the session's finish-the-fragment bound (5 s) plus the other bounded steps
/// would allow more; a healthy shutdown takes well under this.
const EXIT_BOUND: Duration = Duration::from_secs(15);

fn spawn_server(data_dir: &Path, db_url: Option<&str>, env: &[(&str, String)]) -> (Child, SocketAddr) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_openkvs"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .current_dir(data_dir)
        .env("OPENKVS_LOG", std::env::var("SHUTDOWN_TEST_LOG").unwrap_or_else(|_| "info".into()))
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
    let (tx, rx) = std::sync::mpsc::channel::<SocketAddr>();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("server: {line}");
            if let Some(rest) = line.split("listening on http://").nth(1)
                && let Some(t) = tx.take()
            {
                let _ = t.send(rest.split([',', ' ']).next().unwrap().parse().unwrap());
            }
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(30)).expect("server listens");
    (child, addr)
}

async fn write_chunk(wr: &mut tokio::net::tcp::OwnedWriteHalf, data: &[u8]) -> bool {
    let mut buf = format!("{:x}\r\n", data.len()).into_bytes();
    buf.extend_from_slice(data);
    buf.extend_from_slice(b"\r\n");
    wr.write_all(&buf).await.is_ok()
}

#[derive(Default)]
struct Seen {
    persisted: BTreeSet<u64>,
    errors: Vec<String>,
    /// Whether the response ended with the terminating chunk (a clean end, not a cut connection).
    clean_end: bool,
    log: Vec<String>,
}

/// Reads the chunked ACK stream to its end.
async fn read_acks(mut rd: tokio::net::tcp::OwnedReadHalf, seen: Arc<Mutex<Seen>>) {
    let (mut raw, mut body, mut tmp, mut head_done) = (Vec::new(), Vec::new(), vec![0u8; 16384], false);
    let mut ended = false;
    while !ended {
        match rd.read(&mut tmp).await {
            Ok(0) | Err(_) => return,
            Ok(n) => raw.extend_from_slice(&tmp[..n]),
        }
        if !head_done {
            let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
            assert!(raw.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&raw));
            raw.drain(..p + 4);
            head_done = true;
        }
        while let Some(p) = raw.windows(2).position(|w| w == b"\r\n") {
            let size = usize::from_str_radix(String::from_utf8_lossy(&raw[..p]).trim(), 16).unwrap_or(0);
            if size == 0 {
                // The last chunk: the ACK lines that came with it are still read below.
                seen.lock().unwrap().clean_end = true;
                ended = true;
                break;
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
            let mut s = seen.lock().unwrap();
            s.log.push(format!("{} {}", ack["EventType"], ack["FragmentTimecode"]));
            match ack["EventType"].as_str() {
                Some("PERSISTED") => {
                    s.persisted.insert(ack["FragmentTimecode"].as_u64().unwrap());
                }
                Some("ERROR") => s.errors.push(ack.to_string()),
                _ => {}
            }
        }
    }
}

async fn sigterm_mid_ingest_loses_no_persisted_fragment(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = match backend {
        Backend::Sqlite => None,
        Backend::Postgres | Backend::PostgresS3 => Some(fresh_postgres_db().await.2),
    };
    let store_env = if backend == Backend::PostgresS3 { common::s3_server_env().await } else { Vec::new() };
    let (mut child, addr) = spawn_server(dir.path(), db.as_deref(), &store_env);
    let mut ready = false;
    for _ in 0..300 {
        if kvs_client(&format!("http://{addr}"))
            .create_stream()
            .stream_name("cam-s")
            .data_retention_in_hours(2)
            .send()
            .await
            .is_ok()
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ready, "server answers");

    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let (rd, mut wr) = tcp.into_split();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let reader = tokio::spawn(read_acks(rd, seen.clone()));
    let opts = PutOptions::new("cam-s");
    wr.write_all(put_media_head(addr, &opts).as_bytes()).await.unwrap();
    let synth = Synth { tracks: vec![1] };
    let eofr = openkvs::media::mkv::rewrite::end_of_fragment_tags();
    assert!(write_chunk(&mut wr, &synth.header()).await);
    let pid = child.id();
    let mut timecode = now_ms();
    let mut signalled_at = None;
    let mut in_progress_at_signal = None;
    let mut sent = 0usize;
    // Each Cluster in two halves 40 ms apart; SIGTERM lands between the halves of cluster 12.
    loop {
        timecode += 100;
        let cluster = Synth::cluster(timecode, &[(1, 0, true, 4000), (1, 40, false, 3000)]);
        let (a, b) = cluster.split_at(cluster.len() / 2);
        if !write_chunk(&mut wr, a).await {
            break;
        }
        if sent == 12 {
            // Let the server read the first half (the fragment has begun: BUFFERING), then signal.
            tokio::time::sleep(Duration::from_millis(20)).await;
            assert!(Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap().success());
            signalled_at = Some(Instant::now());
            in_progress_at_signal = Some(timecode);
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
        if !write_chunk(&mut wr, b).await || !write_chunk(&mut wr, &eofr).await {
            break;
        }
        sent += 1;
        if reader.is_finished() || signalled_at.is_some_and(|t| t.elapsed() > Duration::from_secs(3)) {
            break;
        }
    }
    // The server ends the response after the last ACK; then the body may end too.
    let _ = wr.write_all(b"0\r\n\r\n").await;
    tokio::time::timeout(Duration::from_secs(20), reader).await.expect("response ends").unwrap();
    let signalled_at = signalled_at.expect("SIGTERM was sent");
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(signalled_at.elapsed() < EXIT_BOUND, "still running {EXIT_BOUND:?} after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let took = signalled_at.elapsed();
    assert!(status.success(), "exit status {status:?}");
    eprintln!("exited {took:?} after SIGTERM");

    let seen = Arc::try_unwrap(seen).ok().unwrap().into_inner().unwrap();
    assert!(seen.errors.is_empty(), "{:?}", seen.errors);
    assert!(seen.clean_end, "the PutMedia response ended with its last chunk, not a cut connection");

    // Restart on the same data: every PERSISTED fragment is listed and readable.
    let (mut child, addr) = spawn_server(dir.path(), db.as_deref(), &store_env);
    let am = archived_client(&format!("http://{addr}"));
    let mut listed = None;
    for _ in 0..300 {
        if let Ok(page) = am.list_fragments().stream_name("cam-s").max_results(1000).send().await {
            listed = Some(page);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let listed = listed.expect("ListFragments after restart");
    let mut fragments: Vec<(u64, String)> = Vec::new();
    for f in listed.fragments() {
        fragments.push((
            f.producer_timestamp().unwrap().to_millis().unwrap() as u64,
            f.fragment_number().unwrap().to_owned(),
        ));
    }
    assert_eq!(fragments.len(), seen.persisted.len(), "exactly the PERSISTED fragments are listed");
    for tc in &seen.persisted {
        assert!(
            fragments.iter().any(|(ts, _)| ts.abs_diff(*tc) <= 1),
            "PERSISTED fragment {tc} is listed after the restart"
        );
    }
    let media = am
        .get_media_for_fragment_list()
        .stream_name("cam-s")
        .set_fragments(Some(fragments.iter().map(|(_, n)| n.clone()).collect()))
        .send()
        .await
        .expect("GetMediaForFragmentList");
    let body = media.payload.collect().await.unwrap().into_bytes();
    let docs = body.windows(4).filter(|w| *w == [0x1A, 0x45, 0xDF, 0xA3]).count();
    assert_eq!(docs, fragments.len(), "every listed fragment reads back");
    child.kill().unwrap();
    child.wait().unwrap();
    eprintln!("listed after restart: {:?}", fragments.iter().map(|f| f.0).collect::<Vec<_>>());
    let in_progress = in_progress_at_signal.unwrap();
    assert!(
        seen.persisted.contains(&in_progress),
        "the fragment in progress at SIGTERM ({in_progress}) was finished and PERSISTED: {:?}",
        seen.log
    );
    assert!(seen.persisted.len() >= 13);
}

backend_tests!(sigterm_mid_ingest_loses_no_persisted_fragment);
