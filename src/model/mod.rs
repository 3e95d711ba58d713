//! Domain newtypes shared by every layer: stream names, ARNs, regions, versions, retention, tags,
//! the stream and signaling-channel records, and analysis configuration and events.
//!
//! Owns the validation rules the botocore model states for these values (patterns and lengths), so a
//! value of one of these types is known to be well-formed wherever it travels. It must not know about
//! HTTP, JSON casing or storage; the API layer maps [`ValidationError`] to `InvalidArgumentException`.

mod analysis;
mod arn;
mod channel;
mod edge;
mod fragment;
mod names;
mod schedule;
mod stream;

pub use analysis::{
    AnalyzerEvent, ConfigurationStatus, DestinationUri, ImageFormat, ImageGenerationConfig,
    ImageSelectorType, NewAnalyzerEvent, NotificationConfig, WorkerCursor,
};
pub use arn::{ResourceArn, ResourceKind};
pub use channel::{ChannelType, SignalingChannel};
pub use edge::{
    DEFAULT_MAX_LOCAL_MEDIA_MB, DeletionConfig, EdgeConfig, EdgeConfigRecord, FullBufferStrategy, JobReport,
    JobStatus, LocalSizeConfig, MediaSourceConfig, RecorderConfig, SYNC_TIMEOUT_MS, ScheduleConfig,
    SecretArn, SecretRecord, SecretValue, SyncStatus, UploaderConfig, hub_thing_name,
    validate_hub_device_arn, validate_secret_name,
};
pub use fragment::{FRAGMENT_NUMBER_DIGITS, FragmentLocation, FragmentNumber, FragmentRecord};
pub use names::{AccountId, DeviceName, MediaType, Region, StreamName, VersionToken, glob_match};
pub use schedule::CronSchedule;
pub use stream::{DataRetention, StorageTier, Stream, StreamStatus, TagKey, TagSet, TagValue};

/// A value that breaks one of the model's constraints; the message is safe to show to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValidationError(pub String);

impl ValidationError {
    /// Builds an error from any displayable message.
    pub fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}

/// Checks a string's length in characters against `min..=max`, naming the member in the error.
pub(crate) fn check_len(member: &str, value: &str, min: usize, max: usize) -> Result<(), ValidationError> {
    let n = value.chars().count();
    if n < min || n > max {
        return Err(ValidationError::new(format!(
            "1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must have length between {min} and {max}"
        )));
    }
    Ok(())
}
