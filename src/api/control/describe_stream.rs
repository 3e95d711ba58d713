//! `POST /describeStream`: the stream's `StreamInfo`; an unknown stream is 404
//! `ResourceNotFoundException` (the C producer creates the stream on that status alone).

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, Call, OperationInput, Valid};
use crate::api::streams::{StreamInfo, StreamRef};

/// `DescribeStreamInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStreamInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
}

impl OperationInput for DescribeStreamInput {
    type Valid = StreamRef;

    fn validate(self) -> Result<StreamRef, AwsError> {
        StreamRef::from_input(self.stream_name.as_deref(), self.stream_arn.as_deref())
    }
}

/// `DescribeStreamOutput`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStreamOutput {
    stream_info: StreamInfo,
}

/// Describes the stream.
pub async fn handle(
    call: Call,
    Valid(stream): Valid<DescribeStreamInput>,
) -> Result<DescribeStreamOutput, AwsError> {
    let stream = call.stream(&stream).await?;
    Ok(DescribeStreamOutput { stream_info: StreamInfo::from_stream(&stream) })
}
