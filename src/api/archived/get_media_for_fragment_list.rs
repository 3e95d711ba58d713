//! `POST /getMediaForFragmentList`: up to 1000 fragments by number, in the order given, in the same
//! per-fragment Matroska chunk form as GetMedia. Every number is checked before the response
//! starts: an unknown one is `ResourceNotFoundException`.

use axum::Extension;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;

use crate::api::AppState;
use crate::api::aws::{AwsError, AwsErrorCode, AwsJson, Operation, required};
use crate::api::media::get_media::{get_media_error, media_response};
use crate::api::media::receiver_body;
use crate::api::streams::{StreamRef, resolve};
use crate::auth::Caller;
use crate::model::FragmentNumber;

/// The operation this file serves.
pub const OPERATION: Operation = Operation::GetMediaForFragmentList;

/// `GetMediaForFragmentList` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    fragments: Option<Vec<String>>,
}

/// Streams the listed fragments.
pub async fn handle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AwsJson(input): AwsJson<Input>,
) -> Result<Response, AwsError> {
    let stream_ref = StreamRef::from_pair(
        input.stream_name.as_deref(),
        input.stream_arn.as_deref(),
        AwsErrorCode::InvalidArgumentException,
    )?;
    let list = required(input.fragments, "fragments")?;
    if list.is_empty() || list.len() > 1000 {
        return Err(AwsError::invalid_argument(
            "1 validation error detected: Value at 'fragments' failed to satisfy constraint: Member must have length between 1 and 1000",
        ));
    }
    let numbers = list
        .iter()
        .map(|n| {
            FragmentNumber::parse(n).ok_or_else(|| {
                AwsError::invalid_argument(format!("Fragment number '{n}' must be 1 to 128 decimal digits."))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let stream = resolve(&state, &caller, OPERATION, &stream_ref).await?;
    let rx = state.playback.get_media_for_fragment_list(stream, numbers).await.map_err(get_media_error)?;
    Ok(media_response(receiver_body(rx)))
}
