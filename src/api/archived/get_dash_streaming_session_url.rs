//! `POST /getDASHStreamingSessionURL`: like the HLS operation (shared parameter parsing), plus
//! DisplayFragmentNumber; returns the absolute URL of the session's `getDASHManifest.mpd` under
//! `/dash/v1/`.

use serde::{Deserialize, Serialize};

use super::get_hls_streaming_session_url::{always_never, session_request};
use super::list_fragments::SelectorInput;
use crate::api::aws::{AwsError, Call, OperationInput, Valid};
use crate::api::streams::StreamRef;
use crate::playback::session::{SessionKind, SessionRequest};

/// `GetDASHStreamingSessionURLInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetDASHStreamingSessionURLInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    playback_mode: Option<String>,
    display_fragment_timestamp: Option<String>,
    display_fragment_number: Option<String>,
    #[serde(rename = "DASHFragmentSelector")]
    dash_fragment_selector: Option<SelectorInput>,
    expires: Option<i64>,
    max_manifest_fragment_results: Option<i64>,
}

impl OperationInput for GetDASHStreamingSessionURLInput {
    type Valid = (StreamRef, SessionRequest);

    fn validate(self) -> Result<Self::Valid, AwsError> {
        let stream = StreamRef::from_input(self.stream_name.as_deref(), self.stream_arn.as_deref())?;
        let mut req = session_request(
            SessionKind::Dash,
            self.playback_mode.as_deref(),
            self.dash_fragment_selector.as_ref(),
            "dASHFragmentSelector",
            self.expires,
            self.max_manifest_fragment_results,
            "maxManifestFragmentResults",
        )?;
        req.display_timestamp =
            always_never(self.display_fragment_timestamp.as_deref(), "displayFragmentTimestamp")?;
        req.display_number = always_never(self.display_fragment_number.as_deref(), "displayFragmentNumber")?;
        Ok((stream, req))
    }
}

/// `GetDASHStreamingSessionURLOutput`.
#[derive(Debug, Serialize)]
pub struct GetDASHStreamingSessionURLOutput {
    #[serde(rename = "DASHStreamingSessionURL")]
    dash_streaming_session_url: String,
}

/// Creates a DASH session.
pub async fn handle(
    call: Call,
    Valid((stream, req)): Valid<GetDASHStreamingSessionURLInput>,
) -> Result<GetDASHStreamingSessionURLOutput, AwsError> {
    let stream = call.stream(&stream).await?;
    let token = call.state.playback.create_session(&stream, req).await?;
    let base = call.public_base_url()?;
    Ok(GetDASHStreamingSessionURLOutput {
        dash_streaming_session_url: format!("{base}/dash/v1/getDASHManifest.mpd?SessionToken={token}"),
    })
}
