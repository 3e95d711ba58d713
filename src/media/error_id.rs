//! The KVS PutMedia `ErrorId`s: the one table of every id this server sends in an ERROR ACK, with
//! the name the producer SDKs give it (PIC's `SERVICE_CALL_RESULT_*`, sent as the informational
//! `ErrorCode`). The fragmenter maps its rejections to these ([`super::fragment`]); ingest sends
//! the session-level ones (read errors, a deleted stream, an unavailable encryption key, storage
//! and index failures), and GetMedia the same ids in its error tags. Plain data: no I/O.

macro_rules! error_ids {
    ($($variant:ident => $id:literal, $name:literal, $doc:literal;)*) => {
        /// A PutMedia ErrorId.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorId {
            $(
                #[doc = concat!("`", stringify!($id), "` `", $name, "`: ", $doc)]
                $variant,
            )*
        }

        impl ErrorId {
            /// Every ErrorId, in table order.
            pub const ALL: &'static [ErrorId] = &[$(ErrorId::$variant,)*];

            /// The numeric id (the ACK's `ErrorId`).
            pub fn id(self) -> u32 {
                match self {
                    $(ErrorId::$variant => $id,)*
                }
            }

            /// The producer SDK's name for it (the ACK's `ErrorCode`).
            pub fn name(self) -> &'static str {
                match self {
                    $(ErrorId::$variant => $name,)*
                }
            }
        }
    };
}

error_ids! {
    StreamReadError => 4000, "STREAM_READ_ERROR",
        "the body could not be read (the connection broke mid-fragment)";
    FragmentSizeReached => 4001, "FRAGMENT_SIZE_REACHED", "a fragment is larger than the limit";
    FragmentDurationReached => 4002, "FRAGMENT_DURATION_REACHED", "a fragment lasts longer than the limit";
    FragmentTimecodeNotMonotonic => 4004, "FRAGMENT_TIMECODE_NOT_MONOTONIC",
        "a fragment's timestamp is not after the previous one's";
    InvalidMkvData => 4006, "INVALID_MKV_DATA", "the body is not valid Matroska (ends the session)";
    InvalidProducerTimestamp => 4007, "INVALID_PRODUCER_TIMESTAMP",
        "RELATIVE timecodes without a valid producer start time (ends the session)";
    StreamNotActive => 4008, "STREAM_NOT_ACTIVE", "the stream was deleted while the session ran";
    FragmentMetadataLimitReached => 4009, "FRAGMENT_METADATA_LIMIT_REACHED",
        "too many metadata tags for a fragment";
    TrackNumberMismatch => 4010, "TRACK_NUMBER_MISMATCH",
        "a frame of a track the Tracks element does not declare";
    FramesMissingForTrack => 4011, "FRAMES_MISSING_FOR_TRACK",
        "a declared track has no frame in the fragment";
    MoreThanAllowedTracksFound => 4012, "MORE_THAN_ALLOWED_TRACKS_FOUND",
        "more tracks than allowed (ends the session)";
    KmsKeyValidationError => 4502, "KMS_KEY_VALIDATION_ERROR",
        "the master key under the stream's key id does not open its data key (other key material)";
    KmsKeyNotFound => 4506, "KMS_KEY_NOT_FOUND",
        "the master key that wraps the stream's data key is not in the keyring";
    AckInternalError => 5000, "ACK_INTERNAL_ERROR",
        "the fragment could not be indexed, or another internal failure";
    FragmentArchivalError => 5001, "FRAGMENT_ARCHIVAL_ERROR", "the fragment could not be stored";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_are_unique() {
        let mut ids: Vec<u32> = ErrorId::ALL.iter().map(|e| e.id()).collect();
        let mut names: Vec<&str> = ErrorId::ALL.iter().map(|e| e.name()).collect();
        ids.dedup();
        names.sort_unstable();
        names.dedup();
        assert_eq!((ids.len(), names.len()), (ErrorId::ALL.len(), ErrorId::ALL.len()));
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "the table is in id order");
        assert_eq!(
            (ErrorId::StreamNotActive.id(), ErrorId::StreamNotActive.name()),
            (4008, "STREAM_NOT_ACTIVE")
        );
    }
}
