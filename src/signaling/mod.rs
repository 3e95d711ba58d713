//! KVS WebRTC signaling, in memory: who is connected to which signaling channel (one master, many
//! viewers by ClientId), relaying SDP offers/answers and ICE candidates between them, holding
//! messages for a peer that is not connected yet for the channel's MessageTtlSeconds,
//! SendAlexaOfferToMaster (an offer that waits for the master's answer), and the viewers of a
//! storage session (JoinStorageSessionAsViewer): while one is attached, that viewer's messages go
//! to the in-process session instead of the master, and the session speaks to it as its master.
//!
//! In cluster mode a [`RemotePeers`] (set once with [`SignalingHub::set_remote`]) reaches the
//! peers connected to other nodes: a message whose recipient is not connected here is handed to it
//! instead of being held, and every connection made with [`SignalingHub::connect_shared`] is
//! announced to it, so other nodes deliver this peer's messages here and replace their own
//! connection of the same role. On a single node there is none and nothing changes.
//!
//! Owns routing, the per-channel limits and the message shapes clients receive. It knows nothing
//! of HTTP or WebSockets (the API layer moves [`Outbound`] values to sockets and parses frames
//! with [`Inbound::parse`]), nothing of NATS, and nothing of the index (callers pass channel ids
//! and TTLs). Payloads are relayed unchanged.

pub mod ice;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// `[signaling]` configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignalingConfig {
    /// Viewers connected to one channel at once (AWS: 10 for SINGLE_MASTER).
    pub max_viewers_per_channel: usize,
    /// Largest WebSocket text frame accepted, bytes (AWS: 10 KB messagePayload).
    pub max_message_bytes: usize,
    /// Messages per second one connection may send (a short burst of twice that is allowed).
    pub max_messages_per_second: u32,
    /// Messages held for peers that are not connected, per channel.
    pub max_held_messages_per_channel: usize,
    /// A connection is closed (after GO_AWAY) this long after it opened, seconds (AWS: 45 min).
    pub session_max_secs: u64,
    /// A connection with no frame from the client for this long is closed, seconds.
    pub idle_timeout_secs: u64,
    /// The server pings each connection this often, seconds.
    pub ping_interval_secs: u64,
    /// What GetIceServerConfig returns.
    pub ice: ice::IceConfig,
}

impl Default for SignalingConfig {
    fn default() -> Self {
        Self {
            max_viewers_per_channel: 10,
            max_message_bytes: 16 * 1024,
            max_messages_per_second: 20,
            max_held_messages_per_channel: 256,
            session_max_secs: 45 * 60,
            idle_timeout_secs: 10 * 60,
            ping_interval_secs: 10,
            ice: ice::IceConfig::default(),
        }
    }
}

/// The actions a client may send.
pub const ACTIONS: [&str; 3] = ["SDP_OFFER", "SDP_ANSWER", "ICE_CANDIDATE"];

/// Who a connection is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Role {
    /// The channel's master (camera).
    Master,
    /// A viewer, by ClientId.
    Viewer(String),
}

/// A message for a client.
#[derive(Debug, Clone, PartialEq)]
pub enum Outbound {
    /// A relayed SDP_OFFER / SDP_ANSWER / ICE_CANDIDATE.
    Relay {
        /// The sending viewer's ClientId (absent when the master sent it).
        sender_client_id: Option<String>,
        /// The action.
        message_type: String,
        /// The payload, unchanged.
        message_payload: String,
    },
    /// A failed message that carried a correlationId.
    Status {
        /// The client's correlationId.
        correlation_id: String,
        /// AWS error type, e.g. `InvalidArgumentException`.
        error_type: String,
        /// HTTP-like status code.
        status_code: u16,
        /// Human-readable description.
        description: String,
    },
    /// The client should reconnect (shutdown, session expiry, replaced master).
    GoAway,
    /// The client should fetch ICE servers again.
    ReconnectIceServer,
}

