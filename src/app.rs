//! Builds the concrete server from a [`Config`] and runs it.
//!
//! [`Server::bind`] opens the archive (index migrations, store recovery; `crate::archive::open`),
//! creates the data directory, binds every listener (port 0 allowed, so tests can read the real address back) and assembles the router.
//! [`Server::run`] accepts connections until the shutdown future resolves, then shuts down in this
//! order (each step bounded; design/0010-retention.md, "Graceful shutdown"):
//!
//! 1. stop accepting on every listener, send GO_AWAY to signaling clients, stop the retention
//!    janitor (a pass cut short is safe: it deletes index rows before bytes);
//! 2. ask every PutMedia session to finish the fragment it is in the middle of (at most
//!    [`crate::ingest::session::SHUTDOWN_FINISH_FRAGMENT`]), stop reading, and send the PERSISTED
//!    ACKs of what it handed over before ending its response (waited for up to [`SESSION_DRAIN`]);
//! 3. let in-flight HTTP requests finish ([`CONNECTION_DRAIN`]; then connections are dropped);
//! 4. flush the archive's persister: every fragment handed to it is durable and committed (or
//!    failed) — [`PERSISTER_FLUSH`];
//! 5. drain the analysis workers ([`WORKER_DRAIN`]; their cursors resume after a restart);
//! 6. close the archive (its index pool).
//!
//! This is the only module that picks implementations (the archive's configuration, system clock)
//! and the only one that owns sockets. [`config`] is the whole server's configuration.

pub mod config;
mod edge;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

pub use self::config::{Config, Overrides, TlsConfig};
use crate::api::{self, ApiSettings, AppState, ListenerInfo};
use crate::archive::{self, Archive, ArchiveConfig, FragmentStore};
use crate::auth::console_session::{ConsoleSessions, SessionLimits};
use crate::auth::sigv4::{Verifier, VerifierMode};
use crate::auth::{AuthMode, KeyStore};
use crate::clock::{Clock, SystemClock};
use crate::data_dir_lock::DataDirLock;
use crate::ingest::Ingest;
use crate::metrics::Metrics;
use crate::playback::Playback;
use crate::retention::Janitor;
use crate::signaling::SignalingHub;
use crate::workers::{WorkerEnv, WorkerSpec, Workers};

/// Graceful shutdown: how long PutMedia sessions may take to finish their fragment in progress and
/// receive its PERSISTED ACK before the connections are drained.
pub const SESSION_DRAIN: Duration =
    crate::ingest::session::SHUTDOWN_FINISH_FRAGMENT.saturating_add(Duration::from_secs(5));
/// Graceful shutdown: how long in-flight requests may take to finish.
pub const CONNECTION_DRAIN: Duration = Duration::from_secs(10);
/// Graceful shutdown: how long the persister may take to answer what it holds.
pub const PERSISTER_FLUSH: Duration = Duration::from_secs(5);
/// Graceful shutdown: how long the analysis workers may take to stop.
pub const WORKER_DRAIN: Duration = Duration::from_secs(5);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The archive (index or fragment store) could not be opened or recovered.
    #[error(transparent)]
    Archive(#[from] archive::OpenError),
    /// A listener could not be bound, or the data directory created.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// TLS material could not be loaded.
    #[error("tls: {0}")]
    Tls(String),
    /// Another server holds the data directory.
    #[error(transparent)]
    DataDirInUse(#[from] crate::data_dir_lock::LockError),
    /// The cluster could not be joined (`[cluster]`).
    #[error("cannot join the cluster: {0}")]
    Cluster(String),
}

struct BoundListener {
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    info: ListenerInfo,
}

/// A server with its listeners bound, ready to run.
pub struct Server {
    listeners: Vec<BoundListener>,
    router: Router,
    archive: Arc<Archive>,
    signaling: Arc<SignalingHub>,
    workers: Arc<Workers>,
    ingest: Arc<Ingest>,
    metrics: Arc<Metrics>,
    janitor: Arc<Janitor>,
    webrtc: Option<Arc<crate::webrtc::WebRtc>>,
    turn: Option<Arc<crate::turn_relay::TurnRelay>>,
    retention: crate::retention::RetentionConfig,
    /// This node's membership of a cluster (`[cluster]`); `None` on a single node.
    cluster: Option<Arc<crate::cluster::Cluster>>,
    /// The edge recorder for this server's own hub devices, if it runs.
    edge_agent: Option<crate::edge::agent::Agent>,
    /// The separate `[metrics] listen` listener and its router (metrics, health, ready only).
    metrics_listener: Option<(BoundListener, Router)>,
    header_read_timeout: Option<Duration>,
    /// Held until the server is dropped (after `run` returns).
    _data_dir_lock: DataDirLock,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("addrs", &self.local_urls()).finish_non_exhaustive()
    }
}

