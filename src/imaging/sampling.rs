//! [`pictures_at`]: the pictures stored fragments show at given times, decoding each GOP once
//! (see the module documentation of `imaging` for which frame a time shows). It must not read
//! fragments itself: callers hand it the stored bytes.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use bytes::Bytes;

use super::{ImagingError, Picture, VideoDecoder};
use crate::media::codec::{Codec, CodecError, Sample};
use crate::media::samples::{SamplesError, fragment_media};

/// One stored fragment to take pictures from.
#[derive(Debug, Clone)]
pub struct StoredFragment {
    /// The track header set it was stored under (EBML header, Segment start, Info, Tracks).
    pub header: Bytes,
    /// The stored Cluster.
    pub cluster: Bytes,
    /// Where the fragment starts on the timeline the sample times use (its producer or server
    /// timestamp), epoch ms. Frames are placed at this plus their offset in the Cluster.
    pub start_ms: i64,
    /// Its duration as the index records it, ms (it covers `start_ms..start_ms + duration_ms`,
    /// or to the end of its last frame if that is later).
    pub duration_ms: i64,
}

/// The picture shown at each of `times_ms` (epoch ms on the fragments' timeline, any order),
/// paired with its time, in the order given.
///
/// `fragments` are consecutive fragments of one stream in timeline order. A time is answered by
/// the latest-starting fragment that covers it, else it gets [`ImagingError::NoMedia`]. Decoding
/// starts at the last key frame at or before the earliest frame needed; when that frame's
/// fragment does not start with a key frame, pass the fragments before it (back to one that
/// does) as well, so the GOP can be decoded from its start. Consecutive fragments with the same
/// video parameters (codec and CodecPrivate) share one decoder. Blocking and CPU-heavy: run it on
/// a blocking thread.
pub fn pictures_at(
    fragments: &[StoredFragment],
    times_ms: &[i64],
) -> Vec<(i64, Result<Picture, ImagingError>)> {
    let mut results: Vec<Result<Picture, ImagingError>> =
        times_ms.iter().map(|_| Err(ImagingError::NoMedia)).collect();
    let videos: Vec<Result<FragmentVideo, ImagingError>> =
        fragments.iter().map(FragmentVideo::demux).collect();
    // The times each fragment answers.
    let mut answers: Vec<Vec<usize>> = vec![Vec::new(); fragments.len()];
    for (ti, &t) in times_ms.iter().enumerate() {
        let covering = (0..fragments.len())
            .filter(|&fi| {
                let f = &fragments[fi];
                let mut end = f.start_ms.saturating_add(f.duration_ms.max(1));
                if let Ok(v) = &videos[fi] {
                    end = end.max(v.end_ms);
                }
                t >= f.start_ms && t < end
            })
            .max_by_key(|&fi| (fragments[fi].start_ms, fi));
        if let Some(fi) = covering {
            answers[fi].push(ti);
        }
    }
    // Runs of consecutive fragments with the same video parameters share one decoder.
    let mut first = 0;
    while first < fragments.len() {
        let mut end = first + 1;
        while end < fragments.len() && same_parameters(&videos[end - 1], &videos[end]) {
            end += 1;
        }
        let wanted: Vec<(usize, usize)> =
            (first..end).flat_map(|fi| answers[fi].iter().map(move |&ti| (ti, fi))).collect();
        if !wanted.is_empty() {
            let run: Result<Vec<&FragmentVideo>, ImagingError> =
                videos[first..end].iter().map(|v| v.as_ref().map_err(Clone::clone)).collect();
            match run {
                Err(e) => wanted.iter().for_each(|&(ti, _)| results[ti] = Err(e.clone())),
                Ok(run) => {
                    let targets: Vec<(usize, (usize, usize))> = wanted
                        .iter()
                        .map(|&(ti, fi)| (ti, shown_at(&run, fi - first, times_ms[ti])))
                        .collect();
                    for (ti, picture) in decode_run(&run, &targets) {
                        results[ti] = picture;
                    }
                }
            }
        }
        first = end;
    }
    times_ms.iter().copied().zip(results).collect()
}

/// The video track of one demuxed fragment.
struct FragmentVideo {
    codec: Codec,
    codec_private: Bytes,
    /// Decode order; times in the track's timescale on the epoch-based timeline.
    samples: Vec<Sample>,
    timescale: i64,
    /// End of the last frame, epoch ms on the fragment's timeline.
    end_ms: i64,
}

