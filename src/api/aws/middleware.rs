//! Request-scoped plumbing: a request id on every response (`x-amzn-RequestId`), one tracing span
//! per request naming the operation, and the single place where a failed request is logged (with the
//! internal detail the error carried in [`ErrorDetail`]). Also the fallback for unknown paths.

use std::time::Instant;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use super::{AwsError, AwsErrorCode, ErrorDetail, Operation};

/// The request id of the current request (a UUID), available to handlers as an extension.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Assigns the request id, opens the span, logs the outcome once.
pub async fn request_context(mut req: Request, next: Next) -> Response {
    let id = uuid::Uuid::new_v4().to_string();
    let op = Operation::from_request(req.method(), req.uri().path(), req.headers())
        .map(Operation::name)
        .unwrap_or("-");
    let span =
        tracing::info_span!("request", id = %id, op = op, method = %req.method(), path = %req.uri().path());
    req.extensions_mut().insert(RequestId(id.clone()));
    let started = Instant::now();
    let mut resp = next.run(req).instrument(span.clone()).await;
    let _enter = span.enter();
    let status = resp.status();
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Some(ErrorDetail(detail)) = resp.extensions_mut().remove::<ErrorDetail>() {
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), elapsed_ms, "{detail}");
        } else {
            tracing::info!(status = status.as_u16(), elapsed_ms, "{detail}");
        }
    } else {
        tracing::debug!(status = status.as_u16(), elapsed_ms, "done");
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-amzn-RequestId", v);
    }
    resp
}

/// The answer for a path no route serves.
pub async fn unknown_operation(req: Request) -> Response {
    AwsError::new(AwsErrorCode::UnknownOperationException, "The requested operation is not supported.")
        .with_detail(format!("{} {}", req.method(), req.uri().path()))
        .into_response()
}
