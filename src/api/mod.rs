//! The HTTP edge: the ONLY layer that knows axum, HTTP headers, JSON casing and AWS error codes.
//!
//! - [`aws`]: error table, operation enum, JSON extraction, request ids, SigV4 layer.
//! - [`streams`]: resolving StreamName/StreamARN inputs and shaping `StreamInfo`.
//! - [`channels`]: resolving ChannelName/ChannelARN inputs and shaping `ChannelInfo`.
//! - [`control`]: the `kinesisvideo` control plane, one file per operation.
//! - [`media`]: the `kinesis-video-media` data plane (PutMedia, GetMedia).
//! - [`archived`]: the `kinesis-video-archived-media` data plane (ListFragments, …, session URLs,
//!   GetClip).
//! - [`session_resources`]: the HLS/DASH session resources (`/hls/v1/…`, `/dash/v1/…`), authorized
//!   by their SessionToken instead of SigV4.
//! - [`signaling`]: `kinesis-video-signaling` (ICE servers, Alexa offers) and the signaling
//!   WebSocket (`GET /`, presigned).
//! - [`cors`]: CORS headers and preflights for browsers.
//! - [`webrtc`]: WHEP live view (`GetWHEPStreamingSessionURL`, `/whep/v1/…` resources).
//! - [`analysis`]: openkvs's own analysis API (analyzer events, worker status, pause/resume).
//! - [`metrics`]: `/metrics` (Prometheus), `/health`, `/ready`, and the layer that counts requests,
//!   latency and response bytes per operation.
//! - [`console`]: the web console (embedded page at `/`, sign-in sessions, and the session-cookie
//!   authorization the SigV4 layer accepts for the console's own calls).
//!
//! [`router`] assembles them with the middleware stack (outermost first): CORS → request context
//! (id, span, error log) → SigV4 authentication (operation paths only) → the handler. Lower layers receive domain values,
//! never HTTP types.

pub mod analysis;
pub mod archived;
pub mod aws;
pub mod channels;
pub mod console;
pub mod control;
pub mod cors;
pub mod media;
pub mod metrics;
pub mod session_resources;
pub mod signaling;
pub mod streams;
pub mod webrtc;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};

use crate::auth::KeyStore;
use crate::auth::sigv4::Verifier;
use crate::clock::Clock;
use crate::index::Index;
use crate::ingest::Ingest;
use crate::playback::Playback;

/// Settings the handlers need from the configuration.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Account id used in ARNs.
    pub account_id: String,
    /// Configured public base URL (GetDataEndpoint, GetSignalingChannelEndpoint), if any.
    pub public_url: Option<String>,
    /// The HTTPS listener (its real bound address, known after binding), when TLS is configured:
    /// GetSignalingChannelEndpoint points WebRTC clients at it (they require `wss://`).
    pub tls_listener: Option<ListenerInfo>,
}

/// Shared state of every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The metadata index.
    pub index: Arc<dyn Index>,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Access keys and policies.
    pub keys: Arc<KeyStore>,
    /// The SigV4 verifier.
    pub verifier: Arc<Verifier>,
    /// Settings from the configuration.
    pub settings: Arc<ApiSettings>,
    /// PutMedia ingest (sessions, persister, fragment store).
    pub ingest: Arc<Ingest>,
    /// GetMedia and friends.
    pub playback: Arc<Playback>,
    /// WebRTC signaling connections.
    pub signaling: Arc<crate::signaling::SignalingHub>,
    /// Analysis workers.
    pub workers: Arc<crate::workers::Workers>,
    /// The web console's sign-in sessions.
    pub console_sessions: Arc<crate::auth::console_session::ConsoleSessions>,
    /// Prometheus metrics.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The WebRTC media endpoint (WHEP, storage sessions); `None` when disabled.
    pub webrtc: Option<Arc<crate::webrtc::WebRtc>>,
}

/// Which listener a request arrived on; inserted into every request by the server's accept loop.
#[derive(Debug, Clone)]
pub struct ListenerInfo {
    /// `http` or `https`.
    pub scheme: &'static str,
    /// The listener's bound address.
    pub local_addr: SocketAddr,
}

/// The client's address (the TCP peer) of the connection a request arrived on; inserted into
/// every request by the server's accept loop, for logs.
#[derive(Debug, Clone, Copy)]
pub struct RemoteAddr(pub SocketAddr);

impl ListenerInfo {
    /// The base URL of this listener as a client should use it: the listener's own IP, or (for a
    /// wildcard address) the host the client sent, with the listener's port unless it is the
    /// scheme's default (see [`without_default_port`]).
    pub fn base_url(&self, host_header: Option<&str>) -> String {
        let port = self.local_addr.port();
        let ip = self.local_addr.ip();
        let host = if ip.is_unspecified() {
            match host_header.map(strip_port).filter(|h| !h.is_empty()) {
                Some(h) => h.to_owned(),
                None => "127.0.0.1".to_owned(),
            }
        } else if ip.is_ipv6() {
            format!("[{ip}]")
        } else {
            ip.to_string()
        };
        without_default_port(&format!("{}://{}:{}", self.scheme, host, port))
    }
}