impl Outbound {
    /// The JSON text frame, in the JS SDK's camelCase.
    pub fn to_json(&self) -> String {
        let v = match self {
            Outbound::Relay { sender_client_id, message_type, message_payload } => {
                let mut v = json!({"messageType": message_type, "messagePayload": message_payload});
                if let Some(s) = sender_client_id {
                    v["senderClientId"] = json!(s);
                }
                v
            }
            Outbound::Status { correlation_id, error_type, status_code, description } => json!({
                "messageType": "STATUS_RESPONSE",
                "statusResponse": {
                    "correlationId": correlation_id,
                    "success": false,
                    "errorType": error_type,
                    "statusCode": status_code.to_string(),
                    "description": description,
                }
            }),
            Outbound::GoAway => json!({"messageType": "GO_AWAY"}),
            Outbound::ReconnectIceServer => json!({"messageType": "RECONNECT_ICE_SERVER"}),
        };
        v.to_string()
    }
}

/// A parsed client message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    /// One of [`ACTIONS`].
    pub action: String,
    /// The recipient viewer (required from the master, ignored from viewers).
    pub recipient_client_id: Option<String>,
    /// The payload (base64 text), relayed unchanged.
    pub message_payload: String,
    /// Echoed in a STATUS_RESPONSE when the message fails.
    pub correlation_id: Option<String>,
}

/// Why a client message was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The message's correlationId, if it could be read.
    pub correlation_id: Option<String>,
    /// AWS error type.
    pub error_type: &'static str,
    /// Description.
    pub description: String,
}

impl Refusal {
    fn invalid(correlation_id: Option<String>, description: impl Into<String>) -> Self {
        Refusal { correlation_id, error_type: "InvalidArgumentException", description: description.into() }
    }

    /// The STATUS_RESPONSE to send, if the message carried a correlationId (AWS sends none
    /// otherwise).
    pub fn status(&self) -> Option<Outbound> {
        self.correlation_id.as_ref().map(|c| Outbound::Status {
            correlation_id: c.clone(),
            error_type: self.error_type.to_owned(),
            status_code: 400,
            description: self.description.clone(),
        })
    }
}

impl Inbound {
    /// Parses a text frame. Keys are matched case-insensitively (the C SDK sends
    /// `RecipientClientId`, `MessagePayload`, `CorrelationId`; the JS SDK camelCase).
    pub fn parse(text: &str) -> Result<Inbound, Refusal> {
        let value: Value = serde_json::from_str(text)
            .map_err(|_| Refusal::invalid(None, "The message is not a JSON object."))?;
        let Value::Object(map) = value else {
            return Err(Refusal::invalid(None, "The message is not a JSON object."));
        };
        let get = |key: &str| -> Option<String> {
            map.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .and_then(|(_, v)| v.as_str())
                .map(str::to_owned)
        };
        let correlation_id = get("correlationId").filter(|c| !c.is_empty() && c.len() <= 256);
        let action = get("action")
            .ok_or_else(|| Refusal::invalid(correlation_id.clone(), "The action field is required."))?;
        if !ACTIONS.contains(&action.as_str()) {
            return Err(Refusal::invalid(
                correlation_id,
                format!("Unknown action {action:?}; expected SDP_OFFER, SDP_ANSWER or ICE_CANDIDATE."),
            ));
        }
        let message_payload = get("messagePayload").filter(|p| !p.is_empty()).ok_or_else(|| {
            Refusal::invalid(correlation_id.clone(), "The messagePayload field is required.")
        })?;
        let recipient_client_id = get("recipientClientId").filter(|r| !r.is_empty());
        if let Some(r) = &recipient_client_id
            && !valid_client_id(r)
        {
            return Err(Refusal::invalid(correlation_id, "The recipientClientId is not a valid client id."));
        }
        Ok(Inbound { action, recipient_client_id, message_payload, correlation_id })
    }
}

/// ClientId rules: 1..256 of `[a-zA-Z0-9_.-]`.
pub fn valid_client_id(id: &str) -> bool {
    (1..=256).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

/// Why a connection was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// The channel has its maximum number of viewers.
    #[error("the channel already has {0} viewers connected")]
    TooManyViewers(usize),
}

