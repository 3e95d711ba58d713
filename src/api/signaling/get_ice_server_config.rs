//! `POST /v1/get-ice-server-config`: the STUN/TURN servers a peer should use (configured ones, plus
//! per-request TURN credentials when a shared-secret TURN server is configured; see
//! `signaling::ice`). When no TURN server is configured, openkvs's own relay (`turn_relay`) is
//! listed, with per-request credentials of the same scheme.

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, AwsErrorCode, Call, OperationInput, Valid};
use crate::api::channels::{ChannelRef, resolve_signaling_channel};
use crate::model::check_enum;
use crate::signaling::ice::IceServer;
use crate::signaling::valid_client_id;

/// `GetIceServerConfigRequest`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetIceServerConfigInput {
    #[serde(rename = "ChannelARN")]
    channel_arn: Option<String>,
    client_id: Option<String>,
    service: Option<String>,
    username: Option<String>,
}

/// A validated GetIceServerConfig request.
#[derive(Debug)]
pub struct GetIceServerConfigRequest {
    channel: ChannelRef,
    /// Whom TURN credentials are minted for: `ClientId`, else `Username`.
    client: Option<String>,
}

impl OperationInput for GetIceServerConfigInput {
    type Valid = GetIceServerConfigRequest;

    fn validate(self) -> Result<GetIceServerConfigRequest, AwsError> {
        if let Some(s) = self.service.as_deref() {
            check_enum("service", s, &["TURN"])?;
        }
        if let Some(c) = self.client_id.as_deref()
            && !valid_client_id(c)
        {
            return Err(AwsError::invalid_argument(
                "ClientId must be 1 to 256 characters of [a-zA-Z0-9_.-].",
            ));
        }
        if self.username.as_deref().is_some_and(|u| u.is_empty() || u.len() > 256) {
            return Err(AwsError::invalid_argument("Username must be 1 to 256 characters."));
        }
        let channel = ChannelRef::signaling_arn(self.channel_arn.as_deref(), "channelARN")?;
        Ok(GetIceServerConfigRequest { channel, client: self.client_id.or(self.username) })
    }
}

/// `GetIceServerConfigResponse`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetIceServerConfigOutput {
    ice_server_list: Vec<IceServerItem>,
}

/// `IceServer`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct IceServerItem {
    uris: Vec<String>,
    username: String,
    password: String,
    ttl: u64,
}

impl From<IceServer> for IceServerItem {
    fn from(s: IceServer) -> Self {
        Self { uris: s.uris, username: s.username, password: s.password, ttl: s.ttl_secs }
    }
}

/// Returns the ICE server list.
pub async fn handle(
    call: Call,
    Valid(req): Valid<GetIceServerConfigInput>,
) -> Result<GetIceServerConfigOutput, AwsError> {
    let state = &call.state;
    let denied = AwsErrorCode::NotAuthorizedException;
    let channel =
        resolve_signaling_channel(state, &call.caller, &req.channel, denied, call.operation.name()).await?;
    let client = req.client.unwrap_or_else(|| format!("channel-{}", channel.id));
    let ice = &state.signaling.config().ice;
    let now = state.clock.now_secs();
    let mut servers = ice.servers_for(&client, now);
    if let Some(relay) = &state.turn
        && !ice.has_turn()
    {
        servers.push(relay.ice_server(&client, now, ice.credential_ttl_secs));
    }
    Ok(GetIceServerConfigOutput { ice_server_list: servers.into_iter().map(IceServerItem::from).collect() })
}
