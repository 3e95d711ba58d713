//! Writing a live Matroska stream from elementary-stream frames (what an RTSP camera delivers):
//! the stream header (EBML header, unknown-size Segment, Info, Tracks) for a set of
//! [`TrackSpec`]s, and one known-size Cluster per fragment from [`LiveBlock`]s, in the layout
//! the KVS producer writes and `crate::media::fragment` reads back.
//!
//! Pure byte building: no I/O, no clocks. TimecodeScale is 1 ms; a Cluster's Timecode is its
//! first block's time and every block's relative timecode must fit an `i16` (callers cut
//! fragments well before 32 s).

use bytes::{BufMut, Bytes, BytesMut};

use super::ids;
use super::rewrite::{cluster_prefix, unknown_size_segment_header};
use crate::media::ebml::writer::EbmlWriter;

/// What a track carries.
#[derive(Debug, Clone, PartialEq)]
pub enum TrackMedia {
    /// Video with its display size.
    Video {
        /// Pixels.
        width: u32,
        /// Pixels.
        height: u32,
    },
    /// Audio.
    Audio {
        /// Sampling frequency, Hz.
        sample_rate: u32,
        /// Channels.
        channels: u16,
    },
}

/// One TrackEntry.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackSpec {
    /// TrackNumber (and TrackUID), 1-based.
    pub number: u64,
    /// `V_MPEG4/ISO/AVC`, `V_MPEGH/ISO/HEVC`, `A_AAC`, ...
    pub codec_id: &'static str,
    /// CodecPrivate (avcC / hvcC / AudioSpecificConfig).
    pub codec_private: Bytes,
    /// Video or audio settings.
    pub media: TrackMedia,
}

/// Matroska codec id of H.264 with an avcC CodecPrivate.
pub const CODEC_H264: &str = "V_MPEG4/ISO/AVC";
/// Matroska codec id of H.265 with an hvcC CodecPrivate.
pub const CODEC_H265: &str = "V_MPEGH/ISO/HEVC";
/// Matroska codec id of AAC with an AudioSpecificConfig CodecPrivate.
pub const CODEC_AAC: &str = "A_AAC";

/// The header a live body starts with (and starts again with when its tracks change): EBML
/// header, Segment of unknown size, Info (TimecodeScale 1 ms, `app` as muxing and writing
/// application), Tracks.
pub fn stream_header(tracks: &[TrackSpec], app: &str) -> Bytes {
    let mut w = EbmlWriter::new();
    let ebml = w.start_master(ids::EBML);
    w.uint(ids::EBML_VERSION, 1)
        .uint(ids::EBML_READ_VERSION, 1)
        .uint(ids::EBML_MAX_ID_LENGTH, 4)
        .uint(ids::EBML_MAX_SIZE_LENGTH, 8)
        .string(ids::DOC_TYPE, "matroska")
        .uint(ids::DOC_TYPE_VERSION, 4)
        .uint(ids::DOC_TYPE_READ_VERSION, 2);
    w.end_master(ebml);
    let mut out = BytesMut::from(w.as_slice());
    out.put(unknown_size_segment_header());
    let mut w = EbmlWriter::new();
    let info = w.start_master(ids::INFO);
    w.uint(ids::TIMECODE_SCALE, 1_000_000).string(ids::MUXING_APP, app).string(ids::WRITING_APP, app);
    w.end_master(info);
    let tracks_mark = w.start_master(ids::TRACKS);
    for t in tracks {
        let entry = w.start_master(ids::TRACK_ENTRY);
        w.uint(ids::TRACK_NUMBER, t.number).uint(ids::TRACK_UID, t.number);
        match &t.media {
            TrackMedia::Video { width, height } => {
                w.uint(ids::TRACK_TYPE, 1).string(ids::CODEC_ID, t.codec_id);
                if !t.codec_private.is_empty() {
                    w.binary(ids::CODEC_PRIVATE, &t.codec_private);
                }
                let video = w.start_master(ids::VIDEO);
                w.uint(ids::PIXEL_WIDTH, u64::from(*width)).uint(ids::PIXEL_HEIGHT, u64::from(*height));
                w.end_master(video);
            }
            TrackMedia::Audio { sample_rate, channels } => {
                w.uint(ids::TRACK_TYPE, 2).string(ids::CODEC_ID, t.codec_id);
                if !t.codec_private.is_empty() {
                    w.binary(ids::CODEC_PRIVATE, &t.codec_private);
                }
                let audio = w.start_master(ids::AUDIO);
                w.float(ids::SAMPLING_FREQUENCY, f64::from(*sample_rate))
                    .uint(ids::CHANNELS, u64::from(*channels));
                w.end_master(audio);
            }
        }
        w.end_master(entry);
    }
    w.end_master(tracks_mark);
    out.put(w.finish());
    out.freeze()
}