#[derive(Debug)]
struct Peer {
    conn_id: u64,
    tx: mpsc::Sender<Outbound>,
    /// When it connected, ms since the epoch (orders replacements across nodes).
    since_ms: i64,
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// The peers connected to other nodes of a cluster (implemented over NATS by `cluster`).
#[async_trait::async_trait]
pub trait RemotePeers: Send + Sync + std::fmt::Debug {
    /// A peer connected here at `since_ms`: once this returns, messages for it sent on other
    /// nodes reach this hub ([`SignalingHub::deliver_here`]), and the other nodes have been told
    /// (they replace their own connection of that role and send what they held for it). The
    /// returned value is kept as long as the connection and dropped with it.
    async fn attach(&self, channel_id: i64, role: &Role, since_ms: i64) -> Box<dyn Send + Sync>;

    /// A relayed message for a peer that is not connected here; if no node has it either, it is
    /// given back with [`SignalingHub::hold`] for `ttl`.
    fn forward(&self, channel_id: i64, recipient: Role, message: Outbound, ttl: Duration);
}

#[derive(Debug)]
struct Held {
    recipient: Role,
    message: Outbound,
    expires: Instant,
}

#[derive(Debug, Default)]
struct ChannelState {
    master: Option<Peer>,
    viewers: HashMap<String, Peer>,
    held: Vec<Held>,
    /// Viewers whose messages go to a storage session instead of the master, by ClientId.
    session_viewers: HashMap<String, Peer>,
}

impl ChannelState {
    fn peer(&self, role: &Role) -> Option<&Peer> {
        match role {
            Role::Master => self.master.as_ref(),
            Role::Viewer(id) => self.viewers.get(id),
        }
    }
}

/// A storage session's end of one viewer's signaling (JoinStorageSessionAsViewer): the viewer's
/// messages arrive in `inbox`; dropping it gives the viewer back to the master.
#[derive(Debug)]
pub struct SessionViewerLink<'a> {
    hub: &'a SignalingHub,
    channel_id: i64,
    client_id: String,
    conn_id: u64,
    /// The viewer's SDP answers and ICE candidates, as [`Outbound::Relay`] with its ClientId.
    pub inbox: mpsc::Receiver<Outbound>,
}

impl Drop for SessionViewerLink<'_> {
    fn drop(&mut self) {
        let mut channels = self.hub.lock();
        let Some(ch) = channels.get_mut(&self.channel_id) else { return };
        if ch.session_viewers.get(&self.client_id).is_some_and(|p| p.conn_id == self.conn_id) {
            ch.session_viewers.remove(&self.client_id);
        }
        if ch.master.is_none() && ch.viewers.is_empty() && ch.held.is_empty() && ch.session_viewers.is_empty()
        {
            channels.remove(&self.channel_id);
        }
    }
}

/// One open connection: its inbox and identity. Dropping it disconnects it.
pub struct Connection<'a> {
    hub: &'a SignalingHub,
    /// The channel's index id.
    pub channel_id: i64,
    /// Master or viewer.
    pub role: Role,
    /// Unique per connection.
    pub conn_id: u64,
    /// Messages for this client, in order. Closed when the connection is replaced or dropped.
    pub inbox: mpsc::Receiver<Outbound>,
    /// Its registration with the other nodes (cluster mode, [`SignalingHub::connect_shared`]).
    _remote: Option<Box<dyn Send + Sync>>,
}

impl std::fmt::Debug for Connection<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("channel_id", &self.channel_id)
            .field("role", &self.role)
            .field("conn_id", &self.conn_id)
            .finish_non_exhaustive()
    }
}

impl Drop for Connection<'_> {
    fn drop(&mut self) {
        self.hub.disconnect(self.channel_id, &self.role, self.conn_id);
    }
}

/// Per-connection inbox depth; a client that falls this far behind is disconnected.
const INBOX: usize = 256;

/// The signaling hub (one per server).
#[derive(Debug)]
pub struct SignalingHub {
    config: SignalingConfig,
    channels: Mutex<HashMap<i64, ChannelState>>,
    next_conn: AtomicU64,
    remote: OnceLock<Arc<dyn RemotePeers>>,
}