impl FragmentVideo {
    fn demux(f: &StoredFragment) -> Result<Self, ImagingError> {
        let media = fragment_media(&f.header, f.cluster.clone(), f.start_ms).map_err(|e| match e {
            SamplesError::Codec(CodecError::Unsupported(m)) => ImagingError::UnsupportedCodec(m),
            other => ImagingError::InvalidMedia(other.to_string()),
        })?;
        let Some(vi) = media.tracks.iter().position(|t| t.codec.is_video()) else {
            return Err(ImagingError::UnsupportedCodec("the fragment has no video track".into()));
        };
        let track = &media.tracks[vi];
        let samples = media.samples.into_iter().nth(vi).unwrap_or_default();
        if samples.is_empty() {
            return Err(ImagingError::NoMedia);
        }
        let timescale = i64::from(track.timescale.max(1));
        let mut v = FragmentVideo {
            codec: track.codec,
            codec_private: track.codec_private.clone(),
            samples,
            timescale,
            end_ms: i64::MIN,
        };
        v.end_ms = v.samples.iter().map(|s| v.to_ms(s.pts + i64::from(s.duration))).max().unwrap_or(i64::MIN);
        Ok(v)
    }

    fn to_ms(&self, units: i64) -> i64 {
        (i128::from(units) * 1000).div_euclid(i128::from(self.timescale)) as i64
    }
}

/// The sample on screen at `t` (which fragment of the run, which sample in decode order): the one
/// with the latest presentation time at or before `t` in the whole run (with B-frames, a frame
/// near a fragment boundary can be stored in the neighbouring fragment), or the earliest one of
/// the covering fragment when `t` precedes them all.
fn shown_at(run: &[&FragmentVideo], covering: usize, t: i64) -> (usize, usize) {
    let all = run
        .iter()
        .enumerate()
        .flat_map(|(fi, v)| v.samples.iter().enumerate().map(move |(si, s)| (fi, si, v, s)));
    let before =
        all.filter(|(_, _, v, s)| v.to_ms(s.pts) <= t).max_by_key(|(fi, si, _, s)| (s.pts, *fi, *si));
    match before {
        Some((fi, si, _, _)) => (fi, si),
        None => {
            let v = run[covering];
            let si = v.samples.iter().enumerate().min_by_key(|(i, s)| (s.pts, *i)).map_or(0, |(i, _)| i);
            (covering, si)
        }
    }
}

fn same_parameters(a: &Result<FragmentVideo, ImagingError>, b: &Result<FragmentVideo, ImagingError>) -> bool {
    match (a, b) {
        (Ok(a), Ok(b)) => {
            a.codec == b.codec && a.codec_private == b.codec_private && a.timescale == b.timescale
        }
        _ => false,
    }
}

/// Decodes a run of fragments (same video parameters) far enough to produce every target:
/// `(time index, (fragment in run, sample index))`. Returns `(time index, picture or error)`.
fn decode_run(
    run: &[&FragmentVideo],
    targets: &[(usize, (usize, usize))],
) -> Vec<(usize, Result<Picture, ImagingError>)> {
    // The run's samples in decode order.
    let order: Vec<&Sample> = run.iter().flat_map(|v| v.samples.iter()).collect();
    let offsets: Vec<usize> =
        run.iter().scan(0, |acc, v| Some(std::mem::replace(acc, *acc + v.samples.len()))).collect();
    let global = |(fi, si): (usize, usize)| offsets[fi] + si;
    let mut collector = Collector::default();
    for (_, k) in targets {
        collector.wanted.entry(global(*k)).or_insert(None);
    }
    collector.missing = collector.wanted.len();
    let mut last_error = None;
    match VideoDecoder::new(run[0].codec, &run[0].codec_private) {
        Err(e) => last_error = Some(e),
        Ok(mut decoder) => {
            let first = targets.iter().map(|(_, k)| global(*k)).min().unwrap_or(0);
            let start = (0..order.len().min(first + 1)).rev().find(|&g| order[g].keyframe).unwrap_or(0);
            for (g, sample) in order.iter().enumerate().skip(start) {
                if collector.missing == 0 {
                    break;
                }
                collector.fed(sample.pts, g);
                match decoder.decode(&sample.data) {
                    Ok(Some(picture)) => collector.out(picture),
                    Ok(None) => {}
                    Err(e) => last_error = Some(e),
                }
            }
            if collector.missing > 0 {
                match decoder.flush() {
                    Ok(held) => held.into_iter().for_each(|p| collector.out(p)),
                    Err(e) => last_error = Some(e),
                }
            }
        }
    }
    targets
        .iter()
        .map(|(ti, k)| {
            let picture = collector.wanted.get(&global(*k)).cloned().flatten();
            let result = picture.ok_or_else(|| {
                last_error.clone().unwrap_or_else(|| {
                    ImagingError::Decode("the decoder gave no picture for the frame".into())
                })
            });
            (*ti, result)
        })
        .collect()
}

