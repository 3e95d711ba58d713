//! `POST /v1/get-ice-server-config`: the STUN/TURN servers a peer should use (configured ones, plus
//! per-request TURN credentials when a shared-secret TURN server is configured; see
//! `signaling::ice`).

use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use super::resolve_channel;
use crate::api::AppState;
use crate::api::aws::{AwsError, AwsErrorCode, AwsJson, Operation};
use crate::auth::Caller;
use crate::signaling::valid_client_id;

/// The operation this file serves.
pub const OPERATION: Operation = Operation::GetIceServerConfig;

/// `GetIceServerConfig` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    #[serde(rename = "ChannelARN")]
    channel_arn: Option<String>,
    client_id: Option<String>,
    service: Option<String>,
    username: Option<String>,
}

/// Returns the ICE server list.
pub async fn handle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AwsJson(input): AwsJson<Input>,
) -> Result<Json<Value>, AwsError> {
    if let Some(s) = input.service.as_deref()
        && s != "TURN"
    {
        return Err(AwsError::invalid_argument(format!(
            "1 validation error detected: Value '{s}' at 'service' failed to satisfy constraint: Member must satisfy enum value set: [TURN]"
        )));
    }
    if let Some(c) = input.client_id.as_deref()
        && !valid_client_id(c)
    {
        return Err(AwsError::invalid_argument("ClientId must be 1 to 256 characters of [a-zA-Z0-9_.-]."));
    }
    if input.username.as_deref().is_some_and(|u| u.is_empty() || u.len() > 256) {
        return Err(AwsError::invalid_argument("Username must be 1 to 256 characters."));
    }
    let channel = resolve_channel(
        &state,
        &caller,
        input.channel_arn.as_deref(),
        "channelARN",
        AwsErrorCode::NotAuthorizedException,
        OPERATION.name(),
    )
    .await?;
    let client = input.client_id.or(input.username).unwrap_or_else(|| format!("channel-{}", channel.id));
    let list: Vec<Value> = state
        .signaling
        .config()
        .ice
        .servers_for(&client, state.clock.now_secs())
        .into_iter()
        .map(|s| json!({"Uris": s.uris, "Username": s.username, "Password": s.password, "Ttl": s.ttl_secs}))
        .collect();
    Ok(Json(json!({ "IceServerList": list })))
}
