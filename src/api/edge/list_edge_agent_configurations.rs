//! `POST /listEdgeAgentConfigurations`: the edge configurations of one `HubDeviceArn`, in stream
//! order, `MaxResults` (1..=10, default 10) per page; `NextToken` carries the last stream's
//! position (the shared codec, `aws::page_token`). A key restricted to some stream names sees
//! only those streams' configurations.

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, Call, OperationInput, Valid, page_token};
use crate::api::edge_configurations::EdgeConfigurationShape;
use crate::model::{check_range, required, validate_hub_device_arn};

/// `ListEdgeAgentConfigurationsInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListEdgeAgentConfigurationsInput {
    hub_device_arn: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

/// The paging position: the id of the last stream returned.
#[derive(Debug, Serialize, Deserialize)]
struct HubPosition {
    after_stream: i64,
}

/// A validated page request.
#[derive(Debug)]
pub struct HubPage {
    hub: String,
    after: i64,
    limit: i64,
}

impl OperationInput for ListEdgeAgentConfigurationsInput {
    type Valid = HubPage;

    fn validate(self) -> Result<HubPage, AwsError> {
        let hub = required(self.hub_device_arn, "hubDeviceArn")?;
        validate_hub_device_arn(&hub, "hubDeviceArn")?;
        let limit = check_range("maxResults", self.max_results.unwrap_or(10), 1, 10)?;
        let after = match self.next_token.as_deref() {
            None | Some("") => 0,
            Some(t) => page_token::decode::<HubPosition>(t)?.after_stream,
        };
        Ok(HubPage { hub, after, limit })
    }
}

/// `ListEdgeAgentConfigurationsOutput`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListEdgeAgentConfigurationsOutput {
    edge_configs: Vec<EdgeConfigurationShape>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// Lists one page.
pub async fn handle(
    call: Call,
    Valid(page): Valid<ListEdgeAgentConfigurationsInput>,
) -> Result<ListEdgeAgentConfigurationsOutput, AwsError> {
    let state = &call.state;
    let now = state.clock.now_millis();
    // One more than asked tells whether a next page exists.
    let mut rows = state.archive.edge_configs_for_hub(&page.hub, page.after, page.limit + 1).await?;
    let more = rows.len() as i64 > page.limit;
    rows.truncate(page.limit as usize);
    let next_token = if more {
        rows.last().map(|r| page_token::encode(&HubPosition { after_stream: r.stream_id }))
    } else {
        None
    };
    let edge_configs = rows
        .iter()
        .filter(|r| call.caller.policy.allows_stream(&r.stream_name))
        .map(|r| EdgeConfigurationShape::from_record(r, now))
        .collect();
    Ok(ListEdgeAgentConfigurationsOutput { edge_configs, next_token })
}
