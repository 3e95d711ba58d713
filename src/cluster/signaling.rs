//! Signaling across nodes (design/0025-cluster-coordination.md): a master connected to one node
//! and viewers connected to others exchange offers, answers and ICE candidates through NATS core
//! subjects.
//!
//! - `<prefix>.signaling.<channel id>.master` and `<prefix>.signaling.<channel id>.viewer.<client
//!   id>` (a `.` of the client id written `~`): the node a peer is connected to subscribes to its
//!   subject (queue group = node id, so one node delivers a message once) while it is connected. A
//!   message for a peer the hub does not hold is sent as a NATS request; the receiving node answers
//!   once the peer's inbox took it. No responder (the peer is connected nowhere) or no answer: the
//!   message is held here for the channel's MessageTtlSeconds, as on one node.
//! - `<prefix>.signaling.<channel id>.joined`: every node announces each new connection (role and
//!   connection time) and listens to every channel's announcements: a node sends what it held for
//!   that peer to it, and gives an older connection of the same role GO_AWAY (one master per
//!   channel, one connection per viewer, cluster-wide).
//!
//! Owns the subjects and their JSON bodies; routing and holding stay in `signaling::SignalingHub`.
//! Knows nothing of WebSockets or HTTP.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use crate::signaling::{Outbound, RemotePeers, Role, SignalingHub};

use super::Cluster;

/// How long a node waits for another to take a message before holding it.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(2);

/// Forwarding lanes: one (channel, recipient) always uses the same lane, whose task sends in
/// order (an SDK expects the offer before the candidates), while a recipient whose node does not
/// answer delays only the pairs sharing its lane.
const LANES: usize = 8;

/// Messages waiting per lane before new ones are held here instead.
const LANE_DEPTH: usize = 1024;

/// One message to forward.
type Forward = (String, Bytes, i64, Role, Outbound, Duration);

/// A relayed message on the wire between nodes.
#[derive(Debug, Serialize, Deserialize)]
struct Relayed {
    #[serde(rename = "senderClientId", skip_serializing_if = "Option::is_none")]
    sender_client_id: Option<String>,
    #[serde(rename = "messageType")]
    message_type: String,
    #[serde(rename = "messagePayload")]
    message_payload: String,
}

/// A connection announcement.
#[derive(Debug, Serialize, Deserialize)]
struct Joined {
    /// `None`: the master; else the viewer's ClientId.
    #[serde(rename = "clientId")]
    client_id: Option<String>,
    node: String,
    #[serde(rename = "sinceMs")]
    since_ms: i64,
}

/// The NATS side of the signaling hub.
#[derive(Debug)]
pub struct NatsPeers {
    nats: async_nats::Client,
    prefix: String,
    node_id: String,
    hub: Weak<SignalingHub>,
    lanes: Vec<tokio::sync::mpsc::Sender<Forward>>,
    /// When each peer was last announced by another node: a delivery that found no responder
    /// while the peer was connecting is tried once more instead of being held.
    joined: Arc<Mutex<HashMap<(i64, Role), Instant>>>,
}

/// A peer's subject token(s): `master` or `viewer.<client id>`.
fn role_tokens(role: &Role) -> String {
    match role {
        Role::Master => "master".to_owned(),
        Role::Viewer(id) => format!("viewer.{}", id.replace('.', "~")),
    }
}

impl NatsPeers {
    /// Connects `hub` to the other nodes: listens to every channel's connection announcements
    /// and sets itself as the hub's [`RemotePeers`].
    pub async fn start(cluster: &Cluster, hub: &Arc<SignalingHub>) -> Result<Arc<Self>, async_nats::Error> {
        let nats = cluster.nats().clone();
        let joined = Arc::new(Mutex::new(HashMap::new()));
        let lanes = (0..LANES)
            .map(|_| {
                let (tx, rx) = tokio::sync::mpsc::channel(LANE_DEPTH);
                tokio::spawn(run_lane(nats.clone(), Arc::downgrade(hub), joined.clone(), rx));
                tx
            })
            .collect();
        let peers = Arc::new(Self {
            nats,
            prefix: format!("{}.signaling", cluster.config().subject_prefix),
            node_id: cluster.node_id().to_owned(),
            hub: Arc::downgrade(hub),
            lanes,
            joined,
        });
        let mut joined = peers.nats.subscribe(format!("{}.*.joined", peers.prefix)).await?;
        let me = peers.clone();
        tokio::spawn(async move {
            while let Some(msg) = joined.next().await {
                me.on_joined(&msg.subject, &msg.payload);
            }
        });
        hub.set_remote(peers.clone());
        Ok(peers)
    }

    fn subject(&self, channel_id: i64, role: &Role) -> String {
        format!("{}.{channel_id}.{}", self.prefix, role_tokens(role))
    }