impl Server {
    /// Opens the index, binds the listeners and builds the router, with the system clock.
    pub async fn bind(config: &Config) -> Result<Self, StartError> {
        Self::bind_with_clock(config, Arc::new(SystemClock)).await
    }

    /// As [`Server::bind`], with a given clock (tests).
    pub async fn bind_with_clock(config: &Config, clock: Arc<dyn Clock>) -> Result<Self, StartError> {
        Self::bind_with(config, clock, |store| store).await
    }

    /// As [`Server::bind_with_clock`], letting `wrap_store` wrap the fragment store (fault
    /// injection in tests, e.g. [`crate::archive::FaultyStore`]).
    pub async fn bind_with(
        config: &Config,
        clock: Arc<dyn Clock>,
        wrap_store: impl FnOnce(Arc<dyn FragmentStore>) -> Arc<dyn FragmentStore>,
    ) -> Result<Self, StartError> {
        Self::bind_with_workers(config, clock, wrap_store, Vec::new()).await
    }

    /// As [`Server::bind_with`], running `extra_workers` (custom analyzers) beside the built-in
    /// ones: how a program embedding openkvs plugs in its own analysis.
    pub async fn bind_with_workers(
        config: &Config,
        clock: Arc<dyn Clock>,
        wrap_store: impl FnOnce(Arc<dyn FragmentStore>) -> Arc<dyn FragmentStore>,
        extra_workers: Vec<WorkerSpec>,
    ) -> Result<Self, StartError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|source| StartError::Io {
            what: format!("cannot create data dir {}", config.data_dir.display()),
            source,
        })?;
        // Before anything opens the index or the store: two servers on one directory would be two
        // writers on one store, each believing it is the only producer of every stream.
        let data_dir_lock = DataDirLock::acquire(&config.data_dir)?;
        let metrics = Metrics::new();
        let archive_config = ArchiveConfig {
            store: config.store.clone(),
            warm_root: config.effective_warm_dir(),
            encryption: config.encryption.clone(),
            shared_store: config.cluster.enabled(),
            ..ArchiveConfig::new(config.effective_database_url(), &config.data_dir)
        };
        let archive = archive::open(&archive_config, metrics.clone(), wrap_store).await?;
        warn_if_channels_lack_turn(&archive, &config.signaling.ice, config.turn.enabled).await;
        let ingest = Ingest::new(archive.clone(), clock.clone(), config.ingest.clone(), metrics.clone());
        let janitor = Janitor::new(archive.clone(), clock.clone(), metrics.clone());
        let worker_env = WorkerEnv {
            archive: archive.clone(),
            clock: clock.clone(),
            artifact_root: config.data_dir.join("analysis"),
            image_root: config.data_dir.join("images"),
            image_s3: config.image_s3_destination(),
            webhook_key: webhook_key(config),
        };
        let mut worker_specs = Workers::builtin(&config.workers, &worker_env);
        worker_specs.extend(extra_workers);
        // Cluster mode: the workers analyse only the (worker, stream) pairs this node leases.
        let leases = config.cluster.enabled().then(|| Arc::new(crate::workers::leases::LeaseGate::new()));
        let workers = Workers::start(
            worker_specs,
            worker_env,
            archive.persisted(),
            config.workers.clone(),
            leases.clone(),
        );
        let keys = Arc::new(KeyStore::new(config.auth.mode, &config.auth.keys));
        let verifier = Arc::new(Verifier::new(
            match config.auth.mode {
                AuthMode::Keys => VerifierMode::Enforce,
                AuthMode::Open => VerifierMode::Open,
            },
            config.auth.max_skew_secs,
        ));
        let signaling = Arc::new(SignalingHub::new(config.signaling.clone()));

        // Bind before building the state: handlers need the HTTPS listener's real port.
        let tls = match (&config.tls.cert, &config.tls.key) {
            (Some(cert), Some(key)) => Some(load_tls(cert, key)?),
            _ => None,
        };
        let mut listeners = Vec::new();
        let main_tls = if config.listen_is_tls() { tls.clone() } else { None };
        listeners.push(bind_one(config.listen, main_tls).await?);
        if let (Some(addr), Some(acceptor)) = (config.tls.listen, tls) {
            listeners.push(bind_one(addr, Some(acceptor)).await?);
        }
        let tls_listener = listeners.iter().find(|l| l.tls.is_some()).map(|l| l.info.clone());
        let cluster = match leases {
            Some(leases) => {
                let cluster = join_cluster(config, archive.clone(), &listeners[0].info).await?;
                crate::cluster::feeds::start(&cluster, ingest.clone());
                cluster
                    .coordinate(&signaling, archive.persisted(), workers.clone(), leases)
                    .await
                    .map_err(|e| StartError::Cluster(format!("cannot subscribe on NATS: {e}")))?;
                Some(cluster)
            }
            None => None,
        };
        let edge_agent = edge::local_agent(config, archive.clone(), &listeners[0].info);
        let token_key = session_token_key(config);
        let webrtc = if config.webrtc.enabled {
            let live: Arc<dyn crate::webrtc::feed::LiveSource> = ingest.clone();
            let http = listeners[0].info.local_addr;
            Some(
                crate::webrtc::WebRtc::start(
                    config.webrtc.clone(),
                    http,
                    live,
                    token_key.clone(),
                    metrics.webrtc_viewer_audio_frames(),
                )
                .await
                .map_err(|source| StartError::Io {
                    what: "cannot bind the WebRTC UDP socket".into(),
                    source,
                })?,
            )
        } else {
            None
        };
        let turn = if config.turn.enabled {
            let relay = crate::turn_relay::TurnRelay::start(&config.turn, config.listen.ip(), metrics.turn())
                .await
                .map_err(|source| StartError::Io { what: "cannot start the TURN relay".into(), source })?;
            Some(Arc::new(relay))
        } else {
            None
        };

        let state = AppState {
            archive: archive.clone(),
            clock: clock.clone(),
            keys,
            verifier,
            settings: Arc::new(ApiSettings {
                account_id: config.account_id.clone(),
                public_url: config.public_url.clone(),
                tls_listener,
            }),
            playback: Playback::new(
                archive.clone(),
                ingest.clone(),
                clock,
                config.playback.clone(),
                token_key,
            ),
            signaling: signaling.clone(),
            ingest: ingest.clone(),
            workers: workers.clone(),
            console_sessions: Arc::new(ConsoleSessions::new(SessionLimits::default())),
            metrics: metrics.clone(),
            webrtc: webrtc.clone(),
            turn: turn.clone(),
            cluster: cluster.clone(),
        };
        let metrics_listener = match config.metrics.listen {
            Some(addr) => Some((bind_one(addr, None).await?, api::metrics::router(state.clone()))),
            None => None,
        };
        let router = api::router(state);

        let header_read_timeout = (config.header_read_timeout_secs > 0)
            .then(|| Duration::from_secs(config.header_read_timeout_secs));
        Ok(Self {
            listeners,
            router,
            archive,
            signaling,
            workers,
            ingest,
            metrics,
            janitor,
            webrtc,
            turn,
            retention: config.retention.clone(),
            cluster,
            edge_agent,
            metrics_listener,
            header_read_timeout,
            _data_dir_lock: data_dir_lock,
        })
    }

    /// The retention janitor (tests run passes with [`Janitor::run_once`]).
    pub fn retention_janitor(&self) -> Arc<Janitor> {
        self.janitor.clone()
    }

    /// The server's metrics.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// The address of the separate metrics listener, if configured.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener.as_ref().map(|(l, _)| l.info.local_addr)
    }

    /// `scheme://addr` of every listener, in bind order.
    pub fn local_urls(&self) -> Vec<String> {
        self.listeners.iter().map(|l| format!("{}://{}", l.info.scheme, l.info.local_addr)).collect()
    }

    /// The address of the first listener (the `listen` address).
    pub fn local_addr(&self) -> SocketAddr {
        self.listeners[0].info.local_addr
    }

    /// The address of the first HTTPS listener, if any.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.listeners.iter().find(|l| l.tls.is_some()).map(|l| l.info.local_addr)
    }

    /// The index backend name.
    pub fn index_backend(&self) -> &'static str {
        self.archive.backend()
    }

    /// The fragment store, described for the startup log line.
    pub fn store_description(&self) -> String {
        self.archive.describe_store()
    }

    /// Encryption at rest, described for the startup log line.
    pub fn encryption_description(&self) -> String {
        self.archive.describe_encryption()
    }

    /// Serves until `shutdown` resolves, then drains in-flight connections for at most 10 s.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let graceful = Arc::new(hyper_util::server::graceful::GracefulShutdown::new());
        let mut accept_tasks = Vec::new();
        let janitor_task = self.retention.enabled.then(|| {
            let interval = Duration::from_secs(self.retention.interval_secs.max(1));
            tokio::spawn(self.janitor.clone().run(interval, stop_rx.clone()))
        });
        let edge_task = self.edge_agent.map(|agent| tokio::spawn(agent.run(stop_rx.clone())));
        let listeners =
            self.listeners.into_iter().map(|l| (l, self.router.clone())).chain(self.metrics_listener);
        for (l, router) in listeners {
            let mut stop = stop_rx.clone();
            let graceful = graceful.clone();
            let head_timeout = self.header_read_timeout;
            accept_tasks.push(tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = stop.changed() => break,
                        accepted = l.listener.accept() => {
                            let Ok((tcp, _peer)) = accepted else { continue };
                            let _ = tcp.set_nodelay(true);
                            serve_connection(tcp, l.tls.clone(), l.info.clone(), router.clone(), &graceful, head_timeout);
                        }
                    }
                }
            }));
        }
        shutdown.await;
        // The order is documented at the top of this file; keep the two in step.
        // 1. Stop accepting; signaling clients reconnect elsewhere (or after the restart) on
        //    GO_AWAY; the janitor stops between steps (index rows go before bytes, so any point is safe).
        tracing::info!("shutdown requested: no longer accepting connections");
        let _ = stop_tx.send(true);
        self.signaling.go_away_all();
        if let Some(w) = &self.webrtc {
            w.shutdown();
        }
        if let Some(t) = &self.turn {
            t.shutdown().await;
        }
        for t in accept_tasks {
            let _ = t.await;
        }
        if let Some(mut t) = janitor_task
            && tokio::time::timeout(Duration::from_secs(5), &mut t).await.is_err()
        {
            t.abort();
        }
        // The edge agent's uploads are PutMedia sessions like any other: it ends them itself
        // (each waits for its last fragment's PERSISTED ACK), bounded like the sessions below.
        if let Some(mut t) = edge_task
            && tokio::time::timeout(SESSION_DRAIN, &mut t).await.is_err()
        {
            t.abort();
        }
        // 2. PutMedia sessions finish the fragment in progress, then end after their last ACK.
        let sessions = self.ingest.active_sessions();
        if sessions > 0 {
            tracing::info!("shutdown: letting {sessions} PutMedia sessions finish their current fragment");
        }
        self.ingest.shutdown();
        let sessions_end_by = tokio::time::Instant::now() + SESSION_DRAIN;
        while self.ingest.active_sessions() > 0 && tokio::time::Instant::now() < sessions_end_by {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // 3. In-flight requests (the PutMedia responses among them) finish.
        let graceful = Arc::try_unwrap(graceful)
            .unwrap_or_else(|_| hyper_util::server::graceful::GracefulShutdown::new());
        if tokio::time::timeout(CONNECTION_DRAIN, graceful.shutdown()).await.is_err() {
            tracing::warn!("connections still open after {CONNECTION_DRAIN:?}; closing them");
        }
        // 4. Whatever the persister still holds becomes durable and committed.
        if !self.archive.flush(PERSISTER_FLUSH).await {
            tracing::warn!("the persister still had fragments after {PERSISTER_FLUSH:?}");
        }
        // 5. Workers stop between fragments; their cursors resume the rest after a restart.
        self.workers.shutdown(WORKER_DRAIN).await;
        // 6. Leave the cluster (the others take this node's streams at once), then close the
        //    archive's index pool.
        if let Some(c) = &self.cluster {
            c.leave().await;
        }
        self.archive.close().await;
        tracing::info!("shutdown complete");
    }
}

