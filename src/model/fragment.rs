//! Fragments as the index records them: [`FragmentNumber`] (fixed-width decimal strings whose text
//! order is their numeric order), [`FragmentLocation`] (where the store keeps the bytes) and
//! [`FragmentRecord`] (one row per persisted fragment). Pure data.

use std::fmt;

use super::StorageTier;

/// Width of every fragment number: KVS numbers are 47 decimal digits.
pub const FRAGMENT_NUMBER_DIGITS: usize = 47;

/// The leading digits every number this server issues carries (observed KVS numbers share a
/// constant-looking prefix; clients treat the value as opaque).
const PREFIX: &str = "91343852333";

/// A fragment number: 47 decimal digits, strictly increasing per stream in ingest order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FragmentNumber(String);

impl FragmentNumber {
    /// The number for an ordinal (the ordinal is what increases).
    pub fn from_ordinal(ordinal: u128) -> Self {
        let width = FRAGMENT_NUMBER_DIGITS - PREFIX.len();
        Self(format!("{PREFIX}{ordinal:0width$}"))
    }

    /// The ordinal of a number issued by [`FragmentNumber::from_ordinal`].
    pub fn ordinal(&self) -> Option<u128> {
        self.0.strip_prefix(PREFIX)?.parse().ok()
    }

    /// Validates a client-supplied number: `^[0-9]+$`, 1..=128 characters.
    pub fn parse(s: &str) -> Option<Self> {
        if s.is_empty() || s.len() > 128 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Self(s.to_owned()))
    }

    /// The decimal text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FragmentNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where the fragment store keeps a fragment's bytes (as stored: sealed, see
/// [`FragmentRecord::key_version`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentLocation {
    /// Segment file number within the stream (unique across the stream's tiers).
    pub segment: i64,
    /// Byte offset in the segment.
    pub offset: u64,
    /// Length in bytes.
    pub length: u64,
    /// The storage tier the segment was written to (the stream's tier when the fragment was
    /// persisted; a later tier change leaves it where it is).
    pub tier: StorageTier,
}

/// One persisted fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FragmentRecord {
    /// The stream's index id.
    pub stream_id: i64,
    /// Its number.
    pub number: FragmentNumber,
    /// The Cluster Timecode exactly as the producer sent it (what ACKs echo).
    pub cluster_timecode: i64,
    /// Producer timestamp of its first frame, epoch ms.
    pub producer_ts_ms: i64,
    /// Server time the fragment's first byte arrived, epoch ms.
    pub server_ts_ms: i64,
    /// Duration, ms.
    pub duration_ms: i64,
    /// Size of the Cluster (the media bytes, before sealing), bytes.
    pub size_bytes: i64,
    /// The track header set (EBML/Info/Tracks) it was sent under.
    pub header_id: i64,
    /// Where the bytes are.
    pub location: FragmentLocation,
    /// The version of the stream's data key that sealed the stored bytes (AES-256-GCM,
    /// design/0018-encryption-at-rest.md); 0: stored in plaintext, as fragments persisted before
    /// encryption at rest existed.
    pub key_version: u32,
    /// Whether its video track (the first track of TrackType 1) starts on a key frame; without
    /// video frames, whether its first frame is a key frame.
    pub key_frame: bool,
    /// Track numbers that have frames in it.
    pub tracks: Vec<u64>,
    /// Number of frames.
    pub frame_count: i64,
    /// Producer metadata tags (name, value) that preceded it.
    pub metadata: Vec<(String, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_fixed_width_and_ordered() {
        let a = FragmentNumber::from_ordinal(5);
        let b = FragmentNumber::from_ordinal(1_800_000_000_000u128 << 20);
        assert_eq!(a.as_str().len(), FRAGMENT_NUMBER_DIGITS);
        assert_eq!(b.as_str().len(), FRAGMENT_NUMBER_DIGITS);
        assert!(a < b);
        assert_eq!(b.ordinal(), Some(1_800_000_000_000u128 << 20));
        assert!(FragmentNumber::parse("12a").is_none());
        assert!(FragmentNumber::parse(a.as_str()).is_some());
    }
}
