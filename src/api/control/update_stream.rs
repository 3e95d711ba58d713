//! `POST /updateStream`: changes DeviceName and/or MediaType when `CurrentVersion` matches, and
//! issues a new version.

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, Call, OperationInput, Valid};
use crate::api::streams::StreamRef;
use crate::archive::StreamChanges;
use crate::model::{DeviceName, MediaType, VersionToken, required};

/// `UpdateStreamInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateStreamInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    current_version: Option<String>,
    device_name: Option<String>,
    media_type: Option<String>,
}

/// A validated change of a stream's metadata, when `expected` is its current version (UpdateStream,
/// UpdateDataRetention, UpdateStreamStorageConfiguration).
#[derive(Debug)]
pub struct StreamUpdate<C> {
    /// The stream.
    pub stream: StreamRef,
    /// `CurrentVersion`.
    pub expected: VersionToken,
    /// What changes.
    pub changes: C,
}

impl OperationInput for UpdateStreamInput {
    type Valid = StreamUpdate<StreamChanges>;

    fn validate(self) -> Result<Self::Valid, AwsError> {
        let stream = StreamRef::from_input(self.stream_name.as_deref(), self.stream_arn.as_deref())?;
        let expected = VersionToken::parse(required(self.current_version.as_deref(), "currentVersion")?)?;
        let changes = StreamChanges {
            device_name: self
                .device_name
                .as_deref()
                .map(DeviceName::parse)
                .transpose()?
                .map(DeviceName::into_string),
            media_type: self
                .media_type
                .as_deref()
                .map(MediaType::parse)
                .transpose()?
                .map(MediaType::into_string),
            ..StreamChanges::default()
        };
        Ok(StreamUpdate { stream, expected, changes })
    }
}

/// `UpdateStreamOutput` (no members).
#[derive(Debug, Serialize)]
pub struct UpdateStreamOutput {}

impl StreamUpdate<StreamChanges> {
    /// Applies the changes with a new version (also UpdateStreamStorageConfiguration's).
    pub async fn apply(&self, call: &Call) -> Result<(), AwsError> {
        let state = &call.state;
        let stream = call.stream(&self.stream).await?;
        state
            .archive
            .update_stream(stream.id, Some(&self.expected), &self.changes, &VersionToken::generate())
            .await?;
        state.workers.stream_changed(stream.id);
        Ok(())
    }
}

/// Updates the stream's metadata.
pub async fn handle(
    call: Call,
    Valid(req): Valid<UpdateStreamInput>,
) -> Result<UpdateStreamOutput, AwsError> {
    req.apply(&call).await?;
    Ok(UpdateStreamOutput {})
}
