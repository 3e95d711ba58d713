//! `POST /deleteStream`: removes the stream (by ARN only, as the model requires), checking
//! `CurrentVersion` when given. The row and everything that references it go at once, so the name
//! is free again immediately and DescribeStream answers 404.

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, Call, OperationInput, Valid};
use crate::api::streams::StreamRef;
use crate::model::{VersionToken, required};

/// `DeleteStreamInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteStreamInput {
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    current_version: Option<String>,
}

impl OperationInput for DeleteStreamInput {
    type Valid = (StreamRef, Option<VersionToken>);

    fn validate(self) -> Result<Self::Valid, AwsError> {
        let arn = required(self.stream_arn.as_deref(), "streamARN")?;
        let stream = StreamRef::from_input(None, Some(arn))?;
        let expected = self.current_version.as_deref().map(VersionToken::parse).transpose()?;
        Ok((stream, expected))
    }
}

/// `DeleteStreamOutput` (no members).
#[derive(Debug, Serialize)]
pub struct DeleteStreamOutput {}

/// Deletes the stream.
pub async fn handle(
    call: Call,
    Valid((stream, expected)): Valid<DeleteStreamInput>,
) -> Result<DeleteStreamOutput, AwsError> {
    let state = &call.state;
    let stream = call.stream(&stream).await?;
    // Rows first, then a running PutMedia ends (ErrorId 4008), then the bytes go.
    state.archive.delete_stream(stream.id, expected.as_ref()).await?;
    state.workers.stream_changed(stream.id);
    Ok(DeleteStreamOutput {})
}
