//! `POST /openkvs/describeIngestHealth`: whether a stream's producer cuts its fragments at key
//! frames, read from the index: of the stream's newest fragments (by server timestamp, at most
//! `MaxFragments`, 1..=1000, default 1000), how many do not start with a key frame on their video
//! track, and the newest such. A camera or encoder that fragments elsewhere shows up here (and in
//! `openkvs_stream_fragments_without_key_frame_total`) before viewers report stutter. Only archived
//! fragments are in the index: a stream without retention reports none.

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, Call, EpochSeconds, OperationInput, Valid};
use crate::api::streams::StreamRef;
use crate::archive::TimestampKind;
use crate::model::check_range;

/// `DescribeIngestHealth` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DescribeIngestHealthInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    max_fragments: Option<i64>,
}

impl OperationInput for DescribeIngestHealthInput {
    /// The stream and how many of its newest fragments to examine.
    type Valid = (StreamRef, u32);

    fn validate(self) -> Result<Self::Valid, AwsError> {
        let stream = StreamRef::from_input(self.stream_name.as_deref(), self.stream_arn.as_deref())?;
        let max = check_range("maxFragments", self.max_fragments.unwrap_or(1000), 1, 1000)?;
        Ok((stream, max as u32))
    }
}

/// `DescribeIngestHealth` output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeIngestHealthOutput {
    stream_name: String,
    #[serde(rename = "StreamARN")]
    stream_arn: String,
    fragments_examined: usize,
    fragments_without_key_frame: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    oldest_server_timestamp: Option<EpochSeconds>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_fragment_without_key_frame: Option<FragmentWithoutKeyFrame>,
}

/// The newest fragment that does not start with a key frame.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct FragmentWithoutKeyFrame {
    fragment_number: String,
    producer_timestamp: EpochSeconds,
    server_timestamp: EpochSeconds,
}

/// Describes the stream's recent fragments.
pub async fn handle(
    call: Call,
    Valid((stream, max)): Valid<DescribeIngestHealthInput>,
) -> Result<DescribeIngestHealthOutput, AwsError> {
    let state = &call.state;
    let stream = call.stream(&stream).await?;
    let newest_first =
        state.archive.latest_fragments(stream.id, TimestampKind::Server, i64::MIN, max).await?;
    let without: Vec<_> = newest_first.iter().filter(|f| !f.key_frame).collect();
    Ok(DescribeIngestHealthOutput {
        stream_name: stream.name.to_string(),
        stream_arn: stream.arn.to_string(),
        fragments_examined: newest_first.len(),
        fragments_without_key_frame: without.len(),
        oldest_server_timestamp: newest_first.last().map(|f| EpochSeconds(f.server_ts_ms)),
        last_fragment_without_key_frame: without.first().map(|f| FragmentWithoutKeyFrame {
            fragment_number: f.number.as_str().to_owned(),
            producer_timestamp: EpochSeconds(f.producer_ts_ms),
            server_timestamp: EpochSeconds(f.server_ts_ms),
        }),
    })
}
