//! `POST /listStreams`: streams of the caller's region in name order, with `BEGINS_WITH` filtering
//! and `MaxResults`/`NextToken` paging. The token is opaque base64 of the last name returned; a
//! key restricted to stream globs only sees matching streams.

use axum::extract::State;
use axum::{Extension, Json};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::AppState;
use crate::api::aws::{AwsError, AwsJson, Operation, required};
use crate::api::streams::StreamInfo;
use crate::auth::Caller;
use crate::model::StreamName;

/// The operation this file serves.
pub const OPERATION: Operation = Operation::ListStreams;

/// `ListStreams` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    max_results: Option<i64>,
    next_token: Option<String>,
    stream_name_condition: Option<NameCondition>,
}

/// `StreamNameCondition` / `ChannelNameCondition`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NameCondition {
    /// Only `BEGINS_WITH`.
    pub comparison_operator: Option<String>,
    /// The prefix.
    pub comparison_value: Option<String>,
}

impl NameCondition {
    /// Validates the condition and returns the prefix.
    pub fn prefix(&self) -> Result<&str, AwsError> {
        if let Some(op) = &self.comparison_operator
            && op != "BEGINS_WITH"
        {
            return Err(AwsError::invalid_argument(
                "1 validation error detected: Value at 'comparisonOperator' failed to satisfy constraint: Member must satisfy enum value set: [BEGINS_WITH]",
            ));
        }
        // The model types ComparisonValue as a StreamName / ChannelName: 1..=256 of [a-zA-Z0-9_.-].
        let v = required(self.comparison_value.as_deref(), "comparisonValue")?;
        StreamName::parse_member(v, "comparisonValue")?;
        Ok(v)
    }
}

/// Encodes the paging position after `name`.
pub fn encode_token(name: &str) -> String {
    STANDARD.encode(format!("v1:{name}"))
}

/// Decodes a token made by [`encode_token`].
pub fn decode_token(token: &str) -> Result<String, AwsError> {
    let bad = || AwsError::invalid_argument("The NextToken is not valid.");
    if token.len() > 1024 {
        return Err(bad());
    }
    let raw = STANDARD.decode(token).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    text.strip_prefix("v1:").map(str::to_owned).ok_or_else(bad)
}

/// Lists streams.
pub async fn handle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AwsJson(input): AwsJson<Input>,
) -> Result<Json<Value>, AwsError> {
    let max = input.max_results.unwrap_or(10_000);
    if !(1..=10_000).contains(&max) {
        return Err(AwsError::invalid_argument(format!(
            "1 validation error detected: Value '{max}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 10000"
        )));
    }
    let prefix = input.stream_name_condition.as_ref().map(NameCondition::prefix).transpose()?;
    let after = input.next_token.as_deref().filter(|t| !t.is_empty()).map(decode_token).transpose()?;
    let page = state.archive.list_streams(&caller.region, prefix, after.as_deref(), max as u32).await?;
    let next = match (page.more, page.streams.last()) {
        (true, Some(last)) => Some(encode_token(last.name.as_str())),
        _ => None,
    };
    let infos: Vec<StreamInfo> = page
        .streams
        .iter()
        .filter(|s| caller.policy.allows_stream(s.name.as_str()))
        .map(StreamInfo::from_stream)
        .collect();
    let mut out = json!({ "StreamInfoList": infos });
    if let Some(t) = next {
        out["NextToken"] = Value::String(t);
    }
    Ok(Json(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_garbage() {
        assert_eq!(decode_token(&encode_token("cam-1")).unwrap(), "cam-1");
        assert!(decode_token("!!!").is_err());
        assert!(decode_token(&STANDARD.encode("cam-1")).is_err());
    }
}
