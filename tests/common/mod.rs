//! Shared integration-test fixtures: a real server on `127.0.0.1:0` with a temporary data directory
//! and either index backend, builders for the official aws-sdk-rust clients pointed at it, and a
//! raw HTTP/1.1 client with a SigV4 signer for requests the SDKs cannot make.
//!
//! `TEST_DATABASE_URL` (e.g. `postgres://postgres@127.0.0.1:5432/test`) enables the Postgres
//! variant of every backend test: each server gets a fresh database, dropped by `stop()`. With
//! `TEST_S3_ENDPOINT` (an S3-compatible server, e.g. SeaweedFS at `http://127.0.0.1:8333`) as well,
//! the Postgres + S3 variant runs too: fragments go to the bucket `TEST_S3_BUCKET` (default
//! `openkvs-test`, created if missing) under a prefix of its own per server.

#![allow(dead_code)]

pub mod analysis;
pub mod browser;
pub mod cluster;
pub mod detection;
pub mod process;
pub mod producer;
pub mod rtsp;
pub mod signaling;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use aws_sdk_kinesisvideo::config::{BehaviorVersion, Credentials, Region};
use openkvs::app::Config;
use openkvs::app::Server;
use openkvs::archive::FragmentStore;
use openkvs::clock::SystemClock;
use sqlx::Connection;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::oneshot;

/// Which index (and fragment store) a test server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite index, local segment store.
    Sqlite,
    /// Postgres index, local segment store.
    Postgres,
    /// Postgres index, fragments in an S3-compatible bucket.
    PostgresS3,
}

impl Backend {
    /// Whether the index is Postgres.
    pub fn is_postgres(self) -> bool {
        matches!(self, Backend::Postgres | Backend::PostgresS3)
    }
}

/// The Postgres URL for tests, if configured.
pub fn postgres_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL").ok().filter(|s| !s.is_empty())
}

/// The S3 endpoint for tests (`TEST_S3_ENDPOINT`), if configured. Panics when it is not but
/// `OPENKVS_REQUIRE_S3` is set (CI), so the S3 variants cannot be skipped silently.
pub fn s3_endpoint() -> Option<String> {
    let endpoint = std::env::var("TEST_S3_ENDPOINT").ok().filter(|s| !s.is_empty());
    if endpoint.is_none() && std::env::var_os("OPENKVS_REQUIRE_S3").is_some() {
        panic!("OPENKVS_REQUIRE_S3 is set but TEST_S3_ENDPOINT is not");
    }
    endpoint
}

/// The bucket the S3 variants use.
pub fn s3_bucket() -> String {
    std::env::var("TEST_S3_BUCKET").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| "openkvs-test".into())
}

/// Whether the Postgres + S3 variant can run; says why not when it cannot.
pub fn s3_variant_enabled() -> bool {
    if postgres_url().is_none() || s3_endpoint().is_none() {
        eprintln!("TEST_DATABASE_URL or TEST_S3_ENDPOINT unset: Postgres+S3 variant not run");
        return false;
    }
    true
}

