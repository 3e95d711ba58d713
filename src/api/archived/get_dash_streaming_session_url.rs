//! `POST /getDASHStreamingSessionURL`: like the HLS operation (shared parameter parsing), plus
//! DisplayFragmentNumber; returns the absolute URL of the session's `getDASHManifest.mpd` under
//! `/dash/v1/`.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use super::get_hls_streaming_session_url::{always_never, session_request};
use crate::api::archived::list_fragments::SelectorInput;
use crate::api::aws::{AwsError, AwsErrorCode, AwsJson, Operation};
use crate::api::streams::{StreamRef, resolve};
use crate::api::{AppState, ListenerInfo, public_base_url};
use crate::auth::Caller;
use crate::playback::session::SessionKind;

/// The operation this file serves.
pub const OPERATION: Operation = Operation::GetDASHStreamingSessionURL;

/// `GetDASHStreamingSessionURL` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    playback_mode: Option<String>,
    display_fragment_timestamp: Option<String>,
    display_fragment_number: Option<String>,
    #[serde(rename = "DASHFragmentSelector")]
    dash_fragment_selector: Option<SelectorInput>,
    expires: Option<i64>,
    max_manifest_fragment_results: Option<i64>,
}

/// Creates a DASH session.
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
        SessionKind::Dash,
        input.playback_mode.as_deref(),
        input.dash_fragment_selector.as_ref(),
        "dASHFragmentSelector",
        input.expires,
        input.max_manifest_fragment_results,
        "maxManifestFragmentResults",
    )?;
    req.display_timestamp =
        always_never(input.display_fragment_timestamp.as_deref(), "displayFragmentTimestamp")?;
    req.display_number = always_never(input.display_fragment_number.as_deref(), "displayFragmentNumber")?;
    let stream = resolve(&state, &caller, OPERATION, &stream_ref).await?;
    let token = state.playback.create_session(&stream, req).await?;
    let base = public_base_url(&state.settings, &listener, &headers);
    Ok(Json(json!({
        "DASHStreamingSessionURL": format!("{base}/dash/v1/getDASHManifest.mpd?SessionToken={token}")
    })))
}
