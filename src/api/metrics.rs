//! Operations endpoints and request accounting: `GET /metrics` (Prometheus text format),
//! `GET /health` (the process answers) and `GET /ready` (the index answers and the store takes a
//! write; 503 otherwise), none of them signed; plus [`record_request`], the layer that counts every
//! AWS operation's requests, error statuses, latency to the response head and response body bytes
//! (and HLS/DASH session resources as `HLS`/`DASH`), into [`crate::metrics::Metrics`].
//!
//! This file owns only the HTTP side: what is counted and how it is rendered live in
//! `crate::metrics`, which knows no HTTP. Scrapes read worker lag with a time bound, so a slow index
//! makes the lag series disappear from one scrape instead of hanging it.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
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
use crate::metrics::{OperationMetrics, ScrapeInputs, WorkerLag};

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
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
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
    (status, axum::Json(serde_json::json!({ "index": index, "store": store }))).into_response()
}

/// The metrics name of a request: its AWS operation (the request extension the request context
/// inserts), `HLS`/`DASH` for session resources, `None` for anything else (console assets, the
/// metrics endpoints themselves, unknown paths).
fn operation_name(req: &Request) -> Option<&'static str> {
    if let Some(op) = req.extensions().get::<Operation>() {
        return Some(op.name());
    }
    let path = req.uri().path();
    if path.starts_with("/hls/") {
        Some("HLS")
    } else if path.starts_with("/dash/") {
        Some("DASH")
    } else {
        None
    }
}

/// Counts the request under its operation: requests, 4xx/5xx, latency to the response head, and
/// the response body's bytes as they are sent.
pub async fn record_request(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(name) = operation_name(&req) else {
        return next.run(req).await;
    };
    let op = state.metrics.operation(name);
    let started = Instant::now();
    let resp = next.run(req).await;
    op.latency.observe(started.elapsed());
    op.requests.fetch_add(1, Ordering::Relaxed);
    let status = resp.status();
    if status.is_client_error() {
        op.client_errors.fetch_add(1, Ordering::Relaxed);
    } else if status.is_server_error() {
        op.server_errors.fetch_add(1, Ordering::Relaxed);
    }
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
            this.op.bytes_out.fetch_add(data.len() as u64, Ordering::Relaxed);
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