/// Creates the test bucket on the S3 endpoint if it is missing (an unsigned CreateBucket, which
/// SeaweedFS without an identity configuration accepts; an existing bucket answers 409).
pub async fn ensure_s3_bucket(endpoint: &str, bucket: &str) {
    let hostport = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let addr: SocketAddr = tokio::net::lookup_host(hostport).await.expect("S3 endpoint host").next().unwrap();
    let req = format!(
        "PUT /{bucket} HTTP/1.1\r\nhost: {hostport}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    );
    let resp = raw_request(addr, req.as_bytes()).await;
    assert!(
        resp.status == 200 || resp.status == 409,
        "cannot create bucket {bucket} at {endpoint}: {} {}",
        resp.status,
        String::from_utf8_lossy(&resp.body)
    );
}

/// Sets an ENABLED ImageGenerationConfiguration on `stream`: JPEG images every `interval_ms` of
/// producer time, `width` pixels wide (none: the source size), delivered to `uri`.
pub async fn enable_image_generation(
    kvs: &aws_sdk_kinesisvideo::Client,
    stream: &str,
    uri: &str,
    interval_ms: i32,
    width: Option<i32>,
) {
    use aws_sdk_kinesisvideo::types::{
        ConfigurationStatus, Format, ImageGenerationConfiguration, ImageGenerationDestinationConfig,
        ImageSelectorType,
    };
    let destination =
        ImageGenerationDestinationConfig::builder().uri(uri).destination_region("us-east-1").build().unwrap();
    let config = ImageGenerationConfiguration::builder()
        .status(ConfigurationStatus::Enabled)
        .image_selector_type(ImageSelectorType::ProducerTimestamp)
        .destination_config(destination)
        .sampling_interval(interval_ms)
        .format(Format::Jpeg)
        .set_width_pixels(width)
        .build()
        .unwrap();
    kvs.update_image_generation_configuration()
        .stream_name(stream)
        .image_generation_configuration(config)
        .send()
        .await
        .unwrap();
}

/// Points `config` at the test bucket under a fresh prefix.
pub async fn use_s3_store(config: &mut Config) {
    let endpoint = s3_endpoint().expect("TEST_S3_ENDPOINT");
    let bucket = s3_bucket();
    ensure_s3_bucket(&endpoint, &bucket).await;
    config.store.kind = openkvs::archive::StoreKind::S3;
    config.store.s3.endpoint = Some(endpoint);
    config.store.s3.bucket = bucket;
    config.store.s3.prefix = format!("t-{}", uuid::Uuid::new_v4().simple());
    config.store.s3.access_key_id = Some("openkvs-test".into());
    config.store.s3.secret_access_key = Some("openkvs-test-secret".into());
}

/// The `OPENKVS_*` variables that point a spawned `openkvs serve` at the test bucket under a fresh
/// prefix (credentials through the standard AWS variables).
pub async fn s3_server_env() -> Vec<(&'static str, String)> {
    let mut config = Config::default();
    use_s3_store(&mut config).await;
    let s3 = config.store.s3;
    vec![
        ("OPENKVS_STORE_KIND", "s3".into()),
        ("OPENKVS_S3_ENDPOINT", s3.endpoint.unwrap_or_default()),
        ("OPENKVS_S3_BUCKET", s3.bucket),
        ("OPENKVS_S3_PREFIX", s3.prefix),
        ("AWS_ACCESS_KEY_ID", s3.access_key_id.unwrap_or_default()),
        ("AWS_SECRET_ACCESS_KEY", s3.secret_access_key.unwrap_or_default()),
    ]
}

/// Generates one `#[tokio::test]` per backend for each named async fn taking a [`Backend`]:
/// SQLite, Postgres (returns early, saying so, when `TEST_DATABASE_URL` is unset) and Postgres+S3
/// (also needs `TEST_S3_ENDPOINT`).
///
/// - `backend_tests!(a, b)`: every test on all three.
/// - `backend_tests!(index_only: a, b)`: SQLite and Postgres only — for tests that never store
///   fragment bytes (control plane, signaling), where the store cannot make a difference.
/// - `backend_tests!(s3_sample: [a]; a, b, c)`: all on SQLite and Postgres, only the bracketed
///   sample on Postgres+S3 — for the slow matrices whose S3 path is the same read path every case
///   takes.
#[macro_export]
macro_rules! backend_tests {
    (@index $($name:ident),*) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if $crate::common::postgres_url().is_none() {
                        eprintln!("TEST_DATABASE_URL unset: Postgres variant not run");
                        return;
                    }
                    super::$name($crate::common::Backend::Postgres).await
                }
            )*
        }
    };
    (@s3 $($name:ident),*) => {
        mod postgres_s3 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if !$crate::common::s3_variant_enabled() {
                        return;
                    }
                    super::$name($crate::common::Backend::PostgresS3).await
                }
            )*
        }
    };
    (index_only: $($name:ident),* $(,)?) => {
        backend_tests!(@index $($name),*);
    };
    (s3_sample: [$($s3:ident),* $(,)?]; $($name:ident),* $(,)?) => {
        backend_tests!(@index $($name),*);
        backend_tests!(@s3 $($s3),*);
    };
    ($($name:ident),* $(,)?) => {
        backend_tests!(@index $($name),*);
        backend_tests!(@s3 $($name),*);
    };
}

/// Creates a fresh Postgres database for one test and returns (admin url, db name, db url).
pub async fn fresh_postgres_db() -> (String, String, String) {
    let admin = postgres_url().expect("TEST_DATABASE_URL");
    let name = format!("openkvs_t_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin).await.expect("connect to TEST_DATABASE_URL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create db");
    conn.close().await.ok();
    let base = match admin.rfind('/') {
        Some(i) if admin[..i].ends_with(|c: char| c != '/') => admin[..i].to_owned(),
        _ => admin.clone(),
    };
    let (base, query) = match admin.find('?') {
        Some(q) => (base, admin[q..].to_owned()),
        None => (base, String::new()),
    };
    (admin, name.clone(), format!("{base}/{name}{query}"))
}

/// Drops a database made by [`fresh_postgres_db`].
pub async fn drop_postgres_db(admin: &str, name: &str) {
    if let Ok(mut conn) = sqlx::PgConnection::connect(admin).await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
            .execute(&mut conn)
            .await;
        conn.close().await.ok();
    }
}