/// Matches the decoder's output to samples: pictures come out in display order, so the n-th one
/// out is the sample with the n-th smallest presentation time among those fed so far.
#[derive(Default)]
struct Collector {
    /// Wanted samples (index in the run's decode order) and their picture once out.
    wanted: HashMap<usize, Option<Picture>>,
    missing: usize,
    /// Presentation times fed and not yet out.
    pending: BinaryHeap<Reverse<i64>>,
    by_pts: HashMap<i64, usize>,
}

impl Collector {
    fn fed(&mut self, pts: i64, sample: usize) {
        self.pending.push(Reverse(pts));
        self.by_pts.insert(pts, sample);
    }

    fn out(&mut self, picture: Picture) {
        let Some(Reverse(pts)) = self.pending.pop() else { return };
        if let Some(slot) = self.by_pts.get(&pts).and_then(|g| self.wanted.get_mut(g))
            && slot.is_none()
        {
            *slot = Some(picture);
            self.missing -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::mkv::{DemuxLimits, MkvDemuxer, MkvEvent};

    const H264: &[u8] = include_bytes!("../../tests/fixtures/h264_640x360_20s_2sgop.mkv");
    const BFRAMES: &[u8] = include_bytes!("../../tests/fixtures/h264_bframes_aac_640x360_10s.mkv");
    const H265: &[u8] = include_bytes!("../../tests/fixtures/h265_640x360_10s.mkv");

    /// A fixture as ingest stores it: the header set and one fragment per Cluster, placed at
    /// 1 000 000 ms plus its Cluster timecode (the fixtures count in ms), lasting until the next.
    fn fragments(file: &[u8]) -> Vec<StoredFragment> {
        let mut d = MkvDemuxer::new(DemuxLimits::default());
        d.push(Bytes::copy_from_slice(file));
        d.finish();
        let (mut header, mut out, mut cur) = (Vec::new(), Vec::<StoredFragment>::new(), None);
        while let Ok(Some(ev)) = d.pull() {
            match ev {
                MkvEvent::EbmlHeader { raw, .. } => {
                    header.extend_from_slice(&raw);
                    header.extend_from_slice(&crate::media::mkv::rewrite::unknown_size_segment_header());
                }
                MkvEvent::Info { raw, .. } | MkvEvent::Tracks { raw, .. } => header.extend_from_slice(&raw),
                MkvEvent::ClusterStart { offset, .. } => cur = Some((offset as usize, 0)),
                MkvEvent::ClusterTimecode { timecode } => {
                    if let Some(c) = cur.as_mut() {
                        c.1 = timecode;
                    }
                }
                MkvEvent::ClusterEnd { end_offset } => {
                    if let Some((s, tc)) = cur.take() {
                        out.push(StoredFragment {
                            header: Bytes::new(),
                            cluster: Bytes::copy_from_slice(&file[s..end_offset as usize]),
                            start_ms: 1_000_000 + tc as i64,
                            duration_ms: 0,
                        });
                    }
                }
                _ => {}
            }
        }
        let header = Bytes::from(header);
        for i in 0..out.len() {
            out[i].header = header.clone();
            out[i].duration_ms = out.get(i + 1).map_or(1, |n| n.start_ms) - out[i].start_ms;
        }
        out
    }

    /// Decodes every video frame of consecutive fragments with one decoder, for reference:
    /// (presentation time in ms, picture), in display order.
    fn all_pictures(frags: &[StoredFragment]) -> Vec<(i64, Picture)> {
        let mut d = None;
        let (mut pics, mut pts) = (Vec::new(), Vec::new());
        for f in frags {
            let media = fragment_media(&f.header, f.cluster.clone(), f.start_ms).unwrap();
            let (track, samples) = (&media.tracks[0], &media.samples[0]);
            let d = d.get_or_insert_with(|| VideoDecoder::new(track.codec, &track.codec_private).unwrap());
            for s in samples {
                pts.push(s.pts * 1000 / 90_000);
                pics.extend(d.decode(&s.data).unwrap());
            }
        }
        pics.extend(d.unwrap().flush().unwrap());
        pts.sort_unstable();
        assert_eq!(pics.len(), pts.len(), "one picture per frame");
        pts.into_iter().zip(pics).collect()
    }

    #[test]
    fn every_frame_decodes_to_a_640x360_picture() {
        let frags = fragments(H264);
        assert_eq!(frags.len(), 10);
        let pics = all_pictures(&frags[..1]);
        assert_eq!(pics.len(), 50);
        assert!(pics.iter().all(|(_, p)| (p.width(), p.height()) == (640, 360)));
        // Real content: the luma plane is not flat.
        let y = pics[0].1.luma();
        let mean = y.iter().map(|v| u64::from(*v)).sum::<u64>() / y.len() as u64;
        assert!(y.iter().filter(|v| (i64::from(**v) - mean as i64).abs() > 20).count() > y.len() / 20);
    }

    #[test]
    fn each_time_shows_the_last_frame_at_or_before_it() {
        let frags = fragments(H264);
        let reference = all_pictures(&frags[1..2]);
        let s = frags[1].start_ms;
        let times = [s + 1999, s, s + 40, s + 79, s + 1000, s - 1, s + 2000, s + 1000];
        let got = pictures_at(&frags[1..2], &times);
        assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), times);
        let expect = |t: i64| &reference.iter().rfind(|(pts, _)| *pts <= t).unwrap().1;
        for (t, r) in &got {
            if *t < s || *t >= s + 2000 {
                assert_eq!(r, &Err(ImagingError::NoMedia), "{t}");
            } else {
                assert_eq!(r.as_ref().unwrap(), expect(*t), "picture at {t}");
            }
        }
        assert_ne!(got[0].1, got[1].1, "different frames differ");
        assert_eq!(got[4].1, got[7].1);
        assert_eq!(pictures_at(&frags[1..2], &[]), vec![]);
        // Several fragments at once: each time goes to the fragment covering it.
        let times = [frags[0].start_ms + 500, frags[2].start_ms + 1960, frags[9].start_ms + 3000];
        let got = pictures_at(&frags, &times);
        assert_eq!(got[0].1.as_ref().unwrap(), &all_pictures(&frags[..1])[12].1);
        assert_eq!(got[1].1.as_ref().unwrap(), &all_pictures(&frags[2..3])[49].1);
        assert_eq!(got[2].1, Err(ImagingError::NoMedia), "after the last frame");
    }

