//! `POST /getDataEndpoint`: the base URL (scheme://host[:port], no path) at which the data-plane
//! APIs of a stream are served. A single node serves every API itself, so the answer is its own
//! public URL: `public_url` when configured, else derived from the listener the request came in on
//! (its scheme and port; the host the client used for a wildcard listen address, with the port
//! added back because the C producer sends `Host` without it).
//!
//! In a cluster, the APIs that need the live stream ([`LIVE_API_NAMES`]: PutMedia and GetMedia)
//! go to the stream's owner (`cluster::ownership`), as KVS hands each stream its own endpoint;
//! every other API (the archived-media ones) is served by any node from the shared index and
//! store, so the answer is this node's own URL.

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, Call, OperationInput, Valid};
use crate::api::streams::StreamRef;
use crate::model::{check_enum, required};

/// Every `APIName` the model allows.
pub const API_NAMES: &[&str] = &[
    "PUT_MEDIA",
    "GET_MEDIA",
    "LIST_FRAGMENTS",
    "GET_MEDIA_FOR_FRAGMENT_LIST",
    "GET_HLS_STREAMING_SESSION_URL",
    "GET_DASH_STREAMING_SESSION_URL",
    "GET_CLIP",
    "GET_IMAGES",
];

/// The `APIName`s whose endpoint, in a cluster, is the stream's owner.
pub const LIVE_API_NAMES: &[&str] = &["PUT_MEDIA", "GET_MEDIA"];

/// A valid request: the stream and the API it asks about.
#[derive(Debug)]
pub struct GetDataEndpointRequest {
    stream: StreamRef,
    api_name: String,
}

/// `GetDataEndpointInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetDataEndpointInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    #[serde(rename = "APIName")]
    api_name: Option<String>,
}

impl OperationInput for GetDataEndpointInput {
    type Valid = GetDataEndpointRequest;

    fn validate(self) -> Result<GetDataEndpointRequest, AwsError> {
        let stream = StreamRef::from_input(self.stream_name.as_deref(), self.stream_arn.as_deref())?;
        let api_name = required(self.api_name.as_deref(), "APIName")?;
        check_enum("APIName", api_name, API_NAMES)?;
        Ok(GetDataEndpointRequest { stream, api_name: api_name.to_owned() })
    }
}

/// `GetDataEndpointOutput`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetDataEndpointOutput {
    data_endpoint: String,
}

/// Returns the data endpoint.
pub async fn handle(
    call: Call,
    Valid(req): Valid<GetDataEndpointInput>,
) -> Result<GetDataEndpointOutput, AwsError> {
    let stream = call.stream(&req.stream).await?;
    if let Some(cluster) = &call.state.cluster
        && LIVE_API_NAMES.contains(&req.api_name.as_str())
    {
        let owner = cluster
            .owner_of(stream.id)
            .await
            .map_err(|e| AwsError::internal(format!("finding the stream's owner: {e}")))?;
        return Ok(GetDataEndpointOutput { data_endpoint: owner.url });
    }
    Ok(GetDataEndpointOutput { data_endpoint: call.public_base_url()? })
}
