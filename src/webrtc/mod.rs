//! Server-side WebRTC media: WHEP live view of any stream (and, beside it, the storage peer of
//! WebRTC ingestion).
//!
//! Built on `str0m`, a sans-IO WebRTC stack: ICE, DTLS-SRTP, RTP/RTCP (NACK, PLI), H.264 and Opus
//! (de)packetization all live in its `Rtc` state machines. This module owns:
//! - [`WebRtc`], the handle the API layer uses: session tokens, answering offers, trickle ICE,
//!   closing sessions, and the sockets;
//! - [`driver`], the ONE task that owns every peer connection, sockets' sends and timers (the only
//!   place with socket I/O, apart from the tiny socket readers it starts);
//! - [`feed`], one live feed per watched stream, converted once and fanned out to its viewers;
//! - [`whep`], WHEP token claims and the offer → answer step;
//! - [`storage`], the storage peer of JoinStorageSession (signaling → RTP → Matroska → ingest);
//! - [`storage_viewer`], JoinStorageSessionAsViewer: this server offers a viewer the live media
//!   of the channel's stream through signaling (the WHEP fan-out, with this server as offerer);
//! - [`host`], the local addresses offered as ICE host candidates.
//!
//! It must not know HTTP (the API layer maps [`WebRtcError`] to statuses) nor read or write the
//! index or the store directly: frames come from the ingest live feed.

pub mod driver;
pub mod feed;
pub mod host;
pub mod storage;
pub mod storage_viewer;
pub mod whep;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::Deserialize;
use str0m::config::{CryptoProvider, DtlsCert};
use str0m::{Candidate, Rtc, RtcConfig};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::auth::session_token::SessionTokenKey;
use driver::{Driver, DriverInput};
use feed::LiveSource;

/// `[webrtc]` configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebRtcConfig {
    /// Whether the WebRTC media endpoint (WHEP, storage sessions) runs.
    pub enabled: bool,
    /// UDP address for WebRTC media. Unset: the `listen` address's IP and the same port number as
    /// the HTTP listener (one number to open in a firewall, TCP for HTTP and UDP for media); if
    /// that UDP port is taken, an ephemeral one.
    pub udp_listen: Option<SocketAddr>,
    /// Addresses offered to peers as ICE host candidates (and bound, one socket each). Empty: the
    /// UDP listen IP, or every interface's IPv4 address when it is the wildcard.
    pub candidate_ips: Vec<IpAddr>,
    /// Most WebRTC sessions at once (WHEP viewers and storage peers); more are refused with 503.
    pub max_sessions: usize,
    /// A session whose ICE + DTLS has not completed this long after its offer is dropped, seconds.
    pub connect_timeout_secs: u64,
}

impl Default for WebRtcConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            udp_listen: None,
            candidate_ips: Vec::new(),
            max_sessions: 1000,
            connect_timeout_secs: 15,
        }
    }
}

/// Why a WebRTC request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebRtcError {
    /// The session token is forged, malformed or of another kind.
    #[error("the session token is not valid")]
    InvalidToken,
    /// The session token has expired.
    #[error("the session token has expired")]
    ExpiredToken,
    /// The SDP offer (or trickle fragment) cannot be used.
    #[error("unusable SDP: {0}")]
    BadOffer(String),
    /// No such session.
    #[error("no such WebRTC session")]
    SessionNotFound,
    /// `max_sessions` reached.
    #[error("too many WebRTC sessions")]
    TooManySessions,
    /// The endpoint is disabled or shutting down.
    #[error("the WebRTC endpoint is not running")]
    Unavailable,
}

/// The server's WebRTC endpoint.
pub struct WebRtc {
    config: WebRtcConfig,
    driver: mpsc::Sender<DriverInput>,
    local_addrs: Vec<SocketAddr>,
    provider: Arc<CryptoProvider>,
    cert: DtlsCert,
    token_key: SessionTokenKey,
    sessions: Arc<AtomicUsize>,
    tasks: std::sync::Mutex<Vec<JoinHandle<()>>>,
    /// The storage session task of each channel (a newer JoinStorageSession replaces it).
    storage_sessions: std::sync::Mutex<std::collections::HashMap<i64, JoinHandle<()>>>,
    /// The session task of each storage-session viewer, by channel and ClientId (a newer
    /// JoinStorageSessionAsViewer for the same viewer replaces it).
    viewer_sessions: std::sync::Mutex<std::collections::HashMap<(i64, String), JoinHandle<()>>>,
}

impl std::fmt::Debug for WebRtc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebRtc").field("local_addrs", &self.local_addrs).finish_non_exhaustive()
    }
}

