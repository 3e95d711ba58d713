//! Resolving the "ChannelName or ChannelARN" inputs of the signaling-channel operations (and the
//! `ChannelARN` of the signaling data plane and WebSocket) into a channel the caller may touch,
//! mapping index errors to the channel wording of the AWS errors, and shaping a channel as the
//! wire's `ChannelInfo`.
//!
//! Key policies: a key's `streams` globs apply to channel names too (one namespace of globs for
//! every named resource), checked on the requested name *before* the lookup, so a restricted key
//! learns nothing about channels outside its globs. This module must not change any state.

use serde::Serialize;

use super::AppState;
use super::aws::{AwsError, AwsErrorCode, EpochSeconds, Operation};
use super::streams::authorize_name;
use crate::archive::IndexError;
use crate::auth::Caller;
use crate::model::{ResourceArn, ResourceKind, SignalingChannel, StreamName, ValidationError};

/// How the input named the channel.
#[derive(Debug, Clone)]
pub enum ChannelRef {
    /// By name (in the caller's region).
    Name(StreamName),
    /// By ARN.
    Arn(ResourceArn),
}

impl ChannelRef {
    /// Validates an optional name/ARN pair: exactly one must be given.
    pub fn from_pair(name: Option<&str>, arn: Option<&str>) -> Result<Self, AwsError> {
        match (name, arn) {
            (Some(n), None) => Ok(ChannelRef::Name(StreamName::parse_member(n, "channelName")?)),
            (None, Some(a)) => Self::from_arn(a),
            (None, None) => {
                Err(AwsError::invalid_argument("Either ChannelName or ChannelARN must be specified."))
            }
            (Some(_), Some(_)) => {
                Err(AwsError::invalid_argument("Specify either ChannelName or ChannelARN, but not both."))
            }
        }
    }

    /// Validates a `ChannelARN`: the model's ARN pattern, and it must name a channel.
    pub fn from_arn(arn: &str) -> Result<Self, AwsError> {
        let arn = ResourceArn::parse_member(arn, "channelARN")?;
        if arn.kind != ResourceKind::Channel {
            return Err(AwsError::invalid_argument("The ARN does not name a signaling channel."));
        }
        Ok(ChannelRef::Arn(arn))
    }

    /// The channel name this reference names.
    pub fn name(&self) -> &StreamName {
        match self {
            ChannelRef::Name(n) => n,
            ChannelRef::Arn(a) => &a.name,
        }
    }
}

/// Checks that the caller's key may call `op` on the channel named `name` (the key's `streams`
/// globs).
pub fn authorize_channel(caller: &Caller, op: Operation, name: &StreamName) -> Result<(), AwsError> {
    authorize_name(caller, op, name, "signaling channel")
}

/// The AWS error for an index failure on a channel: a missing channel and a stale version are
/// worded for channels; everything else maps as usual.
pub fn channel_error(e: IndexError) -> AwsError {
    match e {
        IndexError::NotFound => AwsError::channel_not_found(),
        IndexError::VersionMismatch => AwsError::new(
            AwsErrorCode::VersionMismatchException,
            "The signaling channel version you specified is not the latest version.",
        ),
        other => other.into(),
    }
}

/// Authorizes and looks up the referenced channel; a missing one is `ResourceNotFoundException`.
pub async fn resolve_channel(
    state: &AppState,
    caller: &Caller,
    op: Operation,
    channel: &ChannelRef,
) -> Result<SignalingChannel, AwsError> {
    authorize_channel(caller, op, channel.name())?;
    let found = match channel {
        ChannelRef::Name(n) => state.archive.channel_by_name(&caller.region, n).await,
        ChannelRef::Arn(a) => state.archive.channel_by_arn(a).await,
    };
    found.map_err(channel_error)
}

impl ChannelRef {
    /// Validates the `ChannelARN` of a signaling request (ICE config, Alexa offer, WebSocket
    /// upgrade): present, not empty, and naming a channel; `member` names it in the error.
    pub fn signaling_arn(arn: Option<&str>, member: &str) -> Result<Self, AwsError> {
        let arn = arn.filter(|a| !a.is_empty()).ok_or_else(|| ValidationError::null(member))?;
        Self::from_arn(arn)
    }
}

/// Resolves the channel of a signaling request, whose authorization is by IAM-style action name
/// (`GetIceServerConfig`, `ConnectAsMaster`…) rather than by [`Operation`]: the key's name globs
/// are checked first (a refusal is `denied`), then the channel is looked up with the channel
/// error wording.
pub async fn resolve_signaling_channel(
    state: &AppState,
    caller: &Caller,
    channel: &ChannelRef,
    denied: AwsErrorCode,
    action: &str,
) -> Result<SignalingChannel, AwsError> {
    if !caller.policy.allows_stream(channel.name().as_str()) {
        return Err(AwsError::new(
            denied,
            format!("User {} is not authorized to perform {action} on this channel.", caller.access_key_id),
        ));
    }
    let found = match channel {
        ChannelRef::Arn(a) => state.archive.channel_by_arn(a).await,
        ChannelRef::Name(n) => state.archive.channel_by_name(&caller.region, n).await,
    };
    found.map_err(channel_error)
}

/// `ChannelInfo` as DescribeSignalingChannel and ListSignalingChannels return it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelInfo {
    channel_name: String,
    #[serde(rename = "ChannelARN")]
    channel_arn: String,
    channel_type: &'static str,
    channel_status: &'static str,
    creation_time: EpochSeconds,
    single_master_configuration: SingleMasterConfiguration,
    version: String,
}

/// `SingleMasterConfiguration` as outputs carry it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SingleMasterConfiguration {
    /// `MessageTtlSeconds`.
    pub message_ttl_seconds: u32,
}

impl ChannelInfo {
    /// Shapes a channel for the wire.
    pub fn from_channel(c: &SignalingChannel) -> Self {
        Self {
            channel_name: c.name.to_string(),
            channel_arn: c.arn.to_string(),
            channel_type: c.channel_type.as_str(),
            channel_status: c.status.as_str(),
            creation_time: EpochSeconds(c.created_at_ms),
            single_master_configuration: SingleMasterConfiguration {
                message_ttl_seconds: c.message_ttl_seconds,
            },
            version: c.version.as_str().to_owned(),
        }
    }
}