/// `scheme://host[:port]` without `:port` when it is the scheme's default (443 for `https`/`wss`,
/// 80 for `http`/`ws`), the way AWS writes every endpoint it hands out. Clients rely on that: the
/// KVS WebRTC C SDK ends the host name at the first `:` after the scheme and always connects to
/// 443, so `https://h:443` fails there before any request. Other ports and URLs are unchanged.
pub fn without_default_port(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let default = match scheme {
        "https" | "wss" => "443",
        "http" | "ws" => "80",
        _ => return url.to_owned(),
    };
    match rest.rsplit_once(':') {
        Some((host, port)) if port == default && (!host.contains(':') || host.ends_with(']')) => {
            format!("{scheme}://{host}")
        }
        _ => url.to_owned(),
    }
}

/// The base URL clients should use for data endpoints and session URLs: the configured
/// `public_url`, else the listener the request arrived on (with the host the client used for a
/// wildcard listener), without the scheme's default port. Shared by GetDataEndpoint and the
/// HLS/DASH session URLs.
pub fn public_base_url(
    settings: &ApiSettings,
    listener: &ListenerInfo,
    headers: &axum::http::HeaderMap,
) -> String {
    let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok());
    match &settings.public_url {
        Some(u) => without_default_port(u.trim_end_matches('/')),
        None => listener.base_url(host),
    }
}

/// The host part of a `Host` header value (`h`, `h:port`, `[v6]`, `[v6]:port`).
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        match host.find(']') {
            Some(end) => &host[..=end],
            None => host,
        }
    } else {
        host.split(':').next().unwrap_or(host)
    }
}

/// The complete application router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(control::router())
        .merge(media::router())
        .merge(archived::router())
        .merge(session_resources::router())
        .merge(signaling::router())
        .merge(analysis::router())
        .merge(webrtc::router())
        .merge(console::router())
        .merge(metrics::routes())
        .route("/", axum::routing::get(serve_root))
        .fallback(aws::middleware::unknown_operation)
        .layer(from_fn_with_state(state.clone(), aws::sigv4_layer::authenticate))
        .layer(from_fn_with_state(state.clone(), metrics::record_request))
        .layer(from_fn(aws::middleware::request_context))
        .layer(from_fn(cors::cors))
        .with_state(state)
}

/// `GET /` is shared: with `X-Amz-ChannelARN` in the query it is the signaling WebSocket (as the
/// KVS WebRTC SDKs open it), otherwise the web console's page.
async fn serve_root(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
) -> axum::response::Response {
    let is_signaling = req.uri().query().is_some_and(|q| {
        q.split('&')
            .any(|pair| pair.split('=').next().is_some_and(|k| k.eq_ignore_ascii_case("X-Amz-ChannelARN")))
    });
    if is_signaling {
        signaling::websocket::handle(axum::extract::State(state), req).await
    } else {
        let headers = req.headers().clone();
        console::assets::index(axum::extract::State(state), headers).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_adds_the_port_back() {
        let any = ListenerInfo { scheme: "https", local_addr: "0.0.0.0:8443".parse().unwrap() };
        assert_eq!(any.base_url(Some("127.0.0.1")), "https://127.0.0.1:8443");
        assert_eq!(any.base_url(Some("cam.example:9")), "https://cam.example:8443");
        assert_eq!(any.base_url(None), "https://127.0.0.1:8443");
        let lo = ListenerInfo { scheme: "http", local_addr: "127.0.0.1:4567".parse().unwrap() };
        assert_eq!(lo.base_url(Some("localhost")), "http://127.0.0.1:4567");
        let v6 = ListenerInfo { scheme: "http", local_addr: "[::1]:1".parse().unwrap() };
        assert_eq!(v6.base_url(None), "http://[::1]:1");
    }

    #[test]
    fn default_ports_are_left_out() {
        let tls = ListenerInfo { scheme: "https", local_addr: "0.0.0.0:443".parse().unwrap() };
        assert_eq!(tls.base_url(Some("kvs.example:443")), "https://kvs.example");
        let lo = ListenerInfo { scheme: "https", local_addr: "127.0.0.1:443".parse().unwrap() };
        assert_eq!(lo.base_url(None), "https://127.0.0.1");
        let plain = ListenerInfo { scheme: "http", local_addr: "[::1]:80".parse().unwrap() };
        assert_eq!(plain.base_url(None), "http://[::1]");
        let odd = ListenerInfo { scheme: "http", local_addr: "127.0.0.1:443".parse().unwrap() };
        assert_eq!(odd.base_url(None), "http://127.0.0.1:443");
        for (url, want) in [
            ("https://h:443", "https://h"),
            ("wss://h:443", "wss://h"),
            ("ws://h:80", "ws://h"),
            ("http://10.0.0.5:80", "http://10.0.0.5"),
            ("https://h:8443", "https://h:8443"),
            ("https://h:4430", "https://h:4430"),
            ("http://h:443", "http://h:443"),
            ("https://[::1]:443", "https://[::1]"),
            ("https://h", "https://h"),
            ("https://[::1]", "https://[::1]"),
        ] {
            assert_eq!(without_default_port(url), want, "{url}");
        }
    }
}
