//! `POST /getHLSStreamingSessionURL`: validates the session parameters like the botocore model
//! and the KVS documentation, creates a session (a sealed token) and returns the absolute URL of
//! its master playlist under `/hls/v1/`. Also holds the parameter parsing DASH shares.

use serde::{Deserialize, Serialize};

use super::list_fragments::{SELECTOR_TYPES, SelectorInput};
use crate::api::aws::{AwsError, Call, OperationInput, Valid, timestamp_millis};
use crate::api::streams::StreamRef;
use crate::model::{check_enum, check_range};
use crate::playback::session::{
    ContainerFormat, DiscontinuityMode, PlaybackMode, SessionKind, SessionRequest,
};

/// Longest ON_DEMAND range (KVS: 24 hours).
const MAX_ON_DEMAND_RANGE_MS: i64 = 24 * 3600 * 1000;

/// `GetHLSStreamingSessionURLInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetHLSStreamingSessionURLInput {
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
        match check_enum("playbackMode", mode.unwrap_or("LIVE"), &["LIVE", "LIVE_REPLAY", "ON_DEMAND"])? {
            "LIVE" => PlaybackMode::Live,
            "LIVE_REPLAY" => PlaybackMode::LiveReplay,
            _ => PlaybackMode::OnDemand,
        };
    let producer = match selector.and_then(|s| s.fragment_selector_type.as_deref()) {
        None => false,
        Some(t) => {
            check_enum(&format!("{selector_member}.fragmentSelectorType"), t, SELECTOR_TYPES)?
                == "PRODUCER_TIMESTAMP"
        }
    };
    let range = selector.and_then(|s| s.timestamp_range.as_ref());
    let ts = |v: Option<f64>, member: &str| v.map(|s| timestamp_millis(s, member)).transpose();
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
    let expires = check_range("expires", expires.unwrap_or(300), 300, 43200)?;
    let max_results = max_results.map(|m| check_range(max_results_member, m, 1, 5000)).transpose()?;
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
    Ok(check_enum(member, value.unwrap_or("NEVER"), &["ALWAYS", "NEVER"])? == "ALWAYS")
}

impl OperationInput for GetHLSStreamingSessionURLInput {
    type Valid = (StreamRef, SessionRequest);

    fn validate(self) -> Result<Self::Valid, AwsError> {
        let stream = StreamRef::from_input(self.stream_name.as_deref(), self.stream_arn.as_deref())?;
        let mut req = session_request(
            SessionKind::Hls,
            self.playback_mode.as_deref(),
            self.hls_fragment_selector.as_ref(),
            "hLSFragmentSelector",
            self.expires,
            self.max_media_playlist_fragment_results,
            "maxMediaPlaylistFragmentResults",
        )?;
        let container = self.container_format.as_deref().unwrap_or("FRAGMENTED_MP4");
        req.container = match check_enum("containerFormat", container, &["FRAGMENTED_MP4", "MPEG_TS"])? {
            "MPEG_TS" => ContainerFormat::MpegTs,
            _ => ContainerFormat::FragmentedMp4,
        };
        req.discontinuity = self
            .discontinuity_mode
            .as_deref()
            .map(|d| {
                check_enum("discontinuityMode", d, &["ALWAYS", "NEVER", "ON_DISCONTINUITY"]).map(
                    |d| match d {
                        "ALWAYS" => DiscontinuityMode::Always,
                        "NEVER" => DiscontinuityMode::Never,
                        _ => DiscontinuityMode::OnDiscontinuity,
                    },
                )
            })
            .transpose()?;
        req.display_timestamp =
            always_never(self.display_fragment_timestamp.as_deref(), "displayFragmentTimestamp")?;
        Ok((stream, req))
    }
}

/// `GetHLSStreamingSessionURLOutput`.
#[derive(Debug, Serialize)]
pub struct GetHLSStreamingSessionURLOutput {
    #[serde(rename = "HLSStreamingSessionURL")]
    hls_streaming_session_url: String,
}

/// Creates an HLS session.
pub async fn handle(
    call: Call,
    Valid((stream, req)): Valid<GetHLSStreamingSessionURLInput>,
) -> Result<GetHLSStreamingSessionURLOutput, AwsError> {
    let stream = call.stream(&stream).await?;
    let token = call.state.playback.create_session(&stream, req).await?;
    let base = call.public_base_url()?;
    Ok(GetHLSStreamingSessionURLOutput {
        hls_streaming_session_url: format!("{base}/hls/v1/getHLSMasterPlaylist.m3u8?SessionToken={token}"),
    })
}
