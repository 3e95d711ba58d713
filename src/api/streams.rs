//! Resolving the "StreamName or StreamARN" pair that most operations take into a stream the
//! caller may touch, and shaping a stream as the wire's `StreamInfo`.
//!
//! Policy is checked on the requested name *before* the lookup, so a restricted key learns nothing
//! about streams outside its globs. This module must not change any state.

use serde::Serialize;

use super::AppState;
use super::aws::{AwsError, AwsErrorCode, EpochSeconds, Operation};
use crate::auth::Caller;
use crate::model::{ResourceArn, ResourceKind, Stream, StreamName};

/// How the input named the stream.
#[derive(Debug, Clone)]
pub enum StreamRef {
    /// By name (in the caller's region).
    Name(StreamName),
    /// By ARN.
    Arn(ResourceArn),
}

impl StreamRef {
    /// Validates an optional name/ARN pair: exactly one must be given.
    pub fn from_pair(
        name: Option<&str>,
        arn: Option<&str>,
        arn_error: AwsErrorCode,
    ) -> Result<Self, AwsError> {
        match (name, arn) {
            (Some(n), None) => Ok(StreamRef::Name(StreamName::parse_member(n, "streamName")?)),
            (None, Some(a)) => {
                let arn =
                    ResourceArn::parse_member(a, "streamARN").map_err(|e| AwsError::new(arn_error, e.0))?;
                if arn.kind != ResourceKind::Stream {
                    return Err(AwsError::new(arn_error, "The ARN does not name a stream."));
                }
                Ok(StreamRef::Arn(arn))
            }
            (None, None) => {
                Err(AwsError::invalid_argument("Either StreamName or StreamARN must be specified."))
            }
            (Some(_), Some(_)) => {
                Err(AwsError::invalid_argument("Specify either StreamName or StreamARN, but not both."))
            }
        }
    }

    /// [`Self::from_pair`] for the `StreamName`/`StreamARN` members of most inputs, whose ARN
    /// errors are `InvalidArgumentException`.
    pub fn from_input(name: Option<&str>, arn: Option<&str>) -> Result<Self, AwsError> {
        Self::from_pair(name, arn, AwsErrorCode::InvalidArgumentException)
    }

    /// The stream name this reference names.
    pub fn name(&self) -> &StreamName {
        match self {
            StreamRef::Name(n) => n,
            StreamRef::Arn(a) => &a.name,
        }
    }
}

/// Checks that the caller's key may call `op` on the stream named `name`.
pub fn authorize_stream(caller: &Caller, op: Operation, name: &StreamName) -> Result<(), AwsError> {
    authorize_name(caller, op, name, "stream")
}

/// Checks a named resource (`what`: "stream", "signaling channel") against the key's name globs,
/// which apply to streams and channels alike; a refusal is the operation's denied code.
pub fn authorize_name(caller: &Caller, op: Operation, name: &StreamName, what: &str) -> Result<(), AwsError> {
    if caller.policy.allows_stream(name.as_str()) {
        return Ok(());
    }
    Err(AwsError::new(
        op.denied_code(),
        format!("User {} is not authorized to perform {} on this {what}.", caller.access_key_id, op.name()),
    ))
}

/// Authorizes and looks up the referenced stream; a missing stream is `ResourceNotFoundException`.
pub async fn resolve(
    state: &AppState,
    caller: &Caller,
    op: Operation,
    stream: &StreamRef,
) -> Result<Stream, AwsError> {
    authorize_stream(caller, op, stream.name())?;
    let found = match stream {
        StreamRef::Name(n) => state.archive.stream_by_name(&caller.region, n).await,
        StreamRef::Arn(a) => state.archive.stream_by_arn(a).await,
    };
    // IndexError::NotFound maps to ResourceNotFoundException for a stream.
    Ok(found?)
}

/// `StreamInfo` as DescribeStream and ListStreams return it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    device_name: Option<String>,
    stream_name: String,
    #[serde(rename = "StreamARN")]
    stream_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    media_type: Option<String>,
    kms_key_id: String,
    version: String,
    status: &'static str,
    creation_time: EpochSeconds,
    data_retention_in_hours: u32,
}

impl StreamInfo {
    /// Shapes a stream for the wire.
    pub fn from_stream(s: &Stream) -> Self {
        Self {
            device_name: s.device_name.clone(),
            stream_name: s.name.to_string(),
            stream_arn: s.arn.to_string(),
            media_type: s.media_type.clone(),
            kms_key_id: s.kms_key_id.clone().unwrap_or_else(|| default_kms_key(s)),
            version: s.version.as_str().to_owned(),
            status: s.status.as_str(),
            creation_time: EpochSeconds(s.created_at_ms),
            data_retention_in_hours: s.retention.hours(),
        }
    }
}

/// The key AWS reports when a stream was created without `KmsKeyId`.
fn default_kms_key(s: &Stream) -> String {
    format!("arn:aws:kms:{}:{}:alias/aws/kinesisvideo", s.arn.region, s.arn.account)
}