impl SignalingHub {
    /// An empty hub.
    pub fn new(config: SignalingConfig) -> Self {
        Self {
            config,
            channels: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
            remote: OnceLock::new(),
        }
    }

    /// Reaches the peers of other nodes through `remote` from now on (cluster mode; set once).
    pub fn set_remote(&self, remote: Arc<dyn RemotePeers>) {
        let _ = self.remote.set(remote);
    }

    /// The configuration.
    pub fn config(&self) -> &SignalingConfig {
        &self.config
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, ChannelState>> {
        self.channels.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Connects a master or viewer. A new master replaces the old one (which gets GO_AWAY and its
    /// inbox closes); a viewer reconnecting with the same ClientId replaces its old connection.
    /// Messages held for this peer are delivered first.
    pub fn connect(&self, channel_id: i64, role: Role) -> Result<Connection<'_>, ConnectError> {
        let (tx, inbox) = mpsc::channel(INBOX);
        let conn_id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let mut channels = self.lock();
        let ch = channels.entry(channel_id).or_default();
        let peer = Peer { conn_id, tx, since_ms: now_ms() };
        let old = match &role {
            Role::Master => ch.master.replace(peer),
            Role::Viewer(id) => {
                if !ch.viewers.contains_key(id) && ch.viewers.len() >= self.config.max_viewers_per_channel {
                    return Err(ConnectError::TooManyViewers(ch.viewers.len()));
                }
                ch.viewers.insert(id.clone(), peer)
            }
        };
        if let Some(old) = old {
            let _ = old.tx.try_send(Outbound::GoAway);
        }
        let now = Instant::now();
        ch.held.retain(|h| h.expires > now);
        let (mine, rest): (Vec<Held>, Vec<Held>) =
            std::mem::take(&mut ch.held).into_iter().partition(|h| h.recipient == role);
        ch.held = rest;
        let target = match &role {
            Role::Master => ch.master.as_ref(),
            Role::Viewer(id) => ch.viewers.get(id),
        };
        if let Some(p) = target {
            for h in mine {
                let _ = p.tx.try_send(h.message);
            }
        }
        drop(channels);
        Ok(Connection { hub: self, channel_id, role, conn_id, inbox, _remote: None })
    }

    /// [`SignalingHub::connect`], and in cluster mode registers the connection with the other
    /// nodes before returning: from then on what their peers send it arrives here, and their own
    /// connection of the same role (an older master, the same viewer) is replaced.
    pub async fn connect_shared(&self, channel_id: i64, role: Role) -> Result<Connection<'_>, ConnectError> {
        let mut conn = self.connect(channel_id, role)?;
        if let Some(remote) = self.remote.get() {
            let since_ms =
                self.lock().get(&channel_id).and_then(|ch| ch.peer(&conn.role)).map_or(0, |p| p.since_ms);
            conn._remote = Some(remote.attach(channel_id, &conn.role, since_ms).await);
        }
        Ok(conn)
    }

    /// A message from another node for `recipient`: delivered if it is connected here. `false`
    /// when it is not (or is not reading), so the sender may hold it.
    pub fn deliver_here(&self, channel_id: i64, recipient: &Role, message: Outbound) -> bool {
        let channels = self.lock();
        channels
            .get(&channel_id)
            .and_then(|ch| ch.peer(recipient))
            .is_some_and(|p| p.tx.try_send(message).is_ok())
    }

    /// Holds a message for `recipient` for `ttl` (no node had it connected), within the
    /// channel's limit of held messages.
    pub fn hold(&self, channel_id: i64, recipient: Role, message: Outbound, ttl: Duration) {
        let mut channels = self.lock();
        let ch = channels.entry(channel_id).or_default();
        let now = Instant::now();
        ch.held.retain(|h| h.expires > now);
        if ch.held.len() < self.config.max_held_messages_per_channel {
            ch.held.push(Held { recipient, message, expires: now + ttl });
        }
    }

    /// `role` connected to another node at `since_ms`: the messages held here for it are taken
    /// (to be sent there, with what is left of their TTL), and a connection of the same role here
    /// that is older gets GO_AWAY.
    pub fn connected_elsewhere(
        &self,
        channel_id: i64,
        role: &Role,
        since_ms: i64,
    ) -> Vec<(Outbound, Duration)> {
        let mut channels = self.lock();
        let Some(ch) = channels.get_mut(&channel_id) else { return Vec::new() };
        if let Some(p) = ch.peer(role)
            && p.since_ms <= since_ms
        {
            let _ = p.tx.try_send(Outbound::GoAway);
        }
        let now = Instant::now();
        ch.held.retain(|h| h.expires > now);
        let (mine, rest): (Vec<Held>, Vec<Held>) =
            std::mem::take(&mut ch.held).into_iter().partition(|h| h.recipient == *role);
        ch.held = rest;
        mine.into_iter().map(|h| (h.message, h.expires - now)).collect()
    }

    fn disconnect(&self, channel_id: i64, role: &Role, conn_id: u64) {
        let mut channels = self.lock();
        let Some(ch) = channels.get_mut(&channel_id) else { return };
        match role {
            Role::Master => {
                if ch.master.as_ref().is_some_and(|p| p.conn_id == conn_id) {
                    ch.master = None;
                }
            }
            Role::Viewer(id) => {
                if ch.viewers.get(id).is_some_and(|p| p.conn_id == conn_id) {
                    ch.viewers.remove(id);
                }
            }
        }
        if ch.master.is_none() && ch.viewers.is_empty() && ch.held.is_empty() && ch.session_viewers.is_empty()
        {
            channels.remove(&channel_id);
        }
    }

    /// Attaches a storage session to viewer `client_id`: from now on its messages go to the
    /// returned link instead of the master (a newer attachment for the same viewer replaces this
    /// one, whose inbox closes).
    pub fn attach_session_viewer(&self, channel_id: i64, client_id: &str) -> SessionViewerLink<'_> {
        let (tx, inbox) = mpsc::channel(INBOX);
        let conn_id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let mut channels = self.lock();
        let ch = channels.entry(channel_id).or_default();
        ch.session_viewers.insert(client_id.to_owned(), Peer { conn_id, tx, since_ms: now_ms() });
        drop(channels);
        SessionViewerLink { hub: self, channel_id, client_id: client_id.to_owned(), conn_id, inbox }
    }