/// A running server.
pub struct TestServer {
    pub addr: SocketAddr,
    pub tls_addr: Option<SocketAddr>,
    pub endpoint: String,
    pub config: Config,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    pub dir: tempfile::TempDir,
    pg: Option<(String, String)>,
    /// Custom analyzers the server runs beside the built-in ones (kept across restarts).
    extra_workers: Vec<openkvs::workers::WorkerSpec>,
}

impl TestServer {
    /// Starts a server with the default configuration on a free port.
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, |_| {}).await
    }

    /// A test configuration (port 0, a fresh data dir and, for Postgres, a fresh database) after
    /// `tweak`, validated.
    async fn prepare(
        backend: Backend,
        tweak: impl FnOnce(&mut Config),
    ) -> (Config, tempfile::TempDir, Option<(String, String)>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        // Many servers run at once: the TURN relay on an ephemeral port, not 3478.
        config.turn.listen = Some("127.0.0.1:0".parse().unwrap());
        let mut pg = None;
        if backend.is_postgres() {
            let (admin, name, url) = fresh_postgres_db().await;
            config.database_url = Some(url);
            pg = Some((admin, name));
        }
        if backend == Backend::PostgresS3 {
            use_s3_store(&mut config).await;
        }
        tweak(&mut config);
        config.validate().expect("valid test config");
        (config, dir, pg)
    }

    /// Starts a server after letting `tweak` change the configuration.
    pub async fn start_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        let (config, dir, pg) = Self::prepare(backend, tweak).await;
        Self::start_config(config, dir, pg).await
    }

    /// As [`TestServer::start_with`], wrapping the fragment store (fault injection, see
    /// `openkvs::archive::FaultyStore`). A later [`TestServer::restart`] uses the plain store.
    pub async fn start_with_store(
        backend: Backend,
        tweak: impl FnOnce(&mut Config),
        wrap: impl FnOnce(Arc<dyn FragmentStore>) -> Arc<dyn FragmentStore>,
    ) -> Self {
        let (config, dir, pg) = Self::prepare(backend, tweak).await;
        let server = Server::bind_with(&config, Arc::new(SystemClock), wrap).await.expect("server binds");
        Self::run_bound(server, config, dir, pg)
    }

    /// As [`TestServer::start_with`], running `extra` analysis workers beside the built-in ones.
    pub async fn start_with_workers(
        backend: Backend,
        tweak: impl FnOnce(&mut Config),
        extra: Vec<openkvs::workers::WorkerSpec>,
    ) -> Self {
        let (config, dir, pg) = Self::prepare(backend, tweak).await;
        Self::start_full(config, dir, pg, extra).await
    }

    async fn start_config(config: Config, dir: tempfile::TempDir, pg: Option<(String, String)>) -> Self {
        Self::start_full(config, dir, pg, Vec::new()).await
    }

    async fn start_full(
        config: Config,
        dir: tempfile::TempDir,
        pg: Option<(String, String)>,
        extra: Vec<openkvs::workers::WorkerSpec>,
    ) -> Self {
        let server = Server::bind_with_workers(&config, Arc::new(SystemClock), |s| s, extra.clone())
            .await
            .expect("server binds");
        let mut me = Self::run_bound(server, config, dir, pg);
        me.extra_workers = extra;
        me
    }

    fn run_bound(
        server: Server,
        config: Config,
        dir: tempfile::TempDir,
        pg: Option<(String, String)>,
    ) -> Self {
        let addr = server.local_addr();
        let tls_addr = server.tls_addr();
        let scheme = if config.listen_is_tls() { "https" } else { "http" };
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async move {
            let _ = rx.await;
        }));
        Self {
            addr,
            tls_addr,
            endpoint: format!("{scheme}://{addr}"),
            config,
            shutdown: Some(tx),
            task: Some(task),
            dir,
            pg,
            extra_workers: Vec::new(),
        }
    }

    /// Stops the server (waiting for it) and drops its Postgres database.
    pub async fn stop(mut self) {
        self.halt().await;
        if let Some((admin, name)) = self.pg.take() {
            drop_postgres_db(&admin, &name).await;
        }
    }

    /// Stops the server but keeps data dir and database, returning what a restart needs.
    pub async fn halt(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }

    /// Starts the server again on the same data (new port).
    pub async fn restart(self) -> Self {
        self.restart_with(|_| {}).await
    }

    /// Starts the server again on the same data (new port), after letting `tweak` change the
    /// configuration (e.g. the keyring).
    pub async fn restart_with(mut self, tweak: impl FnOnce(&mut Config)) -> Self {
        self.halt().await;
        let mut config = self.config.clone();
        config.listen = "127.0.0.1:0".parse().unwrap();
        tweak(&mut config);
        config.validate().expect("valid test config");
        let pg = self.pg.take();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        let extra = std::mem::take(&mut self.extra_workers);
        Self::start_full(config, dir, pg, extra).await
    }

    /// A second handle on the server's fragment store (the local directory or its S3 prefix), to
    /// look at stored bytes directly.
    pub fn open_store(&self) -> Arc<dyn FragmentStore> {
        match self.config.store.kind {
            openkvs::archive::StoreKind::Local => Arc::new(
                openkvs::archive::LocalStore::open(
                    &self.dir.path().join("fragments"),
                    &self.config.effective_warm_dir(),
                    openkvs::archive::DEFAULT_SEGMENT_BYTES,
                )
                .expect("open the local store"),
            ),
            openkvs::archive::StoreKind::S3 => {
                Arc::new(openkvs::archive::S3Store::open(&self.config.store.s3).expect("open the S3 store"))
            }
        }
    }

    /// A control-plane client with the development key in `us-east-1`.
    pub fn kvs(&self) -> aws_sdk_kinesisvideo::Client {
        self.kvs_as("openkvs", "openkvs-secret", "us-east-1")
    }

    /// A control-plane client with the given credentials and region.
    pub fn kvs_as(&self, key: &str, secret: &str, region: &str) -> aws_sdk_kinesisvideo::Client {
        aws_sdk_kinesisvideo::Client::from_conf(self.kvs_config(key, secret, region).build())
    }

    /// A `kinesis-video-media` client (GetMedia) at this server with the development key.
    pub fn media(&self) -> aws_sdk_kinesisvideomedia::Client {
        let conf = aws_sdk_kinesisvideomedia::Config::builder()
            .http_client(openkvs::producer::control::sdk_http_client())
            .behavior_version(aws_sdk_kinesisvideomedia::config::BehaviorVersion::latest())
            .region(aws_sdk_kinesisvideomedia::config::Region::new("us-east-1"))
            .credentials_provider(Credentials::new("openkvs", "openkvs-secret", None, None, "test"))
            .endpoint_url(&self.endpoint)
            .retry_config(aws_sdk_kinesisvideomedia::config::retry::RetryConfig::disabled())
            .build();
        aws_sdk_kinesisvideomedia::Client::from_conf(conf)
    }

    /// A `kinesis-video-archived-media` client at this server with the development key.
    pub fn archived(&self) -> aws_sdk_kinesisvideoarchivedmedia::Client {
        archived_client(&self.endpoint)
    }

    /// The control-plane client configuration builder, for further tweaks.
    pub fn kvs_config(&self, key: &str, secret: &str, region: &str) -> aws_sdk_kinesisvideo::config::Builder {
        aws_sdk_kinesisvideo::Config::builder()
            .http_client(openkvs::producer::control::sdk_http_client())
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .credentials_provider(Credentials::new(key, secret, None, None, "test"))
            .endpoint_url(&self.endpoint)
            .retry_config(aws_sdk_kinesisvideo::config::retry::RetryConfig::disabled())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A control-plane client for a server that is not a [`TestServer`] (e.g. the real binary),
/// with the development key in `us-east-1` and retries off.
pub fn kvs_client(endpoint: &str) -> aws_sdk_kinesisvideo::Client {
    aws_sdk_kinesisvideo::Client::from_conf(
        aws_sdk_kinesisvideo::Config::builder()
            .http_client(openkvs::producer::control::sdk_http_client())
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("openkvs", "openkvs-secret", None, None, "test"))
            .endpoint_url(endpoint)
            .retry_config(aws_sdk_kinesisvideo::config::retry::RetryConfig::disabled())
            .build(),
    )
}

