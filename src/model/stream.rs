//! The stream record and its attributes: status, retention, storage tier and tags. Pure data with
//! validation; the index stores it and the API layer shapes it for the wire.

use std::collections::BTreeMap;

use super::{ResourceArn, StreamName, ValidationError, VersionToken, check_len, check_range};

/// Lifecycle status as KVS reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamStatus {
    /// Being created (AWS is asynchronous; this server creates streams directly as ACTIVE).
    Creating,
    /// Ready for ingest and playback.
    Active,
    /// Metadata change in progress.
    Updating,
    /// Being deleted.
    Deleting,
}

impl StreamStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamStatus::Creating => "CREATING",
            StreamStatus::Active => "ACTIVE",
            StreamStatus::Updating => "UPDATING",
            StreamStatus::Deleting => "DELETING",
        }
    }

    /// Parses the stored/wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "CREATING" => StreamStatus::Creating,
            "ACTIVE" => StreamStatus::Active,
            "UPDATING" => StreamStatus::Updating,
            "DELETING" => StreamStatus::Deleting,
            _ => return None,
        })
    }
}

/// Media storage tier (`StreamStorageConfiguration.DefaultStorageTier`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StorageTier {
    /// Frequently accessed media (the default).
    #[default]
    Hot,
    /// Infrequently accessed media.
    Warm,
}

impl StorageTier {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            StorageTier::Hot => "HOT",
            StorageTier::Warm => "WARM",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "HOT" => Some(StorageTier::Hot),
            "WARM" => Some(StorageTier::Warm),
            _ => None,
        }
    }
}

/// Data retention in hours, `0..=87600` (0 = nothing archived).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DataRetention(u32);

impl DataRetention {
    /// The largest retention KVS allows: ten years.
    pub const MAX_HOURS: i64 = 87_600;

    /// Validates an hour count.
    pub fn from_hours(hours: i64) -> Result<Self, ValidationError> {
        Ok(Self(check_range("dataRetentionInHours", hours, 0, Self::MAX_HOURS)? as u32))
    }

    /// Hours.
    pub fn hours(self) -> u32 {
        self.0
    }

    /// Whether fragments are archived at all.
    pub fn is_persistent(self) -> bool {
        self.0 > 0
    }
}

/// A tag key: 1..=128 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TagKey(String);

impl TagKey {
    /// Validates a tag key.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        check_len("tagKey", s, 1, 128)?;
        Ok(Self(s.to_owned()))
    }

    /// Validates a `TagKeyList` (UntagStream, UntagResource): 1..=50 keys, each a valid key.
    pub fn check_list(keys: &[String]) -> Result<(), ValidationError> {
        if keys.is_empty() || keys.len() > TagSet::MAX {
            return Err(ValidationError::length("tagKeyList", 1, TagSet::MAX));
        }
        keys.iter().try_for_each(|k| Self::parse(k).map(drop))
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A tag value: 0..=256 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagValue(String);

impl TagValue {
    /// Validates a tag value.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        check_len("tagValue", s, 0, 256)?;
        Ok(Self(s.to_owned()))
    }

    /// The value.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A validated set of tags (key → value), at most [`TagSet::MAX`] entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagSet(pub BTreeMap<String, String>);

impl TagSet {
    /// The most tags one resource may carry.
    pub const MAX: usize = 50;

    /// Validates a key → value map (1..=50 entries when `required`).
    pub fn parse<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        required: bool,
    ) -> Result<Self, ValidationError> {
        let mut out = BTreeMap::new();
        for (k, v) in pairs {
            let k = TagKey::parse(k)?;
            let v = TagValue::parse(v)?;
            out.insert(k.0, v.0);
        }
        if required && out.is_empty() {
            return Err(ValidationError::constraint(
                None,
                "tags",
                "Member must have length greater than or equal to 1",
            ));
        }
        if out.len() > Self::MAX {
            return Err(ValidationError::constraint(
                None,
                "tags",
                "Member must have length less than or equal to 50",
            ));
        }
        Ok(Self(out))
    }

    /// Number of tags.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no tags.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A stream as the index holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    /// Index-internal id (stable for the stream's life; never reused on the wire).
    pub id: i64,
    /// The stream's ARN (its region, account and creation millis).
    pub arn: ResourceArn,
    /// Name.
    pub name: StreamName,
    /// Optional device name.
    pub device_name: Option<String>,
    /// Optional media type list.
    pub media_type: Option<String>,
    /// KMS key id as given at creation, if any.
    pub kms_key_id: Option<String>,
    /// Retention.
    pub retention: DataRetention,
    /// Current version token.
    pub version: VersionToken,
    /// Lifecycle status.
    pub status: StreamStatus,
    /// Storage tier.
    pub storage_tier: StorageTier,
    /// Creation time, epoch millis.
    pub created_at_ms: i64,
}
