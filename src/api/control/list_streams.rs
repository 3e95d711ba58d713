//! `POST /listStreams`: streams of the caller's region in name order, with `BEGINS_WITH` filtering
//! and `MaxResults`/`NextToken` paging (the token carries the last name returned); a key
//! restricted to stream globs only sees matching streams. Also owns the name-condition and
//! name-position shapes ListSignalingChannels shares.

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, Call, OperationInput, Valid, page_token};
use crate::api::streams::StreamInfo;
use crate::model::{StreamName, check_enum, check_range, required};

/// `ListStreamsInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListStreamsInput {
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
    pub fn prefix(&self) -> Result<String, AwsError> {
        if let Some(op) = &self.comparison_operator {
            check_enum("comparisonOperator", op, &["BEGINS_WITH"])?;
        }
        // The model types ComparisonValue as a StreamName / ChannelName: 1..=256 of [a-zA-Z0-9_.-].
        let v = required(self.comparison_value.as_deref(), "comparisonValue")?;
        StreamName::parse_member(v, "comparisonValue")?;
        Ok(v.to_owned())
    }
}

/// The paging position of a name-ordered list: the last name returned.
#[derive(Debug, Serialize, Deserialize)]
pub struct NamePosition {
    after: String,
}

/// A validated page request of a name-ordered list (ListStreams, ListSignalingChannels).
#[derive(Debug)]
pub struct NamePage {
    /// Names beginning with this, if given.
    pub prefix: Option<String>,
    /// Names after this (from the NextToken), if given.
    pub after: Option<String>,
    /// Page size.
    pub max: u32,
}

impl NamePage {
    /// Validates `MaxResults` (1..=10000, `default` when absent), the condition and the token (an
    /// empty token is no token, as the SDKs send it).
    pub fn parse(
        max_results: Option<i64>,
        default: i64,
        condition: Option<&NameCondition>,
        next_token: Option<&str>,
    ) -> Result<Self, AwsError> {
        let max = check_range("maxResults", max_results.unwrap_or(default), 1, 10_000)?;
        let prefix = condition.map(NameCondition::prefix).transpose()?;
        let after = next_token
            .filter(|t| !t.is_empty())
            .map(|t| page_token::decode::<NamePosition>(t).map(|p| p.after))
            .transpose()?;
        Ok(Self { prefix, after, max: max as u32 })
    }

    /// The NextToken after a page whose last name is `last`, when more follow.
    pub fn next_token(more: bool, last: Option<&StreamName>) -> Option<String> {
        match (more, last) {
            (true, Some(last)) => Some(page_token::encode(&NamePosition { after: last.to_string() })),
            _ => None,
        }
    }
}

impl OperationInput for ListStreamsInput {
    type Valid = NamePage;

    fn validate(self) -> Result<NamePage, AwsError> {
        NamePage::parse(
            self.max_results,
            10_000,
            self.stream_name_condition.as_ref(),
            self.next_token.as_deref(),
        )
    }
}

/// `ListStreamsOutput`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListStreamsOutput {
    stream_info_list: Vec<StreamInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// Lists streams.
pub async fn handle(call: Call, Valid(page): Valid<ListStreamsInput>) -> Result<ListStreamsOutput, AwsError> {
    let state = &call.state;
    let caller = &call.caller;
    let found = state
        .archive
        .list_streams(&caller.region, page.prefix.as_deref(), page.after.as_deref(), page.max)
        .await?;
    Ok(ListStreamsOutput {
        next_token: NamePage::next_token(found.more, found.streams.last().map(|s| &s.name)),
        stream_info_list: found
            .streams
            .iter()
            .filter(|s| caller.policy.allows_stream(s.name.as_str()))
            .map(StreamInfo::from_stream)
            .collect(),
    })
}