    #[test]
    fn b_frames_and_gops_across_fragments() {
        // This fixture's clusters are cut by time: most do not start with a key frame, so a
        // picture in cluster 2 needs clusters 0 and 1 as well.
        let frags = fragments(BFRAMES);
        let reference = all_pictures(&frags[..4]);
        let (lo, hi) = (frags[2].start_ms, frags[3].start_ms);
        let want: Vec<&(i64, Picture)> = reference.iter().filter(|(t, _)| (lo..hi).contains(t)).collect();
        assert!(want.len() > 3);
        let times: Vec<i64> = want.iter().map(|(t, _)| *t).collect();
        let got = pictures_at(&frags[..4], &times);
        for ((t, got), want) in got.iter().zip(&want) {
            assert_eq!(got.as_ref().unwrap(), &want.1, "frame at {t}");
        }
        // Without the lead-in the GOP cannot be decoded: an error, not a wrong picture.
        let alone = pictures_at(&frags[2..3], &times[..1]);
        assert!(alone[0].1.is_err(), "{:?}", alone[0].1);
    }

    #[test]
    fn h265_and_garbage_are_per_time_errors() {
        let frags = fragments(H265);
        let got = pictures_at(&frags[..1], &[frags[0].start_ms, frags[0].start_ms - 5]);
        assert!(matches!(got[0].1, Err(ImagingError::UnsupportedCodec(_))), "{:?}", got[0]);
        assert_eq!(got[1].1, Err(ImagingError::NoMedia));
        let mut bad = fragments(H264).remove(0);
        bad.cluster = bad.cluster.slice(..bad.cluster.len() / 3);
        let _ = pictures_at(std::slice::from_ref(&bad), &[bad.start_ms, bad.start_ms + 1500]);
        bad.header = Bytes::from_static(b"nope");
        let got = pictures_at(std::slice::from_ref(&bad), &[bad.start_ms, bad.start_ms + 1500]);
        assert!(got.iter().all(|(_, r)| matches!(r, Err(ImagingError::InvalidMedia(_)))), "{got:?}");
    }
}
