//! The progressive (non-fragmented) MP4 writer for GetClip: `ftyp` + `moov` with full sample tables
//! + the `mdat` header in one buffer, and the `mdat` payload as the samples' own `Bytes`.
//!
//! Samples are interleaved in chunks of about one second per track. Each track's decode timeline
//! starts at 0; composition offsets are made non-negative (`ctts` version 0) by delaying the decode
//! timeline, and an edit list puts every track's first presented sample at its place relative to
//! the earliest track. It must not copy sample data, and never panics.

use bytes::Bytes;

use super::boxes::BoxWriter;
use super::moov::{Edit, MOVIE_TIMESCALE, TrackTiming, write_ftyp, write_mvhd, write_trak};
use super::sample_entry::check_track;
use super::{check_samples, decode_durations, next_track_id};
use crate::media::codec::{CodecError, PlayableTrack, TrackRun};

/// A whole MP4 file: `head` (`ftyp`, `moov`, `mdat` header) followed by the `body` slices, in
/// order. `body` sizes add up to what the `mdat` header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressiveMp4 {
    /// `ftyp` + `moov` + the `mdat` box header.
    pub head: Bytes,
    /// The `mdat` payload: the sample datas in file order (zero-copy slices of the input).
    pub body: Vec<Bytes>,
}

impl ProgressiveMp4 {
    /// The file's total size in bytes.
    pub fn len(&self) -> u64 {
        self.head.len() as u64 + self.body.iter().map(|b| b.len() as u64).sum::<u64>()
    }

    /// Whether the file is empty (never, for a written file).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Target chunk length: about one second of samples per track before switching tracks.
const CHUNK_SECONDS: i64 = 1;

/// One track laid out: its sample tables, before chunk offsets are known.
struct TrackLayout<'a> {
    run: &'a TrackRun<'a>,
    durations: Vec<u32>,
    /// Composition offsets after the shift that makes them all ≥ 0.
    offsets: Vec<u32>,
    /// Sample count of each chunk, in chunk order.
    chunk_sizes: Vec<u32>,
    /// File offset of each chunk relative to the start of the `mdat` payload.
    chunk_offsets: Vec<u64>,
    media_duration: u64,
    edits: Vec<Edit>,
    movie_duration: u64,
}

/// One chunk for interleaving: which layout, first sample index, sample count.
struct Chunk {
    layout: usize,
    first: usize,
    count: usize,
}

