//! A real cluster for tests: `n` `openkvs serve` processes (the built binary) on loopback port 0,
//! sharing one fresh Postgres database, one S3 prefix of their own in the test bucket, one master
//! key and the NATS server on 127.0.0.1:4222 (design/0020-cluster.md).
//!
//! [`TestCluster::start`] returns `None`, saying why, when Postgres (`TEST_DATABASE_URL`), S3
//! (`TEST_S3_ENDPOINT`) or NATS is missing, unless `OPENKVS_CI` (or `OPENKVS_REQUIRE_S3` /
//! `OPENKVS_REQUIRE_NATS`) is set: then it panics, so CI cannot skip the cluster silently.
//!
//! Nodes are numbered from 0 and named `node-<i+1>`; each keeps its id and data directory across
//! [`TestCluster::restart`] (its port changes). Membership is watched through each node's `/ready`
//! (`cluster.members`), never by sleeping. Heartbeats are fast ([`HEARTBEAT_MS`], [`MEMBER_TTL_MS`]).
//! Each cluster's NATS subjects start with its own [`TestCluster::prefix`], so clusters of tests
//! running at once never hear each other; [`TestCluster::stop`] deletes its JetStream stream.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::process::ServeProcess;

/// The nodes' heartbeat interval.
pub const HEARTBEAT_MS: u64 = 200;
/// The nodes' member TTL: a node silent this long is dead to the others.
pub const MEMBER_TTL_MS: u64 = 1_500;
/// The NATS server every cluster test uses.
pub const NATS_URL: &str = "nats://127.0.0.1:4222";

/// What a test adds to every node's configuration file.
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    /// Lines inside `[cluster]` (after the harness's own keys).
    pub cluster_lines: String,
    /// Whole sections appended to the file (e.g. `[workers]` settings).
    pub sections: String,
}

/// A running cluster of `openkvs serve` processes.
pub struct TestCluster {
    nodes: Vec<Option<ServeProcess>>,
    dirs: Vec<tempfile::TempDir>,
    configs: Vec<PathBuf>,
    paused: Vec<bool>,
    /// A unique name for this cluster (its S3 prefix; use it for NATS subjects and streams too).
    pub prefix: String,
    /// The shared database's URL (for assertions on the index).
    pub db_url: String,
    admin_url: String,
    db_name: String,
    _shared: tempfile::TempDir,
}

/// Whether the services a cluster needs are here; `Err` says which is missing.
fn services() -> Result<(String, String), String> {
    let db = super::postgres_url().ok_or("TEST_DATABASE_URL unset")?;
    let s3 = super::s3_endpoint().ok_or("TEST_S3_ENDPOINT unset")?;
    std::net::TcpStream::connect_timeout(&"127.0.0.1:4222".parse().unwrap(), Duration::from_millis(300))
        .map_err(|_| "no NATS server on 127.0.0.1:4222".to_owned())?;
    Ok((db, s3))
}

fn required() -> bool {
    ["OPENKVS_CI", "OPENKVS_REQUIRE_S3", "OPENKVS_REQUIRE_NATS"]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|s| !s.is_empty() && s != "0"))
}

impl TestCluster {
    /// Starts `n` nodes and waits until every one sees all `n` as members. `None` (after printing
    /// why) when a service is missing and CI does not require it.
    pub async fn start(n: usize) -> Option<Self> {
        Self::start_with(n, ClusterOptions::default()).await
    }

