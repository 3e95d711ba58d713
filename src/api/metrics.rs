//! Operations endpoints and request accounting: `GET /metrics` (Prometheus text format),
//! `GET /health` (the process answers) and `GET /ready` (the index answers and the store takes a
//! write; 503 otherwise), none of them signed; plus [`record_request`], the layer that counts every
//! AWS operation's requests, error statuses, latency to the response head and response body bytes
//! (HLS/DASH session resources under their KVS names, e.g. `GetHLSMediaPlaylist`, and their
//! sessions as active readers), into [`crate::metrics::Metrics`].
//!
//! This file owns only the HTTP side: what is counted and how it is rendered live in
//! `crate::metrics`, which knows no HTTP. Scrapes read worker lag with a time bound, so a slow index
//! makes the lag series disappear from one scrape instead of hanging it.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use http_body::{Frame, SizeHint};

use super::AppState;
use super::aws::Operation;
use crate::metrics::{CONTENT_TYPE, OperationMetrics, ReaderProtocol, ScrapeInputs, UploadTotals, WorkerLag};

/// How long a scrape waits for the workers' lag (index queries) before leaving it out.
pub const WORKER_LAG_TIMEOUT: Duration = Duration::from_secs(2);
/// How long `/ready` waits for each check.
pub const READY_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The three endpoints, to merge into the main router.
pub fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics)).route("/health", get(health)).route("/ready", get(ready))
}

/// The router of the separate `[metrics] listen` listener: only the three endpoints.
pub fn router(state: AppState) -> Router {
    routes().with_state(state)
}

async fn metrics(State(state): State<AppState>) -> Response {
    let workers = match tokio::time::timeout(WORKER_LAG_TIMEOUT, state.workers.status()).await {
        Ok(Ok(list)) => Some(
            list.into_iter()
                .map(|w| WorkerLag {
                    running: w.running,
                    processed: w.processed,
                    failed: w.failed,
                    panics: w.panics,
                    events: w.events,
                    max_fragments_behind: w.lag.iter().map(|l| l.fragments_behind).max().unwrap_or(0),
                    max_ms_behind: w.lag.iter().map(|l| l.ms_behind).max().unwrap_or(0),
                    uploads: w.deliveries.map(|list| {
                        list.iter().fold(UploadTotals::default(), |t, d| UploadTotals {
                            pending: t.pending + d.pending,
                            delivered: t.delivered + d.delivered,
                            retries: t.retries + d.retries,
                            failed: t.failed + d.failed,
                            dropped: t.dropped + d.dropped,
                        })
                    }),
                    name: w.name,
                })
                .collect(),
        ),
        Ok(Err(e)) => {
            tracing::warn!("metrics: worker status unavailable: {e}");
            None
        }
        Err(_) => {
            tracing::warn!("metrics: worker status took longer than {WORKER_LAG_TIMEOUT:?}");
            None
        }
    };
    let inputs = ScrapeInputs { store_bytes: state.archive.bytes_stored(), workers };
    let text = state.metrics.render(&inputs);
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response()
}

async fn health() -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "ok\n").into_response()
}

