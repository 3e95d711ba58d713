//! `POST /createSignalingChannel`: validates the input like the botocore model and creates an
//! ACTIVE `SINGLE_MASTER` channel in the caller's region (AWS creates asynchronously; answering
//! ACTIVE at once is what clients polling DescribeSignalingChannel wait for). `FULL_MESH` is in the
//! model's enum but the service supports only `SINGLE_MASTER`, so it is `InvalidArgumentException`.

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, AwsErrorCode, Call, OperationInput, Valid};
use crate::api::channels::{authorize_channel, channel_error};
use crate::api::tagging::{Tag, tag_list};
use crate::archive::{CHANNEL_NAME_CONSTRAINT, IndexError, NewChannel};
use crate::model::{
    AccountId, ChannelType, ResourceArn, SignalingChannel, StreamName, TagSet, VersionToken, required,
};

/// `CreateSignalingChannelInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateSignalingChannelInput {
    channel_name: Option<String>,
    channel_type: Option<String>,
    single_master_configuration: Option<SingleMasterConfigurationInput>,
    tags: Option<Vec<Tag>>,
}

/// `SingleMasterConfiguration` as CreateSignalingChannel and UpdateSignalingChannel take it.
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

/// A validated CreateSignalingChannel request.
#[derive(Debug)]
pub struct CreateSignalingChannelRequest {
    name: StreamName,
    channel_type: ChannelType,
    message_ttl_seconds: u32,
    tags: TagSet,
}

impl OperationInput for CreateSignalingChannelInput {
    type Valid = CreateSignalingChannelRequest;

    fn validate(self) -> Result<CreateSignalingChannelRequest, AwsError> {
        let name =
            StreamName::parse_member(required(self.channel_name.as_deref(), "channelName")?, "channelName")?;
        let channel_type = match self.channel_type.as_deref() {
            Some(t) => ChannelType::parse_supported(t)?,
            None => ChannelType::SingleMaster,
        };
        let message_ttl_seconds = match &self.single_master_configuration {
            Some(c) => c.message_ttl()?,
            None => None,
        }
        .unwrap_or(SignalingChannel::DEFAULT_MESSAGE_TTL_SECONDS);
        let tags = tag_list(self.tags.as_deref().unwrap_or_default(), false)?;
        Ok(CreateSignalingChannelRequest { name, channel_type, message_ttl_seconds, tags })
    }
}

/// `CreateSignalingChannelOutput`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateSignalingChannelOutput {
    #[serde(rename = "ChannelARN")]
    channel_arn: String,
}

/// Creates the channel.
pub async fn handle(
    call: Call,
    Valid(req): Valid<CreateSignalingChannelInput>,
) -> Result<CreateSignalingChannelOutput, AwsError> {
    let state = &call.state;
    let name = req.name;
    authorize_channel(&call.caller, call.operation, &name)?;
    let account = AccountId::parse(&state.settings.account_id)?;
    let new = NewChannel {
        arn: ResourceArn::channel(&call.caller.region, &account, &name, state.clock.now_millis()),
        channel_type: req.channel_type,
        message_ttl_seconds: req.message_ttl_seconds,
        version: VersionToken::generate(),
        tags: req.tags,
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
    if let Some(warning) = state.signaling.config().ice.missing_turn_warning(&situation, state.turn.is_some())
    {
        tracing::warn!("{warning}");
    }
    Ok(CreateSignalingChannelOutput { channel_arn: channel.arn.to_string() })
}
