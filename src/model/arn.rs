//! Kinesis Video ARNs: `arn:aws:kinesisvideo:REGION:ACCOUNT:stream/NAME/CREATION_MILLIS` and the
//! `channel/` form. Owns formatting and strict parsing against the botocore `ResourceARN` pattern; it
//! does not look anything up.

use std::fmt;

use super::{AccountId, Region, StreamName, ValidationError};

/// What an ARN names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    /// `stream/NAME/MILLIS`
    Stream,
    /// `channel/NAME/MILLIS` (signaling channels)
    Channel,
}

impl ResourceKind {
    fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Stream => "stream",
            ResourceKind::Channel => "channel",
        }
    }
}

/// A parsed Kinesis Video resource ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceArn {
    /// Partition, `aws` for every ARN this server makes.
    pub partition: String,
    /// Region the resource lives in.
    pub region: Region,
    /// Account id digits.
    pub account: String,
    /// Stream or channel.
    pub kind: ResourceKind,
    /// Resource name.
    pub name: StreamName,
    /// Creation time in epoch milliseconds (the trailing number).
    pub creation_millis: i64,
}

impl ResourceArn {
    /// The model's `ResourceARN` pattern.
    pub const PATTERN: &str = "arn:[a-z\\d-]+:kinesisvideo:[a-z0-9-]+:[0-9]+:[a-z]+/[a-zA-Z0-9_.-]+/[0-9]+";

    /// The ARN of a stream created at `creation_millis`.
    pub fn stream(region: &Region, account: &AccountId, name: &StreamName, creation_millis: i64) -> Self {
        Self {
            partition: "aws".to_owned(),
            region: region.clone(),
            account: account.as_str().to_owned(),
            kind: ResourceKind::Stream,
            name: name.clone(),
            creation_millis,
        }
    }

    /// The ARN of a signaling channel created at `creation_millis`.
    pub fn channel(region: &Region, account: &AccountId, name: &StreamName, creation_millis: i64) -> Self {
        Self { kind: ResourceKind::Channel, ..Self::stream(region, account, name, creation_millis) }
    }

    /// Parses an ARN; `member` names the JSON member in the error message.
    pub fn parse_member(value: &str, member: &str) -> Result<Self, ValidationError> {
        let bad = || ValidationError::pattern(member, Self::PATTERN);
        if value.is_empty() || value.len() > 1024 {
            return Err(bad());
        }
        let mut parts = value.splitn(6, ':');
        let (Some("arn"), Some(partition), Some("kinesisvideo"), Some(region), Some(account), Some(resource)) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if partition.is_empty()
            || !partition.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(bad());
        }
        let region = Region::parse(region).map_err(|_| bad())?;
        if account.is_empty() || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let mut rparts = resource.split('/');
        let (Some(kind), Some(name), Some(millis), None) =
            (rparts.next(), rparts.next(), rparts.next(), rparts.next())
        else {
            return Err(bad());
        };
        let kind = match kind {
            "stream" => ResourceKind::Stream,
            "channel" => ResourceKind::Channel,
            _ => return Err(bad()),
        };
        let name = StreamName::parse_member(name, member).map_err(|_| bad())?;
        if millis.is_empty() || !millis.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let creation_millis = millis.parse::<i64>().map_err(|_| bad())?;
        Ok(Self {
            partition: partition.to_owned(),
            region,
            account: account.to_owned(),
            kind,
            name,
            creation_millis,
        })
    }
}

impl fmt::Display for ResourceArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:kinesisvideo:{}:{}:{}/{}/{}",
            self.partition,
            self.region,
            self.account,
            self.kind.as_str(),
            self.name,
            self.creation_millis
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_a_stream_arn() {
        let arn = ResourceArn::stream(
            &Region::parse("us-east-1").unwrap(),
            &AccountId::default(),
            &StreamName::parse("cam-1").unwrap(),
            1_700_000_000_123,
        );
        let text = arn.to_string();
        assert_eq!(text, "arn:aws:kinesisvideo:us-east-1:000000000000:stream/cam-1/1700000000123");
        assert_eq!(ResourceArn::parse_member(&text, "StreamARN").unwrap(), arn);
    }

    #[test]
    fn round_trips_a_channel_arn() {
        let arn = ResourceArn::channel(
            &Region::parse("eu-west-1").unwrap(),
            &AccountId::default(),
            &StreamName::parse("door").unwrap(),
            1_700_000_000_000,
        );
        let text = arn.to_string();
        assert_eq!(text, "arn:aws:kinesisvideo:eu-west-1:000000000000:channel/door/1700000000000");
        assert_eq!(ResourceArn::parse_member(&text, "ChannelARN").unwrap(), arn);
    }

    #[test]
    fn rejects_malformed_arns() {
        for bad in [
            "",
            "arn:aws:s3:us-east-1:000000000000:stream/x/1",
            "arn:aws:kinesisvideo:us-east-1:000000000000:stream/x",
            "arn:aws:kinesisvideo:us-east-1:000000000000:stream/x/1/2",
            "arn:aws:kinesisvideo:us-east-1:abc:stream/x/1",
            "arn:aws:kinesisvideo:us-east-1:000000000000:stream/bad name/1",
            "arn:aws:kinesisvideo:us-east-1:000000000000:queue/x/1",
        ] {
            assert!(ResourceArn::parse_member(bad, "StreamARN").is_err(), "{bad}");
        }
    }
}
