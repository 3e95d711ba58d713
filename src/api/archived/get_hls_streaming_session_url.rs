//! `POST /getHLSStreamingSessionURL`: validates the session parameters like the botocore model
//! and the KVS documentation, creates a session (a sealed token) and returns the absolute URL of
//! its master playlist under `/hls/v1/`. Also holds the parameter parsing DASH shares.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::archived::list_fragments::{RangeInput, SelectorInput};
use crate::api::aws::{AwsError, AwsErrorCode, AwsJson, Operation, millis_from_epoch_seconds};
use crate::api::streams::{StreamRef, resolve};
use crate::api::{AppState, ListenerInfo, public_base_url};
use crate::auth::Caller;
use crate::playback::session::{
    ContainerFormat, DiscontinuityMode, PlaybackMode, SessionKind, SessionRequest,
};

/// The operation this file serves.
pub const OPERATION: Operation = Operation::GetHLSStreamingSessionURL;

/// Longest ON_DEMAND range (KVS: 24 hours).
const MAX_ON_DEMAND_RANGE_MS: i64 = 24 * 3600 * 1000;

/// `GetHLSStreamingSessionURL` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    playback_mode: Option<String>,
    #[serde(rename = "HLSFragmentSelector")]
    hls_fragment_selector: Option<SelectorInput>,
    container_format: Option<String>,
    discontinuity_mode: Option<String>,
    display_fragment_timestamp: Option<String>,
    expires: Option<i64>,
    max_media_playlist_fragment_results: Option<i64>,
}

/// Checks an enum-valued member against its allowed values (model validation message).
pub fn enum_member<'a>(value: &'a str, member: &str, allowed: &[&str]) -> Result<&'a str, AwsError> {
    if allowed.contains(&value) {
        Ok(value)
    } else {
        Err(AwsError::invalid_argument(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
            allowed.join(", ")
        )))
    }
}

/// Parses PlaybackMode, the selector and Expires / max results, shared by HLS and DASH.
pub fn session_request(
    kind: SessionKind,
    mode: Option<&str>,
    selector: Option<&SelectorInput>,
    selector_member: &str,
    expires: Option<i64>,
    max_results: Option<i64>,
    max_results_member: &str,
) -> Result<SessionRequest, AwsError> {
    let mode =
        match enum_member(mode.unwrap_or("LIVE"), "playbackMode", &["LIVE", "LIVE_REPLAY", "ON_DEMAND"])? {
            "LIVE" => PlaybackMode::Live,
            "LIVE_REPLAY" => PlaybackMode::LiveReplay,
            _ => PlaybackMode::OnDemand,
        };
    let producer = match selector.and_then(|s| s.fragment_selector_type.as_deref()) {
        None => false,
        Some(t) => {
            enum_member(
                t,
                &format!("{selector_member}.fragmentSelectorType"),
                &["PRODUCER_TIMESTAMP", "SERVER_TIMESTAMP"],
            )? == "PRODUCER_TIMESTAMP"
        }
    };
    let range: Option<&RangeInput> = selector.and_then(|s| s.timestamp_range.as_ref());
    let ts = |v: Option<f64>, member: &str| -> Result<Option<i64>, AwsError> {
        v.map(|s| {
            millis_from_epoch_seconds(s)
                .ok_or_else(|| AwsError::invalid_argument(format!("{member} is not a valid timestamp.")))
        })
        .transpose()
    };
    let start = ts(range.and_then(|r| r.start_timestamp), "StartTimestamp")?;
    let end = ts(range.and_then(|r| r.end_timestamp), "EndTimestamp")?;
    match mode {
        PlaybackMode::Live if range.is_some() => {
            return Err(AwsError::invalid_argument(
                "TimestampRange must not be set when PlaybackMode is LIVE.",
            ));
        }
        PlaybackMode::LiveReplay if start.is_none() => {
            return Err(AwsError::invalid_argument(
                "StartTimestamp is required when PlaybackMode is LIVE_REPLAY.",
            ));
        }
        PlaybackMode::OnDemand if start.is_none() || end.is_none() => {
            return Err(AwsError::invalid_argument(
                "StartTimestamp and EndTimestamp are required when PlaybackMode is ON_DEMAND.",
            ));
        }
        _ => {}
    }
    if let (Some(s), Some(e)) = (start, end) {
        if s >= e {
            return Err(AwsError::invalid_argument("The StartTimestamp must be before the EndTimestamp."));
        }
        if mode == PlaybackMode::OnDemand && e - s > MAX_ON_DEMAND_RANGE_MS {
            return Err(AwsError::invalid_argument(
                "For ON_DEMAND, the EndTimestamp must be within 24 hours of the StartTimestamp.",
            ));
        }
    }
    let expires = expires.unwrap_or(300);
    if !(300..=43200).contains(&expires) {
        return Err(AwsError::invalid_argument(format!(
            "1 validation error detected: Value '{expires}' at 'expires' failed to satisfy constraint: Member must have value between 300 and 43200"
        )));
    }
    if let Some(m) = max_results
        && !(1..=5000).contains(&m)
    {
        return Err(AwsError::invalid_argument(format!(
            "1 validation error detected: Value '{m}' at '{max_results_member}' failed to satisfy constraint: Member must have value between 1 and 5000"
        )));
    }
    Ok(SessionRequest {
        kind,
        mode,
        producer_timestamps: producer,
        start_ms: start,
        end_ms: end,
        container: ContainerFormat::FragmentedMp4,
        discontinuity: None,
        display_timestamp: false,
        display_number: false,
        expires_secs: expires,
        max_results: max_results.map(|m| m as u32),
    })
}