    /// Sends viewer `client_id` a message as its master does (no senderClientId); held for `ttl`
    /// when the viewer is not connected yet.
    pub fn send_to_viewer(
        &self,
        channel_id: i64,
        ttl: Duration,
        client_id: &str,
        action: &str,
        payload: String,
    ) -> Result<(), Refusal> {
        let out = Outbound::Relay {
            sender_client_id: None,
            message_type: action.to_owned(),
            message_payload: payload,
        };
        self.deliver(channel_id, ttl, Role::Viewer(client_id.to_owned()), out, None)
    }

    /// Relays a message from `from` on a channel whose messages live `ttl`. A viewer's message
    /// goes to the master; a master's to the named viewer (required). A recipient that is not
    /// connected gets it when it connects within `ttl`.
    pub fn relay(&self, channel_id: i64, ttl: Duration, from: &Role, msg: Inbound) -> Result<(), Refusal> {
        let (recipient, sender_client_id) = match from {
            Role::Viewer(id) => {
                if let Some(sent) = self.to_session(channel_id, id, &msg) {
                    return sent;
                }
                (Role::Master, Some(id.clone()))
            }
            Role::Master => match msg.recipient_client_id {
                Some(r) => (Role::Viewer(r), None),
                None => {
                    return Err(Refusal::invalid(
                        msg.correlation_id,
                        "The master must name the recipientClientId of the viewer.",
                    ));
                }
            },
        };
        let out = Outbound::Relay {
            sender_client_id,
            message_type: msg.action,
            message_payload: msg.message_payload,
        };
        self.deliver(channel_id, ttl, recipient, out, msg.correlation_id)
    }

