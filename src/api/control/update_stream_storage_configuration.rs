//! `POST /updateStreamStorageConfiguration`: sets the stream's default storage tier (HOT or WARM)
//! when `CurrentVersion` matches, and issues a new version. Fragments persisted from then on go
//! to the new tier's place in the store (WARM: its own directory, or S3 prefix/bucket and storage
//! class); older fragments stay where they are, readable (design/0017-object-store.md).

use serde::{Deserialize, Serialize};

use super::create_stream::StreamStorageConfigurationInput;
use super::update_stream::StreamUpdate;
use crate::api::aws::{AwsError, Call, OperationInput, Valid};
use crate::api::streams::StreamRef;
use crate::archive::StreamChanges;
use crate::model::{VersionToken, required};

/// `UpdateStreamStorageConfigurationInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateStreamStorageConfigurationInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    current_version: Option<String>,
    stream_storage_configuration: Option<StreamStorageConfigurationInput>,
}

impl OperationInput for UpdateStreamStorageConfigurationInput {
    type Valid = StreamUpdate<StreamChanges>;

    fn validate(self) -> Result<Self::Valid, AwsError> {
        let stream = StreamRef::from_input(self.stream_name.as_deref(), self.stream_arn.as_deref())?;
        let expected = VersionToken::parse(required(self.current_version.as_deref(), "currentVersion")?)?;
        let configuration =
            required(self.stream_storage_configuration.as_ref(), "streamStorageConfiguration")?;
        let changes = StreamChanges { storage_tier: Some(configuration.tier()?), ..StreamChanges::default() };
        Ok(StreamUpdate { stream, expected, changes })
    }
}

/// `UpdateStreamStorageConfigurationOutput` (no members).
#[derive(Debug, Serialize)]
pub struct UpdateStreamStorageConfigurationOutput {}

/// Updates the storage tier.
pub async fn handle(
    call: Call,
    Valid(req): Valid<UpdateStreamStorageConfigurationInput>,
) -> Result<UpdateStreamStorageConfigurationOutput, AwsError> {
    req.apply(&call).await?;
    Ok(UpdateStreamStorageConfigurationOutput {})
}