    /// Another node announced a connection: hand it what was held here for that peer, and
    /// replace an older connection of the same role here.
    fn on_joined(self: &Arc<Self>, subject: &str, payload: &[u8]) {
        let Ok(j) = serde_json::from_slice::<Joined>(payload) else { return };
        if j.node == self.node_id {
            return;
        }
        let Some(channel_id) = subject.rsplit('.').nth(1).and_then(|t| t.parse::<i64>().ok()) else { return };
        let Some(hub) = self.hub.upgrade() else { return };
        let role = j.client_id.map_or(Role::Master, Role::Viewer);
        // Under the `joined` lock, which the lanes also hold while they decide to hold a message:
        // a message is either held before this takes it, or sent again by its lane.
        let mut joined = self.joined.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        joined.retain(|_, at| now.duration_since(*at) < DELIVERY_TIMEOUT * 2);
        joined.insert((channel_id, role.clone()), now);
        for (message, ttl) in hub.connected_elsewhere(channel_id, &role, j.since_ms) {
            self.forward(channel_id, role.clone(), message, ttl);
        }
    }
}

/// A subscription that ends with the connection.
struct Attached(tokio::task::JoinHandle<()>);

impl Drop for Attached {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[async_trait]
impl RemotePeers for NatsPeers {
    async fn attach(&self, channel_id: i64, role: &Role, since_ms: i64) -> Box<dyn Send + Sync> {
        let subject = self.subject(channel_id, role);
        let sub = match self.nats.queue_subscribe(subject.clone(), self.node_id.clone()).await {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(
                    "signaling: cannot subscribe to {subject}: {e}; other nodes cannot reach this peer"
                );
                None
            }
        };
        let announcement = Joined {
            client_id: match role {
                Role::Master => None,
                Role::Viewer(id) => Some(id.clone()),
            },
            node: self.node_id.clone(),
            since_ms,
        };
        let body = Bytes::from(serde_json::to_vec(&announcement).unwrap_or_default());
        if let Err(e) = self.nats.publish(format!("{}.{channel_id}.joined", self.prefix), body).await {
            tracing::warn!("signaling: cannot announce a connection: {e}");
        }
        // The announcement must reach the server after the subscription: both are on this one
        // connection, in order, once flushed.
        let _ = self.nats.flush().await;
        let hub = self.hub.clone();
        let nats = self.nats.clone();
        let role = role.clone();
        let task = tokio::spawn(async move {
            let Some(mut sub) = sub else { return };
            while let Some(msg) = sub.next().await {
                let Some(hub) = hub.upgrade() else { return };
                let Ok(r) = serde_json::from_slice::<Relayed>(&msg.payload) else { continue };
                let out = Outbound::Relay {
                    sender_client_id: r.sender_client_id,
                    message_type: r.message_type,
                    message_payload: r.message_payload,
                };
                if hub.deliver_here(channel_id, &role, out)
                    && let Some(reply) = msg.reply
                {
                    let _ = nats.publish(reply, Bytes::new()).await;
                }
            }
        });
        Box::new(Attached(task))
    }

    fn forward(&self, channel_id: i64, recipient: Role, message: Outbound, ttl: Duration) {
        let Outbound::Relay { sender_client_id, message_type, message_payload } = message.clone() else {
            return; // only relayed messages cross nodes
        };
        let body = Relayed { sender_client_id, message_type, message_payload };
        let body = Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
        let subject = self.subject(channel_id, &recipient);
        let lane = &self.lanes
            [subject.bytes().fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b.into())) % LANES];
        if let Err(e) = lane.try_send((subject, body, channel_id, recipient, message, ttl)) {
            let (_, _, channel_id, recipient, message, ttl) = e.into_inner();
            if let Some(hub) = self.hub.upgrade() {
                hub.hold(channel_id, recipient, message, ttl);
            }
        }
    }
}

/// Sends one lane's messages in order; what no node takes is held here. A message that found no
/// node while its recipient was being announced elsewhere (its subscription and the announcement
/// raced the send) is sent once more.
async fn run_lane(
    nats: async_nats::Client,
    hub: Weak<SignalingHub>,
    joined: Arc<Mutex<HashMap<(i64, Role), Instant>>>,
    mut rx: tokio::sync::mpsc::Receiver<Forward>,
) {
    while let Some((subject, body, channel_id, recipient, message, ttl)) = rx.recv().await {
        let sent = Instant::now();
        let send = |subject: String, body: Bytes| {
            let nats = nats.clone();
            async move {
                matches!(tokio::time::timeout(DELIVERY_TIMEOUT, nats.request(subject, body)).await, Ok(Ok(_)))
            }
        };
        if send(subject.clone(), body.clone()).await {
            continue;
        }
        let Some(hub) = hub.upgrade() else { return };
        let key = (channel_id, recipient);
        let announced = {
            let joined = joined.lock().unwrap_or_else(|p| p.into_inner());
            let announced = joined.get(&key).is_some_and(|at| *at >= sent);
            if !announced {
                hub.hold(channel_id, key.1.clone(), message.clone(), ttl);
            }
            announced
        };
        if announced && !send(subject, body).await {
            hub.hold(channel_id, key.1, message, ttl);
        }
    }
}