async fn ready(State(state): State<AppState>) -> Response {
    let index = match tokio::time::timeout(READY_CHECK_TIMEOUT, state.archive.ping()).await {
        Ok(Ok(())) => "ok".to_owned(),
        Ok(Err(e)) => format!("unreachable: {e}"),
        Err(_) => format!("no answer within {READY_CHECK_TIMEOUT:?}"),
    };
    let store = match tokio::time::timeout(READY_CHECK_TIMEOUT, state.archive.check_store_writable()).await {
        Ok(Ok(())) => "ok".to_owned(),
        Ok(Err(e)) => format!("not writable: {e}"),
        Err(_) => format!("no answer within {READY_CHECK_TIMEOUT:?}"),
    };
    let status =
        if index == "ok" && store == "ok" { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let cluster = state.cluster.as_ref().map(|c| ClusterReadiness {
        node_id: c.node_id().to_owned(),
        members: c.members().into_iter().map(|m| m.node_id).collect(),
    });
    (status, axum::Json(Readiness { index, store, cluster })).into_response()
}

/// The `/ready` body: each dependency's state, `ok` or why not.
#[derive(serde::Serialize)]
struct Readiness {
    index: String,
    store: String,
    /// Cluster mode only: this node and the live members it knows of.
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<ClusterReadiness>,
}

/// `/ready`'s `cluster`: this node's id and the live members' ids, as of its last heartbeat.
#[derive(serde::Serialize)]
struct ClusterReadiness {
    node_id: String,
    members: Vec<String>,
}

/// The metrics name of a request: its AWS operation (the request extension the request context
/// inserts), or for an HLS/DASH session resource the KVS operation name of that resource
/// (`GetHLSMasterPlaylist`, `GetHLSMediaPlaylist`, `GetMP4InitFragment`, `GetMP4MediaFragment`,
/// `GetTSFragment`, `GetDASHManifest`) and its protocol; `None` for anything else (console assets,
/// the metrics endpoints themselves, unknown paths).
fn operation_name(req: &Request) -> Option<(&'static str, Option<ReaderProtocol>)> {
    if let Some(op) = req.extensions().get::<Operation>() {
        return Some((op.name(), None));
    }
    session_resource_name(req.uri().path()).map(|(name, protocol)| (name, Some(protocol)))
}

/// The KVS operation name and protocol of an HLS/DASH session resource path.
fn session_resource_name(path: &str) -> Option<(&'static str, ReaderProtocol)> {
    let (protocol, resource) = if let Some(r) = path.strip_prefix("/hls/v1/") {
        (ReaderProtocol::Hls, r)
    } else if let Some(r) = path.strip_prefix("/dash/v1/") {
        (ReaderProtocol::Dash, r)
    } else {
        return None;
    };
    let name = match (protocol, resource) {
        (ReaderProtocol::Hls, "getHLSMasterPlaylist.m3u8") => "GetHLSMasterPlaylist",
        (ReaderProtocol::Hls, "getHLSMediaPlaylist.m3u8") => "GetHLSMediaPlaylist",
        (ReaderProtocol::Hls, "getTSFragment.ts") => "GetTSFragment",
        (ReaderProtocol::Dash, "getDASHManifest.mpd") => "GetDASHManifest",
        (_, "getMP4InitFragment.mp4") => "GetMP4InitFragment",
        (_, "getMP4MediaFragment.mp4") => "GetMP4MediaFragment",
        _ => return None,
    };
    Some((name, protocol))
}

/// The `SessionToken` query parameter (left encoded: it only identifies the session).
fn session_token(query: Option<&str>) -> Option<&str> {
    query?.split('&').find_map(|p| p.strip_prefix("SessionToken=")).filter(|t| !t.is_empty())
}

/// Counts the request under its operation: requests, 4xx/5xx, latency to the response head, and
/// the response body's bytes as they are sent; an HLS/DASH request marks its session active.
pub async fn record_request(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some((name, session)) = operation_name(&req) else {
        return next.run(req).await;
    };
    if let (Some(protocol), Some(token)) = (session, session_token(req.uri().query())) {
        state.metrics.session_request(protocol, token);
    }
    let op = state.metrics.operation(name);
    let started = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status();
    op.answered(status.as_u16(), started.elapsed());
    if name == "PutMedia" && (status.is_client_error() || status.is_server_error()) {
        state.metrics.put_media_refused();
    }
    let (parts, body) = resp.into_parts();
    Response::from_parts(parts, Body::new(CountingBody { inner: body, op }))
}

/// A response body that adds the bytes of every data frame to its operation's counter, keeping
/// the inner body's size hint (so Content-Length is unchanged).
struct CountingBody {
    inner: Body,
    op: Arc<OperationMetrics>,
}

impl http_body::Body for CountingBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            this.op.bytes_sent(data.len() as u64);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_resources_carry_their_kvs_operation_names() {
        let mut req = Request::new(axum::body::Body::empty());
        req.extensions_mut().insert(Operation::ListFragments);
        assert_eq!(operation_name(&req), Some(("ListFragments", None)));
        let hls = ReaderProtocol::Hls;
        assert_eq!(
            session_resource_name("/hls/v1/getHLSMasterPlaylist.m3u8"),
            Some(("GetHLSMasterPlaylist", hls))
        );
        assert_eq!(
            session_resource_name("/hls/v1/getHLSMediaPlaylist.m3u8"),
            Some(("GetHLSMediaPlaylist", hls))
        );
        assert_eq!(
            session_resource_name("/hls/v1/getMP4InitFragment.mp4"),
            Some(("GetMP4InitFragment", hls))
        );
        assert_eq!(
            session_resource_name("/hls/v1/getMP4MediaFragment.mp4"),
            Some(("GetMP4MediaFragment", hls))
        );
        assert_eq!(session_resource_name("/hls/v1/getTSFragment.ts"), Some(("GetTSFragment", hls)));
        let dash = ReaderProtocol::Dash;
        assert_eq!(session_resource_name("/dash/v1/getDASHManifest.mpd"), Some(("GetDASHManifest", dash)));
        assert_eq!(
            session_resource_name("/dash/v1/getMP4MediaFragment.mp4"),
            Some(("GetMP4MediaFragment", dash))
        );
        assert_eq!(session_resource_name("/dash/v1/getTSFragment.ts"), None);
        assert_eq!(session_resource_name("/hls/v1/nope"), None);
        assert_eq!(session_resource_name("/metrics"), None);
        assert_eq!(session_token(Some("TrackNumber=1&SessionToken=abc~")), Some("abc~"));
        assert_eq!(session_token(Some("SessionToken=")), None);
        assert_eq!(session_token(None), None);
    }
}
