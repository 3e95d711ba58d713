//! `POST /listSignalingChannels`: channels of the caller's region in name order, with
//! `BEGINS_WITH` filtering and `MaxResults` (default 500, the model's documented default) /
//! `NextToken` keyset paging exactly as ListStreams does; a key restricted to name globs only sees
//! matching channels.

use serde::{Deserialize, Serialize};

use super::list_streams::{NameCondition, NamePage};
use crate::api::aws::{AwsError, Call, OperationInput, Valid};
use crate::api::channels::{ChannelInfo, channel_error};

/// `MaxResults` when the request gives none ("The default is 500" in the model).
pub const DEFAULT_MAX_RESULTS: i64 = 500;

/// `ListSignalingChannelsInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListSignalingChannelsInput {
    max_results: Option<i64>,
    next_token: Option<String>,
    channel_name_condition: Option<NameCondition>,
}

impl OperationInput for ListSignalingChannelsInput {
    type Valid = NamePage;

    fn validate(self) -> Result<NamePage, AwsError> {
        NamePage::parse(
            self.max_results,
            DEFAULT_MAX_RESULTS,
            self.channel_name_condition.as_ref(),
            self.next_token.as_deref(),
        )
    }
}

/// `ListSignalingChannelsOutput`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListSignalingChannelsOutput {
    channel_info_list: Vec<ChannelInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// Lists channels.
pub async fn handle(
    call: Call,
    Valid(page): Valid<ListSignalingChannelsInput>,
) -> Result<ListSignalingChannelsOutput, AwsError> {
    let state = &call.state;
    let caller = &call.caller;
    let found = state
        .archive
        .list_channels(&caller.region, page.prefix.as_deref(), page.after.as_deref(), page.max)
        .await
        .map_err(channel_error)?;
    Ok(ListSignalingChannelsOutput {
        next_token: NamePage::next_token(found.more, found.channels.last().map(|c| &c.name)),
        channel_info_list: found
            .channels
            .iter()
            .filter(|c| caller.policy.allows_stream(c.name.as_str()))
            .map(ChannelInfo::from_channel)
            .collect(),
    })
}