    /// Hands a viewer's message to the storage session attached to it, if one is.
    fn to_session(&self, channel_id: i64, client_id: &str, msg: &Inbound) -> Option<Result<(), Refusal>> {
        let channels = self.lock();
        let link = channels.get(&channel_id)?.session_viewers.get(client_id)?;
        let out = Outbound::Relay {
            sender_client_id: Some(client_id.to_owned()),
            message_type: msg.action.clone(),
            message_payload: msg.message_payload.clone(),
        };
        Some(link.tx.try_send(out).map_err(|_| Refusal {
            correlation_id: msg.correlation_id.clone(),
            error_type: "ClientLimitExceededException",
            description: "The storage session is not reading its messages.".into(),
        }))
    }

    fn deliver(
        &self,
        channel_id: i64,
        ttl: Duration,
        recipient: Role,
        out: Outbound,
        correlation_id: Option<String>,
    ) -> Result<(), Refusal> {
        let mut channels = self.lock();
        let ch = channels.entry(channel_id).or_default();
        let peer = match &recipient {
            Role::Master => ch.master.as_ref(),
            Role::Viewer(id) => ch.viewers.get(id),
        };
        match peer.map(|p| p.tx.try_send(out.clone())) {
            Some(Ok(())) => Ok(()),
            Some(Err(mpsc::error::TrySendError::Full(_))) => Err(Refusal {
                correlation_id,
                error_type: "ClientLimitExceededException",
                description: "The recipient is not reading its messages.".into(),
            }),
            // Not connected here, in a cluster: another node may have it (or holds it for the TTL).
            None if self.remote.get().is_some() => {
                drop(channels);
                if let Some(remote) = self.remote.get() {
                    remote.forward(channel_id, recipient, out, ttl);
                }
                Ok(())
            }
            // Not connected (or its connection just ended): hold the message.
            _ => {
                let now = Instant::now();
                ch.held.retain(|h| h.expires > now);
                if ch.held.len() >= self.config.max_held_messages_per_channel {
                    return Err(Refusal {
                        correlation_id,
                        error_type: "ClientLimitExceededException",
                        description: "Too many messages are waiting for peers that are not connected.".into(),
                    });
                }
                ch.held.push(Held { recipient, message: out, expires: now + ttl });
                Ok(())
            }
        }
    }

    /// SendAlexaOfferToMaster: sends `offer` to the master as the viewer `sender_client_id` and
    /// waits up to `ttl` for the master's SDP_ANSWER to that viewer. `None` on timeout.
    pub async fn offer_to_master(
        &self,
        channel_id: i64,
        ttl: Duration,
        sender_client_id: &str,
        offer: String,
    ) -> Result<Option<String>, ConnectError> {
        let role = Role::Viewer(sender_client_id.to_owned());
        let mut conn = self.connect_shared(channel_id, role.clone()).await?;
        let msg = Inbound {
            action: "SDP_OFFER".into(),
            recipient_client_id: None,
            message_payload: offer,
            correlation_id: None,
        };
        if self.relay(channel_id, ttl, &role, msg).is_err() {
            return Ok(None);
        }
        let wait = async {
            while let Some(m) = conn.inbox.recv().await {
                if let Outbound::Relay { message_type, message_payload, .. } = m
                    && message_type == "SDP_ANSWER"
                {
                    return Some(message_payload);
                }
            }
            None
        };
        Ok(tokio::time::timeout(ttl, wait).await.ok().flatten())
    }

    /// A deleted channel: every connection gets GO_AWAY and is dropped (its inbox closes), held
    /// messages are discarded.
    pub fn close_channel(&self, channel_id: i64) {
        if let Some(ch) = self.lock().remove(&channel_id) {
            for p in ch.master.iter().chain(ch.viewers.values()) {
                let _ = p.tx.try_send(Outbound::GoAway);
            }
        }
    }

    /// Sends GO_AWAY to every connection (before shutdown).
    pub fn go_away_all(&self) {
        for ch in self.lock().values() {
            for p in ch.master.iter().chain(ch.viewers.values()) {
                let _ = p.tx.try_send(Outbound::GoAway);
            }
        }
    }

