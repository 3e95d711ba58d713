//! `POST /listSignalingChannels`: channels of the caller's region in name order, with
//! `BEGINS_WITH` filtering and `MaxResults` (default 500, the model's documented default) /
//! `NextToken` keyset paging exactly as ListStreams does; a key restricted to name globs only sees
//! matching channels.

use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use super::list_streams::{NameCondition, decode_token, encode_token};
use crate::api::AppState;
use crate::api::aws::{AwsError, AwsJson, Operation};
use crate::api::channels::{ChannelInfo, channel_error};
use crate::auth::Caller;

/// The operation this file serves.
pub const OPERATION: Operation = Operation::ListSignalingChannels;

/// `MaxResults` when the request gives none ("The default is 500" in the model).
pub const DEFAULT_MAX_RESULTS: i64 = 500;

/// `ListSignalingChannels` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    max_results: Option<i64>,
    next_token: Option<String>,
    channel_name_condition: Option<NameCondition>,
}

/// Lists channels.
pub async fn handle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AwsJson(input): AwsJson<Input>,
) -> Result<Json<Value>, AwsError> {
    let max = input.max_results.unwrap_or(DEFAULT_MAX_RESULTS);
    if !(1..=10_000).contains(&max) {
        return Err(AwsError::invalid_argument(format!(
            "1 validation error detected: Value '{max}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 10000"
        )));
    }
    let prefix = input.channel_name_condition.as_ref().map(NameCondition::prefix).transpose()?;
    let after = input.next_token.as_deref().filter(|t| !t.is_empty()).map(decode_token).transpose()?;
    let page = state
        .archive
        .list_channels(&caller.region, prefix, after.as_deref(), max as u32)
        .await
        .map_err(channel_error)?;
    let next = match (page.more, page.channels.last()) {
        (true, Some(last)) => Some(encode_token(last.name.as_str())),
        _ => None,
    };
    let infos: Vec<ChannelInfo> = page
        .channels
        .iter()
        .filter(|c| caller.policy.allows_stream(c.name.as_str()))
        .map(ChannelInfo::from_channel)
        .collect();
    let mut out = json!({ "ChannelInfoList": infos });
    if let Some(t) = next {
        out["NextToken"] = Value::String(t);
    }
    Ok(Json(out))
}
