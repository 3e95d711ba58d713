//! The WHEP resources (IETF WHEP, RFC 9725): `POST /whep/v1/play?SessionToken=…` with an SDP
//! offer (`application/sdp`) answers `201 Created` with the SDP answer and a `Location` naming the
//! session resource; `PATCH` on that resource adds trickled ICE candidates
//! (`application/trickle-ice-sdpfrag`, `204`); `DELETE` ends the session (`200`).
//!
//! The POST is authorized by the token (`?SessionToken=`, or `Authorization: Bearer <token>` as
//! generic WHEP players send it); the session resource by its random id. Errors are AWS-shaped
//! (`x-amzn-ErrorType`), with WHEP's statuses where it names one (400 bad offer, 401 bad token,
//! 404 unknown session, 503 too many sessions). Owns only HTTP framing; `crate::webrtc` does the
//! rest.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{patch, post};
use serde::Deserialize;

use crate::api::AppState;
use crate::api::aws::AwsError;
use crate::webrtc::WebRtcError;
use crate::webrtc::whep::MAX_OFFER_BYTES;

/// Where viewers POST their offers.
pub const PLAY_PATH: &str = "/whep/v1/play";

/// The WHEP resource routes (a [`Route::SessionResource`](crate::api::route::Route) each).
pub fn router() -> Router<AppState> {
    Router::new()
        .route(PLAY_PATH, post(create))
        .route("/whep/v1/sessions/{id}", patch(trickle).delete(delete))
}

/// Query parameters of the WHEP endpoint.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PlayQuery {
    session_token: Option<String>,
}

fn content_type_is(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(expected))
}

fn body_text(body: &Bytes) -> Result<&str, AwsError> {
    if body.len() > MAX_OFFER_BYTES {
        return Err(WebRtcError::BadOffer("the body is too large".into()).into());
    }
    std::str::from_utf8(body).map_err(|_| WebRtcError::BadOffer("the body is not UTF-8".into()).into())
}

/// `POST /whep/v1/play`: offer in, answer out.
pub async fn create(
    State(state): State<AppState>,
    Query(q): Query<PlayQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AwsError> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let token = q
        .session_token
        .as_deref()
        .or(bearer)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| AwsError::invalid_argument("The SessionToken parameter is required."))?;
    let webrtc = state.webrtc.as_ref().ok_or(WebRtcError::Unavailable)?;
    let claims = webrtc.open_whep_token(token, state.clock.now_millis())?;
    if !content_type_is(&headers, "application/sdp") {
        return Err(AwsError::invalid_argument("The offer must be sent as Content-Type: application/sdp."));
    }
    let (id, answer) = webrtc.start_viewer(&claims, body_text(&body)?).await?;
    tracing::debug!(stream = %claims.stream_name, session = %id, "WHEP session created");
    let mut resp = Response::new(Body::from(answer));
    *resp.status_mut() = StatusCode::CREATED;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/sdp"));
    if let Ok(v) = HeaderValue::from_str(&format!("/whep/v1/sessions/{id}")) {
        h.insert(header::LOCATION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// Session ids are 32 lowercase hex digits (a simple-form UUID v4).
fn session_id(id: &str) -> Result<&str, AwsError> {
    if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(id)
    } else {
        Err(WebRtcError::SessionNotFound.into())
    }
}

/// `PATCH /whep/v1/sessions/{id}`: trickled ICE candidates.
pub async fn trickle(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, AwsError> {
    let id = session_id(&id)?;
    if !content_type_is(&headers, "application/trickle-ice-sdpfrag") {
        return Err(AwsError::invalid_argument(
            "Candidates must be sent as Content-Type: application/trickle-ice-sdpfrag.",
        ));
    }
    let webrtc = state.webrtc.as_ref().ok_or(WebRtcError::Unavailable)?;
    webrtc.trickle(id, body_text(&body)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /whep/v1/sessions/{id}`: ends the session.
pub async fn delete(State(state): State<AppState>, Path(id): Path<String>) -> Result<StatusCode, AwsError> {
    let id = session_id(&id)?;
    let webrtc = state.webrtc.as_ref().ok_or(WebRtcError::Unavailable)?;
    webrtc.close_session(id).await?;
    Ok(StatusCode::OK)
}
