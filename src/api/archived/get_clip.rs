//! `POST /getClip`: a time range as one progressive MP4 (`video/mp4`), streamed: the `moov` is
//! computed first (every fragment in range is read and demuxed), then the frames follow in the
//! `mdat` without being copied.

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;

use crate::api::AppState;
use crate::api::archived::list_fragments::{SelectorInput, parse_range};
use crate::api::aws::{AwsError, AwsErrorCode, AwsJson, Operation, required};
use crate::api::streams::{StreamRef, resolve};
use crate::auth::Caller;

/// The operation this file serves.
pub const OPERATION: Operation = Operation::GetClip;

/// Longest clip range (KVS: the end within 24 hours of the start).
const MAX_RANGE_MS: i64 = 24 * 3600 * 1000;

/// `GetClip` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    clip_fragment_selector: Option<SelectorInput>,
}

/// Builds and streams the clip.
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
    let selector = required(input.clip_fragment_selector.as_ref(), "clipFragmentSelector")?;
    let (kind, start, end) = parse_range(selector, "clipFragmentSelector")?;
    if end - start > MAX_RANGE_MS {
        return Err(AwsError::invalid_argument(
            "The EndTimestamp must be within 24 hours of the StartTimestamp.",
        ));
    }
    let stream = resolve(&state, &caller, OPERATION, &stream_ref).await?;
    let clip = state.playback.clip(&stream, kind, start, end).await?;
    let len = clip.len();
    let parts = std::iter::once(clip.head).chain(clip.body).map(Ok::<_, std::convert::Infallible>);
    let mut resp = Response::new(Body::from_stream(futures_util::stream::iter(parts)));
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("video/mp4"));
    resp.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    Ok(resp)
}