/// An archived-media client for `endpoint`, with the development key in `us-east-1` and retries
/// off.
pub fn archived_client(endpoint: &str) -> aws_sdk_kinesisvideoarchivedmedia::Client {
    use aws_sdk_kinesisvideoarchivedmedia::config as c;
    aws_sdk_kinesisvideoarchivedmedia::Client::from_conf(
        c::Config::builder()
            .http_client(openkvs::producer::control::sdk_http_client())
            .behavior_version(c::BehaviorVersion::latest())
            .region(c::Region::new("us-east-1"))
            .credentials_provider(Credentials::new("openkvs", "openkvs-secret", None, None, "test"))
            .endpoint_url(endpoint)
            .retry_config(c::retry::RetryConfig::disabled())
            .build(),
    )
}

/// Every fragment ListFragments lists for `stream`, all pages followed (1,000 a page).
pub async fn all_fragments(
    archived: &aws_sdk_kinesisvideoarchivedmedia::Client,
    stream: &str,
) -> Vec<aws_sdk_kinesisvideoarchivedmedia::types::Fragment> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = archived
            .list_fragments()
            .stream_name(stream)
            .max_results(1000)
            .set_next_token(token)
            .send()
            .await
            .expect("ListFragments");
        out.extend(page.fragments().iter().cloned());
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return out;
        }
    }
}

