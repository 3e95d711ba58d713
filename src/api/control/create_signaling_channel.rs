//! `POST /createSignalingChannel`: validates the input like the botocore model and creates an
//! ACTIVE `SINGLE_MASTER` channel in the caller's region (AWS creates asynchronously; answering
//! ACTIVE at once is what clients polling DescribeSignalingChannel wait for). `FULL_MESH` is in the
//! model's enum but the service supports only `SINGLE_MASTER`, so it is `InvalidArgumentException`.

use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use super::tag_resource::{TagEntry, parse_tag_list};
use crate::api::AppState;
use crate::api::aws::{AwsError, AwsErrorCode, AwsJson, Operation, required};
use crate::api::channels::{authorize_channel, channel_error};
use crate::archive::{CHANNEL_NAME_CONSTRAINT, IndexError, NewChannel};
use crate::auth::Caller;
use crate::model::{AccountId, ChannelType, ResourceArn, SignalingChannel, StreamName, VersionToken};

/// The operation this file serves.
pub const OPERATION: Operation = Operation::CreateSignalingChannel;

/// `CreateSignalingChannel` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    channel_name: Option<String>,
    channel_type: Option<String>,
    single_master_configuration: Option<SingleMasterConfigurationInput>,
    tags: Option<Vec<TagEntry>>,
}

/// `SingleMasterConfiguration` (CreateSignalingChannel, UpdateSignalingChannel).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SingleMasterConfigurationInput {
    /// 5..=120 seconds.
    pub message_ttl_seconds: Option<i64>,
}

impl SingleMasterConfigurationInput {
    /// The validated TTL, if given.
    pub fn message_ttl(&self) -> Result<Option<u32>, AwsError> {
        Ok(self.message_ttl_seconds.map(SignalingChannel::message_ttl).transpose()?)
    }
}

/// Creates the channel.
pub async fn handle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AwsJson(input): AwsJson<Input>,
) -> Result<Json<Value>, AwsError> {
    let name =
        StreamName::parse_member(required(input.channel_name.as_deref(), "channelName")?, "channelName")?;
    let channel_type = match input.channel_type.as_deref() {
        Some(t) => ChannelType::parse_supported(t)?,
        None => ChannelType::SingleMaster,
    };
    let message_ttl_seconds = match &input.single_master_configuration {
        Some(c) => c.message_ttl()?,
        None => None,
    }
    .unwrap_or(SignalingChannel::DEFAULT_MESSAGE_TTL_SECONDS);
    let tags = parse_tag_list(input.tags.as_deref().unwrap_or_default(), false)?;
    authorize_channel(&caller, OPERATION, &name)?;
    let account = AccountId::parse(&state.settings.account_id)?;
    let new = NewChannel {
        arn: ResourceArn::channel(&caller.region, &account, &name, state.clock.now_millis()),
        channel_type,
        message_ttl_seconds,
        version: VersionToken::generate(),
        tags,
    };
    let channel = state.archive.create_channel(new).await.map_err(|e| match e {
        IndexError::Conflict { constraint } if constraint == CHANNEL_NAME_CONSTRAINT => AwsError::new(
            AwsErrorCode::ResourceInUseException,
            format!("The signaling channel {name} already exists."),
        ),
        other => channel_error(other),
    })?;
    // The channel is of little use to WebRTC SDK clients without TURN: say so where the operator
    // looks (the server log), once per channel created.
    let situation = format!("signaling channel {name} was created");
    if let Some(warning) = state.signaling.config().ice.missing_turn_warning(&situation) {
        tracing::warn!("{warning}");
    }
    Ok(Json(json!({ "ChannelARN": channel.arn.to_string() })))
}
