//! Outbound connections: TCP, plus TLS (rustls, ring provider) for `https` URLs, verified against
//! the system trust store (`rustls-native-certs`, which also honours `SSL_CERT_FILE` /
//! `SSL_CERT_DIR`). ALPN offers only `http/1.1`. Used under a PutMedia request and GetMedia/HLS
//! readers of the producer client, and under the server's webhook deliveries.
//!
//! Owns sockets and certificates; knows nothing of HTTP beyond the URL it connects to.

use std::sync::{Arc, OnceLock};

use hyper::Uri;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// A byte stream to an HTTP server, plain or TLS.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// Connecting failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL cannot be used.
    #[error("unusable endpoint URL {0}")]
    Url(String),
    /// TCP connect failed.
    #[error("cannot connect to {addr}: {source}")]
    Tcp {
        /// host:port.
        addr: String,
        /// Cause.
        source: std::io::Error,
    },
    /// No usable root certificates.
    #[error("no root certificates for https: {0}")]
    Roots(String),
    /// TLS handshake failed.
    #[error("TLS handshake with {host} failed: {source}")]
    Tls {
        /// Server name.
        host: String,
        /// Cause.
        source: std::io::Error,
    },
}

/// Opens a connection to the host and port of `uri` (`http` or `https`).
pub async fn connect(uri: &Uri) -> Result<Box<dyn Io>, ConnectError> {
    let tls = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(ConnectError::Url(uri.to_string())),
    };
    let host = uri.host().ok_or_else(|| ConnectError::Url(uri.to_string()))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let tcp = TcpStream::connect((host, port))
        .await
        .map_err(|source| ConnectError::Tcp { addr: format!("{host}:{port}"), source })?;
    let _ = tcp.set_nodelay(true);
    if !tls {
        return Ok(Box::new(tcp));
    }
    let config = client_config()?;
    let name = ServerName::try_from(host.to_owned()).map_err(|_| ConnectError::Url(uri.to_string()))?;
    let stream = TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|source| ConnectError::Tls { host: host.to_owned(), source })?;
    Ok(Box::new(stream))
}

/// The shared rustls client configuration (roots loaded once per process).
fn client_config() -> Result<Arc<rustls::ClientConfig>, ConnectError> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let loaded = rustls_native_certs::load_native_certs();
            let mut roots = rustls::RootCertStore::empty();
            let (added, _ignored) = roots.add_parsable_certificates(loaded.certs);
            if added == 0 {
                let why = loaded.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; ");
                return Err(if why.is_empty() { "the system trust store is empty".to_owned() } else { why });
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(roots)
                .with_no_client_auth();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Ok(Arc::new(config))
        })
        .clone()
        .map_err(ConnectError::Roots)
}

/// Why an outbound HTTP request failed.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// No connection.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The exchange failed (HTTP error, closed connection).
    #[error("request to {url} failed: {message}")]
    Exchange {
        /// The URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// No answer in time.
    #[error("request to {0} timed out")]
    Timeout(String),
}

/// POSTs `body` to `url` (http or https) with `headers` on a new connection and returns the
/// response status. The response body is read and discarded (bounded by `timeout` as a whole).
pub async fn post(
    url: &str,
    content_type: &str,
    headers: &[(&str, String)],
    body: bytes::Bytes,
    timeout: std::time::Duration,
) -> Result<u16, RequestError> {
    use http_body_util::BodyExt;
    let exchange = |message: String| RequestError::Exchange { url: url.to_owned(), message };
    let run = async {
        let uri: Uri = url.parse().map_err(|_| ConnectError::Url(url.to_owned()))?;
        let io = connect(&uri).await?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
            .await
            .map_err(|e| exchange(e.to_string()))?;
        tokio::spawn(conn);
        let authority = uri.authority().map(|a| a.as_str().to_owned()).unwrap_or_default();
        let path = uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "/".to_owned());
        let mut req = hyper::Request::post(path)
            .header(hyper::header::HOST, authority)
            .header(hyper::header::CONTENT_TYPE, content_type)
            .header(hyper::header::USER_AGENT, concat!("openkvs/", env!("CARGO_PKG_VERSION")));
        for (name, value) in headers {
            req = req.header(*name, value.as_str());
        }
        let req = req.body(http_body_util::Full::new(body)).map_err(|e| exchange(e.to_string()))?;
        let resp = sender.send_request(req).await.map_err(|e| exchange(e.to_string()))?;
        let status = resp.status().as_u16();
        let _ = resp.into_body().collect().await;
        Ok(status)
    };
    tokio::time::timeout(timeout, run).await.map_err(|_| RequestError::Timeout(url.to_owned()))?
}
