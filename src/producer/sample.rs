//! `openkvs sample`: writes a sample video to stream, so someone holding only the binary can see
//! openkvs work in a minute (`openkvs sample`, then `openkvs put … sample.mkv`).
//!
//! The video is embedded in the binary: `tests/fixtures/h264_640x360_20s_2sgop.mkv` (about 1 MB;
//! H.264 Constrained Baseline 640x360, 25 fps, a moving test pattern with a clock, one key frame
//! every 2 s, one Cluster per key frame, no audio), i.e. shaped like what a KVS producer sends.
//! `--seconds N` keeps the first ⌈N/2⌉ Clusters, repeating the 20 s loop with continued
//! timecodes when N is longer; the output is a live-style Matroska file (unknown-size Segment,
//! known-size Clusters, no SeekHead, Cues or Duration).
//!
//! Owns the embedded sample and its re-timing; it does no network I/O.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use bytes::Bytes;

use crate::media::ebml::writer::EbmlWriter;
use crate::media::mkv::{MkvDemuxer, MkvEvent, ids};

/// The embedded sample.
pub const EMBEDDED: &[u8] = include_bytes!("../../tests/fixtures/h264_640x360_20s_2sgop.mkv");

/// Longest sample `--seconds` accepts (one hour is about 180 MB).
pub const MAX_SECONDS: u32 = 3_600;

/// `openkvs sample` options.
#[derive(Debug, Clone)]
pub struct SampleOptions {
    /// Output file; `-` for stdout.
    pub out: PathBuf,
    /// Length, seconds (rounded up to whole 2 s fragments).
    pub seconds: u32,
    /// Replace an existing file.
    pub force: bool,
}

/// The embedded sample, split into the parts the output is made of.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The EBML header, Info and Tracks elements, as stored.
    head: Vec<Bytes>,
    /// Each Cluster: its Timecode and its other children (blocks), as stored.
    clusters: Vec<(u64, Vec<Bytes>)>,
    /// Length of one pass through the clusters, timecode units (ms).
    period: u64,
}

/// The embedded file is not what this module expects (a build problem, never input).
#[derive(Debug, thiserror::Error)]
#[error("the embedded sample cannot be read: {0}")]
pub struct SampleError(String);

impl Sample {
    /// Splits the embedded sample.
    pub fn embedded() -> Result<Self, SampleError> {
        Self::parse(Bytes::from_static(EMBEDDED))
    }

    /// Splits a Matroska file with regularly spaced Clusters.
    pub fn parse(data: Bytes) -> Result<Self, SampleError> {
        let mut demuxer = MkvDemuxer::default();
        demuxer.push(data);
        demuxer.finish();
        let mut head = Vec::new();
        let mut clusters: Vec<(u64, Vec<Bytes>)> = Vec::new();
        while let Some(event) = demuxer.pull().map_err(|e| SampleError(e.to_string()))? {
            match event {
                MkvEvent::EbmlHeader { raw, .. }
                | MkvEvent::Info { raw, .. }
                | MkvEvent::Tracks { raw, .. } => {
                    head.push(raw);
                }
                MkvEvent::ClusterStart { .. } => clusters.push((0, Vec::new())),
                MkvEvent::ClusterTimecode { timecode } => {
                    if let Some(c) = clusters.last_mut() {
                        c.0 = timecode;
                    }
                }
                MkvEvent::ClusterChild { id, raw, .. } => {
                    let keep = !matches!(id, ids::TIMECODE | ids::POSITION | ids::PREV_SIZE);
                    if let (true, Some(c)) = (keep, clusters.last_mut()) {
                        c.1.push(raw);
                    }
                }
                _ => {}
            }
        }
        let (Some(first), Some(last)) = (clusters.first(), clusters.last()) else {
            return Err(SampleError("no Cluster".into()));
        };
        if head.len() != 3 || clusters.len() < 2 || last.0 <= first.0 {
            return Err(SampleError("expected an EBML header, Info, Tracks and two Clusters or more".into()));
        }
        // Clusters are evenly spaced: one pass lasts as long as all of them, the last included.
        let step = (last.0 - first.0) / (clusters.len() as u64 - 1);
        let period = last.0 - first.0 + step;
        Ok(Sample { head, clusters, period })
    }

    /// Milliseconds one Cluster covers.
    pub fn cluster_ms(&self) -> u64 {
        self.period / self.clusters.len() as u64
    }

    /// How many Clusters `seconds` of video take (at least one).
    pub fn clusters_for(&self, seconds: u32) -> usize {
        let ms = u64::from(seconds.max(1)) * 1000;
        ms.div_ceil(self.cluster_ms().max(1)) as usize
    }

    /// The EBML header, an unknown-size Segment header, Info and Tracks.
    pub fn header(&self) -> Bytes {
        let mut w = EbmlWriter::new();
        let (ebml, rest) = self.head.split_first().expect("parse checked the head");
        w.raw(ebml).unknown_size_header(ids::SEGMENT, 8);
        for raw in rest {
            w.raw(raw);
        }
        w.finish()
    }

