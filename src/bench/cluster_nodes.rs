//! The cluster a cluster bench measures: `n` `openkvs serve` children (this executable) on
//! loopback, configured as one cluster (design/0020-cluster.md) on services the caller names —
//! one Postgres database, one S3 bucket (under a prefix of this run), one NATS server — and one
//! master key the bench writes. Node `i` is `<run>-node-<i+1>`, listens on a port chosen once (it
//! keeps it across [`ClusterNodes::restart`], as a node behind a fixed address does) and keeps its
//! data directory. Membership is watched through each node's `/ready` (`cluster.members`).
//!
//! Owns the node processes and their files (removed on drop, the nodes killed). It does not
//! create the database or the bucket, and knows nothing of streams.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::server_process::ChildServer;
use crate::producer::data_client::DataConnection;

/// The services every node uses, and its membership timing.
#[derive(Debug, Clone)]
pub struct ClusterServices {
    /// `postgres://…` of an existing database (the first node runs the migrations).
    pub database_url: String,
    /// The S3 endpoint (e.g. SeaweedFS on `http://127.0.0.1:8333`).
    pub s3_endpoint: String,
    /// An existing bucket; the run writes under its own prefix.
    pub s3_bucket: String,
    /// S3 access key id.
    pub s3_access_key_id: String,
    /// S3 secret access key.
    pub s3_secret_access_key: String,
    /// `nats://host:port`.
    pub nats_url: String,
    /// `[cluster] heartbeat_interval_ms`.
    pub heartbeat_ms: u64,
    /// `[cluster] member_ttl_ms`.
    pub member_ttl_ms: u64,
}

/// Running cluster nodes.
pub struct ClusterNodes {
    base: PathBuf,
    run: String,
    ports: Vec<u16>,
    nodes: Vec<Option<ChildServer>>,
}

impl ClusterNodes {
    /// Writes the key and each node's configuration under a new temp directory and starts `n`
    /// nodes (the first alone: it runs the migrations). Blocking, and the nodes die with the
    /// calling thread (see [`ChildServer::start`]): call it from the bench's main thread. `run`
    /// names this run (node ids, the S3 prefix).
    pub fn start(services: &ClusterServices, n: usize, run: &str) -> Result<Self, String> {
        let base = std::env::temp_dir().join(format!("openkvs-cluster-{run}-{}", std::process::id()));
        std::fs::create_dir_all(&base).map_err(|e| format!("cannot create {}: {e}", base.display()))?;
        let mut nodes = ClusterNodes { base, run: run.to_owned(), ports: Vec::new(), nodes: Vec::new() };
        let key = nodes.base.join("master.key");
        let key_hex: String = (0..32).map(|_| format!("{:02x}", rand::random::<u8>())).collect();
        std::fs::write(&key, key_hex).map_err(|e| format!("cannot write {}: {e}", key.display()))?;
        let s = services;
        for i in 0..n {
            let port = free_port()?;
            let text = format!(
                "database_url = \"{db}\"\n\n\
                 [store]\nkind = \"s3\"\n\n\
                 [store.s3]\nbucket = \"{bucket}\"\nprefix = \"{run}\"\nendpoint = \"{s3}\"\n\
                 access_key_id = \"{ak}\"\nsecret_access_key = \"{sk}\"\n\n\
                 [encryption]\ndefault_key = \"cluster\"\n\n\
                 [encryption.keys.cluster]\nfile = \"{key}\"\n\n\
                 [cluster]\nnode_id = \"{id}\"\nnats_url = \"{nats}\"\n\
                 heartbeat_interval_ms = {hb}\nmember_ttl_ms = {ttl}\n",
                db = s.database_url,
                bucket = s.s3_bucket,
                s3 = s.s3_endpoint,
                ak = s.s3_access_key_id,
                sk = s.s3_secret_access_key,
                key = key.display(),
                id = nodes.node_id(i),
                nats = s.nats_url,
                hb = s.heartbeat_ms,
                ttl = s.member_ttl_ms,
            );
            let path = nodes.config(i);
            std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            nodes.ports.push(port);
            nodes.nodes.push(None);
        }
        for i in 0..n {
            nodes.spawn(i)?;
        }
        Ok(nodes)
    }

