//! Several openkvs nodes on one Postgres index, one S3 store and one NATS server (design/0020-cluster.md).
//!
//! Owns the `[cluster]` section ([`ClusterConfig`]), the [`Cluster`] handle `app` builds when that
//! section names a NATS server, membership ([`membership`]: each node's heartbeat row in Postgres,
//! the live members cached), stream ownership ([`ownership`]: rendezvous hashing over the live
//! members, and the writer epoch a PutMedia session claims and holds under a lease). The fence
//! that makes a stale epoch's commit fail lives in the archive's commit transaction; this module
//! only claims, renews and releases epochs. The node's NATS connection ([`Cluster::nats`]) is
//! opened by [`Cluster::join`]; [`feeds`] carries live frames and "fragment persisted" records
//! between nodes over it (design/0021-cluster-feeds.md).
//!
//! Coordination over NATS and Postgres (design/0025-cluster-coordination.md): the signaling relay
//! between nodes ([`signaling`]), the "fragment persisted" feed ([`persisted_feed`]) and the
//! analysis workers' leases ([`worker_leases`]), started by [`Cluster::coordinate`].
//!
//! It must not exist in single-node mode: `app` builds no [`Cluster`] then, and nothing in the
//! single-node path waits on it. It reaches the database only through the archive's catalog
//! (`ClusterIndex`), speaks no HTTP, and keeps no state that matters beyond the process: a node
//! that dies loses nothing another node needs.

pub mod feeds;
mod live_wire;
pub mod membership;
pub mod ownership;
pub mod persisted_feed;
pub mod signaling;
pub mod worker_leases;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::watch;

use crate::archive::{Archive, IndexError};

pub use crate::archive::ClusterMember;
pub use ownership::{ClaimError, WriterLease};

/// `[cluster]`: this node as one of several. Cluster mode is on iff `nats_url` is set.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// This node's id, unique in the cluster. Absent: `HOSTNAME-PORT` (the host name and the
    /// bound HTTP listener's port).
    pub node_id: Option<String>,
    /// The base URL other nodes and clients reach this node at (`scheme://host[:port]`),
    /// GetDataEndpoint's answer for the streams this node owns. Absent: `public_url` if set,
    /// else the bound HTTP listener's URL (so port 0 works).
    pub advertise_url: Option<String>,
    /// The NATS server of the cluster (`nats://host:port`). Setting it turns cluster mode on.
    pub nats_url: Option<String>,
    /// How often this node renews its membership and its PutMedia sessions' leases, ms.
    pub heartbeat_interval_ms: u64,
    /// A node whose heartbeat is older than this is dead: its streams move to other nodes, ms.
    pub member_ttl_ms: u64,
    /// The first token(s) of every NATS subject the cluster uses (live frames, signaling relay,
    /// "fragment persisted" feed; design/0021); its upper-case form, dots as `_`, names the
    /// JetStream stream (`<PREFIX>_PERSISTED`). Clusters sharing one NATS server need distinct
    /// prefixes.
    pub subject_prefix: String,
    /// How long an analysis worker's lease on a stream lasts without renewal, ms: a dead node's
    /// (worker, stream) pairs move to another node within this (sooner when its membership row
    /// expires first). Renewed every third of it.
    pub worker_lease_ttl_ms: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            node_id: None,
            advertise_url: None,
            nats_url: None,
            heartbeat_interval_ms: 1_000,
            member_ttl_ms: 5_000,
            subject_prefix: "openkvs".to_owned(),
            worker_lease_ttl_ms: 10_000,
        }
    }
}

impl ClusterConfig {
    /// Whether cluster mode is on (`nats_url` set and not empty).
    pub fn enabled(&self) -> bool {
        self.nats_url.as_deref().is_some_and(|u| !u.is_empty())
    }

    /// The heartbeat interval.
    pub fn heartbeat_interval(&self) -> Duration {
        Duration::from_millis(self.heartbeat_interval_ms.max(10))
    }

    /// The member TTL (also every writer lease's length).
    pub fn member_ttl(&self) -> Duration {
        Duration::from_millis(self.member_ttl_ms)
    }

    /// The worker lease TTL.
    pub fn worker_lease_ttl(&self) -> Duration {
        Duration::from_millis(self.worker_lease_ttl_ms)
    }

    /// Checks the section on its own (`app` checks what it needs of the others).
    pub fn validate(&self) -> Result<(), String> {
        if !self.enabled() {
            return Ok(());
        }
        if self.heartbeat_interval_ms == 0 || self.member_ttl_ms < 2 * self.heartbeat_interval_ms {
            return Err(format!(
                "cluster.member_ttl_ms ({}) must be at least twice cluster.heartbeat_interval_ms ({}), which must be > 0",
                self.member_ttl_ms, self.heartbeat_interval_ms
            ));
        }
        if let Some(id) = &self.node_id
            && (id.is_empty() || id.len() > 128 || id.chars().any(char::is_whitespace))
        {
            return Err(format!("cluster.node_id must be 1..=128 characters without spaces, got {id:?}"));
        }
        if self.worker_lease_ttl_ms < 300 {
            return Err(format!(
                "cluster.worker_lease_ttl_ms must be at least 300, got {}",
                self.worker_lease_ttl_ms
            ));
        }
        let token_ok =
            |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b));
        if !self.subject_prefix.split('.').all(token_ok) {
            return Err(format!(
                "cluster.subject_prefix must be dot-separated tokens of [A-Za-z0-9_-], got {:?}",
                self.subject_prefix
            ));
        }
        if let Some(url) = &self.advertise_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(format!("cluster.advertise_url must be http(s)://host[:port], got {url}"));
        }
        Ok(())
    }
}