    /// Connected (masters, viewers), for metrics and tests.
    pub fn connected(&self) -> (usize, usize) {
        let channels = self.lock();
        (
            channels.values().filter(|c| c.master.is_some()).count(),
            channels.values().map(|c| c.viewers.len()).sum(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(60);

    fn msg(action: &str, to: Option<&str>, payload: &str) -> Inbound {
        Inbound {
            action: action.into(),
            recipient_client_id: to.map(str::to_owned),
            message_payload: payload.into(),
            correlation_id: Some("c1".into()),
        }
    }

    #[test]
    fn parse_accepts_both_sdk_casings_and_refuses_garbage() {
        let js = Inbound::parse(
            r#"{"action":"SDP_OFFER","recipientClientId":"v1","messagePayload":"eyJ9","correlationId":"x"}"#,
        )
        .unwrap();
        let c = Inbound::parse(
            r#"{"action":"SDP_OFFER","RecipientClientId":"v1","MessagePayload":"eyJ9","CorrelationId":"x"}"#,
        )
        .unwrap();
        assert_eq!(js, c);
        assert_eq!(js.recipient_client_id.as_deref(), Some("v1"));
        let e = Inbound::parse(r#"{"action":"NOPE","messagePayload":"a","correlationId":"k"}"#).unwrap_err();
        assert_eq!(e.correlation_id.as_deref(), Some("k"));
        assert!(matches!(e.status(), Some(Outbound::Status { status_code: 400, .. })));
        assert!(
            Inbound::parse("[1]").unwrap_err().status().is_none(),
            "no correlationId, no STATUS_RESPONSE"
        );
        assert!(Inbound::parse("{").is_err());
        assert!(Inbound::parse(r#"{"action":"SDP_OFFER"}"#).is_err());
        assert!(
            Inbound::parse(r#"{"action":"SDP_OFFER","messagePayload":"a","recipientClientId":"bad id"}"#)
                .is_err()
        );
    }

    #[tokio::test]
    async fn routes_between_master_and_named_viewers_and_holds_for_absent_peers() {
        let hub = SignalingHub::new(SignalingConfig::default());
        let mut v1 = hub.connect(1, Role::Viewer("v1".into())).unwrap();
        // The master is not connected yet: the offer is held.
        hub.relay(1, TTL, &Role::Viewer("v1".into()), msg("SDP_OFFER", None, "offer")).unwrap();
        let mut m = hub.connect(1, Role::Master).unwrap();
        let got = m.inbox.recv().await.unwrap();
        assert_eq!(
            got,
            Outbound::Relay {
                sender_client_id: Some("v1".into()),
                message_type: "SDP_OFFER".into(),
                message_payload: "offer".into()
            }
        );
        assert!(got.to_json().contains(r#""senderClientId":"v1""#));
        hub.relay(1, TTL, &Role::Master, msg("SDP_ANSWER", Some("v1"), "answer")).unwrap();
        let got = v1.inbox.recv().await.unwrap();
        assert!(
            matches!(got, Outbound::Relay { sender_client_id: None, ref message_type, .. } if message_type == "SDP_ANSWER")
        );
        // The master must name a viewer.
        let e = hub.relay(1, TTL, &Role::Master, msg("ICE_CANDIDATE", None, "c")).unwrap_err();
        assert_eq!(e.error_type, "InvalidArgumentException");
        // Other channels are separate.
        let mut other = hub.connect(2, Role::Master).unwrap();
        hub.relay(1, TTL, &Role::Viewer("v1".into()), msg("ICE_CANDIDATE", None, "c")).unwrap();
        assert!(m.inbox.recv().await.is_some());
        assert!(other.inbox.try_recv().is_err());
        assert_eq!(hub.connected(), (2, 1));
        drop(v1);
        assert_eq!(hub.connected(), (2, 0));
    }

    #[tokio::test]
    async fn held_messages_expire_and_a_new_master_replaces_the_old() {
        let hub = SignalingHub::new(SignalingConfig::default());
        hub.relay(1, Duration::from_millis(1), &Role::Viewer("v".into()), msg("SDP_OFFER", None, "old"))
            .unwrap();
        std::thread::sleep(Duration::from_millis(5));
        let mut m1 = hub.connect(1, Role::Master).unwrap();
        assert!(m1.inbox.try_recv().is_err(), "expired before the master came");
        let mut m2 = hub.connect(1, Role::Master).unwrap();
        assert_eq!(m1.inbox.recv().await, Some(Outbound::GoAway));
        drop(m1); // the old connection ending does not unregister the new master
        hub.relay(1, TTL, &Role::Viewer("v".into()), msg("SDP_OFFER", None, "new")).unwrap();
        assert!(matches!(m2.inbox.recv().await, Some(Outbound::Relay { .. })));
    }

    #[tokio::test]
    async fn viewer_limit_and_alexa_offer() {
        let hub = SignalingHub::new(SignalingConfig { max_viewers_per_channel: 1, ..Default::default() });
        let _v = hub.connect(1, Role::Viewer("a".into())).unwrap();
        assert_eq!(hub.connect(1, Role::Viewer("b".into())).unwrap_err(), ConnectError::TooManyViewers(1));
        let hub = std::sync::Arc::new(SignalingHub::new(SignalingConfig::default()));
        let answerer = {
            let hub = hub.clone();
            tokio::spawn(async move {
                let mut m = hub.connect(7, Role::Master).unwrap();
                if let Some(Outbound::Relay { sender_client_id: Some(v), .. }) = m.inbox.recv().await {
                    hub.relay(7, TTL, &Role::Master, msg("SDP_ANSWER", Some(&v), "the-answer")).unwrap();
                }
                m.inbox.recv().await; // stay connected until the test ends
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let answer = hub.offer_to_master(7, TTL, "alexa", "the-offer".into()).await.unwrap();
        assert_eq!(answer.as_deref(), Some("the-answer"));
        let none = hub.offer_to_master(8, Duration::from_millis(20), "alexa", "x".into()).await.unwrap();
        assert_eq!(none, None, "no master answers within the TTL");
        answerer.abort();
    }

    #[tokio::test]
    async fn an_attached_storage_session_takes_its_viewers_messages_and_speaks_as_master() {
        let hub = SignalingHub::new(SignalingConfig::default());
        let mut m = hub.connect(4, Role::Master).unwrap();
        let mut v = hub.connect(4, Role::Viewer("v".into())).unwrap();
        let mut link = hub.attach_session_viewer(4, "v");
        hub.send_to_viewer(4, TTL, "v", "SDP_OFFER", "offer".into()).unwrap();
        assert!(matches!(v.inbox.recv().await, Some(Outbound::Relay { sender_client_id: None, .. })));
        hub.relay(4, TTL, &Role::Viewer("v".into()), msg("SDP_ANSWER", None, "answer")).unwrap();
        let got = link.inbox.recv().await.unwrap();
        assert!(
            matches!(got, Outbound::Relay { sender_client_id: Some(ref c), ref message_type, .. } if c == "v" && message_type == "SDP_ANSWER")
        );
        assert!(m.inbox.try_recv().is_err(), "the master does not see it");
        drop(link);
        hub.relay(4, TTL, &Role::Viewer("v".into()), msg("SDP_OFFER", None, "p2p")).unwrap();
        assert!(m.inbox.recv().await.is_some(), "detached: back to the master");
    }

    #[tokio::test]
    async fn closing_a_channel_sends_go_away() {
        let hub = SignalingHub::new(SignalingConfig::default());
        let mut m = hub.connect(3, Role::Master).unwrap();
        hub.relay(3, TTL, &Role::Master, msg("SDP_OFFER", Some("later"), "x")).unwrap();
        hub.close_channel(3);
        assert_eq!(m.inbox.recv().await, Some(Outbound::GoAway));
        assert_eq!(m.inbox.recv().await, None);
        let mut v = hub.connect(3, Role::Viewer("later".into())).unwrap();
        assert!(v.inbox.try_recv().is_err(), "held messages went with the channel");
    }
}
