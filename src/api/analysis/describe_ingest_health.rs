//! `POST /openkvs/describeIngestHealth`: whether a stream's producer cuts its fragments at key
//! frames, read from the index: of the stream's newest fragments (by server timestamp, at most
//! `MaxFragments`, 1..=1000, default 1000), how many do not start with a key frame on their video
//! track, and the newest such. A camera or encoder that fragments elsewhere shows up here (and in
//! `openkvs_stream_fragments_without_key_frame_total`) before viewers report stutter. Only archived
//! fragments are in the index: a stream without retention reports none.

use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::AppState;
use crate::api::aws::{AwsError, AwsErrorCode, AwsJson, Operation, epoch_seconds};
use crate::api::streams::{StreamRef, resolve};
use crate::archive::TimestampKind;
use crate::auth::Caller;

/// The operation this file serves.
pub const OPERATION: Operation = Operation::DescribeIngestHealth;

/// `DescribeIngestHealth` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Input {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    max_fragments: Option<i64>,
}

/// Describes the stream's recent fragments.
pub async fn handle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AwsJson(input): AwsJson<Input>,
) -> Result<Json<Value>, AwsError> {
    let stream_ref = StreamRef::from_pair(
        input.stream_name.as_deref(),
        input.stream_arn.as_deref(),
        AwsErrorCode::InvalidArgumentException,
    )?;
    let max = input.max_fragments.unwrap_or(1000);
    if !(1..=1000).contains(&max) {
        return Err(AwsError::invalid_argument(format!(
            "1 validation error detected: Value '{max}' at 'maxFragments' failed to satisfy constraint: Member must have value between 1 and 1000"
        )));
    }
    let stream = resolve(&state, &caller, OPERATION, &stream_ref).await?;
    let newest_first =
        state.archive.latest_fragments(stream.id, TimestampKind::Server, i64::MIN, max as u32).await?;
    let without: Vec<_> = newest_first.iter().filter(|f| !f.key_frame).collect();
    let mut out = json!({
        "StreamName": stream.name.as_str(),
        "StreamARN": stream.arn.to_string(),
        "FragmentsExamined": newest_first.len(),
        "FragmentsWithoutKeyFrame": without.len(),
    });
    if let Some(oldest) = newest_first.last() {
        out["OldestServerTimestamp"] = json!(epoch_seconds(oldest.server_ts_ms));
    }
    if let Some(f) = without.first() {
        out["LastFragmentWithoutKeyFrame"] = json!({
            "FragmentNumber": f.number.as_str(),
            "ProducerTimestamp": epoch_seconds(f.producer_ts_ms),
            "ServerTimestamp": epoch_seconds(f.server_ts_ms),
        });
    }
    Ok(Json(out))
}