/// The default node id: the host name and the HTTP port.
pub fn default_node_id(port: u16) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "openkvs".to_owned());
    format!("{host}-{port}")
}

/// This node's membership in a cluster: the handle everyone who needs to know about other nodes
/// holds (`app` builds it; the API answers GetDataEndpoint and claims PutMedia writers with it).
#[derive(Debug)]
pub struct Cluster {
    archive: Arc<Archive>,
    node_id: String,
    url: String,
    incarnation: String,
    config: ClusterConfig,
    /// The live members as of the last heartbeat, by node id (this node included).
    members: RwLock<Vec<ClusterMember>>,
    /// Changes whenever the cached membership does.
    members_changed: watch::Sender<u64>,
    /// The writer leases this node holds: stream id → epoch (one PutMedia session each).
    held: Mutex<HashMap<i64, i64>>,
    stop: watch::Sender<bool>,
    /// The cluster's NATS connection (live frames, signaling relay, fragment feed).
    nats: async_nats::Client,
}

impl Cluster {
    /// Joins the cluster: registers this node (`node_id` at `url`), reads the members, and starts
    /// the heartbeat task. Fails when the database or the NATS server cannot be reached.
    pub async fn join(
        config: ClusterConfig,
        archive: Arc<Archive>,
        node_id: String,
        url: String,
    ) -> Result<Arc<Self>, IndexError> {
        let nats_url = config.nats_url.clone().unwrap_or_default();
        let nats = async_nats::ConnectOptions::new()
            .name(format!("openkvs {node_id}"))
            .connection_timeout(Duration::from_secs(5))
            .connect(nats_url.as_str())
            .await
            .map_err(|e| IndexError::Other(format!("cannot connect to NATS at {nats_url}: {e}")))?;
        let incarnation = uuid::Uuid::new_v4().simple().to_string();
        let (members_changed, _) = watch::channel(0);
        let (stop, _) = watch::channel(false);
        let cluster = Arc::new(Self {
            archive,
            node_id,
            url,
            incarnation,
            config,
            members: RwLock::new(Vec::new()),
            members_changed,
            held: Mutex::new(HashMap::new()),
            stop,
            nats,
        });
        match cluster.archive.node_id_in_use(&cluster.node_id, &cluster.incarnation).await {
            Ok(true) => tracing::warn!(
                "another live member already uses node id {:?}: two processes under one id share its streams' \
                 leases and ownership; give every node its own [cluster] node_id",
                cluster.node_id
            ),
            Ok(false) => {}
            Err(e) => tracing::warn!("cannot check whether node id {:?} is in use: {e}", cluster.node_id),
        }
        cluster.beat().await?;
        tokio::spawn(membership::run(cluster.clone(), cluster.stop.subscribe()));
        Ok(cluster)
    }

    /// This node's id.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// This node's advertised base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The configuration.
    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    /// The cluster's NATS connection.
    pub fn nats(&self) -> &async_nats::Client {
        &self.nats
    }

    /// The live members as of the last heartbeat, by node id (this node included while its own
    /// heartbeat is current).
    pub fn members(&self) -> Vec<ClusterMember> {
        self.members.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// A receiver that changes whenever [`Cluster::members`] does.
    pub fn watch_members(&self) -> watch::Receiver<u64> {
        self.members_changed.subscribe()
    }

    /// Starts the coordination of this node with the others: signaling peers reached through
    /// NATS, the "fragment persisted" feed, and the analysis workers' leases (gated by `leases`).
    pub async fn coordinate(
        self: &Arc<Self>,
        signaling: &Arc<crate::signaling::SignalingHub>,
        feed: &crate::archive::PersistedFeed,
        workers: Arc<crate::workers::Workers>,
        leases: Arc<crate::workers::leases::LeaseGate>,
    ) -> Result<(), async_nats::Error> {
        signaling::NatsPeers::start(self, signaling).await?;
        persisted_feed::start(self, feed, workers.clone()).await?;
        worker_leases::start(self.clone(), workers, leases);
        Ok(())
    }

    /// Stops the heartbeat and leaves the cluster (graceful shutdown): the streams this node
    /// preferred move to the others at once instead of after the member TTL.
    pub async fn leave(&self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.archive.leave(&self.node_id, &self.incarnation).await {
            tracing::warn!("leaving the cluster: {e}");
        }
    }
}
