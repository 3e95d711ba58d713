//! `POST /getDataEndpoint`: the base URL (scheme://host[:port], no path) at which the data-plane
//! APIs of a stream are served. This server serves every API itself, so the answer is its own
//! public URL: `public_url` when configured, else derived from the listener the request came in on
//! (its scheme and port; the host the client used for a wildcard listen address, with the port
//! added back because the C producer sends `Host` without it).

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
    type Valid = StreamRef;

    fn validate(self) -> Result<StreamRef, AwsError> {
        let stream = StreamRef::from_input(self.stream_name.as_deref(), self.stream_arn.as_deref())?;
        check_enum("APIName", required(self.api_name.as_deref(), "APIName")?, API_NAMES)?;
        Ok(stream)
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
    Valid(stream): Valid<GetDataEndpointInput>,
) -> Result<GetDataEndpointOutput, AwsError> {
    call.stream(&stream).await?;
    Ok(GetDataEndpointOutput { data_endpoint: call.public_base_url()? })
}