/// One frame to put into a Cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveBlock {
    /// TrackNumber.
    pub track: u64,
    /// Milliseconds after the Cluster's Timecode (may be negative for reordered frames).
    pub relative_ms: i16,
    /// A key frame (sets the SimpleBlock key flag).
    pub key: bool,
    /// The frame (length-prefixed NAL units for H.26x, a raw AAC frame for audio).
    pub data: Bytes,
}

/// One known-size Cluster with `timecode_ms` and `blocks` as SimpleBlocks, in order: the
/// Cluster prefix, then per block its SimpleBlock header and the frame bytes (not copied).
pub fn cluster(timecode_ms: u64, blocks: &[LiveBlock]) -> Vec<Bytes> {
    let mut pieces = Vec::with_capacity(blocks.len() * 2 + 1);
    let mut children_len = 0u64;
    for b in blocks {
        let header = simple_block_header(b);
        children_len += (header.len() + b.data.len()) as u64;
        pieces.push(header);
        pieces.push(b.data.clone());
    }
    let mut out = Vec::with_capacity(pieces.len() + 1);
    out.push(cluster_prefix(timecode_ms, children_len));
    out.extend(pieces);
    out
}

/// A SimpleBlock's ID, 8-byte size, track vint, relative timecode and flags, for a payload of
/// `b.data.len()` bytes that follows.
fn simple_block_header(b: &LiveBlock) -> Bytes {
    let mut body = BytesMut::with_capacity(20);
    body.put_slice(&ids::SIMPLE_BLOCK.to_be_bytes()[3..]);
    // Track number vint (1..=8 bytes), then 2-byte timecode and 1-byte flags.
    let mut len = 1usize;
    while len < 8 && b.track >= (1u64 << (7 * len)) - 1 {
        len += 1;
    }
    let size = (len + 3 + b.data.len()) as u64;
    body.put_u8(0x01);
    body.put_slice(&size.to_be_bytes()[1..]);
    let marked = b.track | (1u64 << (7 * len));
    body.put_slice(&marked.to_be_bytes()[8 - len..]);
    body.put_i16(b.relative_ms);
    body.put_u8(if b.key { 0x80 } else { 0 });
    body.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::fragment::{FragmentEvent, Fragmenter, FragmenterConfig};

    fn tracks() -> Vec<TrackSpec> {
        vec![
            TrackSpec {
                number: 1,
                codec_id: CODEC_H264,
                codec_private: Bytes::from_static(&[1, 0x42, 0xC0, 0x1E, 0xFF, 0xE0, 0x00]),
                media: TrackMedia::Video { width: 640, height: 360 },
            },
            TrackSpec {
                number: 2,
                codec_id: CODEC_AAC,
                codec_private: Bytes::from_static(&[0x11, 0x88]),
                media: TrackMedia::Audio { sample_rate: 48_000, channels: 1 },
            },
        ]
    }

    #[test]
    fn the_kvs_fragmenter_reads_what_is_written() {
        let mut body = vec![stream_header(&tracks(), "openkvs-edge")];
        for (i, tc) in [1_700_000_000_000u64, 1_700_000_001_000].into_iter().enumerate() {
            let blocks = vec![
                LiveBlock {
                    track: 1,
                    relative_ms: 0,
                    key: true,
                    data: Bytes::from(vec![0, 0, 0, 1, 0x65 + i as u8]),
                },
                LiveBlock { track: 2, relative_ms: 5, key: true, data: Bytes::from_static(&[0x21, 0x10]) },
                LiveBlock {
                    track: 1,
                    relative_ms: 40,
                    key: false,
                    data: Bytes::from(vec![0, 0, 0, 1, 0x41]),
                },
            ];
            body.extend(cluster(tc, &blocks));
        }
        let mut f = Fragmenter::new(FragmenterConfig::default());
        for piece in body {
            f.push(piece);
        }
        f.finish();
        let mut completed = Vec::new();
        while let Some(ev) = f.pull().expect("valid stream") {
            if let FragmentEvent::FragmentCompleted(frag) = ev {
                completed.push((frag.producer_timestamp_ms, frag.frame_count));
            }
        }
        assert_eq!(completed, vec![(1_700_000_000_000, 3), (1_700_000_001_000, 3)]);
    }
}
