//! `POST /getMediaForFragmentList`: up to 1000 fragments by number, in the order given, in the same
//! per-fragment Matroska chunk form as GetMedia. Every number is checked before the response
//! starts: an unknown one is `ResourceNotFoundException`.

use serde::Deserialize;

use crate::api::aws::{AwsError, Call, OperationInput, PayloadOutput, Valid};
use crate::api::media::get_media::{get_media_error, matroska_payload};
use crate::api::streams::StreamRef;
use crate::model::{FragmentNumber, ValidationError, required};

/// `GetMediaForFragmentListInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetMediaForFragmentListInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    fragments: Option<Vec<String>>,
}

impl OperationInput for GetMediaForFragmentListInput {
    type Valid = (StreamRef, Vec<FragmentNumber>);

    fn validate(self) -> Result<Self::Valid, AwsError> {
        let stream = StreamRef::from_input(self.stream_name.as_deref(), self.stream_arn.as_deref())?;
        let list = required(self.fragments, "fragments")?;
        if list.is_empty() || list.len() > 1000 {
            return Err(ValidationError::length("fragments", 1, 1000).into());
        }
        let numbers = list
            .iter()
            .map(|n| {
                FragmentNumber::parse(n).ok_or_else(|| {
                    AwsError::invalid_argument(format!(
                        "Fragment number '{n}' must be 1 to 128 decimal digits."
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((stream, numbers))
    }
}

/// `GetMediaForFragmentListOutput`: the Matroska payload, as GetMedia's.
pub type GetMediaForFragmentListOutput = PayloadOutput;

/// Streams the listed fragments.
pub async fn handle(
    call: Call,
    Valid((stream, numbers)): Valid<GetMediaForFragmentListInput>,
) -> Result<GetMediaForFragmentListOutput, AwsError> {
    let stream = call.stream(&stream).await?;
    let rx =
        call.state.playback.get_media_for_fragment_list(stream, numbers).await.map_err(get_media_error)?;
    Ok(matroska_payload(rx))
}
