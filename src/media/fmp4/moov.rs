//! The movie-level boxes shared by the fragmented and the progressive writer: `ftyp`, `mvhd` and a
//! `trak` skeleton (`tkhd`, optional `edts`, `mdia`/`mdhd`/`hdlr`/`minf`/`dinf`) around a sample
//! table the caller writes.
//!
//! It decides no timing and lays out no samples (that is `fragment.rs` / `progressive.rs`); it
//! never panics.

use super::boxes::BoxWriter;
use super::sample_entry::write_stsd;
use crate::media::codec::PlayableTrack;

/// The movie timescale: `mvhd`, `tkhd` and edit-list durations are in milliseconds.
pub(crate) const MOVIE_TIMESCALE: u32 = 1000;

/// The identity transformation matrix of `mvhd` and `tkhd`.
const UNITY_MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];

/// ISO 639-2 "und", packed as three 5-bit letters.
const LANGUAGE_UND: u16 = 0x55c4;

/// One `elst` entry: `media_time` -1 is an empty edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Edit {
    /// In the movie timescale.
    pub(crate) segment_duration: u64,
    /// In the track timescale; -1 for an empty edit.
    pub(crate) media_time: i64,
}

/// How long a track lasts, for its headers.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TrackTiming<'a> {
    /// `tkhd` duration, in the movie timescale (0 for fragmented files).
    pub(crate) movie_duration: u64,
    /// `mdhd` duration, in the track timescale (0 for fragmented files).
    pub(crate) media_duration: u64,
    /// The edit list; none when empty.
    pub(crate) edits: &'a [Edit],
}

pub(crate) fn write_ftyp(w: &mut BoxWriter, major: &[u8; 4], minor: u32, compatible: &[&[u8; 4]]) {
    let ftyp = w.open(b"ftyp");
    w.bytes(major);
    w.u32(minor);
    for brand in compatible {
        w.bytes(*brand);
    }
    w.close(ftyp);
}

pub(crate) fn write_mvhd(w: &mut BoxWriter, duration: u64, next_track_id: u32) {
    let long = u32::try_from(duration).is_err();
    let mvhd = w.open_full(b"mvhd", u8::from(long), 0);
    write_times(w, MOVIE_TIMESCALE, duration, long);
    w.u32(0x0001_0000); // rate 1.0
    w.u16(0x0100); // volume 1.0
    w.zeros(10); // reserved
    for value in UNITY_MATRIX {
        w.u32(value);
    }
    w.zeros(24); // pre_defined
    w.u32(next_track_id);
    w.close(mvhd);
}

/// creation/modification time (0), timescale and duration, in version 0 or 1 layout.
fn write_times(w: &mut BoxWriter, timescale: u32, duration: u64, long: bool) {
    if long {
        w.u64(0);
        w.u64(0);
        w.u32(timescale);
        w.u64(duration);
    } else {
        w.u32(0);
        w.u32(0);
        w.u32(timescale);
        w.u32(duration as u32);
    }
}

/// Writes one `trak`; `write_stbl_tables` writes the sample-table boxes after `stsd`.
pub(crate) fn write_trak(
    w: &mut BoxWriter,
    track: &PlayableTrack,
    timing: TrackTiming<'_>,
    write_stbl_tables: impl FnOnce(&mut BoxWriter),
) {
    let video = track.codec.is_video();
    let trak = w.open(b"trak");

    let long = u32::try_from(timing.movie_duration).is_err();
    let tkhd = w.open_full(b"tkhd", u8::from(long), 0x3); // enabled, in movie
    if long {
        w.u64(0);
        w.u64(0);
        w.u32(track.track_id);
        w.u32(0); // reserved
        w.u64(timing.movie_duration);
    } else {
        w.u32(0);
        w.u32(0);
        w.u32(track.track_id);
        w.u32(0); // reserved
        w.u32(timing.movie_duration as u32);
    }
    w.zeros(8); // reserved
    w.u16(0); // layer
    w.u16(0); // alternate_group
    w.u16(if video { 0 } else { 0x0100 }); // volume
    w.u16(0); // reserved
    for value in UNITY_MATRIX {
        w.u32(value);
    }
    let (width, height) = if video { (track.width, track.height) } else { (0, 0) };
    w.u32(width.min(0xffff) << 16);
    w.u32(height.min(0xffff) << 16);
    w.close(tkhd);

    if !timing.edits.is_empty() {
        let edts = w.open(b"edts");
        let elst = w.open_full(b"elst", 1, 0);
        w.u32(timing.edits.len() as u32);
        for edit in timing.edits {
            w.u64(edit.segment_duration);
            w.i64(edit.media_time);
            w.u16(1); // media_rate_integer
            w.u16(0); // media_rate_fraction
        }
        w.close(elst);
        w.close(edts);
    }

    let mdia = w.open(b"mdia");
    let long = u32::try_from(timing.media_duration).is_err();
    let mdhd = w.open_full(b"mdhd", u8::from(long), 0);
    write_times(w, track.timescale, timing.media_duration, long);
    w.u16(LANGUAGE_UND);
    w.u16(0); // pre_defined
    w.close(mdhd);

    let hdlr = w.open_full(b"hdlr", 0, 0);
    w.u32(0); // pre_defined
    w.bytes(if video { b"vide" } else { b"soun" });
    w.zeros(12); // reserved
    w.bytes(if video { b"VideoHandler\0" } else { b"SoundHandler\0" });
    w.close(hdlr);

    let minf = w.open(b"minf");
    if video {
        let vmhd = w.open_full(b"vmhd", 0, 1);
        w.zeros(8); // graphicsmode, opcolor
        w.close(vmhd);
    } else {
        let smhd = w.open_full(b"smhd", 0, 0);
        w.u32(0); // balance, reserved
        w.close(smhd);
    }
    let dinf = w.open(b"dinf");
    let dref = w.open_full(b"dref", 0, 0);
    w.u32(1); // entry_count
    let url = w.open_full(b"url ", 0, 1); // media in this file
    w.close(url);
    w.close(dref);
    w.close(dinf);

    let stbl = w.open(b"stbl");
    write_stsd(w, track);
    write_stbl_tables(w);
    w.close(stbl);
    w.close(minf);
    w.close(mdia);
    w.close(trak);
}
