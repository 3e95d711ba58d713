//! `POST /describeMappedResourceConfiguration`: the signaling channel a stream is mapped to for
//! WebRTC ingestion (UpdateMediaStorageConfiguration on that channel). An unmapped stream answers
//! an empty list, as AWS does; a stream is mapped to at most one channel, so one page holds all.

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, Call, OperationInput, Valid};
use crate::api::streams::StreamRef;
use crate::model::{check_len, check_range};

/// `DescribeMappedResourceConfigurationInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeMappedResourceConfigurationInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

impl OperationInput for DescribeMappedResourceConfigurationInput {
    type Valid = StreamRef;

    fn validate(self) -> Result<StreamRef, AwsError> {
        if let Some(m) = self.max_results {
            check_range("maxResults", m, 1, 1)?;
        }
        // Accepted and otherwise ignored: the list has at most one item, so it is never paged.
        if let Some(t) = self.next_token.as_deref() {
            check_len("nextToken", t, 1, 512)?;
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
    /// `Type`: `SIGNALING_CHANNEL`.
    r#type: &'static str,
    /// `ARN`.
    #[serde(rename = "ARN")]
    arn: String,
}

/// Describes the stream's mapping.
pub async fn handle(
    call: Call,
    Valid(stream): Valid<DescribeMappedResourceConfigurationInput>,
) -> Result<DescribeMappedResourceConfigurationOutput, AwsError> {
    let stream = call.stream(&stream).await?;
    let mapped = call.state.archive.channel_mapped_to_stream(stream.id).await?;
    Ok(DescribeMappedResourceConfigurationOutput {
        mapped_resource_configuration_list: mapped
            .into_iter()
            .map(|arn| MappedResourceConfigurationListItem { r#type: "SIGNALING_CHANNEL", arn })
            .collect(),
    })
}
