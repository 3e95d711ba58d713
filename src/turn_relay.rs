//! openkvs's own TURN relay (RFC 5766 over UDP), like KVS's managed TURN servers: GetIceServerConfig
//! lists it, with per-request credentials, when no other TURN server is configured, so peers behind
//! NAT and the KVS WebRTC SDK samples (which always ask for TURN) connect with no extra service.
//!
//! The protocol (allocations, permissions, channel binds, refreshes, MESSAGE-INTEGRITY with
//! long-term credentials, nonces) is the `turn` crate's server (webrtc-rs). This module owns:
//! - [`TurnConfig`] (`[turn]`): the UDP listen address, the local address relay sockets bind on,
//!   the public address advertised in URIs and relayed addresses, the shared secret, a relay port
//!   range;
//! - the credential check: the "TURN REST API" scheme `signaling::ice` mints credentials with
//!   (username `EXPIRY_UNIX:CLIENT_ID`, password `base64(HMAC-SHA1(secret, username))`); an
//!   expired or malformed username is refused, a wrong password fails MESSAGE-INTEGRITY;
//! - relay sockets that count allocations and relayed bytes into [`crate::metrics`].
//!
//! It knows nothing of HTTP, signaling channels or WebRTC sessions; its only I/O is its own UDP
//! sockets. TCP and TLS transports (`turn:…?transport=tcp`, `turns:`) are not offered.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use tokio::net::UdpSocket;
use turn::auth::{AuthHandler, generate_auth_key};
use turn::relay::RelayAddressGenerator;
use turn::server::Server;
use turn::server::config::{ConnConfig, ServerConfig};
use webrtc_util::Conn;

use crate::metrics::TurnMetrics;
use crate::signaling::ice::{IceServer, turn_credentials, turn_password};

/// The standard TURN port (RFC 5766), the default when `[turn] listen` is unset.
pub const DEFAULT_PORT: u16 = 3478;

/// `[turn]` configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TurnConfig {
    /// Whether openkvs runs its own TURN relay. It is listed by GetIceServerConfig only when
    /// `[signaling.ice]` configures no TURN server.
    pub enabled: bool,
    /// UDP address the relay listens on. Unset: the `listen` address's IP, port 3478 (an
    /// ephemeral port if that one is taken; the URIs carry the bound port either way).
    pub listen: Option<SocketAddr>,
    /// Local address the relayed-transport sockets bind on. Unset: the listen IP.
    pub relay_ip: Option<IpAddr>,
    /// Address peers reach the relay at: in the `turn:` URI and the relayed addresses (the public
    /// address behind 1:1 NAT). Unset: the listen IP when specific, else the first non-loopback
    /// IPv4 interface address.
    pub public_ip: Option<IpAddr>,
    /// Relayed-transport ports, `[first, last]` (for a firewall). Unset: ephemeral ports.
    pub relay_port_range: Option<[u16; 2]>,
    /// Realm of the long-term credentials.
    pub realm: String,
    /// Secret of the per-request credentials (every node behind one GetIceServerConfig needs the
    /// same one). Unset: random per process.
    pub shared_secret: Option<String>,
}

impl Default for TurnConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: None,
            relay_ip: None,
            public_ip: None,
            relay_port_range: None,
            realm: "openkvs".into(),
            shared_secret: None,
        }
    }
}

impl TurnConfig {
    /// Configuration errors found before binding.
    pub fn validate(&self) -> Result<(), String> {
        if let Some([first, last]) = self.relay_port_range
            && (first == 0 || first > last)
        {
            return Err("turn.relay_port_range must be [first, last] with 0 < first <= last".into());
        }
        if self.realm.is_empty() || self.realm.len() > 127 {
            return Err("turn.realm must be 1 to 127 characters".into());
        }
        if self.shared_secret.as_deref().is_some_and(str::is_empty) {
            return Err("turn.shared_secret must not be empty".into());
        }
        Ok(())
    }
}

/// The running relay.
pub struct TurnRelay {
    server: Server,
    local_addr: SocketAddr,
    public_addr: SocketAddr,
    secret: String,
}

impl std::fmt::Debug for TurnRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnRelay")
            .field("local_addr", &self.local_addr)
            .field("public_addr", &self.public_addr)
            .finish_non_exhaustive()
    }
}

