//! `POST /updateNotificationConfiguration`: sets the stream's `NotificationConfiguration`, or
//! deletes it when the member is absent or `null` (the model: "If the structure is null, the
//! configuration will be deleted from the stream").
//!
//! Validation follows the botocore model (`Status` and `DestinationConfig.Uri` required, the
//! `DestinationUri` pattern and 1..=255 length); a breach is `InvalidArgumentException`. Setting a
//! configuration on a stream that keeps no data is `NoDataRetentionException`, on a stream that
//! is not ACTIVE `ResourceInUseException`.
//!
//! Destinations (design/0009-analysis.md, "Destinations"): `http://` and `https://` URIs are
//! webhooks (a JSON `POST` per notification), `nats://SUBJECT` publishes to that NATS subject, and
//! an SNS topic ARN (`arn:aws:sns:…`) is stored and reported by Describe as given while its
//! notifications go to the server's configured default notification sinks. This handler only
//! stores the configuration and tells the workers it changed; it delivers nothing.

use serde::{Deserialize, Serialize};

use super::update_image_generation_configuration::check_stream_accepts_configuration;
use crate::api::aws::{AwsError, Call, OperationInput, Valid};
use crate::api::streams::StreamRef;
use crate::model::{ConfigurationStatus, DestinationUri, NotificationConfig, required};

/// `UpdateNotificationConfigurationInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateNotificationConfigurationInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    notification_configuration: Option<NotificationConfigurationInput>,
}

/// The `NotificationConfiguration` structure as sent.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NotificationConfigurationInput {
    status: Option<String>,
    destination_config: Option<DestinationConfigInput>,
}

/// The `NotificationDestinationConfig` structure as sent.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DestinationConfigInput {
    uri: Option<String>,
}

impl NotificationConfigurationInput {
    fn parse(&self) -> Result<NotificationConfig, AwsError> {
        let status_member = "notificationConfiguration.status";
        let status = ConfigurationStatus::parse_member(
            required(self.status.as_deref(), status_member)?,
            status_member,
        )?;
        let destination =
            required(self.destination_config.as_ref(), "notificationConfiguration.destinationConfig")?;
        let uri_member = "notificationConfiguration.destinationConfig.uri";
        let destination_uri =
            DestinationUri::parse_member(required(destination.uri.as_deref(), uri_member)?, uri_member)?;
        Ok(NotificationConfig { status, destination_uri })
    }
}

impl OperationInput for UpdateNotificationConfigurationInput {
    /// The stream, and the configuration to set (`None`: delete it).
    type Valid = (StreamRef, Option<NotificationConfig>);

    fn validate(self) -> Result<Self::Valid, AwsError> {
        let stream = StreamRef::from_input(self.stream_name.as_deref(), self.stream_arn.as_deref())?;
        let config = self.notification_configuration.as_ref().map(|c| c.parse()).transpose()?;
        Ok((stream, config))
    }
}

/// `UpdateNotificationConfigurationOutput` (no members).
#[derive(Debug, Serialize)]
pub struct UpdateNotificationConfigurationOutput {}

/// Sets or deletes the configuration.
pub async fn handle(
    call: Call,
    Valid((stream, config)): Valid<UpdateNotificationConfigurationInput>,
) -> Result<UpdateNotificationConfigurationOutput, AwsError> {
    let state = &call.state;
    let stream = call.stream(&stream).await?;
    if config.is_some() {
        check_stream_accepts_configuration(&stream)?;
    }
    state.archive.set_notification_config(stream.id, config.as_ref(), state.clock.now_millis()).await?;
    state.workers.stream_changed(stream.id);
    Ok(UpdateNotificationConfigurationOutput {})
}
