//! Matroska and EBML element IDs (marker bits included, as written in the specs) and their names
//! for error paths.
//!
//! Owns the constants only; it must not contain parsing logic.

/// EBML header (level 0).
pub const EBML: u32 = 0x1A45_DFA3;
/// EBMLVersion.
pub const EBML_VERSION: u32 = 0x4286;
/// EBMLReadVersion.
pub const EBML_READ_VERSION: u32 = 0x42F7;
/// EBMLMaxIDLength.
pub const EBML_MAX_ID_LENGTH: u32 = 0x42F2;
/// EBMLMaxSizeLength.
pub const EBML_MAX_SIZE_LENGTH: u32 = 0x42F3;
/// DocType.
pub const DOC_TYPE: u32 = 0x4282;
/// DocTypeVersion.
pub const DOC_TYPE_VERSION: u32 = 0x4287;
/// DocTypeReadVersion.
pub const DOC_TYPE_READ_VERSION: u32 = 0x4285;

/// Void (global): padding, ignored anywhere.
pub const VOID: u32 = 0xEC;
/// CRC-32 (global): checksum of the parent's other children; not verified.
pub const CRC32: u32 = 0xBF;

/// Segment (level 0).
pub const SEGMENT: u32 = 0x1853_8067;

/// SeekHead (level 1).
pub const SEEK_HEAD: u32 = 0x114D_9B74;
/// Info (level 1).
pub const INFO: u32 = 0x1549_A966;
/// Tracks (level 1).
pub const TRACKS: u32 = 0x1654_AE6B;
/// Cluster (level 1).
pub const CLUSTER: u32 = 0x1F43_B675;
/// Cues (level 1).
pub const CUES: u32 = 0x1C53_BB6B;
/// Chapters (level 1).
pub const CHAPTERS: u32 = 0x1043_A770;
/// Attachments (level 1).
pub const ATTACHMENTS: u32 = 0x1941_A469;
/// Tags (level 1).
pub const TAGS: u32 = 0x1254_C367;

/// Info/TimestampScale (called TimecodeScale in older specs and in KVS docs).
pub const TIMECODE_SCALE: u32 = 0x2AD7B1;
/// Info/SegmentUUID.
pub const SEGMENT_UID: u32 = 0x73A4;
/// Info/Duration.
pub const DURATION: u32 = 0x4489;
/// Info/Title.
pub const TITLE: u32 = 0x7BA9;
/// Info/MuxingApp.
pub const MUXING_APP: u32 = 0x4D80;
/// Info/WritingApp.
pub const WRITING_APP: u32 = 0x5741;

/// Tracks/TrackEntry.
pub const TRACK_ENTRY: u32 = 0xAE;
/// TrackEntry/TrackNumber.
pub const TRACK_NUMBER: u32 = 0xD7;
/// TrackEntry/TrackUID.
pub const TRACK_UID: u32 = 0x73C5;
/// TrackEntry/TrackType.
pub const TRACK_TYPE: u32 = 0x83;
/// TrackEntry/FlagDefault.
pub const FLAG_DEFAULT: u32 = 0x88;
/// TrackEntry/FlagLacing.
pub const FLAG_LACING: u32 = 0x9C;
/// TrackEntry/DefaultDuration (nanoseconds per frame).
pub const DEFAULT_DURATION: u32 = 0x23E383;
/// TrackEntry/Name.
pub const NAME: u32 = 0x536E;
/// TrackEntry/Language.
pub const LANGUAGE: u32 = 0x22B59C;
/// TrackEntry/CodecID.
pub const CODEC_ID: u32 = 0x86;
/// TrackEntry/CodecPrivate.
pub const CODEC_PRIVATE: u32 = 0x63A2;
/// TrackEntry/CodecName.
pub const CODEC_NAME: u32 = 0x258688;
/// TrackEntry/CodecDelay.
pub const CODEC_DELAY: u32 = 0x56AA;
/// TrackEntry/SeekPreRoll.
pub const SEEK_PRE_ROLL: u32 = 0x56BB;
/// TrackEntry/ContentEncodings.
pub const CONTENT_ENCODINGS: u32 = 0x6D80;
/// TrackEntry/Video.
pub const VIDEO: u32 = 0xE0;
/// Video/PixelWidth.
pub const PIXEL_WIDTH: u32 = 0xB0;
/// Video/PixelHeight.
pub const PIXEL_HEIGHT: u32 = 0xBA;
/// TrackEntry/Audio.
pub const AUDIO: u32 = 0xE1;
/// Audio/SamplingFrequency (float).
pub const SAMPLING_FREQUENCY: u32 = 0xB5;
/// Audio/Channels.
pub const CHANNELS: u32 = 0x9F;
/// Audio/BitDepth.
pub const BIT_DEPTH: u32 = 0x6264;