/// Joins the cluster `[cluster]` describes: the node id and advertised URL default to the host
/// name with the HTTP port and to `public_url` or the bound HTTP listener.
async fn join_cluster(
    config: &Config,
    archive: Arc<Archive>,
    http: &ListenerInfo,
) -> Result<Arc<crate::cluster::Cluster>, StartError> {
    let c = &config.cluster;
    let node_id =
        c.node_id.clone().unwrap_or_else(|| crate::cluster::default_node_id(http.local_addr.port()));
    let url = match (&c.advertise_url, &config.public_url) {
        (Some(u), _) | (None, Some(u)) => u.trim_end_matches('/').to_owned(),
        (None, None) => http.base_url(None),
    };
    let cluster = crate::cluster::Cluster::join(c.clone(), archive, node_id, url)
        .await
        .map_err(|e| StartError::Cluster(e.to_string()))?;
    tracing::info!(
        "cluster node {} at {} ({} members live)",
        cluster.node_id(),
        cluster.url(),
        cluster.members().len()
    );
    Ok(cluster)
}

async fn bind_one(addr: SocketAddr, tls: Option<TlsAcceptor>) -> Result<BoundListener, StartError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Io { what: format!("cannot listen on {addr}"), source })?;
    let local_addr = listener
        .local_addr()
        .map_err(|source| StartError::Io { what: "cannot read bound address".into(), source })?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    Ok(BoundListener { listener, tls, info: ListenerInfo { scheme, local_addr } })
}