    fn config(&self, i: usize) -> PathBuf {
        self.base.join(format!("node-{}.toml", i + 1))
    }

    fn spawn(&mut self, i: usize) -> Result<(), String> {
        let args: Vec<OsString> = vec![
            "--config".into(),
            self.config(i).into(),
            "--listen".into(),
            format!("127.0.0.1:{}", self.ports[i]).into(),
        ];
        let node = ChildServer::start_with(&args, self.base.join(format!("node-{}", i + 1)))
            .map_err(|e| format!("{}: {e}", self.node_id(i)))?;
        self.nodes[i] = Some(node);
        Ok(())
    }

    /// How many nodes the cluster has (running or not).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the cluster has no node.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Node `i`'s id.
    pub fn node_id(&self, i: usize) -> String {
        format!("{}-node-{}", self.run, i + 1)
    }

    /// Node `i`'s base URL (what it advertises), running or not.
    pub fn url(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.ports[i])
    }

    /// Which node has this base URL.
    pub fn index_of(&self, url: &str) -> Option<usize> {
        let url = url.trim_end_matches('/');
        (0..self.len()).find(|&i| self.url(i) == url)
    }

    /// Node `i`'s process id, if it runs.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.nodes[i].as_ref().map(ChildServer::pid)
    }

    /// Whether node `i` runs.
    pub fn running(&self, i: usize) -> bool {
        self.nodes[i].is_some()
    }

    /// `kill -9` node `i` and reap it.
    pub fn kill(&mut self, i: usize) {
        // Dropping the child kills it with SIGKILL and waits for it.
        self.nodes[i] = None;
    }

    /// Starts node `i` again, same id, port, configuration and data directory. Blocking.
    pub fn restart(&mut self, i: usize) -> Result<(), String> {
        self.kill(i);
        self.spawn(i)
    }

    /// Waits until every running node lists exactly the running nodes as members.
    pub async fn wait_converged(&self, within: Duration) -> Result<(), String> {
        let running: Vec<usize> = (0..self.len()).filter(|&i| self.running(i)).collect();
        let mut want: Vec<String> = running.iter().map(|&i| self.node_id(i)).collect();
        want.sort();
        let deadline = Instant::now() + within;
        loop {
            let mut seen = Vec::new();
            for &i in &running {
                seen.push(members_seen_by(&self.url(i)).await);
            }
            if seen.iter().all(|s| s.as_ref() == Some(&want)) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("membership did not converge on {want:?} within {within:?}: {seen:?}"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for ClusterNodes {
    fn drop(&mut self) {
        self.nodes.clear();
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// A loopback port free now (the node binds it a moment later).
fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    l.local_addr().map(|a| a.port()).map_err(|e| format!("no free port: {e}"))
}

/// The members the node at `url` (its base URL) reports in `/ready`, sorted (`None` if it does not
/// answer within 2 s).
pub async fn members_seen_by(url: &str) -> Option<Vec<String>> {
    let ready = format!("{url}/ready");
    let fetch = async {
        let mut conn = DataConnection::new(&ready).ok()?;
        let response = conn.get(&ready).await.ok()?;
        // /ready answers 503 while the node is not ready; its body still lists the members.
        let body = http_body_util::BodyExt::collect(response.into_body()).await.ok()?.to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).ok()?;
        let mut members: Vec<String> = v["cluster"]["members"]
            .as_array()?
            .iter()
            .filter_map(|m| m.as_str().map(str::to_owned))
            .collect();
        members.sort();
        Some(members)
    };
    tokio::time::timeout(Duration::from_secs(2), fetch).await.ok()?
}
