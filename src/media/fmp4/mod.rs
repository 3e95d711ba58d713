//! MP4 writers: fragmented MP4 (CMAF init and media segments, for HLS and DASH) and progressive MP4
//! (one self-contained file, for GetClip), from [`PlayableTrack`]s and [`Sample`]s.
//!
//! * [`init_segment`] / [`media_segment`] (`fragment.rs`): `ftyp`+`moov`, then `moof`+`mdat` per
//!   fragment, with absolute decode times (`tfdt`) and signed composition offsets (`trun` v1).
//! * [`progressive_mp4`] (`progressive.rs`): `ftyp`+`moov` with full sample tables and the `mdat`
//!   header as one buffer, the `mdat` payload as zero-copy sample slices.
//! * `moov.rs` (movie and track headers), `sample_entry.rs` (`avc1`/`hvc1`/`mp4a` descriptions and
//!   CodecPrivate checks), `boxes.rs` (the box writer).
//!
//! Pure code: no I/O, no async, nothing from the crate but `media::codec`. Sample data is copied
//! verbatim (never parsed); no input makes it panic — what cannot be written is a [`CodecError`].
//!
//! Callers must give each run's samples in decode order with non-decreasing DTS; a sample's duration
//! in the output is the step to the next sample's DTS (the last one uses [`Sample::duration`]).

mod boxes;
mod fragment;
mod moov;
mod progressive;
mod sample_entry;

pub use fragment::{init_segment, media_segment};
pub use progressive::{ProgressiveMp4, progressive_mp4};

use crate::media::codec::{CodecError, PlayableTrack, Sample, TrackRun};

/// The `next_track_ID` of `mvhd`: one above the largest track ID.
fn next_track_id<'a>(tracks: impl Iterator<Item = &'a PlayableTrack>) -> u32 {
    tracks.map(|track| track.track_id).max().unwrap_or(0).saturating_add(1)
}

/// Checks what both writers need of a run's samples: DTS non-decreasing, sizes within 32 bits.
fn check_samples(run: &TrackRun) -> Result<(), CodecError> {
    let mut previous: Option<&Sample> = None;
    for sample in run.samples {
        if u32::try_from(sample.data.len()).is_err() {
            return Err(CodecError::InvalidFrame("a frame larger than 4 GiB".into()));
        }
        if let Some(previous) = previous
            && sample.dts < previous.dts
        {
            return Err(CodecError::InvalidFrame(format!(
                "track {}: decode time goes back from {} to {}",
                run.track.track_id, previous.dts, sample.dts
            )));
        }
        previous = Some(sample);
    }
    Ok(())
}

/// Each sample's duration: the step to the next sample's DTS, the last sample's own duration.
fn decode_durations(run: &TrackRun) -> Result<Vec<u32>, CodecError> {
    let mut durations = Vec::with_capacity(run.samples.len());
    for pair in run.samples.windows(2) {
        let step = pair[1].dts.checked_sub(pair[0].dts).and_then(|step| u32::try_from(step).ok());
        let Some(step) = step else {
            return Err(CodecError::InvalidFrame(format!(
                "track {}: decode time step {} -> {} out of range",
                run.track.track_id, pair[0].dts, pair[1].dts
            )));
        };
        durations.push(step);
    }
    if let Some(last) = run.samples.last() {
        durations.push(last.duration);
    }
    Ok(durations)
}