fn serve_connection(
    tcp: tokio::net::TcpStream,
    tls: Option<TlsAcceptor>,
    info: ListenerInfo,
    router: Router,
    graceful: &hyper_util::server::graceful::GracefulShutdown,
    head_timeout: Option<Duration>,
) {
    let remote = tcp.peer_addr().ok().map(api::RemoteAddr);
    let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(info.clone());
        if let Some(r) = remote {
            req.extensions_mut().insert(r);
        }
        router.clone().oneshot(req.map(axum::body::Body::new))
    });
    let watcher = graceful.watcher();
    tokio::spawn(async move {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        if let Some(t) = head_timeout {
            // hyper's HTTP/1 timer: a request head must arrive complete within `t` (slow loris).
            builder.http1().timer(TokioTimer::new()).header_read_timeout(t);
        }
        // Neither the TLS handshake nor auto's HTTP-version sniffing has a timeout of its own: a
        // client that connects and sends nothing would hold the connection forever.
        let within = |t: Option<Duration>| t.unwrap_or(Duration::MAX);
        let result = match tls {
            Some(acceptor) => match tokio::time::timeout(within(head_timeout), acceptor.accept(tcp)).await {
                Err(_) => {
                    tracing::debug!("tls handshake timed out");
                    return;
                }
                Ok(Ok(stream)) => {
                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    watcher.watch(conn.into_owned()).await
                }
                Ok(Err(e)) => {
                    tracing::debug!("tls handshake failed: {e}");
                    return;
                }
            },
            None => {
                let mut first = [0u8; 1];
                if tokio::time::timeout(within(head_timeout), tcp.peek(&mut first)).await.is_err() {
                    tracing::debug!("connection sent nothing within the header read timeout");
                    return;
                }
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(tcp), service);
                watcher.watch(conn.into_owned()).await
            }
        };
        if let Err(e) = result {
            tracing::debug!("connection ended with error: {e}");
        }
    });
}

