//! `POST /describeMediaStorageConfiguration`: a channel's media storage configuration. A channel
//! that was never configured answers `Status: DISABLED` without a StreamARN, as AWS does.

use axum::extract::State;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use super::update_media_storage_configuration::MediaStorageConfiguration;
use crate::api::AppState;
use crate::api::aws::{AwsError, AwsJson, Operation};
use crate::api::channels::{ChannelRef, resolve_channel};
use crate::auth::Caller;

/// The operation this file serves.
pub const OPERATION: Operation = Operation::DescribeMediaStorageConfiguration;

/// `DescribeMediaStorageConfiguration` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    /// The channel, by name.
    pub channel_name: Option<String>,
    /// The channel, by ARN.
    #[serde(rename = "ChannelARN")]
    pub channel_arn: Option<String>,
}

/// `DescribeMediaStorageConfiguration` output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    /// The configuration.
    pub media_storage_configuration: MediaStorageConfiguration,
}

/// Describes the channel's media storage configuration.
pub async fn handle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AwsJson(input): AwsJson<Input>,
) -> Result<Json<Output>, AwsError> {
    let channel_ref = ChannelRef::from_pair(input.channel_name.as_deref(), input.channel_arn.as_deref())?;
    let channel = resolve_channel(&state, &caller, OPERATION, &channel_ref).await?;
    let config = state.index.media_storage_of_channel(channel.id).await?;
    Ok(Json(Output {
        media_storage_configuration: match config {
            Some(c) => MediaStorageConfiguration {
                stream_arn: c.stream_arn,
                status: if c.enabled { "ENABLED" } else { "DISABLED" }.to_owned(),
            },
            None => MediaStorageConfiguration { stream_arn: None, status: "DISABLED".to_owned() },
        },
    }))
}
