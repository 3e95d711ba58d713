//! Validated names and tokens: [`StreamName`], [`DeviceName`], [`MediaType`], [`Region`],
//! [`AccountId`] and [`VersionToken`]. Each constructor enforces the botocore pattern and length;
//! nothing here touches storage or the wire.

use std::fmt;

use rand::Rng;
use rand::distr::Alphanumeric;

use super::{ValidationError, check_len};

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// A stream (or channel) name: `[a-zA-Z0-9_.-]+`, 1..=256 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamName(String);

impl StreamName {
    /// Validates a stream name; `member` names the JSON member in the error message.
    pub fn parse_member(value: &str, member: &str) -> Result<Self, ValidationError> {
        check_len(member, value, 1, 256)?;
        if !value.chars().all(is_name_char) {
            return Err(ValidationError::pattern(member, "[a-zA-Z0-9_.-]+"));
        }
        Ok(Self(value.to_owned()))
    }

    /// Validates a stream name given as the `StreamName` member.
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        Self::parse_member(value, "streamName")
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StreamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A device name: `[a-zA-Z0-9_.-]+`, 1..=128 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceName(String);

impl DeviceName {
    /// Validates a device name.
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        check_len("deviceName", value, 1, 128)?;
        if !value.chars().all(is_name_char) {
            return Err(ValidationError::pattern("deviceName", "[a-zA-Z0-9_.-]+"));
        }
        Ok(Self(value.to_owned()))
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Consumes the name.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// A media type list such as `video/h264,audio/aac`: 1..=128 characters,
/// `[\w\-\.\+]+/[\w\-\.\+]+(,[\w\-\.\+]+/[\w\-\.\+]+)*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType(String);

impl MediaType {
    /// Validates a media type list.
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        check_len("mediaType", value, 1, 128)?;
        let part_ok = |p: &str| {
            !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '+'))
        };
        let ok = value.split(',').all(|item| match item.split_once('/') {
            Some((a, b)) => part_ok(a) && part_ok(b),
            None => false,
        });
        if !ok {
            return Err(ValidationError::pattern(
                "mediaType",
                r"[\w\-\.\+]+/[\w\-\.\+]+(,[\w\-\.\+]+/[\w\-\.\+]+)*",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// The media type as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Consumes the value.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// An AWS region name taken from a request's SigV4 credential scope, e.g. `us-east-1`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Region(String);

impl Region {
    /// Validates a region name: 1..=64 of `[a-z0-9-]`.
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        if value.is_empty()
            || value.len() > 64
            || !value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(ValidationError::new(format!("invalid region '{value}'")));
        }
        Ok(Self(value.to_owned()))
    }

    /// The region as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A 12-digit AWS account id, used only to shape ARNs the way AWS does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountId(String);

impl AccountId {
    /// Validates an account id: exactly 12 ASCII digits.
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        if value.len() != 12 || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ValidationError::new(format!("account id must be 12 digits, got '{value}'")));
        }
        Ok(Self(value.to_owned()))
    }

    /// The account id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for AccountId {
    fn default() -> Self {
        Self("000000000000".to_owned())
    }
}

/// An opaque stream version: replaced on every metadata change, echoed back as `CurrentVersion`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionToken(String);

impl VersionToken {
    /// Length of generated tokens; the C producer copies it into a small fixed buffer.
    pub const LEN: usize = 16;

    /// A fresh random token of [`Self::LEN`] alphanumerics.
    pub fn generate() -> Self {
        let s: String = rand::rng().sample_iter(&Alphanumeric).take(Self::LEN).map(char::from).collect();
        Self(s)
    }

    /// Validates a client-supplied `CurrentVersion`: `[a-zA-Z0-9]+`, 1..=64.
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        check_len("currentVersion", value, 1, 64)?;
        if !value.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(ValidationError::pattern("currentVersion", "[a-zA-Z0-9]+"));
        }
        Ok(Self(value.to_owned()))
    }

    /// Wraps a token read back from the index.
    pub fn from_stored(value: String) -> Self {
        Self(value)
    }

    /// The token as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `text` (a stream or channel name) matches a name glob: `*` is any run, `?` one byte.
/// Iterative, linear in practice. Used by key policies and analyzer stream selection.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (pattern, text) = (pattern.as_bytes(), text.as_bytes());
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_names_follow_the_model() {
        assert!(StreamName::parse("cam-1_front.v2").is_ok());
        assert!(StreamName::parse("").is_err());
        assert!(StreamName::parse("bad name!").is_err());
        assert!(StreamName::parse(&"a".repeat(256)).is_ok());
        assert!(StreamName::parse(&"a".repeat(257)).is_err());
    }

    #[test]
    fn media_types_follow_the_model() {
        assert!(MediaType::parse("video/h264").is_ok());
        assert!(MediaType::parse("video/h264,audio/aac").is_ok());
        assert!(MediaType::parse("video").is_err());
        assert!(MediaType::parse("video/h264,").is_err());
    }

    #[test]
    fn versions_are_alphanumeric() {
        let v = VersionToken::generate();
        assert_eq!(v.as_str().len(), VersionToken::LEN);
        assert!(VersionToken::parse(v.as_str()).is_ok());
        assert!(VersionToken::parse("abc-1").is_err());
    }
}
