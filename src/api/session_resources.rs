//! The HLS (`/hls/v1/…`) and DASH (`/dash/v1/…`) session resources: GET/HEAD requests
//! authorized only by their `SessionToken` (no SigV4), answered with playlists, manifests and
//! segments from the playback layer.
//!
//! Owns the resource paths, their query parameters, content types and caching headers: segments
//! never change (`immutable`), ON_DEMAND playlists are stable for the session, LIVE and
//! LIVE_REPLAY playlists are re-read by players every second or so (`no-cache`). A forged or
//! expired token gets the AWS error (4xx JSON with `x-amzn-ErrorType`) and nothing else. CORS is
//! added by `api::cors`.

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use bytes::Bytes;
use serde::Deserialize;

use super::AppState;
use super::aws::AwsError;
use crate::model::FragmentNumber;
use crate::playback::session::{PlaybackMode, SessionClaims, SessionKind};

/// Query parameters of every session resource (KVS casing).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceQuery {
    session_token: Option<String>,
    track_number: Option<String>,
    sequence_number: Option<String>,
    fragment_number: Option<String>,
    /// DASH `$Time$` addressing: the fragment's producer timestamp in ms.
    fragment_timestamp: Option<String>,
}

const M3U8: &str = "application/vnd.apple.mpegurl";
const MP4: &str = "video/mp4";
const TS: &str = "video/MP2T";
const MPD: &str = "application/dash+xml";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The session resource routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/hls/v1/getHLSMasterPlaylist.m3u8", get(hls_master))
        .route("/hls/v1/getHLSMediaPlaylist.m3u8", get(hls_media))
        .route("/hls/v1/getMP4InitFragment.mp4", get(hls_init))
        .route("/hls/v1/getMP4MediaFragment.mp4", get(hls_fragment))
        .route("/hls/v1/getTSFragment.ts", get(hls_ts))
        .route("/dash/v1/getDASHManifest.mpd", get(dash_manifest))
        .route("/dash/v1/getMP4InitFragment.mp4", get(dash_init))
        .route("/dash/v1/getMP4MediaFragment.mp4", get(dash_fragment))
}

fn open(state: &AppState, q: &ResourceQuery, kind: SessionKind) -> Result<(SessionClaims, String), AwsError> {
    let token = q
        .session_token
        .as_deref()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| AwsError::invalid_argument("The SessionToken parameter is required."))?;
    Ok((state.playback.open_session(token, kind)?, token.to_owned()))
}

fn track(q: &ResourceQuery) -> Result<u64, AwsError> {
    match q.track_number.as_deref() {
        None => Ok(1),
        Some(t) => t
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=3).contains(n))
            .ok_or_else(|| AwsError::invalid_argument("TrackNumber must be 1, 2 or 3.")),
    }
}

fn fragment_number(q: &ResourceQuery) -> Result<FragmentNumber, AwsError> {
    q.fragment_number
        .as_deref()
        .and_then(FragmentNumber::parse)
        .ok_or_else(|| AwsError::invalid_argument("FragmentNumber is missing or not a fragment number."))
}

fn respond(body: impl Into<Bytes>, content_type: &'static str, cache: &str) -> Response {
    let mut resp = Response::new(Body::from(body.into()));
    *resp.status_mut() = StatusCode::OK;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(cache) {
        h.insert(header::CACHE_CONTROL, v);
    }
    resp
}

/// Caching of a playlist or manifest: stable for ON_DEMAND sessions, re-read live.
fn playlist_cache(c: &SessionClaims) -> String {
    match c.mode {
        PlaybackMode::OnDemand => "private, max-age=300".to_owned(),
        _ => "no-cache, no-store".to_owned(),
    }
}

async fn hls_master(
    State(state): State<AppState>,
    Query(q): Query<ResourceQuery>,
) -> Result<Response, AwsError> {
    let (c, token) = open(&state, &q, SessionKind::Hls)?;
    let text = state.playback.hls_master_playlist(&c, &token).await?;
    Ok(respond(text, M3U8, &playlist_cache(&c)))
}

async fn hls_media(
    State(state): State<AppState>,
    Query(q): Query<ResourceQuery>,
) -> Result<Response, AwsError> {
    let (c, token) = open(&state, &q, SessionKind::Hls)?;
    let text = state.playback.hls_media_playlist(&c, &token, track(&q)?).await?;
    Ok(respond(text, M3U8, &playlist_cache(&c)))
}

async fn init(state: &AppState, q: &ResourceQuery, kind: SessionKind) -> Result<Response, AwsError> {
    let (c, _) = open(state, q, kind)?;
    let header_id = q
        .sequence_number
        .as_deref()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| AwsError::invalid_argument("SequenceNumber is missing or not a number."))?;
    let bytes = state.playback.init_segment(&c, header_id, track(q)?).await?;
    Ok(respond(bytes, MP4, IMMUTABLE))
}

async fn hls_init(
    State(state): State<AppState>,
    Query(q): Query<ResourceQuery>,
) -> Result<Response, AwsError> {
    init(&state, &q, SessionKind::Hls).await
}

async fn dash_init(
    State(state): State<AppState>,
    Query(q): Query<ResourceQuery>,
) -> Result<Response, AwsError> {
    init(&state, &q, SessionKind::Dash).await
}

async fn hls_fragment(
    State(state): State<AppState>,
    Query(q): Query<ResourceQuery>,
) -> Result<Response, AwsError> {
    let (c, _) = open(&state, &q, SessionKind::Hls)?;
    let f = state.playback.session_fragment(&c, &fragment_number(&q)?).await?;
    let bytes = state.playback.mp4_media_segment(&f, track(&q)?).await?;
    Ok(respond(bytes, MP4, IMMUTABLE))
}

async fn hls_ts(State(state): State<AppState>, Query(q): Query<ResourceQuery>) -> Result<Response, AwsError> {
    let (c, _) = open(&state, &q, SessionKind::Hls)?;
    let f = state.playback.session_fragment(&c, &fragment_number(&q)?).await?;
    let bytes = state.playback.ts_segment(&f).await?;
    Ok(respond(bytes, TS, IMMUTABLE))
}

async fn dash_manifest(
    State(state): State<AppState>,
    Query(q): Query<ResourceQuery>,
) -> Result<Response, AwsError> {
    let (c, token) = open(&state, &q, SessionKind::Dash)?;
    let text = state.playback.dash_manifest(&c, &token).await?;
    Ok(respond(text, MPD, &playlist_cache(&c)))
}

async fn dash_fragment(
    State(state): State<AppState>,
    Query(q): Query<ResourceQuery>,
) -> Result<Response, AwsError> {
    let (c, _) = open(&state, &q, SessionKind::Dash)?;
    let f = match (q.fragment_timestamp.as_deref(), q.fragment_number.is_some()) {
        (Some(t), _) => {
            let ms = t.parse::<i64>().map_err(|_| {
                AwsError::invalid_argument("FragmentTimestamp must be a number of milliseconds.")
            })?;
            state.playback.session_fragment_at(&c, ms).await?
        }
        (None, _) => state.playback.session_fragment(&c, &fragment_number(&q)?).await?,
    };
    let bytes = state.playback.mp4_media_segment(&f, track(&q)?).await?;
    Ok(respond(bytes, MP4, IMMUTABLE))
}
