//! `POST /listFragments`: a stream's fragments, all of them in ingest order or those whose server
//! or producer timestamp lies in a range (inclusive), in timestamp order; `MaxResults` (1..=1000,
//! default 1000) with an opaque `NextToken` that carries the selector and a keyset position, so
//! every page is one index range query (no scan, no offset). Also owns the `FragmentSelector` /
//! `TimestampRange` shapes the other archived-media operations share.

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, Call, EpochSeconds, OperationInput, Valid, page_token, timestamp_millis};
use crate::api::streams::StreamRef;
use crate::archive::TimestampKind;
use crate::model::{FragmentNumber, FragmentRecord, check_enum, check_range, required};

/// Page size when MaxResults is absent.
pub const DEFAULT_MAX_RESULTS: i64 = 1000;

/// `ListFragmentsInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListFragmentsInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
    fragment_selector: Option<SelectorInput>,
}

/// `FragmentSelector` (also the shape of the HLS/DASH/clip selectors).
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

/// The values of `FragmentSelectorType` (and its HLS/DASH/clip/image twins).
pub const SELECTOR_TYPES: &[&str] = &["PRODUCER_TIMESTAMP", "SERVER_TIMESTAMP"];

/// Validates a selector type value; `member` names it in the error.
pub fn timestamp_kind(value: &str, member: &str) -> Result<TimestampKind, AwsError> {
    Ok(match check_enum(member, value, SELECTOR_TYPES)? {
        "PRODUCER_TIMESTAMP" => TimestampKind::Producer,
        _ => TimestampKind::Server,
    })
}

/// A validated timestamp selector: which clock, and the range in epoch ms (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// The clock.
    pub kind: TimestampKind,
    /// Start, epoch ms.
    pub start: i64,
    /// End, epoch ms.
    pub end: i64,
}

impl SelectorInput {
    /// Validates a selector whose type and range (both ends) are required (ListFragments,
    /// GetClip); `prefix` names the selector member in errors.
    pub fn time_range(&self, prefix: &str) -> Result<TimeRange, AwsError> {
        let type_member = format!("{prefix}.fragmentSelectorType");
        let kind =
            timestamp_kind(required(self.fragment_selector_type.as_deref(), &type_member)?, &type_member)?;
        let range = required(self.timestamp_range.as_ref(), &format!("{prefix}.timestampRange"))?;
        let ts = |v: Option<f64>, member: &str| timestamp_millis(required(v, member)?, member);
        let start = ts(range.start_timestamp, "timestampRange.startTimestamp")?;
        let end = ts(range.end_timestamp, "timestampRange.endTimestamp")?;
        if start > end {
            return Err(AwsError::invalid_argument("The StartTimestamp must not be after the EndTimestamp."));
        }
        Ok(TimeRange { kind, start, end })
    }
}

/// The paging position inside a NextToken: the selector, and the keyset of the last fragment.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Position {
    /// `s` (server), `p` (producer) or absent (all, by number).
    k: Option<char>,
    s: i64,
    e: i64,
    /// Keyset: timestamp and number of the last fragment returned.
    t: i64,
    n: String,
}

/// A validated ListFragments request.
#[derive(Debug)]
pub struct ListFragmentsRequest {
    stream: StreamRef,
    limit: u32,
    range: Option<TimeRange>,
    /// Keyset after which the page starts: timestamp (of the range's clock) and number.
    after: Option<(i64, FragmentNumber)>,
}

impl OperationInput for ListFragmentsInput {
    type Valid = ListFragmentsRequest;

    fn validate(self) -> Result<ListFragmentsRequest, AwsError> {
        let stream = StreamRef::from_input(self.stream_name.as_deref(), self.stream_arn.as_deref())?;
        let limit =
            check_range("maxResults", self.max_results.unwrap_or(DEFAULT_MAX_RESULTS), 1, 1000)? as u32;
        let token =
            self.next_token.as_deref().filter(|t| !t.is_empty()).map(page_token::decode).transpose()?;
        let (range, after) = match (token, &self.fragment_selector) {
            (Some(Position { k, s, e, t, n }), _) => {
                let kind = match k {
                    None => None,
                    Some('s') => Some(TimestampKind::Server),
                    Some('p') => Some(TimestampKind::Producer),
                    Some(_) => return Err(AwsError::invalid_argument("The NextToken is not valid.")),
                };
                let number = FragmentNumber::parse(&n)
                    .ok_or_else(|| AwsError::invalid_argument("The NextToken is not valid."))?;
                (kind.map(|kind| TimeRange { kind, start: s, end: e }), Some((t, number)))
            }
            (None, Some(sel)) => (Some(sel.time_range("fragmentSelector")?), None),
            (None, None) => (None, None),
        };
        Ok(ListFragmentsRequest { stream, limit, range, after })
    }
}

/// `ListFragmentsOutput`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListFragmentsOutput {
    fragments: Vec<Fragment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// `Fragment`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Fragment {
    fragment_number: String,
    fragment_size_in_bytes: i64,
    producer_timestamp: EpochSeconds,
    server_timestamp: EpochSeconds,
    fragment_length_in_milliseconds: i64,
}

impl Fragment {
    /// Shapes a fragment for the wire.
    pub fn from_record(f: &FragmentRecord) -> Self {
        Self {
            fragment_number: f.number.as_str().to_owned(),
            fragment_size_in_bytes: f.size_bytes,
            producer_timestamp: EpochSeconds(f.producer_ts_ms),
            server_timestamp: EpochSeconds(f.server_ts_ms),
            fragment_length_in_milliseconds: f.duration_ms,
        }
    }
}

/// Lists fragments.
pub async fn handle(
    call: Call,
    Valid(req): Valid<ListFragmentsInput>,
) -> Result<ListFragmentsOutput, AwsError> {
    let state = &call.state;
    let stream = call.stream(&req.stream).await?;
    let limit = req.limit;
    let index = &state.archive;
    let after = req.after.as_ref();
    let mut rows = match req.range {
        Some(r) => {
            index
                .fragments_in_range(stream.id, r.kind, r.start, r.end, after.map(|(t, n)| (*t, n)), limit + 1)
                .await?
        }
        None => index.fragments_after(stream.id, after.map(|(_, n)| n), limit + 1).await?,
    };
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_token = match (more, rows.last()) {
        (true, Some(last)) => {
            let (k, s, e, t) = match req.range {
                Some(TimeRange { kind: TimestampKind::Server, start, end }) => {
                    (Some('s'), start, end, last.server_ts_ms)
                }
                Some(TimeRange { kind: TimestampKind::Producer, start, end }) => {
                    (Some('p'), start, end, last.producer_ts_ms)
                }
                None => (None, 0, 0, 0),
            };
            Some(page_token::encode(&Position { k, s, e, t, n: last.number.to_string() }))
        }
        _ => None,
    };
    Ok(ListFragmentsOutput { fragments: rows.iter().map(Fragment::from_record).collect(), next_token })
}
