//! `POST /describeMappedResourceConfiguration`: the signaling channel a stream is mapped to for
//! WebRTC ingestion. Mapping is made by UpdateMediaStorageConfiguration on a channel; until a channel
//! maps the stream the list is empty, which is also what AWS answers for an unmapped stream.

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, Call, OperationInput, Valid};
use crate::api::streams::StreamRef;
use crate::model::check_range;

/// `DescribeMappedResourceConfigurationInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeMappedResourceConfigurationInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    max_results: Option<i64>,
    /// Accepted and ignored: the list has at most one item, so it is never paged.
    #[allow(dead_code)]
    next_token: Option<String>,
}

impl OperationInput for DescribeMappedResourceConfigurationInput {
    type Valid = StreamRef;

    fn validate(self) -> Result<StreamRef, AwsError> {
        if let Some(m) = self.max_results {
            check_range("maxResults", m, 1, 1)?;
        }
        StreamRef::from_input(self.stream_name.as_deref(), self.stream_arn.as_deref())
    }
}

/// `DescribeMappedResourceConfigurationOutput`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeMappedResourceConfigurationOutput {
    mapped_resource_configuration_list: Vec<MappedResourceConfigurationListItem>,
}

/// `MappedResourceConfigurationListItem`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MappedResourceConfigurationListItem {
    /// `Type`.
    r#type: String,
    /// `ARN`.
    #[serde(rename = "ARN")]
    arn: String,
}

/// Describes the (empty) mapping.
pub async fn handle(
    call: Call,
    Valid(stream): Valid<DescribeMappedResourceConfigurationInput>,
) -> Result<DescribeMappedResourceConfigurationOutput, AwsError> {
    call.stream(&stream).await?;
    Ok(DescribeMappedResourceConfigurationOutput { mapped_resource_configuration_list: Vec::new() })
}
