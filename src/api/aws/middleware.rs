//! Request-scoped plumbing: the request's [`Route`] (and, for an operation, its
//! [`Operation`](crate::api::Operation)), resolved here once and inserted as request extensions for
//! authentication, metrics, logs and handlers; a request id on every response (`x-amzn-RequestId`); one tracing span per request
//! naming the operation; and the single place where a failed request is logged (with the internal
//! detail the error carried in [`ErrorDetail`]). Every request body is wrapped in
//! [`DrainOnDrop`], so a body an early refusal leaves unread is drained before the connection closes. A path of no known kind is refused here, before
//! authentication; [`unknown_operation`] is also the router's fallback.

use std::time::Instant;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use super::unread_body::DrainOnDrop;
use super::{AwsError, AwsErrorCode, ErrorDetail};
use crate::api::route::Route;

/// The request id of the current request (a UUID), available to handlers as an extension.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Resolves the route, assigns the request id, opens the span, logs the outcome once.
pub async fn request_context(req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let mut req = Request::from_parts(parts, DrainOnDrop::wrap(body));
    let id = uuid::Uuid::new_v4().to_string();
    let target = req.headers().get("x-amz-target").and_then(|v| v.to_str().ok());
    let post = req.method() == axum::http::Method::POST;
    let route = Route::resolve(post, req.uri().path(), req.uri().query(), target);
    let op = route.map(Route::name).unwrap_or("-");
    let span =
        tracing::info_span!("request", id = %id, op = op, method = %req.method(), path = %req.uri().path());
    req.extensions_mut().insert(RequestId(id.clone()));
    if let Some(route) = route {
        req.extensions_mut().insert(route);
        if let Route::Operation(op) = route {
            req.extensions_mut().insert(op);
        }
    }
    let started = Instant::now();
    let mut resp = match route {
        Some(_) => next.run(req).instrument(span.clone()).await,
        None => unknown_operation(req).await,
    };
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
