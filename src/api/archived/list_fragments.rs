//! `POST /listFragments`: a stream's fragments, all of them in ingest order or those whose server
//! or producer timestamp lies in a range (inclusive), in timestamp order; `MaxResults` (1..=1000,
//! default 1000) with an opaque `NextToken` that carries the selector and a keyset position, so
//! every page is one index range query (no scan, no offset).

use axum::extract::State;
use axum::{Extension, Json};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::api::AppState;
use crate::api::aws::{
    AwsError, AwsErrorCode, AwsJson, Operation, epoch_seconds, millis_from_epoch_seconds, required,
};
use crate::api::streams::{StreamRef, resolve};
use crate::archive::TimestampKind;
use crate::auth::Caller;
use crate::model::{FragmentNumber, FragmentRecord};

/// The operation this file serves.
pub const OPERATION: Operation = Operation::ListFragments;

/// Page size when MaxResults is absent.
pub const DEFAULT_MAX_RESULTS: i64 = 1000;

/// `ListFragments` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
    fragment_selector: Option<SelectorInput>,
}

/// `FragmentSelector` (also the shape of HLS/DASH/clip selectors).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SelectorInput {
    /// `PRODUCER_TIMESTAMP` or `SERVER_TIMESTAMP`.
    pub fragment_selector_type: Option<String>,
    /// The range.
    pub timestamp_range: Option<RangeInput>,
}

/// `TimestampRange`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RangeInput {
    /// Start, epoch seconds.
    pub start_timestamp: Option<f64>,
    /// End, epoch seconds.
    pub end_timestamp: Option<f64>,
}

/// The paging state inside a NextToken.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Token {
    /// `s` (server), `p` (producer) or absent (all, by number).
    k: Option<char>,
    s: i64,
    e: i64,
    /// Keyset: timestamp and number of the last fragment returned.
    t: i64,
    n: String,
}

/// Parses a timestamp selector into (kind, start ms, end ms).
pub fn parse_range(sel: &SelectorInput, prefix: &str) -> Result<(TimestampKind, i64, i64), AwsError> {
    let kind = match required(
        sel.fragment_selector_type.as_deref(),
        &format!("{prefix}.fragmentSelectorType"),
    )? {
        "SERVER_TIMESTAMP" => TimestampKind::Server,
        "PRODUCER_TIMESTAMP" => TimestampKind::Producer,
        other => {
            return Err(AwsError::invalid_argument(format!(
                "1 validation error detected: Value '{other}' at '{prefix}.fragmentSelectorType' failed to satisfy constraint: Member must satisfy enum value set: [PRODUCER_TIMESTAMP, SERVER_TIMESTAMP]"
            )));
        }
    };
    let range = required(sel.timestamp_range.as_ref(), &format!("{prefix}.timestampRange"))?;
    let ts = |v: Option<f64>, member: &str| -> Result<i64, AwsError> {
        millis_from_epoch_seconds(required(v, member)?)
            .ok_or_else(|| AwsError::invalid_argument(format!("{member} is not a valid timestamp.")))
    };
    let start = ts(range.start_timestamp, "timestampRange.startTimestamp")?;
    let end = ts(range.end_timestamp, "timestampRange.endTimestamp")?;
    if start > end {
        return Err(AwsError::invalid_argument("The StartTimestamp must not be after the EndTimestamp."));
    }
    Ok((kind, start, end))
}

fn encode(t: &Token) -> String {
    STANDARD.encode(serde_json::to_vec(t).unwrap_or_default())
}

fn decode(s: &str) -> Result<Token, AwsError> {
    let bad = || AwsError::invalid_argument("The NextToken is not valid.");
    if s.len() > 4096 {
        return Err(bad());
    }
    let raw = STANDARD.decode(s).map_err(|_| bad())?;
    let t: Token = serde_json::from_slice(&raw).map_err(|_| bad())?;
    if FragmentNumber::parse(&t.n).is_none() || !matches!(t.k, None | Some('s') | Some('p')) {
        return Err(bad());
    }
    Ok(t)
}

/// One `Fragment` as the wire shows it.
pub fn fragment_json(f: &FragmentRecord) -> Value {
    json!({
        "FragmentNumber": f.number.as_str(),
        "FragmentSizeInBytes": f.size_bytes,
        "ProducerTimestamp": epoch_seconds(f.producer_ts_ms),
        "ServerTimestamp": epoch_seconds(f.server_ts_ms),
        "FragmentLengthInMilliseconds": f.duration_ms,
    })
}

/// Lists fragments.
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
    let max = input.max_results.unwrap_or(DEFAULT_MAX_RESULTS);
    if !(1..=1000).contains(&max) {
        return Err(AwsError::invalid_argument(format!(
            "1 validation error detected: Value '{max}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 1000"
        )));
    }
    let token = input.next_token.as_deref().filter(|t| !t.is_empty()).map(decode).transpose()?;
    let (range, after) = match (&token, &input.fragment_selector) {
        (Some(t), _) => {
            let kind = match t.k {
                Some('s') => Some((TimestampKind::Server, t.s, t.e)),
                Some('p') => Some((TimestampKind::Producer, t.s, t.e)),
                _ => None,
            };
            (kind, Some((t.t, FragmentNumber::parse(&t.n).expect("validated in decode"))))
        }
        (None, Some(sel)) => (Some(parse_range(sel, "fragmentSelector")?), None),
        (None, None) => (None, None),
    };
    let stream = resolve(&state, &caller, OPERATION, &stream_ref).await?;
    let limit = max as u32;
    let index = &state.archive;
    let mut rows = match range {
        Some((kind, start, end)) => {
            index
                .fragments_in_range(
                    stream.id,
                    kind,
                    start,
                    end,
                    after.as_ref().map(|(t, n)| (*t, n)),
                    limit + 1,
                )
                .await?
        }
        None => index.fragments_after(stream.id, after.as_ref().map(|(_, n)| n), limit + 1).await?,
    };
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let mut out = json!({ "Fragments": rows.iter().map(fragment_json).collect::<Vec<_>>() });
    if more && let Some(last) = rows.last() {
        let (k, s, e, t) = match range {
            Some((TimestampKind::Server, s, e)) => (Some('s'), s, e, last.server_ts_ms),
            Some((TimestampKind::Producer, s, e)) => (Some('p'), s, e, last.producer_ts_ms),
            None => (None, 0, 0, 0),
        };
        out["NextToken"] = Value::String(encode(&Token { k, s, e, t, n: last.number.to_string() }));
    }
    Ok(Json(out))
}