    /// The `n`th Cluster of the looped sample (0-based), with its Timecode moved by whole passes.
    pub fn cluster(&self, n: usize) -> Bytes {
        let (timecode, children) = &self.clusters[n % self.clusters.len()];
        let pass = (n / self.clusters.len()) as u64;
        let mut w = EbmlWriter::new();
        let mark = w.start_master(ids::CLUSTER);
        w.uint(ids::TIMECODE, timecode + pass * self.period);
        for child in children {
            w.raw(child);
        }
        w.end_master(mark);
        w.finish()
    }
}

/// Runs `openkvs sample`.
pub fn run(opts: &SampleOptions) -> ExitCode {
    let fail = |msg: String| {
        eprintln!("openkvs sample: {msg}");
        ExitCode::FAILURE
    };
    if !(1..=MAX_SECONDS).contains(&opts.seconds) {
        return fail(format!("--seconds must be 1..={MAX_SECONDS}"));
    }
    let sample = match Sample::embedded() {
        Ok(s) => s,
        Err(e) => return fail(e.to_string()),
    };
    let to_stdout = opts.out.as_os_str() == "-";
    let mut out: Box<dyn Write> = if to_stdout {
        Box::new(std::io::BufWriter::new(std::io::stdout().lock()))
    } else {
        let mut open = std::fs::OpenOptions::new();
        open.write(true);
        if opts.force {
            open.create(true).truncate(true);
        } else {
            open.create_new(true);
        }
        match open.open(&opts.out) {
            Ok(f) => Box::new(std::io::BufWriter::new(f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return fail(format!("{} exists; pass --force to replace it", opts.out.display()));
            }
            Err(e) => return fail(format!("cannot create {}: {e}", opts.out.display())),
        }
    };
    let n = sample.clusters_for(opts.seconds);
    let mut bytes = 0u64;
    let mut write = |b: &Bytes| {
        bytes += b.len() as u64;
        out.write_all(b)
    };
    let written = write(&sample.header()).and_then(|()| (0..n).try_for_each(|i| write(&sample.cluster(i))));
    if let Err(e) = written.and_then(|()| out.flush()) {
        return fail(format!("writing {} failed: {e}", opts.out.display()));
    }
    if !to_stdout {
        let seconds = n as u64 * sample.cluster_ms() / 1000;
        eprintln!(
            "openkvs sample: wrote {}: {seconds} s of H.264 640x360 at 25 fps, a key frame (and a fragment) \
             every 2 s, {bytes} bytes\nstream it: openkvs put --endpoint http://127.0.0.1:4567 --create --stream demo {}",
            opts.out.display(),
            opts.out.display()
        );
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (Cluster timecodes, frames, key frames at a Cluster's first frame, TimecodeScale) of a file.
    fn shape(data: Bytes) -> (Vec<u64>, usize, usize, u64) {
        let mut d = MkvDemuxer::default();
        d.push(data);
        d.finish();
        let (mut tcs, mut frames, mut keys_first, mut scale) = (Vec::new(), 0, 0, 0);
        let mut first_in_cluster = false;
        while let Some(e) = d.pull().unwrap() {
            match e {
                MkvEvent::Info { timecode_scale_ns, .. } => scale = timecode_scale_ns,
                MkvEvent::ClusterTimecode { timecode } => {
                    tcs.push(timecode);
                    first_in_cluster = true;
                }
                MkvEvent::Frame(f) => {
                    frames += 1;
                    if first_in_cluster && f.keyframe {
                        keys_first += 1;
                    }
                    first_in_cluster = false;
                }
                _ => {}
            }
        }
        (tcs, frames, keys_first, scale)
    }

    fn file(s: &Sample, seconds: u32) -> Bytes {
        let mut out = s.header().to_vec();
        for i in 0..s.clusters_for(seconds) {
            out.extend_from_slice(&s.cluster(i));
        }
        Bytes::from(out)
    }

    #[test]
    fn the_embedded_sample_is_kvs_shaped() {
        let s = Sample::embedded().unwrap();
        assert_eq!(s.clusters.len(), 10);
        assert_eq!(s.cluster_ms(), 2000);
        assert_eq!(s.period, 20_000);
        let (tcs, frames, keys_first, scale) = shape(file(&s, 20));
        assert_eq!(tcs, (0..10).map(|i| i * 2000).collect::<Vec<_>>());
        assert_eq!((frames, keys_first, scale), (500, 10, 1_000_000));
        // No Duration in Info: a looped or shortened copy must not claim 20 s.
        let info = s.head.get(1).unwrap();
        let header = match crate::media::ebml::reader::parse_header(info, 0).unwrap() {
            crate::media::ebml::reader::Parse::Complete(h) => h,
            crate::media::ebml::reader::Parse::Incomplete => panic!("Info is complete"),
        };
        let children = crate::media::ebml::reader::Children::new(&info[header.header_len..], 0);
        assert!(children.map(|c| c.unwrap().id).all(|id| id != ids::DURATION), "Info carries a Duration");
    }

    #[test]
    fn seconds_round_up_to_whole_fragments_and_loop_with_continued_timecodes() {
        let s = Sample::embedded().unwrap();
        assert_eq!(s.clusters_for(1), 1);
        assert_eq!(s.clusters_for(5), 3);
        let (tcs, frames, keys_first, _) = shape(file(&s, 45));
        assert_eq!(tcs, (0..23).map(|i| i * 2000).collect::<Vec<_>>());
        assert_eq!(frames, 23 * 50);
        assert_eq!(keys_first, 23);
    }
}
