//! `POST /getMedia`: validates the StartSelector, takes a reader slot (3 per stream by default;
//! more is `ConnectionLimitExceededException`) and streams KVS chunks as `video/webm` (the type
//! KVS is observed to send; the model's ContentType pattern is not checked by clients). Also owns
//! the Matroska payload output GetMediaForFragmentList shares.

use axum::body::{Body, Bytes};
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::api::aws::{AwsError, AwsErrorCode, Call, OperationInput, PayloadOutput, Valid, timestamp_millis};
use crate::api::streams::StreamRef;
use crate::model::{FragmentNumber, check_enum, required};
use crate::playback::{GetMediaError, StartSelector};

/// The media type of GetMedia output.
pub const MKV_CONTENT_TYPE: &str = "video/webm";

/// `GetMediaInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetMediaInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    start_selector: Option<StartSelectorInput>,
}

/// `StartSelector`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartSelectorInput {
    start_selector_type: Option<String>,
    after_fragment_number: Option<String>,
    start_timestamp: Option<f64>,
    continuation_token: Option<String>,
}

/// The values of `StartSelectorType`.
const START_SELECTOR_TYPES: &[&str] =
    &["FRAGMENT_NUMBER", "SERVER_TIMESTAMP", "PRODUCER_TIMESTAMP", "NOW", "EARLIEST", "CONTINUATION_TOKEN"];

impl StartSelectorInput {
    fn parse(&self) -> Result<StartSelector, AwsError> {
        let number = |v: Option<&str>, member: &str| -> Result<FragmentNumber, AwsError> {
            let v = required(v, member)?;
            FragmentNumber::parse(v).ok_or_else(|| {
                AwsError::invalid_argument(format!("{member} must be 1 to 128 decimal digits."))
            })
        };
        let timestamp = || -> Result<i64, AwsError> {
            let member = "startSelector.startTimestamp";
            timestamp_millis(required(self.start_timestamp, member)?, "StartTimestamp")
        };
        let member = "startSelector.startSelectorType";
        Ok(
            match check_enum(
                member,
                required(self.start_selector_type.as_deref(), member)?,
                START_SELECTOR_TYPES,
            )? {
                "NOW" => StartSelector::Now,
                "EARLIEST" => StartSelector::Earliest,
                "FRAGMENT_NUMBER" => StartSelector::AfterFragment(number(
                    self.after_fragment_number.as_deref(),
                    "afterFragmentNumber",
                )?),
                "SERVER_TIMESTAMP" => StartSelector::ServerTimestamp(timestamp()?),
                "PRODUCER_TIMESTAMP" => StartSelector::ProducerTimestamp(timestamp()?),
                _ => {
                    let token = required(self.continuation_token.as_deref(), "continuationToken")?;
                    if token.is_empty()
                        || token.len() > 128
                        || !token.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
                    {
                        return Err(AwsError::invalid_argument("ContinuationToken is not valid."));
                    }
                    StartSelector::ContinuationToken(FragmentNumber::parse(token).ok_or_else(|| {
                        AwsError::invalid_argument("ContinuationToken is not one this server issued.")
                    })?)
                }
            },
        )
    }
}

impl OperationInput for GetMediaInput {
    type Valid = (StreamRef, StartSelector);

    fn validate(self) -> Result<Self::Valid, AwsError> {
        let stream = StreamRef::from_input(self.stream_name.as_deref(), self.stream_arn.as_deref())?;
        let selector = required(self.start_selector.as_ref(), "startSelector")?.parse()?;
        Ok((stream, selector))
    }
}

/// `GetMediaOutput`: the Matroska payload, streamed as fragments are read (or arrive).
pub type GetMediaOutput = PayloadOutput;

/// Starts the GetMedia response.
pub async fn handle(
    call: Call,
    Valid((stream, selector)): Valid<GetMediaInput>,
) -> Result<GetMediaOutput, AwsError> {
    let stream = call.stream(&stream).await?;
    let rx = call.state.playback.get_media(stream, selector).map_err(get_media_error)?;
    Ok(matroska_payload(rx))
}

/// Maps a playback error to the wire.
pub fn get_media_error(e: GetMediaError) -> AwsError {
    match e {
        GetMediaError::ConnectionLimit => AwsError::new(
            AwsErrorCode::ConnectionLimitExceededException,
            "The stream has the maximum number of concurrent GetMedia connections.",
        ),
        GetMediaError::FragmentNotFound(n) => {
            AwsError::new(AwsErrorCode::ResourceNotFoundException, format!("Fragment {n} was not found."))
        }
        GetMediaError::Index(e) => e.into(),
    }
}

/// The Matroska payload output, its body fed by a channel of byte chunks.
pub fn matroska_payload(rx: mpsc::Receiver<Bytes>) -> PayloadOutput {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<Bytes, std::convert::Infallible>(b), rx))
    });
    PayloadOutput { content_type: MKV_CONTENT_TYPE, content_length: None, payload: Body::from_stream(stream) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ValidationError;

    #[test]
    fn unknown_selector_types_name_the_enum() {
        let input = StartSelectorInput {
            start_selector_type: Some("LATEST".into()),
            after_fragment_number: None,
            start_timestamp: None,
            continuation_token: None,
        };
        let e = input.parse().unwrap_err();
        assert_eq!(e.code, AwsErrorCode::InvalidArgumentException);
        assert_eq!(
            e.message,
            ValidationError::enum_value("startSelector.startSelectorType", "LATEST", START_SELECTOR_TYPES).0
        );
    }
}
