//! `POST /describeNotificationConfiguration`: the stream's `NotificationConfiguration` as
//! UpdateNotificationConfiguration stored it (the destination URI exactly as given), or `{}` (no
//! member) when none is set. This handler reads; it changes nothing.

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, Call, OperationInput, Valid};
use crate::api::streams::StreamRef;
use crate::model::NotificationConfig;

/// `DescribeNotificationConfigurationInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeNotificationConfigurationInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
}

impl OperationInput for DescribeNotificationConfigurationInput {
    type Valid = StreamRef;

    fn validate(self) -> Result<StreamRef, AwsError> {
        StreamRef::from_input(self.stream_name.as_deref(), self.stream_arn.as_deref())
    }
}

/// `DescribeNotificationConfigurationOutput`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeNotificationConfigurationOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    notification_configuration: Option<NotificationConfiguration>,
}

/// `NotificationConfiguration` as outputs carry it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct NotificationConfiguration {
    status: &'static str,
    destination_config: NotificationDestinationConfig,
}

/// `NotificationDestinationConfig`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct NotificationDestinationConfig {
    uri: String,
}

impl NotificationConfiguration {
    fn from_config(c: &NotificationConfig) -> Self {
        Self {
            status: c.status.as_str(),
            destination_config: NotificationDestinationConfig { uri: c.destination_uri.as_str().to_owned() },
        }
    }
}

/// Describes the configuration.
pub async fn handle(
    call: Call,
    Valid(stream): Valid<DescribeNotificationConfigurationInput>,
) -> Result<DescribeNotificationConfigurationOutput, AwsError> {
    let state = &call.state;
    let stream = call.stream(&stream).await?;
    let config = state.archive.notification_config(stream.id).await?;
    Ok(DescribeNotificationConfigurationOutput {
        notification_configuration: config.as_ref().map(NotificationConfiguration::from_config),
    })
}
