//! `POST /getMedia`: validates the StartSelector, takes a reader slot (3 per stream by default;
//! more is `ConnectionLimitExceededException`) and streams KVS chunks as `video/webm` (the type
//! KVS is observed to send; the model's ContentType pattern is not checked by clients).

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;

use super::receiver_body;
use crate::api::AppState;
use crate::api::aws::{AwsError, AwsErrorCode, AwsJson, Operation, millis_from_epoch_seconds, required};
use crate::api::streams::{StreamRef, resolve};
use crate::auth::Caller;
use crate::model::FragmentNumber;
use crate::playback::{GetMediaError, StartSelector};

/// The operation this file serves.
pub const OPERATION: Operation = Operation::GetMedia;

/// The media type of GetMedia output.
pub const MKV_CONTENT_TYPE: &str = "video/webm";

/// `GetMedia` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    start_selector: Option<SelectorInput>,
}

/// `StartSelector`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SelectorInput {
    start_selector_type: Option<String>,
    after_fragment_number: Option<String>,
    start_timestamp: Option<f64>,
    continuation_token: Option<String>,
}

fn parse_selector(s: &SelectorInput) -> Result<StartSelector, AwsError> {
    let number = |v: Option<&str>, member: &str| -> Result<FragmentNumber, AwsError> {
        let v = required(v, member)?;
        FragmentNumber::parse(v)
            .ok_or_else(|| AwsError::invalid_argument(format!("{member} must be 1 to 128 decimal digits.")))
    };
    let timestamp = || -> Result<i64, AwsError> {
        millis_from_epoch_seconds(required(s.start_timestamp, "startSelector.startTimestamp")?)
            .ok_or_else(|| AwsError::invalid_argument("StartTimestamp is not a valid timestamp."))
    };
    Ok(match required(s.start_selector_type.as_deref(), "startSelector.startSelectorType")? {
        "NOW" => StartSelector::Now,
        "EARLIEST" => StartSelector::Earliest,
        "FRAGMENT_NUMBER" => {
            StartSelector::AfterFragment(number(s.after_fragment_number.as_deref(), "afterFragmentNumber")?)
        }
        "SERVER_TIMESTAMP" => StartSelector::ServerTimestamp(timestamp()?),
        "PRODUCER_TIMESTAMP" => StartSelector::ProducerTimestamp(timestamp()?),
        "CONTINUATION_TOKEN" => {
            let token = required(s.continuation_token.as_deref(), "continuationToken")?;
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
        other => {
            return Err(AwsError::invalid_argument(format!(
                "1 validation error detected: Value '{other}' at 'startSelector.startSelectorType' failed to satisfy constraint: Member must satisfy enum value set: [FRAGMENT_NUMBER, SERVER_TIMESTAMP, PRODUCER_TIMESTAMP, NOW, EARLIEST, CONTINUATION_TOKEN]"
            )));
        }
    })
}

/// Starts the GetMedia response.
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
    let selector = parse_selector(required(input.start_selector.as_ref(), "startSelector")?)?;
    let stream = resolve(&state, &caller, OPERATION, &stream_ref).await?;
    let rx = state.playback.get_media(stream, selector).map_err(get_media_error)?;
    Ok(media_response(receiver_body(rx)))
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

/// A 200 response with a Matroska body.
pub fn media_response(body: Body) -> Response {
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(MKV_CONTENT_TYPE));
    resp
}
