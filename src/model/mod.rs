//! Domain newtypes shared by every layer: stream names, ARNs, regions, versions, retention, tags,
//! the stream and signaling-channel records, and analysis configuration and events.
//!
//! Owns the validation rules the botocore model states for these values (patterns and lengths), so a
//! value of one of these types is known to be well-formed wherever it travels. It must not know about
//! HTTP, JSON casing or storage; the API layer maps [`ValidationError`] to `InvalidArgumentException`.

mod analysis;
mod arn;
mod channel;
mod fragment;
mod names;
mod stream;

use std::fmt;

pub use analysis::{
    AnalyzerEvent, ConfigurationStatus, DestinationUri, ImageFormat, ImageGenerationConfig,
    ImageSelectorType, JpegQuality, NewAnalyzerEvent, NotificationConfig, WorkerCursor,
};
pub use arn::{ResourceArn, ResourceKind};
pub use channel::{ChannelType, SignalingChannel};
pub use fragment::{FRAGMENT_NUMBER_DIGITS, FragmentLocation, FragmentNumber, FragmentRecord};
pub use names::{AccountId, DeviceName, MediaType, Region, StreamName, VersionToken, glob_match};
pub use stream::{DataRetention, StorageTier, Stream, StreamStatus, TagKey, TagSet, TagValue};

/// A value that breaks one of the model's constraints; the message is safe to show to the client.
///
/// The constructors below are the one place that words AWS's validation message, `1 validation
/// error detected: Value 'V' at 'member' failed to satisfy constraint: RULE` (`member` in the
/// model's camelCase, as AWS writes it); every rule of this module and of the API's input shapes
/// builds its error with them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValidationError(pub String);

impl ValidationError {
    /// Builds an error from any displayable message.
    pub fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }

    /// AWS's wording for one broken constraint; `value` is left out of the message when `None`.
    pub fn constraint(value: Option<&dyn fmt::Display>, member: &str, rule: impl fmt::Display) -> Self {
        let value = match value {
            Some(v) => format!(" '{v}'"),
            None => String::new(),
        };
        Self(format!(
            "1 validation error detected: Value{value} at '{member}' failed to satisfy constraint: {rule}"
        ))
    }

    /// A required member is missing (`Value null at 'member' … Member must not be null`).
    pub fn null(member: &str) -> Self {
        Self(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ))
    }

    /// A string or list outside `min..=max` in length.
    pub fn length(member: &str, min: usize, max: usize) -> Self {
        Self::constraint(None, member, format_args!("Member must have length between {min} and {max}"))
    }

    /// A number outside `min..=max`.
    pub fn range(member: &str, value: i64, min: i64, max: i64) -> Self {
        Self::constraint(Some(&value), member, format_args!("Member must have value between {min} and {max}"))
    }

    /// A value outside an enum.
    pub fn enum_value(member: &str, value: &str, allowed: &[&str]) -> Self {
        Self::constraint(
            Some(&value),
            member,
            format_args!("Member must satisfy enum value set: [{}]", allowed.join(", ")),
        )
    }

    /// A string that does not match the model's pattern.
    pub fn pattern(member: &str, pattern: &str) -> Self {
        Self::constraint(
            None,
            member,
            format_args!("Member must satisfy regular expression pattern: {pattern}"),
        )
    }
}

/// Returns a required member, or [`ValidationError::null`].
pub fn required<T>(value: Option<T>, member: &str) -> Result<T, ValidationError> {
    value.ok_or_else(|| ValidationError::null(member))
}

/// Checks a string's length in characters against `min..=max`, naming the member in the error.
pub fn check_len(member: &str, value: &str, min: usize, max: usize) -> Result<(), ValidationError> {
    let n = value.chars().count();
    if n < min || n > max {
        return Err(ValidationError::length(member, min, max));
    }
    Ok(())
}

/// Checks a number against `min..=max`, naming the member in the error.
pub fn check_range(member: &str, value: i64, min: i64, max: i64) -> Result<i64, ValidationError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(ValidationError::range(member, value, min, max))
    }
}

/// Checks a string against the values of an enum shape and returns the matching one.
pub fn check_enum<'a>(member: &str, value: &str, allowed: &[&'a str]) -> Result<&'a str, ValidationError> {
    allowed
        .iter()
        .copied()
        .find(|a| *a == value)
        .ok_or_else(|| ValidationError::enum_value(member, value, allowed))
}
