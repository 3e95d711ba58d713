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

    /// The name as path components (file system directories or object key parts) that never
    /// escape or share a directory: a name is never a path. `.` and `..` are valid names, and so is
    /// a 256-character one (longer than a file name may be), so:
    /// - leading dots are written `%2E` (`.` → `%2E`, `..` → `%2E%2E`, `.a` → `%2Ea`): never a
    ///   special or hidden entry;
    /// - a name longer than [`StreamName::SEGMENT_LIMIT`] characters becomes `%%` followed by its
    ///   successive pieces of that many characters, each escaped the same way (so no component is
    ///   longer than 3 × 80 = 240 bytes, under the usual 255-byte file name limit).
    ///
    /// `%` is not a name character, so the mapping is one-to-one: two names never share a
    /// directory.
    pub fn path_segments(&self) -> Vec<String> {
        fn escape(part: &str) -> String {
            let body = part.trim_start_matches('.');
            let mut out = "%2E".repeat(part.len() - body.len());
            out.push_str(body);
            out
        }
        if self.0.len() <= Self::SEGMENT_LIMIT {
            return vec![escape(&self.0)];
        }
        let mut segments = vec!["%%".to_owned()];
        // Names are ASCII: byte chunks are character chunks.
        segments.extend(
            self.0
                .as_bytes()
                .chunks(Self::SEGMENT_LIMIT)
                .map(|c| escape(std::str::from_utf8(c).expect("stream names are ASCII"))),
        );
        segments
    }

    /// Longest name (and longest piece of a longer name) kept as one path component by
    /// [`StreamName::path_segments`].
    pub const SEGMENT_LIMIT: usize = 80;
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

    /// Every name made only of dots, dashes and underscores (up to 4 characters), plus long ones:
    /// each maps to plain components (no `.`/`..`, no separator, no hidden entry, none longer than
    /// 255 bytes) and no two names share a mapping.
    #[test]
    fn stream_names_are_never_paths() {
        let mut names: Vec<String> = Vec::new();
        let mut level = vec![String::new()];
        for _ in 0..4 {
            level = level.iter().flat_map(|p| ['.', '-', '_'].map(|c| format!("{p}{c}"))).collect();
            names.extend(level.iter().cloned());
        }
        names.extend([".".repeat(256), format!("{}a", ".".repeat(255)), "a".repeat(256), "a".repeat(80)]);
        names.extend(["a".repeat(81), ".a".into(), "..a".into(), "a.".into(), "a..b".into()]);
        let mut seen = std::collections::HashMap::new();
        for name in &names {
            let segments = StreamName::parse(name).unwrap().path_segments();
            for seg in &segments {
                assert!(!seg.is_empty() && seg != "." && seg != "..", "{name:?} -> {segments:?}");
                assert!(!seg.starts_with('.') && !seg.contains('/'), "{name:?} -> {segments:?}");
                assert!(seg.len() <= 255, "{name:?} -> {} bytes", seg.len());
            }
            if let Some(other) = seen.insert(segments.clone(), name.clone()) {
                panic!("{name:?} and {other:?} both map to {segments:?}");
            }
        }
        assert_eq!(StreamName::parse(".").unwrap().path_segments(), vec!["%2E"]);
        assert_eq!(StreamName::parse("..").unwrap().path_segments(), vec!["%2E%2E"]);
        assert_eq!(StreamName::parse(".-_").unwrap().path_segments(), vec!["%2E-_"]);
        assert_eq!(StreamName::parse("cam-1.v2").unwrap().path_segments(), vec!["cam-1.v2"]);
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