impl TurnRelay {
    /// Binds the listen socket and starts the server. `listen_ip` is the main `listen` address's IP
    /// (the default for the relay's own addresses).
    pub async fn start(
        config: &TurnConfig,
        listen_ip: IpAddr,
        metrics: TurnMetrics,
    ) -> std::io::Result<Self> {
        let socket = match config.listen {
            Some(addr) => UdpSocket::bind(addr).await?,
            None => match UdpSocket::bind(SocketAddr::new(listen_ip, DEFAULT_PORT)).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(
                        "TURN: UDP {listen_ip}:{DEFAULT_PORT} unavailable ({e}); using an ephemeral port \
                         (set [turn] listen to choose one)"
                    );
                    UdpSocket::bind(SocketAddr::new(listen_ip, 0)).await?
                }
            },
        };
        let local_addr = socket.local_addr()?;
        let public_ip = config.public_ip.unwrap_or_else(|| default_public_ip(local_addr.ip()));
        let public_addr = SocketAddr::new(public_ip, local_addr.port());
        let secret = config.shared_secret.clone().unwrap_or_else(|| {
            let random: [u8; 24] = rand::random();
            hex::encode(random)
        });
        let relays = CountingRelays {
            bind_ip: config.relay_ip.unwrap_or(local_addr.ip()),
            public_ip,
            ports: config.relay_port_range,
            metrics: metrics.clone(),
        };
        let server = Server::new(ServerConfig {
            conn_configs: vec![ConnConfig { conn: Arc::new(socket), relay_addr_generator: Box::new(relays) }],
            realm: config.realm.clone(),
            auth_handler: Arc::new(RestApiCredentials { secret: secret.clone(), metrics }),
            channel_bind_timeout: Duration::ZERO,
            alloc_close_notify: None,
        })
        .await
        .map_err(|e| std::io::Error::other(format!("TURN server: {e}")))?;
        tracing::info!("TURN relay on UDP {local_addr}, advertised as {public_addr}");
        Ok(Self { server, local_addr, public_addr, secret })
    }

    /// The bound UDP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The `turn:` URI peers are given.
    pub fn uri(&self) -> String {
        let host = match self.public_addr.ip() {
            IpAddr::V6(v6) => format!("[{v6}]"),
            v4 => v4.to_string(),
        };
        format!("turn:{host}:{}?transport=udp", self.public_addr.port())
    }

    /// The IceServerList entry for `client_id`, with credentials valid `ttl_secs` from `now_unix`.
    pub fn ice_server(&self, client_id: &str, now_unix: i64, ttl_secs: u64) -> IceServer {
        let (username, password) = turn_credentials(&self.secret, client_id, now_unix, ttl_secs);
        IceServer { uris: vec![self.uri()], username, password, ttl_secs }
    }

    /// Ends every allocation and stops the listener.
    pub async fn shutdown(&self) {
        let _ = self.server.close().await;
    }
}

