//! `POST /untagStream`: removes tag keys from a stream named by name or ARN (absent keys are
//! ignored, as AWS does).

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, AwsErrorCode, Call, OperationInput, Valid};
use crate::api::streams::StreamRef;
use crate::model::{TagKey, required};

/// `UntagStreamInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagStreamInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    tag_key_list: Option<Vec<String>>,
}

impl OperationInput for UntagStreamInput {
    type Valid = (StreamRef, Vec<String>);

    fn validate(self) -> Result<Self::Valid, AwsError> {
        let stream = StreamRef::from_pair(
            self.stream_name.as_deref(),
            self.stream_arn.as_deref(),
            AwsErrorCode::InvalidResourceFormatException,
        )?;
        let keys = required(self.tag_key_list, "tagKeyList")?;
        TagKey::check_list(&keys)?;
        Ok((stream, keys))
    }
}

/// `UntagStreamOutput` (no members).
#[derive(Debug, Serialize)]
pub struct UntagStreamOutput {}

/// Untags the stream.
pub async fn handle(
    call: Call,
    Valid((stream, keys)): Valid<UntagStreamInput>,
) -> Result<UntagStreamOutput, AwsError> {
    let state = &call.state;
    let stream = call.stream(&stream).await?;
    state.archive.untag_stream(stream.id, &keys).await?;
    state.workers.stream_changed(stream.id);
    Ok(UntagStreamOutput {})
}