/// Parses an `ALWAYS` / `NEVER` member.
pub fn always_never(value: Option<&str>, member: &str) -> Result<bool, AwsError> {
    Ok(enum_member(value.unwrap_or("NEVER"), member, &["ALWAYS", "NEVER"])? == "ALWAYS")
}

/// Creates an HLS session.
pub async fn handle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(listener): Extension<ListenerInfo>,
    headers: HeaderMap,
    AwsJson(input): AwsJson<Input>,
) -> Result<Json<Value>, AwsError> {
    let stream_ref = StreamRef::from_pair(
        input.stream_name.as_deref(),
        input.stream_arn.as_deref(),
        AwsErrorCode::InvalidArgumentException,
    )?;
    let mut req = session_request(
        SessionKind::Hls,
        input.playback_mode.as_deref(),
        input.hls_fragment_selector.as_ref(),
        "hLSFragmentSelector",
        input.expires,
        input.max_media_playlist_fragment_results,
        "maxMediaPlaylistFragmentResults",
    )?;
    req.container = match enum_member(
        input.container_format.as_deref().unwrap_or("FRAGMENTED_MP4"),
        "containerFormat",
        &["FRAGMENTED_MP4", "MPEG_TS"],
    )? {
        "MPEG_TS" => ContainerFormat::MpegTs,
        _ => ContainerFormat::FragmentedMp4,
    };
    req.discontinuity = input
        .discontinuity_mode
        .as_deref()
        .map(|d| {
            enum_member(d, "discontinuityMode", &["ALWAYS", "NEVER", "ON_DISCONTINUITY"]).map(|d| match d {
                "ALWAYS" => DiscontinuityMode::Always,
                "NEVER" => DiscontinuityMode::Never,
                _ => DiscontinuityMode::OnDiscontinuity,
            })
        })
        .transpose()?;
    req.display_timestamp =
        always_never(input.display_fragment_timestamp.as_deref(), "displayFragmentTimestamp")?;
    let stream = resolve(&state, &caller, OPERATION, &stream_ref).await?;
    let token = state.playback.create_session(&stream, req).await?;
    let base = public_base_url(&state.settings, &listener, &headers);
    Ok(Json(json!({
        "HLSStreamingSessionURL": format!("{base}/hls/v1/getHLSMasterPlaylist.m3u8?SessionToken={token}")
    })))
}
