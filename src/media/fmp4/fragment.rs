//! The fragmented-MP4 (CMAF) writer for HLS and DASH: the init segment (`ftyp` + `moov` with empty
//! sample tables and `mvex`) and media segments (`moof` + `mdat`).
//!
//! Sample timestamps are written as given (absolute, in each track's timescale): `tfdt` is the first
//! sample's DTS, `trun` durations are the DTS steps. It must not reorder, drop or alter samples, and
//! never panics: anything it cannot represent is a [`CodecError`].

use bytes::Bytes;

use super::boxes::BoxWriter;
use super::moov::{TrackTiming, write_ftyp, write_mvhd, write_trak};
use super::sample_entry::check_track;
use super::{check_samples, decode_durations, next_track_id};
use crate::media::codec::{CodecError, PlayableTrack, TrackRun};

/// `trun` sample flags of a sync sample: sample_depends_on = 2 (depends on no other sample).
const SYNC_SAMPLE_FLAGS: u32 = 0x0200_0000;
/// `trun` sample flags of a non-sync sample: sample_depends_on = 1, sample_is_non_sync_sample.
const NON_SYNC_SAMPLE_FLAGS: u32 = 0x0101_0000;

/// `tfhd` flag: offsets are relative to the start of the `moof`.
const TFHD_DEFAULT_BASE_IS_MOOF: u32 = 0x02_0000;
/// `trun` flags: data_offset, sample duration, size, flags and composition time offset present.
const TRUN_DATA_OFFSET: u32 = 0x0001;
const TRUN_SAMPLE_DURATION: u32 = 0x0100;
const TRUN_SAMPLE_SIZE: u32 = 0x0200;
const TRUN_SAMPLE_FLAGS: u32 = 0x0400;
const TRUN_SAMPLE_COMPOSITION_OFFSET: u32 = 0x0800;

/// The CMAF/DASH initialization segment: `ftyp` + `moov` (`mvhd`, one `trak` per track with empty
/// sample tables, `mvex` with one `trex` per track).
pub fn init_segment(tracks: &[&PlayableTrack]) -> Result<Bytes, CodecError> {
    if tracks.is_empty() {
        return Err(CodecError::Unsupported("an init segment without tracks".into()));
    }
    for track in tracks {
        check_track(track)?;
    }
    let mut w = BoxWriter::new();
    write_ftyp(&mut w, b"iso6", 0, &[b"iso6", b"cmfc", b"isom", b"mp41", b"dash"]);
    let moov = w.open(b"moov");
    write_mvhd(&mut w, 0, next_track_id(tracks.iter().copied()));
    for track in tracks {
        write_trak(&mut w, track, TrackTiming::default(), |w| {
            for kind in [b"stts", b"stsc", b"stsz", b"stco"] {
                let table = w.open_full(kind, 0, 0);
                if kind == b"stsz" {
                    w.u32(0); // sample_size: sizes in the table
                }
                w.u32(0); // entry_count / sample_count
                w.close(table);
            }
        });
    }
    let mvex = w.open(b"mvex");
    for track in tracks {
        let trex = w.open_full(b"trex", 0, 0);
        w.u32(track.track_id);
        w.u32(1); // default_sample_description_index
        w.u32(0); // default_sample_duration
        w.u32(0); // default_sample_size
        w.u32(0); // default_sample_flags
        w.close(trex);
    }
    w.close(mvex);
    w.close(moov);
    Ok(Bytes::from(w.finish()?))
}

/// One media segment: `moof` (`mfhd`, one `traf` per non-empty run) followed by one `mdat` holding
/// the runs' samples in run order.
///
/// Each run's samples must be in decode order with non-decreasing DTS, the first DTS ≥ 0, and
/// `pts - dts` within ±2³¹. Sample `i`'s duration is `dts[i+1] - dts[i]`; the last sample's is its
/// [`Sample::duration`](crate::media::codec::Sample::duration).
pub fn media_segment(sequence_number: u32, runs: &[TrackRun]) -> Result<Bytes, CodecError> {
    let runs: Vec<&TrackRun> = runs.iter().filter(|run| !run.samples.is_empty()).collect();
    if runs.is_empty() {
        return Err(CodecError::InvalidFrame("a media segment without samples".into()));
    }
    let mut durations = Vec::with_capacity(runs.len());
    let mut payload: u64 = 0;
    for run in &runs {
        check_track(run.track)?;
        check_samples(run)?;
        let first_dts = run.samples[0].dts;
        if first_dts < 0 {
            return Err(CodecError::InvalidFrame(format!(
                "track {}: negative decode time {first_dts} cannot start a fragment",
                run.track.track_id
            )));
        }
        durations.push(decode_durations(run)?);
        payload += run.samples.iter().map(|s| s.data.len() as u64).sum::<u64>();
    }

    let mut w = BoxWriter::new();
    let moof = w.open(b"moof");
    let mfhd = w.open_full(b"mfhd", 0, 0);
    w.u32(sequence_number);
    w.close(mfhd);
    let mut data_offset_slots = Vec::with_capacity(runs.len());
    for (run, durations) in runs.iter().zip(&durations) {
        let traf = w.open(b"traf");
        let tfhd = w.open_full(b"tfhd", 0, TFHD_DEFAULT_BASE_IS_MOOF);
        w.u32(run.track.track_id);
        w.close(tfhd);
        let tfdt = w.open_full(b"tfdt", 1, 0);
        w.u64(run.samples[0].dts as u64);
        w.close(tfdt);

        let with_offsets = run.samples.iter().any(|s| s.pts != s.dts);
        let mut flags = TRUN_DATA_OFFSET | TRUN_SAMPLE_DURATION | TRUN_SAMPLE_SIZE | TRUN_SAMPLE_FLAGS;
        if with_offsets {
            flags |= TRUN_SAMPLE_COMPOSITION_OFFSET;
        }
        let trun = w.open_full(b"trun", 1, flags);
        w.u32(run.samples.len() as u32);
        data_offset_slots.push(w.len());
        w.i32(0); // data_offset, patched below
        for (sample, &duration) in run.samples.iter().zip(durations) {
            w.u32(duration);
            w.u32(sample.data.len() as u32);
            w.u32(if sample.keyframe { SYNC_SAMPLE_FLAGS } else { NON_SYNC_SAMPLE_FLAGS });
            if with_offsets {
                w.i32(composition_offset(sample.pts, sample.dts)?);
            }
        }
        w.close(trun);
        w.close(traf);
    }
    w.close(moof);

    // With default-base-is-moof, data offsets count from the first byte of the moof.
    let moof_len = (w.len() - moof.start()) as u64;
    let mut data_offset = moof_len + 8;
    if data_offset + payload > i32::MAX as u64 {
        return Err(CodecError::Unsupported("a media segment larger than 2 GiB".into()));
    }
    for (run, slot) in runs.iter().zip(data_offset_slots) {
        w.patch_u32(slot, data_offset as u32);
        data_offset += run.samples.iter().map(|s| s.data.len() as u64).sum::<u64>();
    }

    let mdat = w.open(b"mdat");
    for run in &runs {
        for sample in run.samples {
            w.bytes(&sample.data);
        }
    }
    w.close(mdat);
    Ok(Bytes::from(w.finish()?))
}

/// `pts - dts` as a `trun` version 1 signed composition offset.
fn composition_offset(pts: i64, dts: i64) -> Result<i32, CodecError> {
    pts.checked_sub(dts)
        .and_then(|offset| i32::try_from(offset).ok())
        .ok_or_else(|| CodecError::InvalidFrame(format!("composition offset {pts} - {dts} out of range")))
}
