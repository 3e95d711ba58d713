//! The `kinesis-video-signaling` data plane: GetIceServerConfig and SendAlexaOfferToMaster (SigV4
//! JSON operations, one file each) and the signaling WebSocket (`GET /` with a presigned URL,
//! `websocket.rs`). Routing and message rules live in `crate::signaling`; this layer turns
//! requests and frames into calls to it.

pub mod get_ice_server_config;
pub mod send_alexa_offer_to_master;
pub mod websocket;

use axum::Router;
use axum::routing::post;

use super::AppState;
use super::aws::{AwsError, AwsErrorCode};
use crate::api::channels::{ChannelRef, channel_error};
use crate::auth::Caller;
use crate::model::SignalingChannel;

/// The signaling routes. `GET /` (the WebSocket) is routed by `api::router`, which shares the path
/// with the web console.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(get_ice_server_config::OPERATION.path(), post(get_ice_server_config::handle))
        .route(send_alexa_offer_to_master::OPERATION.path(), post(send_alexa_offer_to_master::handle))
}

/// Resolves the channel of a signaling request (ICE config, Alexa offer, WebSocket upgrade),
/// whose authorization is by IAM-style action name (`GetIceServerConfig`, `ConnectAsMaster`…)
/// rather than by [`crate::api::aws::Operation`]: the ARN is validated and looked up with the
/// control plane's [`ChannelRef`] and error wording, and the key's name globs are checked first.
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
    let channel = ChannelRef::from_arn(arn)?;
    if !caller.policy.allows_stream(channel.name().as_str()) {
        return Err(AwsError::new(
            denied,
            format!("User {} is not authorized to perform {action} on this channel.", caller.access_key_id),
        ));
    }
    let found = match &channel {
        ChannelRef::Arn(a) => state.archive.channel_by_arn(a).await,
        ChannelRef::Name(n) => state.archive.channel_by_name(&caller.region, n).await,
    };
    found.map_err(channel_error)
}
