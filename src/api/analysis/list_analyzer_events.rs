//! `POST /openkvs/listAnalyzerEvents`: the events analyzers recorded for a stream, by producer
//! time, optionally of one `Kind`; `MaxResults` 1..=1000 (default 100) with an opaque `NextToken`
//! (a keyset position: every page is one index range query).

use axum::extract::State;
use axum::{Extension, Json};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::AppState;
use crate::api::aws::{AwsError, AwsErrorCode, AwsJson, Operation, epoch_seconds, millis_from_epoch_seconds};
use crate::api::streams::{StreamRef, resolve};
use crate::auth::Caller;
use crate::model::AnalyzerEvent;

/// The operation this file serves.
pub const OPERATION: Operation = Operation::ListAnalyzerEvents;

/// `ListAnalyzerEvents` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Input {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    start_timestamp: Option<f64>,
    end_timestamp: Option<f64>,
    kind: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

fn timestamp(v: Option<f64>, default: i64, member: &str) -> Result<i64, AwsError> {
    match v {
        None => Ok(default),
        Some(s) => millis_from_epoch_seconds(s)
            .ok_or_else(|| AwsError::invalid_argument(format!("{member} is not a valid timestamp."))),
    }
}

fn decode_token(s: &str) -> Result<(i64, i64), AwsError> {
    let bad = || AwsError::invalid_argument("The NextToken is not valid.");
    let raw = URL_SAFE_NO_PAD.decode(s).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (ts, id) = text.split_once(':').ok_or_else(bad)?;
    Ok((ts.parse().map_err(|_| bad())?, id.parse().map_err(|_| bad())?))
}

/// One event as the wire shows it.
pub fn event_json(e: &AnalyzerEvent) -> Value {
    json!({
        "EventId": e.id,
        "Worker": e.worker,
        "Kind": e.kind,
        "FragmentNumber": e.fragment_number.as_ref().map(|n| n.as_str().to_owned()),
        "ProducerTimestamp": epoch_seconds(e.producer_ts_ms),
        "ServerTimestamp": epoch_seconds(e.server_ts_ms),
        "EndTimestamp": e.end_ts_ms.map(epoch_seconds),
        "Score": e.score,
        "Detail": e.detail,
    })
}

/// Lists events.
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
    let max = input.max_results.unwrap_or(100);
    if !(1..=1000).contains(&max) {
        return Err(AwsError::invalid_argument(format!(
            "1 validation error detected: Value '{max}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 1000"
        )));
    }
    let from = timestamp(input.start_timestamp, 0, "StartTimestamp")?;
    let to = timestamp(input.end_timestamp, i64::MAX, "EndTimestamp")?;
    if from > to {
        return Err(AwsError::invalid_argument("The StartTimestamp must not be after the EndTimestamp."));
    }
    if let Some(k) = &input.kind
        && (k.is_empty() || k.len() > 64)
    {
        return Err(AwsError::invalid_argument("Kind must have length between 1 and 64."));
    }
    let after = input.next_token.as_deref().filter(|t| !t.is_empty()).map(decode_token).transpose()?;
    let stream = resolve(&state, &caller, OPERATION, &stream_ref).await?;
    let limit = max as u32;
    let mut rows =
        state.archive.analyzer_events(stream.id, from, to, input.kind.as_deref(), after, limit + 1).await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let mut out = json!({ "Events": rows.iter().map(event_json).collect::<Vec<_>>() });
    if more && let Some(last) = rows.last() {
        out["NextToken"] =
            Value::String(URL_SAFE_NO_PAD.encode(format!("{}:{}", last.producer_ts_ms, last.id)));
    }
    Ok(Json(out))
}
