//! `POST /describeStreamStorageConfiguration`: the stream's default storage tier (HOT or WARM).
//! The tier decides where the stream's new fragments are stored (design/0017-object-store.md, "WARM
//! tier").

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, Call, OperationInput, Valid};
use crate::api::streams::StreamRef;

/// `DescribeStreamStorageConfigurationInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStreamStorageConfigurationInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
}

impl OperationInput for DescribeStreamStorageConfigurationInput {
    type Valid = StreamRef;

    fn validate(self) -> Result<StreamRef, AwsError> {
        StreamRef::from_input(self.stream_name.as_deref(), self.stream_arn.as_deref())
    }
}

/// `DescribeStreamStorageConfigurationOutput`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStreamStorageConfigurationOutput {
    stream_name: String,
    #[serde(rename = "StreamARN")]
    stream_arn: String,
    stream_storage_configuration: StreamStorageConfiguration,
}

/// `StreamStorageConfiguration` as outputs carry it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct StreamStorageConfiguration {
    default_storage_tier: &'static str,
}

/// Describes the storage configuration.
pub async fn handle(
    call: Call,
    Valid(stream): Valid<DescribeStreamStorageConfigurationInput>,
) -> Result<DescribeStreamStorageConfigurationOutput, AwsError> {
    let stream = call.stream(&stream).await?;
    Ok(DescribeStreamStorageConfigurationOutput {
        stream_name: stream.name.to_string(),
        stream_arn: stream.arn.to_string(),
        stream_storage_configuration: StreamStorageConfiguration {
            default_storage_tier: stream.storage_tier.as_str(),
        },
    })
}
