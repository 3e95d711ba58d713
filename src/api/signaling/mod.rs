//! The `kinesis-video-signaling` data plane: GetIceServerConfig and SendAlexaOfferToMaster (SigV4
//! JSON operations, one file each) and the signaling WebSocket (`GET /` with a presigned URL,
//! `websocket.rs`). Routing and message rules live in `crate::signaling`; this layer turns
//! requests and frames into calls to it.

pub mod get_ice_server_config;
pub mod send_alexa_offer_to_master;
pub mod websocket;

use axum::Router;
use axum::routing::{get, post};

use super::AppState;
use super::aws::{AwsError, AwsErrorCode};
use crate::auth::Caller;
use crate::model::{ResourceArn, SignalingChannel};

/// The signaling routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(get_ice_server_config::OPERATION.path(), post(get_ice_server_config::handle))
        .route(send_alexa_offer_to_master::OPERATION.path(), post(send_alexa_offer_to_master::handle))
        .route("/", get(websocket::handle))
}

/// Parses a channel ARN member, checks the caller's policy and looks the channel up.
pub async fn resolve_channel(
    state: &AppState,
    caller: &Caller,
    arn: Option<&str>,
    member: &str,
    denied: AwsErrorCode,
    action: &str,
) -> Result<SignalingChannel, AwsError> {
    let arn = arn.filter(|a| !a.is_empty()).ok_or_else(|| {
        AwsError::invalid_argument(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ))
    })?;
    let arn = ResourceArn::parse_member(arn, member)?;
    if arn.kind != crate::model::ResourceKind::Channel {
        return Err(AwsError::invalid_argument(format!("{member} must be a signaling channel ARN.")));
    }
    if !caller.policy.allows_stream(arn.name.as_str()) {
        return Err(AwsError::new(
            denied,
            format!("User {} is not authorized to perform {action} on this channel.", caller.access_key_id),
        ));
    }
    state.index.channel_by_arn(&arn).await.map_err(|e| match e {
        crate::index::IndexError::NotFound => {
            AwsError::new(AwsErrorCode::ResourceNotFoundException, "The signaling channel does not exist.")
        }
        other => AwsError::from(other),
    })
}