/// Writes one non-fragmented MP4 from each run's samples (one run per track; empty runs are
/// skipped). Samples must be in decode order with non-decreasing DTS; `pts - dts` may be negative.
pub fn progressive_mp4(runs: &[TrackRun]) -> Result<ProgressiveMp4, CodecError> {
    let runs: Vec<&TrackRun> = runs.iter().filter(|run| !run.samples.is_empty()).collect();
    if runs.is_empty() {
        return Err(CodecError::InvalidFrame("an MP4 clip without samples".into()));
    }
    for (i, run) in runs.iter().enumerate() {
        check_track(run.track)?;
        check_samples(run)?;
        if runs[..i].iter().any(|other| other.track.track_id == run.track.track_id) {
            return Err(CodecError::Unsupported(format!("track {} appears twice", run.track.track_id)));
        }
    }

    // The presentation origin: the earliest first-presented sample over all tracks, in ms.
    let first_pts_ms: Vec<i128> = runs
        .iter()
        .map(|run| {
            let min_pts = run.samples.iter().map(|s| s.pts).min().unwrap_or(0);
            (i128::from(min_pts) * i128::from(MOVIE_TIMESCALE)).div_euclid(i128::from(run.track.timescale))
        })
        .collect();
    let origin_ms = first_pts_ms.iter().copied().min().unwrap_or(0);

    let mut layouts = Vec::with_capacity(runs.len());
    for (run, &first_ms) in runs.iter().zip(&first_pts_ms) {
        layouts.push(lay_out_track(run, first_ms - origin_ms)?);
    }

    // Interleave: chunks of every track ordered by their first decode time.
    let mut chunks = Vec::new();
    for (index, layout) in layouts.iter_mut().enumerate() {
        let samples = layout.run.samples;
        let span = i64::from(layout.run.track.timescale) * CHUNK_SECONDS;
        let mut first = 0;
        while first < samples.len() {
            let start = samples[first].dts;
            let count = samples[first..].iter().take_while(|s| s.dts.saturating_sub(start) < span).count();
            let count = count.max(1);
            chunks.push(Chunk { layout: index, first, count });
            layout.chunk_sizes.push(count as u32);
            first += count;
        }
    }
    chunks.sort_by(|a, b| {
        let (ta, tb) = (&layouts[a.layout], &layouts[b.layout]);
        let da = i128::from(ta.run.samples[a.first].dts) * i128::from(tb.run.track.timescale);
        let db = i128::from(tb.run.samples[b.first].dts) * i128::from(ta.run.track.timescale);
        da.cmp(&db).then(a.layout.cmp(&b.layout)).then(a.first.cmp(&b.first))
    });
    let mut body = Vec::new();
    let mut payload: u64 = 0;
    for chunk in &chunks {
        let layout = &mut layouts[chunk.layout];
        layout.chunk_offsets.push(payload);
        for sample in &layout.run.samples[chunk.first..chunk.first + chunk.count] {
            payload += sample.data.len() as u64;
            body.push(sample.data.clone());
        }
    }

    let tracks: Vec<&PlayableTrack> = runs.iter().map(|run| run.track).collect();
    let mdat_header_len: u64 = if payload + 8 > u64::from(u32::MAX) { 16 } else { 8 };
    // The moov's size does not depend on the offsets' values (co64): write it once to measure it.
    let ftyp_moov_len = write_head(&tracks, &layouts, 0)?.len() as u64;
    let base = ftyp_moov_len + mdat_header_len;
    let mut head = write_head(&tracks, &layouts, base)?;
    if mdat_header_len == 16 {
        head.extend_from_slice(&1u32.to_be_bytes());
        head.extend_from_slice(b"mdat");
        head.extend_from_slice(&(payload + 16).to_be_bytes());
    } else {
        head.extend_from_slice(&((payload + 8) as u32).to_be_bytes());
        head.extend_from_slice(b"mdat");
    }
    Ok(ProgressiveMp4 { head: Bytes::from(head), body })
}

/// Sample tables and timing of one track; `delay_ms` is how long after the earliest track its
/// first sample is presented.
fn lay_out_track<'a>(run: &'a TrackRun<'a>, delay_ms: i128) -> Result<TrackLayout<'a>, CodecError> {
    let samples = run.samples;
    let durations = decode_durations(run)?;
    let first_dts = samples[0].dts;
    let out_of_range =
        || CodecError::InvalidFrame(format!("track {}: timestamps out of range", run.track.track_id));

    let raw_offsets: Vec<i64> = samples
        .iter()
        .map(|s| s.pts.checked_sub(s.dts).ok_or_else(out_of_range))
        .collect::<Result<_, _>>()?;
    let shift =
        raw_offsets.iter().copied().min().unwrap_or(0).min(0).checked_neg().ok_or_else(out_of_range)?;
    let offsets: Vec<u32> = raw_offsets
        .iter()
        .map(|&offset| offset.checked_add(shift).and_then(|o| u32::try_from(o).ok()).ok_or_else(out_of_range))
        .collect::<Result<_, _>>()?;

    let media_duration: u64 = durations.iter().map(|&d| u64::from(d)).sum();
    // Media time of the first presented sample: min over (dts - first_dts + offset).
    let mut presentation_start: Option<i64> = None;
    for (sample, &offset) in samples.iter().zip(&offsets) {
        let time = sample.dts.checked_sub(first_dts).and_then(|t| t.checked_add(i64::from(offset)));
        let time = time.ok_or_else(out_of_range)?;
        presentation_start = Some(presentation_start.map_or(time, |start| start.min(time)));
    }
    let presentation_start = presentation_start.unwrap_or(0);

    let timescale = u64::from(run.track.timescale);
    let duration_ms =
        (u128::from(media_duration) * u128::from(MOVIE_TIMESCALE)).div_ceil(u128::from(timescale));
    let duration_ms = u64::try_from(duration_ms).map_err(|_| out_of_range())?;
    let delay_ms = u64::try_from(delay_ms.max(0)).map_err(|_| out_of_range())?;
    let mut edits = Vec::new();
    if delay_ms > 0 {
        edits.push(Edit { segment_duration: delay_ms, media_time: -1 });
    }
    if delay_ms > 0 || presentation_start != 0 {
        edits.push(Edit { segment_duration: duration_ms, media_time: presentation_start });
    }
    Ok(TrackLayout {
        run,
        durations,
        offsets,
        chunk_sizes: Vec::new(),
        chunk_offsets: Vec::new(),
        media_duration,
        edits,
        movie_duration: delay_ms.saturating_add(duration_ms),
    })
}

