//! The signaling channel record (KVS WebRTC) and its attributes: channel type and message TTL.
//! Pure data with the botocore model's validation; the index stores it, the API layer shapes it
//! as `ChannelInfo`, and the signaling hub reads its id and TTL. Nothing here touches storage, the
//! wire or live connections.

use super::{ResourceArn, StreamName, StreamStatus, ValidationError, VersionToken, check_range};

/// `ChannelType`. The model lists `FULL_MESH`, but its documentation says `SINGLE_MASTER` is the
/// only supported type, so [`ChannelType::parse_supported`] refuses `FULL_MESH` as AWS does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelType {
    /// One master, any number of viewers (the only type AWS supports).
    SingleMaster,
    /// Listed in the model's enum, not supported by the service.
    FullMesh,
}

impl ChannelType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelType::SingleMaster => "SINGLE_MASTER",
            ChannelType::FullMesh => "FULL_MESH",
        }
    }

    /// Parses a stored/wire name (any value of the model's enum).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "SINGLE_MASTER" => Some(ChannelType::SingleMaster),
            "FULL_MESH" => Some(ChannelType::FullMesh),
            _ => None,
        }
    }

    /// Validates a client-supplied `ChannelType`: outside the enum is a pattern error, `FULL_MESH`
    /// is refused because the service does not support it.
    pub fn parse_supported(s: &str) -> Result<Self, ValidationError> {
        match Self::parse(s) {
            Some(ChannelType::SingleMaster) => Ok(ChannelType::SingleMaster),
            Some(ChannelType::FullMesh) => Err(ValidationError::new(
                "ChannelType FULL_MESH is not supported; SINGLE_MASTER is the only supported channel type.",
            )),
            None => Err(ValidationError::enum_value("channelType", s, &["SINGLE_MASTER", "FULL_MESH"])),
        }
    }
}

/// A signaling channel as the index holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalingChannel {
    /// Index-internal id (stable for the channel's life; the signaling hub keys connections by it).
    pub id: i64,
    /// The channel's ARN (`…:channel/NAME/CREATION_MILLIS`: region, account and creation time).
    pub arn: ResourceArn,
    /// Name: the same rules as stream names (`[a-zA-Z0-9_.-]+`, 1..=256).
    pub name: StreamName,
    /// Always [`ChannelType::SingleMaster`] for channels this server creates.
    pub channel_type: ChannelType,
    /// Lifecycle status (the model's `Status` shape, shared with streams); channels are created
    /// ACTIVE.
    pub status: StreamStatus,
    /// `SingleMasterConfiguration.MessageTtlSeconds`: how long undelivered messages are kept,
    /// 5..=120.
    pub message_ttl_seconds: u32,
    /// Current version token (replaced by UpdateSignalingChannel).
    pub version: VersionToken,
    /// Creation time, epoch millis (also the ARN suffix).
    pub created_at_ms: i64,
}

impl SignalingChannel {
    /// Shortest `MessageTtlSeconds` the model allows.
    pub const MIN_MESSAGE_TTL_SECONDS: u32 = 5;
    /// Longest `MessageTtlSeconds` the model allows.
    pub const MAX_MESSAGE_TTL_SECONDS: u32 = 120;
    /// `MessageTtlSeconds` when the creator gives none (AWS's documented default).
    pub const DEFAULT_MESSAGE_TTL_SECONDS: u32 = 60;

    /// Validates a client-supplied `MessageTtlSeconds` (5..=120).
    pub fn message_ttl(seconds: i64) -> Result<u32, ValidationError> {
        let (min, max) = (i64::from(Self::MIN_MESSAGE_TTL_SECONDS), i64::from(Self::MAX_MESSAGE_TTL_SECONDS));
        Ok(check_range("singleMasterConfiguration.messageTtlSeconds", seconds, min, max)? as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_types_follow_the_model_and_the_service() {
        assert_eq!(ChannelType::parse_supported("SINGLE_MASTER").unwrap(), ChannelType::SingleMaster);
        assert!(ChannelType::parse_supported("FULL_MESH").unwrap_err().0.contains("not supported"));
        assert!(ChannelType::parse_supported("single_master").unwrap_err().0.contains("enum value set"));
        assert_eq!(ChannelType::parse(ChannelType::FullMesh.as_str()), Some(ChannelType::FullMesh));
    }

    #[test]
    fn message_ttl_is_5_to_120() {
        assert_eq!(SignalingChannel::message_ttl(5).unwrap(), 5);
        assert_eq!(SignalingChannel::message_ttl(120).unwrap(), 120);
        assert!(SignalingChannel::message_ttl(4).is_err());
        assert!(SignalingChannel::message_ttl(121).is_err());
        assert!(SignalingChannel::message_ttl(-1).is_err());
    }
}