fn load_tls(cert: &PathBuf, key: &PathBuf) -> Result<TlsAcceptor, StartError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| StartError::Tls(format!("cannot read {}: {e}", cert.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| StartError::Tls(format!("bad certificate in {}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(StartError::Tls(format!("no certificate in {}", cert.display())));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| StartError::Tls(format!("cannot read private key {}: {e}", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StartError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| StartError::Tls(e.to_string()))?;
    // HTTP/1.1 only. The KVS producers (libcurl) sign `connection` and `transfer-encoding` for
    // PutMedia; over HTTP/2, which has neither header, their signatures cannot verify. AWS's KVS
    // endpoints answer PutMedia over HTTP/1.1 too (the unmodified producers, whose libcurl offers h2
    // by ALPN, sign those headers and work against AWS). Every client falls back to HTTP/1.1 when
    // the server does not select h2; design/0012-transports.md lists each listener × protocol.
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(cfg)))
}

/// The key of HLS/DASH session tokens: `[playback] session_token_secret`, else derived from the
/// first configured access key's secret (stable across restarts and nodes that share the config),
/// else random for this process (sessions then die with it).
/// The key that signs webhook deliveries: `[workers.notifications] webhook_secret`, else one
/// derived from the first access key's secret (so it survives restarts), else random.
fn webhook_key(config: &Config) -> Vec<u8> {
    use hmac::{Hmac, Mac};
    if let Some(secret) = &config.workers.notifications.webhook_secret {
        return secret.as_bytes().to_vec();
    }
    match config.auth.keys.first() {
        Some(key) => {
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.secret_access_key.as_bytes())
                .expect("HMAC takes any key length");
            mac.update(b"openkvs webhook signing key");
            mac.finalize().into_bytes().to_vec()
        }
        None => rand::random::<[u8; 32]>().to_vec(),
    }
}

