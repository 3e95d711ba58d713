//! `POST /listEdgeAgentConfigurations`: the edge configurations of one `HubDeviceArn`, in stream
//! order, `MaxResults` (1..=10, default 10) per page; `NextToken` is an opaque base64 position. A
//! key restricted to some stream names sees only those streams' configurations.

use axum::extract::State;
use axum::{Extension, Json};
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::EdgeConfigurationShape;
use crate::api::AppState;
use crate::api::aws::{AwsError, AwsJson, Operation, required};
use crate::auth::Caller;
use crate::model::validate_hub_device_arn;

/// The operation this file serves.
pub const OPERATION: Operation = Operation::ListEdgeAgentConfigurations;

/// `ListEdgeAgentConfigurationsInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    hub_device_arn: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

/// `ListEdgeAgentConfigurationsOutput`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    edge_configs: Vec<EdgeConfigurationShape>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

const TOKEN_PREFIX: &str = "edge:";

fn encode_token(stream_id: i64) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{TOKEN_PREFIX}{stream_id}"))
}

fn decode_token(token: &str) -> Result<i64, AwsError> {
    let bad = || AwsError::invalid_argument("The NextToken is not valid.");
    if token.len() > 1024 {
        return Err(bad());
    }
    let raw = base64::engine::general_purpose::STANDARD.decode(token).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    text.strip_prefix(TOKEN_PREFIX).and_then(|n| n.parse().ok()).ok_or_else(bad)
}

/// Lists one page.
pub async fn handle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AwsJson(input): AwsJson<Input>,
) -> Result<Json<Output>, AwsError> {
    let hub = required(input.hub_device_arn, "hubDeviceArn")?;
    validate_hub_device_arn(&hub, "hubDeviceArn")?;
    let limit = input.max_results.unwrap_or(10);
    if !(1..=10).contains(&limit) {
        let bound = if limit < 1 { "greater than or equal to 1" } else { "less than or equal to 10" };
        return Err(AwsError::invalid_argument(format!(
            "1 validation error detected: Value '{limit}' at 'maxResults' failed to satisfy constraint: Member must have value {bound}"
        )));
    }
    let after = match input.next_token.as_deref() {
        None | Some("") => 0,
        Some(t) => decode_token(t)?,
    };
    let now = state.clock.now_millis();
    // One more than asked tells whether a next page exists.
    let mut rows = state.edge.edge_configs_for_hub(&hub, after, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_token = if more { rows.last().map(|r| encode_token(r.stream_id)) } else { None };
    let edge_configs = rows
        .iter()
        .filter(|r| caller.policy.allows_stream(&r.stream_name))
        .map(|r| EdgeConfigurationShape::from_record(r, now))
        .collect();
    Ok(Json(Output { edge_configs, next_token }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_match_the_model_pattern() {
        let t = encode_token(42);
        assert!(t.chars().all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c)));
        assert_eq!(decode_token(&t).unwrap(), 42);
        assert!(decode_token("bm9wZQ==").is_err());
        assert!(decode_token("!!").is_err());
    }
}
