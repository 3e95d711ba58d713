//! `POST /openkvs/listAnalyzerEvents`: the events analyzers recorded for a stream, by producer
//! time, optionally of one `Kind`; `MaxResults` 1..=1000 (default 100) with an opaque `NextToken`
//! (a keyset position: every page is one index range query).

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, Call, EpochSeconds, OperationInput, Valid, page_token, timestamp_millis};
use crate::api::streams::StreamRef;
use crate::model::{AnalyzerEvent, check_len, check_range};

/// `ListAnalyzerEvents` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ListAnalyzerEventsInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    start_timestamp: Option<f64>,
    end_timestamp: Option<f64>,
    kind: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

/// The paging position inside a NextToken: producer time and id of the last event returned.
#[derive(Debug, Serialize, Deserialize)]
struct Position {
    t: i64,
    i: i64,
}

/// A validated ListAnalyzerEvents request.
#[derive(Debug)]
pub struct ListAnalyzerEventsRequest {
    stream: StreamRef,
    limit: u32,
    from: i64,
    to: i64,
    kind: Option<String>,
    after: Option<(i64, i64)>,
}

impl OperationInput for ListAnalyzerEventsInput {
    type Valid = ListAnalyzerEventsRequest;

    fn validate(self) -> Result<ListAnalyzerEventsRequest, AwsError> {
        let stream = StreamRef::from_input(self.stream_name.as_deref(), self.stream_arn.as_deref())?;
        let limit = check_range("maxResults", self.max_results.unwrap_or(100), 1, 1000)? as u32;
        let from =
            self.start_timestamp.map(|s| timestamp_millis(s, "StartTimestamp")).transpose()?.unwrap_or(0);
        let to =
            self.end_timestamp.map(|s| timestamp_millis(s, "EndTimestamp")).transpose()?.unwrap_or(i64::MAX);
        if from > to {
            return Err(AwsError::invalid_argument("The StartTimestamp must not be after the EndTimestamp."));
        }
        if let Some(k) = &self.kind {
            check_len("kind", k, 1, 64)?;
        }
        let after = self
            .next_token
            .as_deref()
            .filter(|t| !t.is_empty())
            .map(|t| page_token::decode::<Position>(t).map(|p| (p.t, p.i)))
            .transpose()?;
        Ok(ListAnalyzerEventsRequest { stream, limit, from, to, kind: self.kind, after })
    }
}

/// `ListAnalyzerEvents` output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAnalyzerEventsOutput {
    events: Vec<Event>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// One event (docs/openapi/analysis.yaml `AnalyzerEvent`): nullable members are `null`, not left
/// out.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Event {
    event_id: i64,
    worker: String,
    kind: String,
    fragment_number: Option<String>,
    producer_timestamp: EpochSeconds,
    server_timestamp: EpochSeconds,
    end_timestamp: Option<EpochSeconds>,
    score: Option<f64>,
    detail: serde_json::Value,
}

impl Event {
    fn from_event(e: AnalyzerEvent) -> Self {
        Self {
            event_id: e.id,
            worker: e.worker,
            kind: e.kind,
            fragment_number: e.fragment_number.map(|n| n.as_str().to_owned()),
            producer_timestamp: EpochSeconds(e.producer_ts_ms),
            server_timestamp: EpochSeconds(e.server_ts_ms),
            end_timestamp: e.end_ts_ms.map(EpochSeconds),
            score: e.score,
            detail: e.detail,
        }
    }
}

/// Lists events.
pub async fn handle(
    call: Call,
    Valid(req): Valid<ListAnalyzerEventsInput>,
) -> Result<ListAnalyzerEventsOutput, AwsError> {
    let state = &call.state;
    let stream = call.stream(&req.stream).await?;
    let limit = req.limit;
    let mut rows = state
        .archive
        .analyzer_events(stream.id, req.from, req.to, req.kind.as_deref(), req.after, limit + 1)
        .await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_token = match (more, rows.last()) {
        (true, Some(last)) => Some(page_token::encode(&Position { t: last.producer_ts_ms, i: last.id })),
        _ => None,
    };
    Ok(ListAnalyzerEventsOutput { events: rows.into_iter().map(Event::from_event).collect(), next_token })
}