    /// As [`TestCluster::start`], with additions to every node's configuration.
    pub async fn start_with(n: usize, options: ClusterOptions) -> Option<Self> {
        let s3 = match services() {
            Ok((_, s3)) => s3,
            Err(why) => {
                assert!(!required(), "cluster test required (OPENKVS_CI) but {why}");
                eprintln!("skipped: {why} (a cluster needs Postgres, S3 and NATS)");
                return None;
            }
        };
        let bucket = super::s3_bucket();
        super::ensure_s3_bucket(&s3, &bucket).await;
        let (admin_url, db_name, db_url) = super::fresh_postgres_db().await;
        let prefix = format!("c-{}", uuid::Uuid::new_v4().simple());
        let shared = tempfile::tempdir().unwrap();
        let key = shared.path().join("master.key");
        let key_hex: String = (0..32).map(|_| format!("{:02x}", rand::random::<u8>())).collect();
        std::fs::write(&key, key_hex).unwrap();
        let mut dirs = Vec::new();
        let mut configs = Vec::new();
        for i in 0..n {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("openkvs.toml");
            let text = format!(
                "listen = \"127.0.0.1:0\"\ndatabase_url = \"{db_url}\"\n\n\
                 [store]\nkind = \"s3\"\n\n[store.s3]\nbucket = \"{bucket}\"\nprefix = \"{prefix}\"\n\
                 endpoint = \"{s3}\"\naccess_key_id = \"openkvs-test\"\nsecret_access_key = \"openkvs-test-secret\"\n\n\
                 [encryption.keys.cluster]\nfile = \"{key}\"\n\n\
                 [cluster]\nnode_id = \"node-{node}\"\nnats_url = \"{NATS_URL}\"\n\
                 heartbeat_interval_ms = {HEARTBEAT_MS}\nmember_ttl_ms = {MEMBER_TTL_MS}\n\
                 subject_prefix = \"{prefix}\"\n{cluster_lines}\n\n{sections}\n",
                key = key.display(),
                node = i + 1,
                cluster_lines = options.cluster_lines,
                sections = options.sections,
            );
            std::fs::write(&path, text).unwrap();
            dirs.push(dir);
            configs.push(path);
        }
        let mut cluster = Self {
            nodes: (0..n).map(|_| None).collect(),
            dirs,
            configs,
            paused: vec![false; n],
            prefix,
            db_url,
            admin_url,
            db_name,
            _shared: shared,
        };
        // The first node runs the migrations alone; the others then start together.
        cluster.spawn(0);
        for i in 1..n {
            cluster.spawn(i);
        }
        cluster.wait_converged(Duration::from_secs(20)).await;
        Some(cluster)
    }

    fn spawn(&mut self, i: usize) {
        let config = self.configs[i].to_str().unwrap().to_owned();
        let node = ServeProcess::start(self.dirs[i].path(), &["--config", &config]);
        self.nodes[i] = Some(node);
        self.paused[i] = false;
    }

    fn node(&self, i: usize) -> &ServeProcess {
        self.nodes[i].as_ref().unwrap_or_else(|| panic!("node {i} is not running"))
    }

    /// How many nodes the cluster was started with.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Node `i`'s id (`node-<i+1>`).
    pub fn node_id(&self, i: usize) -> String {
        format!("node-{}", i + 1)
    }

    /// Node `i`'s base URL (`http://127.0.0.1:PORT`), which is also what it advertises.
    pub fn url(&self, i: usize) -> String {
        self.node(i).url("http")
    }

    /// Which node has this base URL.
    pub fn index_of(&self, url: &str) -> Option<usize> {
        let url = url.trim_end_matches('/');
        (0..self.len()).find(|&i| self.nodes[i].as_ref().is_some_and(|n| n.url("http") == url))
    }

    /// Node `i`'s process id.
    pub fn pid(&self, i: usize) -> u32 {
        self.node(i).pid()
    }

    /// Node `i`'s log so far.
    pub fn log(&self, i: usize) -> Vec<String> {
        self.node(i).log()
    }

    /// A control-plane client (the development key) for node `i`.
    pub fn kvs(&self, i: usize) -> aws_sdk_kinesisvideo::Client {
        super::kvs_client(&self.url(i))
    }