fn session_token_key(config: &Config) -> crate::auth::session_token::SessionTokenKey {
    use crate::auth::session_token::SessionTokenKey;
    if let Some(secret) = &config.playback.session_token_secret {
        return SessionTokenKey::from_secret(secret.as_bytes());
    }
    if let Some(key) = config.auth.keys.first() {
        return SessionTokenKey::from_secret(key.secret_access_key.as_bytes());
    }
    let random: [u8; 32] = rand::random();
    SessionTokenKey::from_secret(&random)
}

/// Logs a warning when signaling channels exist and GetIceServerConfig would list no TURN server
/// (see `IceConfig::missing_turn_warning`).
async fn warn_if_channels_lack_turn(
    archive: &Archive,
    ice: &crate::signaling::ice::IceConfig,
    own_relay: bool,
) {
    if ice.has_turn() || own_relay {
        return;
    }
    match archive.channel_count().await {
        Ok(0) => {}
        Ok(n) => {
            let situation = if n == 1 {
                "1 signaling channel exists".to_owned()
            } else {
                format!("{n} signaling channels exist")
            };
            if let Some(warning) = ice.missing_turn_warning(&situation, own_relay) {
                tracing::warn!("{warning}");
            }
        }
        Err(e) => tracing::warn!("cannot count signaling channels: {e}"),
    }
}