/// The address advertised when `public_ip` is unset.
fn default_public_ip(bound: IpAddr) -> IpAddr {
    if !bound.is_unspecified() {
        return bound;
    }
    crate::webrtc::host::candidate_ips(bound, &[])
        .into_iter()
        .find(|ip| !ip.is_loopback())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// Checks TURN REST API credentials: the key for MESSAGE-INTEGRITY is derived from the password
/// this server would have minted for that username; expired or malformed usernames are refused.
struct RestApiCredentials {
    secret: String,
    metrics: TurnMetrics,
}

impl AuthHandler for RestApiCredentials {
    fn auth_handle(&self, username: &str, realm: &str, src_addr: SocketAddr) -> Result<Vec<u8>, turn::Error> {
        let expiry = username.split_once(':').map_or(username, |(e, _)| e).parse::<u64>().ok();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        match expiry {
            Some(t) if t > now => {
                Ok(generate_auth_key(username, realm, &turn_password(&self.secret, username)))
            }
            Some(_) => {
                self.metrics.refused.inc();
                tracing::debug!(%src_addr, "TURN: expired credentials {username:?}");
                Err(turn::Error::Other("expired credentials".into()))
            }
            None => {
                self.metrics.refused.inc();
                tracing::debug!(%src_addr, "TURN: malformed username {username:?}");
                Err(turn::Error::Other("the username is not EXPIRY:CLIENT_ID".into()))
            }
        }
    }
}

/// Creates relayed-transport sockets (in the port range when one is set), counted.
struct CountingRelays {
    bind_ip: IpAddr,
    public_ip: IpAddr,
    ports: Option<[u16; 2]>,
    metrics: TurnMetrics,
}

impl CountingRelays {
    async fn bind(&self, requested_port: u16) -> std::io::Result<UdpSocket> {
        let Some([first, last]) = self.ports else {
            return UdpSocket::bind(SocketAddr::new(self.bind_ip, requested_port)).await;
        };
        if requested_port != 0 {
            if !(first..=last).contains(&requested_port) {
                return Err(std::io::Error::other("the requested port is outside the relay port range"));
            }
            return UdpSocket::bind(SocketAddr::new(self.bind_ip, requested_port)).await;
        }
        let span = u32::from(last - first) + 1;
        let start: u32 = rand::random::<u32>() % span;
        let mut last_error = None;
        for i in 0..span.min(64) {
            let port = first + ((start + i) % span) as u16;
            match UdpSocket::bind(SocketAddr::new(self.bind_ip, port)).await {
                Ok(s) => return Ok(s),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| std::io::Error::other("no free relay port")))
    }
}

#[async_trait::async_trait]
impl RelayAddressGenerator for CountingRelays {
    fn validate(&self) -> Result<(), turn::Error> {
        Ok(())
    }

    async fn allocate_conn(
        &self,
        use_ipv4: bool,
        requested_port: u16,
    ) -> Result<(Arc<dyn Conn + Send + Sync>, SocketAddr), turn::Error> {
        if use_ipv4 != self.bind_ip.is_ipv4() {
            return Err(turn::Error::Other("address family not served".into()));
        }
        let socket = self.bind(requested_port).await.map_err(|e| turn::Error::Other(e.to_string()))?;
        let port = socket.local_addr().map_err(|e| turn::Error::Other(e.to_string()))?.port();
        self.metrics.allocations.inc();
        self.metrics.active.inc();
        let conn = CountedConn { socket, metrics: self.metrics.clone() };
        Ok((Arc::new(conn), SocketAddr::new(self.public_ip, port)))
    }
}

/// A relayed-transport socket that counts the bytes relayed through it and the allocation's end.
struct CountedConn {
    socket: UdpSocket,
    metrics: TurnMetrics,
}

impl Drop for CountedConn {
    fn drop(&mut self) {
        self.metrics.active.dec();
    }
}

#[async_trait::async_trait]
impl Conn for CountedConn {
    async fn connect(&self, addr: SocketAddr) -> webrtc_util::Result<()> {
        Ok(self.socket.connect(addr).await?)
    }

    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        let n = self.socket.recv(buf).await?;
        self.metrics.relayed_bytes.inc_by(n as u64);
        Ok(n)
    }

    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        let (n, from) = self.socket.recv_from(buf).await?;
        self.metrics.relayed_bytes.inc_by(n as u64);
        Ok((n, from))
    }

    async fn send(&self, buf: &[u8]) -> webrtc_util::Result<usize> {
        let n = self.socket.send(buf).await?;
        self.metrics.relayed_bytes.inc_by(n as u64);
        Ok(n)
    }

    async fn send_to(&self, buf: &[u8], target: SocketAddr) -> webrtc_util::Result<usize> {
        let n = self.socket.send_to(buf, target).await?;
        self.metrics.relayed_bytes.inc_by(n as u64);
        Ok(n)
    }

    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        Ok(self.socket.local_addr()?)
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        None
    }

    async fn close(&self) -> webrtc_util::Result<()> {
        Ok(())
    }

    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_checked_against_the_minted_password_and_expiry() {
        let metrics = TurnMetrics::default();
        let auth = RestApiCredentials { secret: "s3cret".into(), metrics: metrics.clone() };
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
        let src: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let (user, pass) = turn_credentials("s3cret", "viewer-1", now, 300);
        let key = auth.auth_handle(&user, "openkvs", src).unwrap();
        assert_eq!(key, generate_auth_key(&user, "openkvs", &pass));
        let (old, _) = turn_credentials("s3cret", "viewer-1", now - 1000, 300);
        assert!(auth.auth_handle(&old, "openkvs", src).is_err(), "expired");
        assert!(auth.auth_handle("viewer-1", "openkvs", src).is_err(), "malformed");
        assert_eq!(metrics.refused.get(), 2);
    }

    #[test]
    fn port_ranges_and_realms_are_validated() {
        assert!(TurnConfig::default().validate().is_ok());
        let bad = TurnConfig { relay_port_range: Some([50000, 40000]), ..TurnConfig::default() };
        assert!(bad.validate().is_err());
        let bad = TurnConfig { realm: String::new(), ..TurnConfig::default() };
        assert!(bad.validate().is_err());
    }
}
