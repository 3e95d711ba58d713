//! The pieces of a GetMedia "chunk": KVS re-emits every fragment as a complete Matroska document
//! (EBML header, unknown-size Segment, the producer's Info/Tracks, a Tags element with the
//! fragment number and timestamps, the Cluster, then Tags with `MILLIS_BEHIND_NOW` and the
//! continuation token). This module builds the Tags elements, SimpleBlocks from demuxed frames
//! (for live tails) and unknown-size Cluster openings. Pure byte building; no I/O.

use bytes::Bytes;

use super::demux::Frame;
use super::ids;
use crate::media::ebml::writer::{EbmlWriter, SizeForm};

/// Tag names KVS puts into GetMedia output.
pub mod tag_names {
    /// Fragment number of the chunk.
    pub const FRAGMENT_NUMBER: &str = "AWS_KINESISVIDEO_FRAGMENT_NUMBER";
    /// Server timestamp, decimal seconds with 3 fractional digits.
    pub const SERVER_TIMESTAMP: &str = "AWS_KINESISVIDEO_SERVER_TIMESTAMP";
    /// Producer timestamp, decimal seconds with 3 fractional digits.
    pub const PRODUCER_TIMESTAMP: &str = "AWS_KINESISVIDEO_PRODUCER_TIMESTAMP";
    /// How far the chunk is behind the newest data, ms.
    pub const MILLIS_BEHIND_NOW: &str = "AWS_KINESISVIDEO_MILLIS_BEHIND_NOW";
    /// Where to resume with `CONTINUATION_TOKEN`.
    pub const CONTINUATION_TOKEN: &str = "AWS_KINESISVIDEO_CONTINUATION_TOKEN";
    /// Error code when a fragment cannot be served.
    pub const ERROR_CODE: &str = "AWS_KINESISVIDEO_ERROR_CODE";
    /// Numeric error id when a fragment cannot be served.
    pub const ERROR_ID: &str = "AWS_KINESISVIDEO_ERROR_ID";
}

/// A segment-level `Tags` element holding one `Tag` with one `SimpleTag` (TagName + TagString) per
/// pair, no `Targets` (as KVS writes them), sizes as 4-byte vints... or 8, which every parser takes.
pub fn tags(pairs: &[(&str, &str)]) -> Bytes {
    let mut w = EbmlWriter::with_size_form(SizeForm::Eight);
    let outer = w.start_master(ids::TAGS);
    let tag = w.start_master(ids::TAG);
    for (name, value) in pairs {
        let st = w.start_master(ids::SIMPLE_TAG);
        w.string(ids::TAG_NAME, name).string(ids::TAG_STRING, value);
        w.end_master(st);
    }
    w.end_master(tag).end_master(outer);
    w.finish()
}

/// Epoch milliseconds as KVS writes timestamps in tags: decimal seconds with 3 fractional digits.
pub fn seconds_text(millis: i64) -> String {
    format!("{}.{:03}", millis.div_euclid(1000), millis.rem_euclid(1000))
}

/// The opening of a Cluster whose size is not known yet (live tail): Cluster ID, unknown size,
/// and its Timecode. Its frames follow; the next top-level element (Tags) ends it.
pub fn live_cluster_start(timecode: u64) -> Bytes {
    let mut w = EbmlWriter::with_size_form(SizeForm::Eight);
    w.unknown_size_header(ids::CLUSTER, 8).uint8(ids::TIMECODE, timecode);
    w.finish()
}

/// A SimpleBlock element carrying one demuxed frame: returns its header (ID, size, track,
/// relative timecode, flags); the frame's own bytes follow unchanged (no copy).
pub fn simple_block_header(frame: &Frame) -> Bytes {
    let mut body = Vec::with_capacity(12);
    // Track number as an EBML vint (1..=8 bytes).
    let track = frame.track;
    let mut len = 1usize;
    while len < 8 && track >= (1u64 << (7 * len)) - 1 {
        len += 1;
    }
    let marked = track | (1u64 << (7 * len));
    body.extend_from_slice(&marked.to_be_bytes()[8 - len..]);
    body.extend_from_slice(&frame.timecode_rel.to_be_bytes());
    let mut flags = 0u8;
    if frame.keyframe {
        flags |= 0x80;
    }
    if frame.invisible {
        flags |= 0x08;
    }
    if frame.discardable {
        flags |= 0x01;
    }
    body.push(flags);
    let mut w = EbmlWriter::with_size_form(SizeForm::Eight);
    w.element_header(ids::SIMPLE_BLOCK, (body.len() + frame.data.len()) as u64).raw(&body);
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::mkv::{DemuxLimits, MkvDemuxer, MkvEvent};

    #[test]
    fn timestamps_have_three_fraction_digits() {
        assert_eq!(seconds_text(1_511_852_109_126), "1511852109.126");
        assert_eq!(seconds_text(1_000), "1.000");
        assert_eq!(seconds_text(52), "0.052");
    }

    #[test]
    fn a_rebuilt_live_cluster_demuxes_to_the_same_frames() {
        let frame = Frame {
            track: 2,
            timecode_rel: -3,
            keyframe: true,
            invisible: false,
            discardable: true,
            duration: None,
            lace_index: 0,
            data: Bytes::from_static(b"frame-bytes"),
        };
        let mut w = EbmlWriter::new();
        let ebml = w.start_master(ids::EBML);
        w.string(ids::DOC_TYPE, "matroska");
        w.end_master(ebml);
        w.unknown_size_header(ids::SEGMENT, 8);
        let info = w.start_master(ids::INFO);
        w.uint(ids::TIMECODE_SCALE, 1_000_000);
        w.end_master(info);
        let tracks = w.start_master(ids::TRACKS);
        for n in [1u64, 2] {
            let e = w.start_master(ids::TRACK_ENTRY);
            w.uint(ids::TRACK_NUMBER, n).uint(ids::TRACK_TYPE, 1).string(ids::CODEC_ID, "V_MPEG4/ISO/AVC");
            w.end_master(e);
        }
        w.end_master(tracks);
        let mut doc = w.finish().to_vec();
        doc.extend_from_slice(&live_cluster_start(1234));
        doc.extend_from_slice(&simple_block_header(&frame));
        doc.extend_from_slice(&frame.data);
        doc.extend_from_slice(&tags(&[(tag_names::CONTINUATION_TOKEN, "42")]));
        let mut d = MkvDemuxer::new(DemuxLimits::default());
        d.push(Bytes::from(doc));
        d.finish();
        let mut frames = Vec::new();
        let mut saw_tags = false;
        let mut timecode = None;
        while let Ok(Some(ev)) = d.pull() {
            match ev {
                MkvEvent::Frame(f) => frames.push(f),
                MkvEvent::ClusterTimecode { timecode: t } => timecode = Some(t),
                MkvEvent::Tags { tags, .. } => {
                    saw_tags = tags.iter().any(|t| t.name == tag_names::CONTINUATION_TOKEN);
                }
                _ => {}
            }
        }
        assert_eq!(timecode, Some(1234));
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0], frame);
        assert!(saw_tags);
    }
}
