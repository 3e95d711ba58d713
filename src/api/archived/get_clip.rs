//! `POST /getClip`: a time range as one progressive MP4 (`video/mp4`), streamed: the `moov` is
//! computed first (every fragment in range is read and demuxed), then the frames follow in the
//! `mdat` without being copied.

use serde::Deserialize;

use super::list_fragments::{SelectorInput, TimeRange};
use crate::api::aws::{AwsError, Call, OperationInput, PayloadOutput, Valid};
use crate::api::streams::StreamRef;
use crate::model::required;

/// Longest clip range (KVS: the end within 24 hours of the start).
const MAX_RANGE_MS: i64 = 24 * 3600 * 1000;

/// `GetClipInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetClipInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    clip_fragment_selector: Option<SelectorInput>,
}

impl OperationInput for GetClipInput {
    type Valid = (StreamRef, TimeRange);

    fn validate(self) -> Result<Self::Valid, AwsError> {
        let stream = StreamRef::from_input(self.stream_name.as_deref(), self.stream_arn.as_deref())?;
        let selector = required(self.clip_fragment_selector.as_ref(), "clipFragmentSelector")?;
        let range = selector.time_range("clipFragmentSelector")?;
        if range.end - range.start > MAX_RANGE_MS {
            return Err(AwsError::invalid_argument(
                "The EndTimestamp must be within 24 hours of the StartTimestamp.",
            ));
        }
        Ok((stream, range))
    }
}

/// `GetClipOutput`: `video/mp4`, its length known before the body is sent.
pub type GetClipOutput = PayloadOutput;

/// Builds and streams the clip.
pub async fn handle(
    call: Call,
    Valid((stream, range)): Valid<GetClipInput>,
) -> Result<GetClipOutput, AwsError> {
    let stream = call.stream(&stream).await?;
    let clip = call.state.playback.clip(&stream, range.kind, range.start, range.end).await?;
    let content_length = Some(clip.len());
    let parts = std::iter::once(clip.head).chain(clip.body).map(Ok::<_, std::convert::Infallible>);
    Ok(PayloadOutput {
        content_type: "video/mp4",
        content_length,
        payload: axum::body::Body::from_stream(futures_util::stream::iter(parts)),
    })
}
