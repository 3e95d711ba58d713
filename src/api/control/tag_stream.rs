//! `POST /tagStream`: adds or overwrites tags (a JSON map) on a stream named by name or ARN; a
//! stream holds at most 50 tags.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, AwsErrorCode, Call, OperationInput, Valid};
use crate::api::streams::StreamRef;
use crate::model::{TagSet, required};

/// `TagStreamInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagStreamInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    tags: Option<BTreeMap<String, String>>,
}

impl OperationInput for TagStreamInput {
    type Valid = (StreamRef, TagSet);

    fn validate(self) -> Result<Self::Valid, AwsError> {
        let stream = StreamRef::from_pair(
            self.stream_name.as_deref(),
            self.stream_arn.as_deref(),
            AwsErrorCode::InvalidResourceFormatException,
        )?;
        let tags = required(self.tags.as_ref(), "tags")?;
        let tags = TagSet::parse(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())), true)?;
        Ok((stream, tags))
    }
}

/// `TagStreamOutput` (no members).
#[derive(Debug, Serialize)]
pub struct TagStreamOutput {}

/// Tags the stream.
pub async fn handle(
    call: Call,
    Valid((stream, tags)): Valid<TagStreamInput>,
) -> Result<TagStreamOutput, AwsError> {
    let state = &call.state;
    let stream = call.stream(&stream).await?;
    state.archive.tag_stream(stream.id, &tags).await?;
    state.workers.stream_changed(stream.id);
    Ok(TagStreamOutput {})
}