/// Cluster/Timestamp (Timecode).
pub const TIMECODE: u32 = 0xE7;
/// Cluster/SilentTracks.
pub const SILENT_TRACKS: u32 = 0x5854;
/// Cluster/Position.
pub const POSITION: u32 = 0xA7;
/// Cluster/PrevSize.
pub const PREV_SIZE: u32 = 0xAB;
/// Cluster/SimpleBlock.
pub const SIMPLE_BLOCK: u32 = 0xA3;
/// Cluster/BlockGroup.
pub const BLOCK_GROUP: u32 = 0xA0;
/// Cluster/EncryptedBlock (obsolete).
pub const ENCRYPTED_BLOCK: u32 = 0xAF;
/// BlockGroup/Block.
pub const BLOCK: u32 = 0xA1;
/// BlockGroup/BlockDuration.
pub const BLOCK_DURATION: u32 = 0x9B;
/// BlockGroup/ReferenceBlock (present => not a key frame).
pub const REFERENCE_BLOCK: u32 = 0xFB;

/// Tags/Tag.
pub const TAG: u32 = 0x7373;
/// Tag/Targets.
pub const TARGETS: u32 = 0x63C0;
/// Targets/TargetTypeValue.
pub const TARGET_TYPE_VALUE: u32 = 0x68CA;
/// Targets/TagTrackUID.
pub const TAG_TRACK_UID: u32 = 0x63C5;
/// Targets/TagEditionUID.
pub const TAG_EDITION_UID: u32 = 0x63C9;
/// Targets/TagChapterUID.
pub const TAG_CHAPTER_UID: u32 = 0x63C4;
/// Targets/TagAttachmentUID.
pub const TAG_ATTACHMENT_UID: u32 = 0x63C6;
/// Tag/SimpleTag (also nests inside SimpleTag).
pub const SIMPLE_TAG: u32 = 0x67C8;
/// SimpleTag/TagName.
pub const TAG_NAME: u32 = 0x45A3;
/// SimpleTag/TagLanguage.
pub const TAG_LANGUAGE: u32 = 0x447A;
/// SimpleTag/TagString.
pub const TAG_STRING: u32 = 0x4487;
/// SimpleTag/TagBinary.
pub const TAG_BINARY: u32 = 0x4485;

/// Whether `id` is one of the eight level-1 elements a Segment holds. Any of them ends an
/// unknown-size Cluster.
pub fn is_level1(id: u32) -> bool {
    matches!(id, SEEK_HEAD | INFO | TRACKS | CLUSTER | CUES | CHAPTERS | ATTACHMENTS | TAGS)
}

/// Whether `id` is a known child of a Cluster (global elements included).
pub fn is_cluster_child(id: u32) -> bool {
    matches!(
        id,
        TIMECODE
            | SILENT_TRACKS
            | POSITION
            | PREV_SIZE
            | SIMPLE_BLOCK
            | BLOCK_GROUP
            | ENCRYPTED_BLOCK
            | VOID
            | CRC32
    )
}

/// A human-readable element name for error paths ("Unknown" for IDs not listed here).
pub fn name(id: u32) -> &'static str {
    match id {
        EBML => "EBML",
        DOC_TYPE => "DocType",
        VOID => "Void",
        CRC32 => "CRC-32",
        SEGMENT => "Segment",
        SEEK_HEAD => "SeekHead",
        INFO => "Info",
        TRACKS => "Tracks",
        CLUSTER => "Cluster",
        CUES => "Cues",
        CHAPTERS => "Chapters",
        ATTACHMENTS => "Attachments",
        TAGS => "Tags",
        TIMECODE_SCALE => "TimecodeScale",
        TRACK_ENTRY => "TrackEntry",
        TRACK_NUMBER => "TrackNumber",
        TRACK_TYPE => "TrackType",
        CODEC_ID => "CodecID",
        CODEC_PRIVATE => "CodecPrivate",
        DEFAULT_DURATION => "DefaultDuration",
        VIDEO => "Video",
        AUDIO => "Audio",
        TIMECODE => "Timecode",
        POSITION => "Position",
        PREV_SIZE => "PrevSize",
        SIMPLE_BLOCK => "SimpleBlock",
        BLOCK_GROUP => "BlockGroup",
        BLOCK => "Block",
        BLOCK_DURATION => "BlockDuration",
        REFERENCE_BLOCK => "ReferenceBlock",
        TAG => "Tag",
        TARGETS => "Targets",
        SIMPLE_TAG => "SimpleTag",
        TAG_NAME => "TagName",
        TAG_STRING => "TagString",
        TAG_BINARY => "TagBinary",
        _ => "Unknown",
    }
}