/// A parsed HTTP/1.1 response.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Signs a request with aws-sigv4 and returns the headers to add (`authorization`, `x-amz-date`).
#[allow(clippy::too_many_arguments)]
pub fn sigv4_headers(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    service: &str,
    region: &str,
    key: &str,
    secret: &str,
    time: SystemTime,
) -> Vec<(String, String)> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    use aws_sigv4::sign::v4;
    let identity = Credentials::new(key, secret, None, None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(method, url, headers.iter().copied(), SignableBody::Bytes(body))
        .expect("signable");
    let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
    instructions.headers().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

/// Sends one request over a fresh connection (plain TCP) and reads the whole response.
pub async fn raw_request(addr: SocketAddr, head_and_body: &[u8]) -> RawResponse {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    exchange(&mut tcp, head_and_body).await
}

/// Writes a request and reads the response until the server closes the connection.
pub async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(io: &mut S, head_and_body: &[u8]) -> RawResponse {
    io.write_all(head_and_body).await.expect("write");
    let mut buf = Vec::new();
    io.read_to_end(&mut buf).await.ok();
    parse_response(&buf)
}

/// Parses a complete HTTP/1.1 response (content-length or chunked).
pub fn parse_response(buf: &[u8]) -> RawResponse {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").expect("response head");
    let head = std::str::from_utf8(&buf[..end]).expect("utf8 head");
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let rest = &buf[end + 4..];
    let chunked =
        headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked { dechunk(rest) } else { rest.to_vec() };
    RawResponse { status, headers, body }
}

/// Decodes a chunked body.
pub fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(pos) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = std::str::from_utf8(&data[..pos]).unwrap_or("0");
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap_or(0);
        if size == 0 || data.len() < pos + 2 + size {
            break;
        }
        out.extend_from_slice(&data[pos + 2..pos + 2 + size]);
        data = &data[(pos + 4 + size).min(data.len())..];
    }
    out
}

/// A raw signed AWS JSON 1.1 request (`POST /` with `X-Amz-Target: target`), as boto3's and the
/// SDKs' `secretsmanager` clients send it.
pub fn signed_json11_post(
    addr: SocketAddr,
    target: &str,
    body: &str,
    service: &str,
    key: &str,
    secret: &str,
    time: SystemTime,
) -> Vec<u8> {
    let host = addr.to_string();
    let url = format!("http://{host}/");
    let base =
        [("host", host.as_str()), ("content-type", "application/x-amz-json-1.1"), ("x-amz-target", target)];
    let auth = sigv4_headers("POST", &url, &base, body.as_bytes(), service, "us-east-1", key, secret, time);
    let mut req = format!(
        "POST / HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/x-amz-json-1.1\r\nx-amz-target: {target}\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (k, v) in auth {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    req.into_bytes()
}

/// A signed JSON POST as bytes, signed with aws-sigv4 (service/region/key selectable).
pub fn signed_json_post(
    addr: SocketAddr,
    path: &str,
    body: &str,
    service: &str,
    key: &str,
    secret: &str,
    time: SystemTime,
) -> Vec<u8> {
    let host = addr.to_string();
    let url = format!("http://{host}{path}");
    let base = [("host", host.as_str()), ("content-type", "application/json")];
    let auth = sigv4_headers("POST", &url, &base, body.as_bytes(), service, "us-east-1", key, secret, time);
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (k, v) in auth {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    req.into_bytes()
}

/// The value of the unlabelled sample `name` (e.g. `openkvs_turn_allocations_total`) in the
/// server's `/metrics` scrape; 0 when absent.
#[allow(dead_code)]
pub async fn metric_value(addr: SocketAddr, name: &str) -> f64 {
    let req = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let text = String::from_utf8(raw_request(addr, req.as_bytes()).await.body).unwrap_or_default();
    text.lines()
        .filter_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .next()
        .unwrap_or(0.0)
}