    /// A `kinesis-video-media` client (GetMedia) for node `i`, with the development key.
    pub fn media(&self, i: usize) -> aws_sdk_kinesisvideomedia::Client {
        use aws_sdk_kinesisvideomedia::config as c;
        aws_sdk_kinesisvideomedia::Client::from_conf(
            c::Config::builder()
                .http_client(openkvs::producer::control::sdk_http_client())
                .behavior_version(c::BehaviorVersion::latest())
                .region(c::Region::new("us-east-1"))
                .credentials_provider(aws_sdk_kinesisvideo::config::Credentials::new(
                    "openkvs",
                    "openkvs-secret",
                    None,
                    None,
                    "test",
                ))
                .endpoint_url(self.url(i))
                .retry_config(c::retry::RetryConfig::disabled())
                .build(),
        )
    }

    /// A `kinesis-video-archived-media` client for node `i`, with the development key.
    pub fn archived(&self, i: usize) -> aws_sdk_kinesisvideoarchivedmedia::Client {
        super::archived_client(&self.url(i))
    }

    /// `kill -9` node `i` and reap it.
    pub fn kill(&mut self, i: usize) {
        if let Some(node) = self.nodes[i].take() {
            signal(node.pid(), libc::SIGKILL);
            drop(node);
        }
        self.paused[i] = false;
    }

    /// `SIGSTOP` node `i`: it keeps its sockets and state but does nothing (no heartbeat).
    pub fn pause(&mut self, i: usize) {
        signal(self.pid(i), libc::SIGSTOP);
        self.paused[i] = true;
    }

    /// `SIGCONT` a paused node `i`.
    pub fn resume(&mut self, i: usize) {
        signal(self.pid(i), libc::SIGCONT);
        self.paused[i] = false;
    }

    /// Starts node `i` again (after [`TestCluster::kill`]) with its id, configuration and data
    /// directory; it listens on a new port.
    pub fn restart(&mut self, i: usize) {
        self.kill(i);
        self.spawn(i);
    }

    /// The nodes running and not paused.
    pub fn running(&self) -> Vec<usize> {
        (0..self.len()).filter(|&i| self.nodes[i].is_some() && !self.paused[i]).collect()
    }

