//! `POST /getDataEndpoint`: the base URL (scheme://host[:port], no path) at which the data-plane
//! APIs of a stream are served. This server serves every API itself, so the answer is its own
//! public URL: `public_url` when configured, else derived from the listener the request came in on
//! (its scheme and port; the host the client used for a wildcard listen address, with the port
//! added back because the C producer sends `Host` without it).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::aws::{AwsError, AwsErrorCode, AwsJson, Operation, required};
use crate::api::streams::{StreamRef, resolve};
use crate::api::{AppState, ListenerInfo, public_base_url};
use crate::auth::Caller;

/// The operation this file serves.
pub const OPERATION: Operation = Operation::GetDataEndpoint;

/// Every `APIName` the model allows.
pub const API_NAMES: &[&str] = &[
    "PUT_MEDIA",
    "GET_MEDIA",
    "LIST_FRAGMENTS",
    "GET_MEDIA_FOR_FRAGMENT_LIST",
    "GET_HLS_STREAMING_SESSION_URL",
    "GET_DASH_STREAMING_SESSION_URL",
    "GET_CLIP",
    "GET_IMAGES",
];

/// `GetDataEndpoint` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    #[serde(rename = "APIName")]
    api_name: Option<String>,
}

/// Returns the data endpoint.
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
    let api = required(input.api_name.as_deref(), "APIName")?;
    if !API_NAMES.contains(&api) {
        return Err(AwsError::invalid_argument(format!(
            "1 validation error detected: Value '{api}' at 'APIName' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
            API_NAMES.join(", ")
        )));
    }
    resolve(&state, &caller, OPERATION, &stream_ref).await?;
    let endpoint = public_base_url(&state.settings, &listener, &headers);
    Ok(Json(json!({ "DataEndpoint": endpoint })))
}