/// `ftyp` + `moov`, with chunk offsets counted from `mdat_payload_start`.
fn write_head(
    tracks: &[&PlayableTrack],
    layouts: &[TrackLayout],
    mdat_payload_start: u64,
) -> Result<Vec<u8>, CodecError> {
    let mut w = BoxWriter::new();
    write_ftyp(&mut w, b"isom", 0x200, &[b"isom", b"iso2", b"avc1", b"mp41"]);
    let moov = w.open(b"moov");
    let movie_duration = layouts.iter().map(|l| l.movie_duration).max().unwrap_or(0);
    write_mvhd(&mut w, movie_duration, next_track_id(tracks.iter().copied()));
    for (track, layout) in tracks.iter().zip(layouts) {
        let timing = TrackTiming {
            movie_duration: layout.movie_duration,
            media_duration: layout.media_duration,
            edits: &layout.edits,
        };
        write_trak(&mut w, track, timing, |w| write_sample_tables(w, layout, mdat_payload_start));
    }
    w.close(moov);
    w.finish()
}

fn write_sample_tables(w: &mut BoxWriter, layout: &TrackLayout, mdat_payload_start: u64) {
    let samples = layout.run.samples;

    let stts = w.open_full(b"stts", 0, 0);
    let entries = run_lengths(&layout.durations);
    w.u32(entries.len() as u32);
    for (count, duration) in entries {
        w.u32(count);
        w.u32(duration);
    }
    w.close(stts);

    if layout.offsets.iter().any(|&offset| offset != 0) {
        let ctts = w.open_full(b"ctts", 0, 0);
        let entries = run_lengths(&layout.offsets);
        w.u32(entries.len() as u32);
        for (count, offset) in entries {
            w.u32(count);
            w.u32(offset);
        }
        w.close(ctts);
    }

    if layout.run.track.codec.is_video() {
        let stss = w.open_full(b"stss", 0, 0);
        let sync: Vec<u32> =
            samples.iter().enumerate().filter(|(_, s)| s.keyframe).map(|(i, _)| i as u32 + 1).collect();
        w.u32(sync.len() as u32);
        for number in sync {
            w.u32(number);
        }
        w.close(stss);
    }

    let stsc = w.open_full(b"stsc", 0, 0);
    let mut entries: Vec<(u32, u32)> = Vec::new(); // (first_chunk, samples_per_chunk)
    for (index, &size) in layout.chunk_sizes.iter().enumerate() {
        if entries.last().is_none_or(|&(_, previous)| previous != size) {
            entries.push((index as u32 + 1, size));
        }
    }
    w.u32(entries.len() as u32);
    for (first_chunk, samples_per_chunk) in entries {
        w.u32(first_chunk);
        w.u32(samples_per_chunk);
        w.u32(1); // sample_description_index
    }
    w.close(stsc);

    let stsz = w.open_full(b"stsz", 0, 0);
    w.u32(0); // sample_size: per-sample table follows
    w.u32(samples.len() as u32);
    for sample in samples {
        w.u32(sample.data.len() as u32);
    }
    w.close(stsz);

    let co64 = w.open_full(b"co64", 0, 0);
    w.u32(layout.chunk_offsets.len() as u32);
    for &offset in &layout.chunk_offsets {
        w.u64(mdat_payload_start + offset);
    }
    w.close(co64);
}

/// Run-length encoding: (count, value) pairs.
fn run_lengths(values: &[u32]) -> Vec<(u32, u32)> {
    let mut entries: Vec<(u32, u32)> = Vec::new();
    for &value in values {
        match entries.last_mut() {
            Some((count, last)) if *last == value => *count += 1,
            _ => entries.push((1, value)),
        }
    }
    entries
}