    /// Waits until every running, unpaused node lists exactly the running, unpaused nodes as
    /// members in its `/ready` (so dead or paused ones have expired everywhere). Panics after
    /// `within`, with what each node saw.
    pub async fn wait_converged(&self, within: Duration) {
        let running = self.running();
        let want: Vec<String> = running.iter().map(|&i| self.node_id(i)).collect();
        let deadline = Instant::now() + within;
        loop {
            let mut seen = Vec::new();
            for &i in &running {
                seen.push(self.members_seen_by(i).await);
            }
            if seen.iter().all(|s| s.as_ref() == Some(&want)) {
                return;
            }
            assert!(Instant::now() < deadline, "membership did not converge on {want:?}: nodes saw {seen:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The members node `i` reports in `/ready` (`None` if it does not answer).
    pub async fn members_seen_by(&self, i: usize) -> Option<Vec<String>> {
        openkvs::bench::cluster_nodes::members_seen_by(&self.url(i)).await
    }

    /// A connection to the shared database (for assertions on the index).
    pub async fn db(&self) -> sqlx::PgConnection {
        use sqlx::Connection;
        sqlx::PgConnection::connect(&self.db_url).await.expect("connect to the cluster's database")
    }

    /// Stops every node (paused ones are resumed and killed) and drops the database.
    pub async fn stop(mut self) {
        for i in 0..self.len() {
            if self.paused[i] {
                self.resume(i);
            }
            self.kill(i);
        }
        super::drop_postgres_db(&self.admin_url, &self.db_name).await;
        if let Ok(nats) = async_nats::connect(NATS_URL).await {
            let stream = format!("{}_PERSISTED", self.prefix.to_uppercase());
            let _ = async_nats::jetstream::new(nats).delete_stream(&stream).await;
        }
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        // A paused process ignores SIGKILL only until it is continued; kill it either way.
        for (i, node) in self.nodes.iter().enumerate() {
            if let Some(n) = node {
                signal(n.pid(), libc::SIGKILL);
                if self.paused[i] {
                    signal(n.pid(), libc::SIGCONT);
                }
            }
        }
    }
}

/// GetDataEndpoint(PUT_MEDIA) for `stream`, asked of each node in turn (a dead one refuses at once:
/// the clients do not retry).
pub fn resolver(
    clients: std::sync::Arc<Vec<aws_sdk_kinesisvideo::Client>>,
    stream: String,
) -> openkvs::producer::reconnect::Resolve {
    std::sync::Arc::new(move || {
        let (clients, stream) = (clients.clone(), stream.clone());
        Box::pin(async move {
            let mut last = String::new();
            for c in clients.iter() {
                match c
                    .get_data_endpoint()
                    .stream_name(&stream)
                    .api_name(aws_sdk_kinesisvideo::types::ApiName::PutMedia)
                    .send()
                    .await
                {
                    Ok(out) => return out.data_endpoint.ok_or_else(|| "no DataEndpoint".to_owned()),
                    Err(e) => last = format!("{e:?}"),
                }
            }
            Err(last)
        })
    })
}

/// Starts `openkvs put`'s reconnecting producer on `stream` as a camera would: `prepared` re-timed
/// to ABSOLUTE timecodes from `base_ms`, paced in real time, every fragment kept until PERSISTED
/// (the oldest dropped past the buffer), GetDataEndpoint asked of `clients` in turn; gives up after
/// 30 s without a PERSISTED ACK.
pub async fn spawn_realtime_producer(
    clients: std::sync::Arc<Vec<aws_sdk_kinesisvideo::Client>>,
    stream: &str,
    prepared: &openkvs::producer::body::PreparedFile,
    base_ms: u64,
    tracker: std::sync::Arc<openkvs::producer::session::Tracker>,
) -> tokio::task::JoinHandle<
    Result<openkvs::producer::reconnect::ReconnectReport, openkvs::producer::session::PutMediaError>,
> {
    use openkvs::media::fragment::TimecodeType;
    use openkvs::producer::body::Retimer;
    use openkvs::producer::reconnect::{BufferFull, ReconnectOptions, put_media_reconnecting};
    use openkvs::producer::session::{FinalAck, SessionOptions, Target};
    let resolve = resolver(clients, stream.to_owned());
    let target = Target {
        data_endpoint: resolve().await.unwrap(),
        stream_name: stream.to_owned(),
        region: "us-east-1".into(),
        credentials: aws_credential_types::Credentials::new("openkvs", "openkvs-secret", None, None, "test"),
    };
    let options = SessionOptions {
        timecode_type: TimecodeType::Absolute,
        producer_start_ms: base_ms,
        realtime: true,
        final_ack: FinalAck::Persisted,
        ..SessionOptions::default()
    };
    let reconnect = ReconnectOptions {
        when_full: BufferFull::DropOldest,
        give_up_after: Duration::from_secs(30),
        ..ReconnectOptions::default()
    };
    let pieces = prepared.pieces(Retimer::new(TimecodeType::Absolute, base_ms)).unwrap();
    let source = futures_util::stream::iter(pieces.into_iter().map(Ok));
    tokio::spawn(put_media_reconnecting(target, resolve, options, reconnect, source, tracker))
}

fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) on a child process id this harness spawned and has not reaped.
    let rc = unsafe { libc::kill(pid as libc::pid_t, sig) };
    assert_eq!(rc, 0, "kill({pid}, {sig}) failed");
}

/// A plain HTTP/1.1 GET of a loopback URL; the body if it answered.
pub async fn http_get(url: &str) -> Option<String> {
    let rest = url.strip_prefix("http://")?;
    let (hostport, path) = rest.split_once('/').map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let addr: std::net::SocketAddr = hostport.parse().ok()?;
    let req = format!("GET {path} HTTP/1.1\r\nhost: {hostport}\r\nconnection: close\r\n\r\n");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.ok()?;
    let resp = super::exchange(&mut tcp, req.as_bytes()).await;
    Some(String::from_utf8_lossy(&resp.body).into_owned())
}