impl WebRtc {
    /// Binds the UDP sockets and starts the driver. `http_listen` is the HTTP listener's bound
    /// address (the default UDP address follows it).
    pub async fn start(
        config: WebRtcConfig,
        http_listen: SocketAddr,
        live: Arc<dyn LiveSource>,
        token_key: SessionTokenKey,
        viewer_audio: prometheus_client::metrics::counter::Counter,
    ) -> std::io::Result<Arc<Self>> {
        let listen = config.udp_listen.unwrap_or(http_listen);
        let ips = host::candidate_ips(listen.ip(), &config.candidate_ips);
        let mut sockets: Vec<Arc<UdpSocket>> = Vec::new();
        let mut port = listen.port();
        for ip in ips {
            let socket = match UdpSocket::bind(SocketAddr::new(ip, port)).await {
                Ok(s) => s,
                Err(e) if config.udp_listen.is_none() && sockets.is_empty() => {
                    tracing::debug!("UDP {ip}:{port} unavailable ({e}); using an ephemeral port");
                    UdpSocket::bind(SocketAddr::new(ip, 0)).await?
                }
                Err(e) if !sockets.is_empty() => {
                    tracing::warn!("WebRTC: cannot bind UDP {ip}:{port} ({e}); not offered as a candidate");
                    continue;
                }
                Err(e) => return Err(e),
            };
            set_buffer_sizes(&socket);
            port = socket.local_addr()?.port();
            sockets.push(Arc::new(socket));
        }
        let local_addrs: Vec<SocketAddr> = sockets.iter().filter_map(|s| s.local_addr().ok()).collect();
        tracing::info!("WebRTC media on UDP {:?}", local_addrs);
        let provider = Arc::new(str0m::crypto::from_feature_flags());
        let cert = provider.dtls_provider.generate_certificate().ok_or_else(|| {
            std::io::Error::other("the WebRTC crypto provider cannot make a DTLS certificate")
        })?;
        let (tx, rx) = mpsc::channel(4096);
        let sessions = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for s in &sockets {
            tasks.push(tokio::spawn(driver::read_socket(s.clone(), tx.clone())));
        }
        let connect_timeout = Duration::from_secs(config.connect_timeout_secs.max(1));
        let driver =
            Driver::new(rx, tx.clone(), sockets, live, sessions.clone(), connect_timeout, viewer_audio);
        tasks.push(tokio::spawn(driver.run()));
        Ok(Arc::new(Self {
            config,
            driver: tx,
            local_addrs,
            provider,
            cert,
            token_key,
            sessions,
            tasks: std::sync::Mutex::new(tasks),
            storage_sessions: Default::default(),
            viewer_sessions: Default::default(),
        }))
    }

    /// The local UDP addresses offered as host candidates.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// The number of live sessions (viewers and storage peers, connecting or connected).
    pub fn session_count(&self) -> usize {
        self.sessions.load(Ordering::Relaxed)
    }

    /// The number of peers the driver holds (tests: a dropped viewer really is gone).
    pub async fn driver_peer_count(&self) -> Option<usize> {
        let (done, reply) = tokio::sync::oneshot::channel();
        self.driver.send(DriverInput::Count { done }).await.ok()?;
        reply.await.ok()
    }

    /// Stops the driver and the socket readers (sessions end without goodbye).
    pub fn shutdown(&self) {
        for t in self.tasks.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
            t.abort();
        }
        for (_, t) in self.storage_sessions.lock().unwrap_or_else(|p| p.into_inner()).drain() {
            t.abort();
        }
        for (_, t) in self.viewer_sessions.lock().unwrap_or_else(|p| p.into_inner()).drain() {
            t.abort();
        }
    }

    /// A new peer connection with this server's crypto, certificate, codecs and candidates.
    fn new_rtc(&self) -> Rtc {
        let mut rtc = RtcConfig::new()
            .set_crypto_provider(self.provider.clone())
            .set_dtls_cert(self.cert.clone())
            .clear_codecs()
            .enable_h264(true)
            .enable_opus(true, false)
            .build(Instant::now());
        for addr in &self.local_addrs {
            if let Ok(c) = Candidate::host(*addr, "udp") {
                rtc.add_local_candidate(c);
            }
        }
        rtc
    }

    /// Counts a new session against `max_sessions` and hands it to the driver.
    async fn add_session(&self, input: DriverInput) -> Result<(), WebRtcError> {
        let before = self.sessions.fetch_add(1, Ordering::Relaxed);
        if before >= self.config.max_sessions {
            self.sessions.fetch_sub(1, Ordering::Relaxed);
            return Err(WebRtcError::TooManySessions);
        }
        if self.driver.send(input).await.is_err() {
            self.sessions.fetch_sub(1, Ordering::Relaxed);
            return Err(WebRtcError::Unavailable);
        }
        Ok(())
    }

    async fn send(&self, input: DriverInput) -> Result<(), WebRtcError> {
        self.driver.send(input).await.map_err(|_| WebRtcError::Unavailable)
    }
}

impl Drop for WebRtc {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Larger socket buffers: a key frame fanned out to many viewers is a burst of datagrams.
fn set_buffer_sizes(socket: &UdpSocket) {
    use std::os::fd::AsRawFd;
    let size: libc::c_int = 4 * 1024 * 1024;
    for opt in [libc::SO_SNDBUF, libc::SO_RCVBUF] {
        // SAFETY: setsockopt on a valid, open socket fd with a c_int option value.
        unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                (&size as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
}
