//! Tests of the MP4 writers: structure (a small box reader checks every table against the input
//! samples), rejected inputs, and end-to-end decoding of the real fixtures with ffprobe (skipped
//! when ffprobe is not installed).
//!
//! Test-only code: the fixtures are read with `matroska_demuxer` (a dev-dependency) and written to
//! temporary files for ffprobe.

use std::path::{Path, PathBuf};
use std::process::Command;

use bytes::Bytes;

use openkvs::media::codec::{Codec, CodecError, PlayableTrack, Sample, TrackRun};
use openkvs::media::fmp4::{init_segment, media_segment, progressive_mp4};

// ---------------------------------------------------------------------------------------------
// A minimal box reader.

#[derive(Debug, Clone)]
struct Mp4Box {
    kind: [u8; 4],
    /// Offset of the box's first byte in the parsed buffer.
    start: usize,
    /// The payload (after the size/type header), as offsets into the parsed buffer.
    body: std::ops::Range<usize>,
    children: Vec<Mp4Box>,
}

const CONTAINERS: [&[u8; 4]; 11] =
    [b"moov", b"trak", b"mdia", b"minf", b"dinf", b"stbl", b"mvex", b"moof", b"traf", b"edts", b"udta"];

fn parse_boxes(data: &[u8], range: std::ops::Range<usize>) -> Vec<Mp4Box> {
    let mut out = Vec::new();
    let mut at = range.start;
    while at < range.end {
        assert!(at + 8 <= range.end, "truncated box header at {at}");
        let size32 = u32::from_be_bytes(data[at..at + 4].try_into().unwrap()) as usize;
        let kind: [u8; 4] = data[at + 4..at + 8].try_into().unwrap();
        let (header, size) = if size32 == 1 {
            (16, u64::from_be_bytes(data[at + 8..at + 16].try_into().unwrap()) as usize)
        } else {
            (8, size32)
        };
        assert!(size >= header && at + size <= range.end, "box {:?} at {at} overruns", kind_str(&kind));
        let body = at + header..at + size;
        let children = if CONTAINERS.contains(&&kind) { parse_boxes(data, body.clone()) } else { Vec::new() };
        out.push(Mp4Box { kind, start: at, body, children });
        at += size;
    }
    out
}

fn kind_str(kind: &[u8; 4]) -> String {
    String::from_utf8_lossy(kind).into_owned()
}

impl Mp4Box {
    fn child(&self, kind: &[u8; 4]) -> &Mp4Box {
        self.children.iter().find(|b| &b.kind == kind).unwrap_or_else(|| {
            panic!("{} has no {}", kind_str(&self.kind), kind_str(kind));
        })
    }

    fn find(&self, kind: &[u8; 4]) -> Option<&Mp4Box> {
        self.children.iter().find(|b| &b.kind == kind)
    }

    fn all(&self, kind: &[u8; 4]) -> Vec<&Mp4Box> {
        self.children.iter().filter(|b| &b.kind == kind).collect()
    }

    fn path(&self, kinds: &[&[u8; 4]]) -> &Mp4Box {
        kinds.iter().fold(self, |b, kind| b.child(kind))
    }
}

/// Big-endian reader over one box payload.
struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8], b: &Mp4Box) -> Self {
        Reader { data: &data[..b.body.end], at: b.body.start }
    }
    fn take(&mut self, n: usize) -> &'a [u8] {
        let out = &self.data[self.at..self.at + n];
        self.at += n;
        out
    }
    fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.take(4).try_into().unwrap())
    }
    fn i32(&mut self) -> i32 {
        i32::from_be_bytes(self.take(4).try_into().unwrap())
    }
    fn u64(&mut self) -> u64 {
        u64::from_be_bytes(self.take(8).try_into().unwrap())
    }
    fn i64(&mut self) -> i64 {
        i64::from_be_bytes(self.take(8).try_into().unwrap())
    }
    /// version, flags
    fn full(&mut self) -> (u8, u32) {
        let word = self.u32();
        ((word >> 24) as u8, word & 0xff_ffff)
    }
    fn done(&self) -> bool {
        self.at == self.data.len()
    }
}

// ---------------------------------------------------------------------------------------------
// Synthetic input.

const AVCC: &[u8] =
    &[1, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0x00, 0x04, 0x67, 0x42, 0xc0, 0x1e, 0x01, 0x00, 0x02, 0x68, 0xce];
const ASC: &[u8] = &[0x11, 0x90];

fn video_track(id: u32) -> PlayableTrack {
    PlayableTrack {
        mkv_track_number: 1,
        track_id: id,
        codec: Codec::H264,
        codec_private: Bytes::from_static(AVCC),
        timescale: 90_000,
        width: 640,
        height: 360,
        sample_rate: 0,
        channels: 0,
    }
}

fn audio_track(id: u32) -> PlayableTrack {
    PlayableTrack {
        mkv_track_number: 2,
        track_id: id,
        codec: Codec::Aac,
        codec_private: Bytes::from_static(ASC),
        timescale: 48_000,
        width: 0,
        height: 0,
        sample_rate: 48_000,
        channels: 2,
    }
}

/// I P B B P B B ... at 25 fps starting at `dts0`, with B-frame style composition offsets
/// (some negative: DTS is the sorted PTS).
fn video_samples(dts0: i64, count: usize) -> Vec<Sample> {
    let frame = 3600;
    let mut pts: Vec<i64> = Vec::new();
    let mut i = 0;
    while pts.len() < count {
        // decode order of display indices: 0, 3, 1, 2, 6, 4, 5, ...
        if i == 0 {
            pts.push(0);
            i = 1;
            continue;
        }
        for display in [i + 2, i, i + 1] {
            if pts.len() < count {
                pts.push(display as i64 * frame);
            }
        }
        i += 3;
    }
    let mut sorted = pts.clone();
    sorted.sort();
    pts.iter()
        .zip(sorted)
        .enumerate()
        .map(|(n, (&p, d))| Sample {
            dts: dts0 + d,
            pts: dts0 + p,
            duration: frame as u32,
            keyframe: n == 0,
            data: Bytes::from(vec![(n % 251) as u8; 100 + n * 7]),
        })
        .collect()
}

fn audio_samples(dts0: i64, count: usize) -> Vec<Sample> {
    (0..count)
        .map(|n| Sample {
            dts: dts0 + n as i64 * 1024,
            pts: dts0 + n as i64 * 1024,
            duration: 1024,
            keyframe: true,
            data: Bytes::from(vec![0xa0 ^ (n as u8); 20 + n % 13]),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Structural tests.

#[test]
fn init_segment_describes_every_track() {
    let (video, audio) = (video_track(1), audio_track(2));
    let init = init_segment(&[&video, &audio]).unwrap();
    let boxes = parse_boxes(&init, 0..init.len());
    assert_eq!(boxes.iter().map(|b| kind_str(&b.kind)).collect::<Vec<_>>(), ["ftyp", "moov"]);
    let ftyp = &init[boxes[0].body.clone()];
    assert_eq!(&ftyp[..4], b"iso6");
    assert!(ftyp[8..].chunks(4).any(|brand| brand == b"cmfc"));

    let moov = &boxes[1];
    let mut r = Reader::new(&init, moov.child(b"mvhd"));
    r.full();
    r.take(8);
    assert_eq!(r.u32(), 1000);
    let traks = moov.all(b"trak");
    assert_eq!(traks.len(), 2);
    let trexs = moov.child(b"mvex").all(b"trex");
    assert_eq!(trexs.len(), 2);

    // video
    let mut r = Reader::new(&init, traks[0].child(b"tkhd"));
    assert_eq!(r.full(), (0, 3));
    r.take(8);
    assert_eq!(r.u32(), 1);
    r.take(4 + 4 + 8 + 8 + 36);
    assert_eq!((r.u32(), r.u32()), (640 << 16, 360 << 16));
    let mut r = Reader::new(&init, traks[0].path(&[b"mdia", b"mdhd"]));
    r.full();
    r.take(8);
    assert_eq!(r.u32(), 90_000);
    let stbl = traks[0].path(&[b"mdia", b"minf", b"stbl"]);
    for kind in [b"stts", b"stsc", b"stsz", b"stco"] {
        assert!(stbl.find(kind).is_some());
    }
    let stsd = &init[stbl.child(b"stsd").body.clone()];
    assert_eq!(&stsd[12..16], b"avc1");
    assert_eq!(u16::from_be_bytes([stsd[8 + 32], stsd[8 + 33]]), 640);
    assert_eq!(u16::from_be_bytes([stsd[8 + 34], stsd[8 + 35]]), 360);
    let avcc_at = 8 + 86;
    assert_eq!(&stsd[avcc_at + 4..avcc_at + 8], b"avcC");
    assert_eq!(&stsd[avcc_at + 8..avcc_at + 8 + AVCC.len()], AVCC);
    assert!(traks[0].path(&[b"mdia", b"minf"]).find(b"vmhd").is_some());

    // audio
    let stbl = traks[1].path(&[b"mdia", b"minf", b"stbl"]);
    let stsd = &init[stbl.child(b"stsd").body.clone()];
    assert_eq!(&stsd[12..16], b"mp4a");
    let entry = &stsd[16..];
    assert_eq!(u16::from_be_bytes([entry[16], entry[17]]), 2); // channels
    assert_eq!(u16::from_be_bytes([entry[18], entry[19]]), 16); // sample size
    assert_eq!(u32::from_be_bytes(entry[24..28].try_into().unwrap()), 48_000 << 16);
    assert_eq!(&entry[32..36], b"esds");
    let esds = &entry[40..];
    assert_eq!(esds[0], 0x03);
    let dcd = &esds[5..];
    assert_eq!((dcd[0], dcd[2], dcd[3]), (0x04, 0x40, 0x15));
    let dsi = &dcd[15..];
    assert_eq!((dsi[0], dsi[1]), (0x05, ASC.len() as u8));
    assert_eq!(&dsi[2..2 + ASC.len()], ASC);
    assert_eq!(&dsi[2 + ASC.len()..2 + ASC.len() + 3], &[0x06, 0x01, 0x02]);
    assert!(traks[1].path(&[b"mdia", b"minf"]).find(b"smhd").is_some());
}

/// What a `trun` says about one sample.
#[derive(Debug, PartialEq)]
struct TrunSample {
    duration: u32,
    size: u32,
    flags: u32,
    offset: i32,
}

#[test]
fn media_segment_tables_match_the_samples() {
    let (video, audio) = (video_track(1), audio_track(2));
    let vs = video_samples(900_000, 50);
    let aus = audio_samples(480_000, 94);
    let empty: Vec<Sample> = Vec::new();
    let runs = [
        TrackRun { track: &video, samples: &vs },
        TrackRun { track: &audio, samples: &empty },
        TrackRun { track: &audio, samples: &aus },
    ];
    let seg = media_segment(7, &runs).unwrap();
    let boxes = parse_boxes(&seg, 0..seg.len());
    assert_eq!(boxes.iter().map(|b| kind_str(&b.kind)).collect::<Vec<_>>(), ["moof", "mdat"]);
    let (moof, mdat) = (&boxes[0], &boxes[1]);
    let mut r = Reader::new(&seg, moof.child(b"mfhd"));
    r.full();
    assert_eq!(r.u32(), 7);
    let trafs = moof.all(b"traf");
    assert_eq!(trafs.len(), 2, "the empty run is skipped");
    let mut mdat_used = 0;
    for (traf, (track, samples)) in trafs.iter().zip([(&video, &vs), (&audio, &aus)]) {
        let mut r = Reader::new(&seg, traf.child(b"tfhd"));
        assert_eq!(r.full(), (0, 0x02_0000));
        assert_eq!(r.u32(), track.track_id);
        assert!(r.done());
        let mut r = Reader::new(&seg, traf.child(b"tfdt"));
        assert_eq!(r.full().0, 1);
        assert_eq!(r.u64() as i64, samples[0].dts);

        let mut r = Reader::new(&seg, traf.child(b"trun"));
        let (version, flags) = r.full();
        assert_eq!(version, 1);
        assert_eq!(r.u32() as usize, samples.len());
        let data_offset = r.i32() as usize;
        let mut parsed = Vec::new();
        while !r.done() {
            parsed.push(TrunSample {
                duration: r.u32(),
                size: r.u32(),
                flags: r.u32(),
                offset: if flags & 0x800 != 0 { r.i32() } else { 0 },
            });
        }
        assert_eq!(parsed.len(), samples.len());
        let mut at = moof.start + data_offset;
        assert!(at >= mdat.body.start && at <= mdat.body.end);
        for (i, (p, s)) in parsed.iter().zip(samples.iter()).enumerate() {
            let expected_duration =
                samples.get(i + 1).map_or(s.duration as i64, |next| next.dts - s.dts) as u32;
            assert_eq!(p.duration, expected_duration);
            assert_eq!(p.size as usize, s.data.len());
            assert_eq!(p.flags, if s.keyframe { 0x0200_0000 } else { 0x0101_0000 });
            assert_eq!(p.offset as i64, s.pts - s.dts);
            assert_eq!(&seg[at..at + s.data.len()], &s.data[..]);
            at += s.data.len();
            mdat_used += s.data.len();
        }
    }
    assert!(vs.iter().any(|s| s.pts < s.dts), "the synthetic input has negative offsets");
    assert_eq!(mdat_used, mdat.body.len());
}

#[test]
fn progressive_tables_match_the_samples() {
    let (video, audio) = (video_track(1), audio_track(2));
    // Audio starts 100 ms before video: video gets an empty edit of 100 ms.
    let vs = video_samples(9_000, 120);
    let aus = audio_samples(0, 240);
    let runs = [TrackRun { track: &video, samples: &vs }, TrackRun { track: &audio, samples: &aus }];
    let mp4 = progressive_mp4(&runs).unwrap();
    let mut file = mp4.head.to_vec();
    for part in &mp4.body {
        file.extend_from_slice(part);
    }
    assert_eq!(file.len() as u64, mp4.len());
    let boxes = parse_boxes(&file, 0..file.len());
    assert_eq!(boxes.iter().map(|b| kind_str(&b.kind)).collect::<Vec<_>>(), ["ftyp", "moov", "mdat"]);
    assert_eq!(boxes[2].start + 8, mp4.head.len(), "head ends with the mdat header");
    assert_eq!(&file[8..12], b"isom");
    let moov = &boxes[1];
    let traks = moov.all(b"trak");
    assert_eq!(traks.len(), 2);

    let mut covered = Vec::new();
    for (trak, (track, samples)) in traks.iter().zip([(&video, &vs), (&audio, &aus)]) {
        let stbl = trak.path(&[b"mdia", b"minf", b"stbl"]);
        // stts: decode times rebuilt from the deltas are the input's, relative to the first.
        let mut r = Reader::new(&file, stbl.child(b"stts"));
        r.full();
        let mut dts = Vec::new();
        let mut t = 0i64;
        for _ in 0..r.u32() {
            let (count, delta) = (r.u32(), r.u32());
            for _ in 0..count {
                dts.push(t);
                t += delta as i64;
            }
        }
        assert_eq!(dts, samples.iter().map(|s| s.dts - samples[0].dts).collect::<Vec<_>>());
        // ctts (+ edit list): presentation times are the input's.
        let offsets: Vec<i64> = match stbl.find(b"ctts") {
            Some(ctts) => {
                let mut r = Reader::new(&file, ctts);
                assert_eq!(r.full().0, 0);
                let mut out = Vec::new();
                for _ in 0..r.u32() {
                    let (count, offset) = (r.u32(), r.u32());
                    out.extend(std::iter::repeat_n(offset as i64, count as usize));
                }
                out
            }
            None => vec![0; samples.len()],
        };
        assert_eq!(offsets.len(), samples.len());
        let mut edits = Vec::new();
        if let Some(edts) = trak.find(b"edts") {
            let mut r = Reader::new(&file, edts.child(b"elst"));
            assert_eq!(r.full().0, 1);
            for _ in 0..r.u32() {
                edits.push((r.u64(), r.i64()));
                r.u32();
            }
        }
        let (empty_ms, media_time) = match edits[..] {
            [] => (0, 0),
            [(empty, -1), (_, media_time)] => (empty, media_time),
            [(_, media_time)] => (0, media_time),
            _ => panic!("unexpected edits {edits:?}"),
        };
        // Presentation time in ms on the movie timeline: audio starts at 0, video at 100 ms.
        for ((d, o), s) in dts.iter().zip(&offsets).zip(samples.iter()) {
            let presented = d + o - media_time;
            let presented_ms = empty_ms as i64 + presented * 1000 / track.timescale as i64;
            let expected_ms = s.pts * 1000 / track.timescale as i64;
            assert_eq!(presented_ms, expected_ms);
        }
        // stss
        let stss = stbl.find(b"stss");
        assert_eq!(stss.is_some(), track.codec.is_video());
        if let Some(stss) = stss {
            let mut r = Reader::new(&file, stss);
            r.full();
            let n = r.u32();
            let sync: Vec<u32> = (0..n).map(|_| r.u32()).collect();
            let expected: Vec<u32> =
                samples.iter().enumerate().filter(|(_, s)| s.keyframe).map(|(i, _)| i as u32 + 1).collect();
            assert_eq!(sync, expected);
        }
        // stsz
        let mut r = Reader::new(&file, stbl.child(b"stsz"));
        r.full();
        assert_eq!(r.u32(), 0);
        assert_eq!(r.u32() as usize, samples.len());
        let sizes: Vec<usize> = (0..samples.len()).map(|_| r.u32() as usize).collect();
        // stsc + co64: every sample's bytes are where the tables say.
        let mut r = Reader::new(&file, stbl.child(b"co64"));
        r.full();
        let chunk_offsets: Vec<u64> = (0..r.u32()).map(|_| r.u64()).collect();
        let mut r = Reader::new(&file, stbl.child(b"stsc"));
        r.full();
        let stsc: Vec<(u32, u32, u32)> = (0..r.u32()).map(|_| (r.u32(), r.u32(), r.u32())).collect();
        let mut index = 0;
        for (chunk, &offset) in chunk_offsets.iter().enumerate() {
            let chunk_number = chunk as u32 + 1;
            let entry = stsc.iter().rev().find(|e| e.0 <= chunk_number).unwrap();
            assert_eq!(entry.2, 1);
            let mut at = offset as usize;
            for _ in 0..entry.1 {
                assert_eq!(sizes[index], samples[index].data.len());
                assert_eq!(&file[at..at + sizes[index]], &samples[index].data[..]);
                covered.push(at..at + sizes[index]);
                at += sizes[index];
                index += 1;
            }
        }
        assert_eq!(index, samples.len(), "stsc covers every sample");
    }
    // Every mdat byte belongs to exactly one sample, and tracks are interleaved.
    covered.sort_by_key(|r| r.start);
    let mut at = boxes[2].body.start;
    for range in &covered {
        assert_eq!(range.start, at);
        at = range.end;
    }
    assert_eq!(at, file.len());
}

#[test]
fn rejects_what_it_cannot_write() {
    let mut video = video_track(1);
    let vs = video_samples(0, 10);
    video.codec_private = Bytes::new();
    assert_eq!(init_segment(&[&video]), Err(CodecError::MissingCodecPrivate));
    let run = [TrackRun { track: &video, samples: &vs }];
    assert_eq!(media_segment(1, &run), Err(CodecError::MissingCodecPrivate));
    assert_eq!(progressive_mp4(&run), Err(CodecError::MissingCodecPrivate));

    for (codec, private) in [
        (Codec::H264, &[0u8, 1, 2, 3, 4, 5, 6][..]),
        (Codec::H264, &[1, 2]),
        (Codec::H265, &[1; 22]),
        (Codec::Aac, &[0x11]),
    ] {
        let track = PlayableTrack { codec, codec_private: Bytes::copy_from_slice(private), ..video_track(1) };
        assert!(matches!(init_segment(&[&track]), Err(CodecError::InvalidCodecPrivate(_))), "{codec:?}");
    }
    assert!(init_segment(&[]).is_err());

    let video = video_track(1);
    let mut backwards = video_samples(0, 10);
    backwards[5].dts = -1;
    let run = [TrackRun { track: &video, samples: &backwards }];
    assert!(matches!(media_segment(1, &run), Err(CodecError::InvalidFrame(_))));
    assert!(matches!(progressive_mp4(&run), Err(CodecError::InvalidFrame(_))));
    let negative = video_samples(-3600, 10);
    let run = [TrackRun { track: &video, samples: &negative }];
    assert!(matches!(media_segment(1, &run), Err(CodecError::InvalidFrame(_))));
    assert!(progressive_mp4(&run).is_ok(), "a clip's timeline is relative");
    let mut far = video_samples(0, 3);
    far[1].pts = i64::MAX;
    let run = [TrackRun { track: &video, samples: &far }];
    assert!(matches!(media_segment(1, &run), Err(CodecError::InvalidFrame(_))));
    assert!(matches!(progressive_mp4(&run), Err(CodecError::InvalidFrame(_))));
    let empty: [TrackRun; 0] = [];
    assert!(media_segment(1, &empty).is_err());
    assert!(progressive_mp4(&empty).is_err());
}

#[test]
fn extreme_values_do_not_panic() {
    let video = video_track(u32::MAX);
    let samples = vec![
        Sample { dts: i64::MIN, pts: i64::MAX, duration: u32::MAX, keyframe: true, data: Bytes::new() },
        Sample { dts: i64::MAX, pts: i64::MIN, duration: 0, keyframe: false, data: Bytes::new() },
    ];
    let run = [TrackRun { track: &video, samples: &samples }];
    assert!(media_segment(u32::MAX, &run).is_err());
    assert!(progressive_mp4(&run).is_err());
    let one =
        [Sample { dts: i64::MAX, pts: i64::MAX, duration: u32::MAX, keyframe: true, data: Bytes::new() }];
    let run = [TrackRun { track: &video, samples: &one }];
    let _ = media_segment(0, &run);
    let _ = progressive_mp4(&run);
    let big = PlayableTrack { width: 70_000, ..video_track(1) };
    assert!(init_segment(&[&big]).is_err());
    let odd = PlayableTrack { sample_rate: 96_000, channels: 0, timescale: 96_000, ..audio_track(1) };
    assert!(init_segment(&[&odd]).is_ok());
}

// ---------------------------------------------------------------------------------------------
// End to end: real fixtures through ffprobe.

struct Fixture {
    tracks: Vec<PlayableTrack>,
    /// Samples of each track, in decode order.
    samples: Vec<Vec<Sample>>,
}

fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// A Matroska file's track entries, timestamp scale (ns per tick) and frames.
type MkvContents = (Vec<matroska_demuxer::TrackEntry>, u64, Vec<matroska_demuxer::Frame>);

fn read_mkv(path: &Path) -> Result<MkvContents, matroska_demuxer::DemuxError> {
    let data = std::fs::read(path).unwrap();
    let mut mkv = matroska_demuxer::MatroskaFile::open(std::io::Cursor::new(data))?;
    let mut frames = Vec::new();
    let mut frame = matroska_demuxer::Frame::default();
    while mkv.next_frame(&mut frame)? {
        frames.push(std::mem::take(&mut frame));
    }
    Ok((mkv.tracks().to_vec(), mkv.info().timestamp_scale().get(), frames))
}

/// Reads a fixture into tracks and samples; DTS of each video track is its sorted PTS.
fn load_fixture(name: &str) -> Fixture {
    let (entries, timestamp_scale, frames) = read_mkv(&fixture_path(name)).unwrap();
    let ns_per_tick = i128::from(timestamp_scale);
    let mut tracks = Vec::new();
    let mut numbers = Vec::new();
    for entry in &entries {
        // GStreamer NUL-terminates its CodecIDs.
        let codec = match entry.codec_id().trim_end_matches('\0') {
            "V_MPEG4/ISO/AVC" => Codec::H264,
            "V_MPEGH/ISO/HEVC" => Codec::H265,
            id if id.starts_with("A_AAC") => Codec::Aac,
            _ => continue,
        };
        let (width, height) =
            entry.video().map_or((0, 0), |v| (v.pixel_width().get() as u32, v.pixel_height().get() as u32));
        let (sample_rate, channels) =
            entry.audio().map_or((0, 0), |a| (a.sampling_frequency() as u32, a.channels().get() as u16));
        tracks.push(PlayableTrack {
            mkv_track_number: entry.track_number().get(),
            track_id: tracks.len() as u32 + 1,
            codec,
            codec_private: Bytes::copy_from_slice(entry.codec_private().unwrap_or_default()),
            timescale: if codec.is_video() { 90_000 } else { sample_rate },
            width,
            height,
            sample_rate,
            channels,
        });
        numbers.push(entry.track_number().get());
    }
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); tracks.len()];
    for mut frame in frames {
        let Some(index) = numbers.iter().position(|&n| n == frame.track) else { continue };
        let timescale = i128::from(tracks[index].timescale);
        let pts = (i128::from(frame.timestamp) * ns_per_tick * timescale / 1_000_000_000) as i64;
        samples[index].push(Sample {
            dts: pts,
            pts,
            duration: 0,
            keyframe: frame.is_keyframe.unwrap_or(false) || !tracks[index].codec.is_video(),
            data: Bytes::from(std::mem::take(&mut frame.data)),
        });
    }
    for (track, samples) in tracks.iter().zip(&mut samples) {
        if track.codec.is_video() {
            let mut sorted: Vec<i64> = samples.iter().map(|s| s.pts).collect();
            sorted.sort();
            for (sample, dts) in samples.iter_mut().zip(sorted) {
                sample.dts = dts;
            }
        }
        let default = if track.codec.is_video() { 3600 } else { 1024 };
        for i in 0..samples.len() {
            samples[i].duration =
                samples.get(i + 1).map_or(default, |next| (next.dts - samples[i].dts) as u32).max(1);
        }
    }
    Fixture { tracks, samples }
}

/// Init segment + one media segment per video GOP (audio cut at the same times).
fn fragmented_file(fixture: &Fixture) -> Vec<u8> {
    let refs: Vec<&PlayableTrack> = fixture.tracks.iter().collect();
    let mut out = init_segment(&refs).unwrap().to_vec();
    let video = fixture.tracks.iter().position(|t| t.codec.is_video()).unwrap();
    let cuts: Vec<i64> =
        fixture.samples[video].iter().filter(|s| s.keyframe).map(|s| s.dts).skip(1).collect();
    // Fragment boundaries in seconds (as 90 kHz ticks), converted per track.
    let mut starts = vec![0usize; fixture.tracks.len()];
    for (n, boundary) in cuts.iter().map(|&c| Some(c)).chain([None]).enumerate() {
        let mut runs = Vec::new();
        for (i, (track, samples)) in fixture.tracks.iter().zip(&fixture.samples).enumerate() {
            let end = match boundary {
                Some(b) => {
                    let limit = b as i128 * i128::from(track.timescale);
                    starts[i]
                        + samples[starts[i]..].iter().take_while(|s| (s.dts as i128) * 90_000 < limit).count()
                }
                None => samples.len(),
            };
            runs.push(TrackRun { track, samples: &samples[starts[i]..end] });
            starts[i] = end;
        }
        out.extend_from_slice(&media_segment(n as u32 + 1, &runs).unwrap());
    }
    out
}

fn progressive_file(fixture: &Fixture) -> Vec<u8> {
    let runs: Vec<TrackRun> = fixture
        .tracks
        .iter()
        .zip(&fixture.samples)
        .map(|(track, samples)| TrackRun { track, samples })
        .collect();
    let mp4 = progressive_mp4(&runs).unwrap();
    let mut out = mp4.head.to_vec();
    for part in &mp4.body {
        out.extend_from_slice(part);
    }
    out
}

fn have_ffprobe() -> bool {
    let found = Command::new("ffprobe").arg("-version").output().is_ok_and(|o| o.status.success());
    if !found {
        println!("skipped: no ffprobe");
    }
    found
}

fn ffprobe(path: &Path, args: &[&str]) -> String {
    let out = Command::new("ffprobe").args(["-v", "error"]).args(args).arg(path).output().unwrap();
    assert!(out.status.success(), "ffprobe failed: {}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.trim().is_empty(), "ffprobe complained about {}: {stderr}", path.display());
    String::from_utf8(out.stdout).unwrap()
}

/// (codec_name, decoded frame count) of a stream, e.g. `v:0`.
fn decoded_frames(path: &Path, stream: &str) -> (String, usize) {
    let out = ffprobe(
        path,
        &[
            "-count_frames",
            "-select_streams",
            stream,
            "-show_entries",
            "stream=codec_name,nb_read_frames",
            "-of",
            "default=nw=1",
        ],
    );
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|l| l.strip_prefix('=')))
            .unwrap_or("")
            .to_string()
    };
    (field("codec_name"), field("nb_read_frames").parse().unwrap_or(0))
}

/// (pts, dts) in seconds of every packet of a stream, in file order.
fn packet_times(path: &Path, stream: &str) -> Vec<(f64, f64)> {
    let out = ffprobe(
        path,
        &["-select_streams", stream, "-show_entries", "packet=pts_time,dts_time", "-of", "csv=p=0"],
    );
    out.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut parts = l.split(',').map(|v| v.parse::<f64>().unwrap());
            (parts.next().unwrap(), parts.next().unwrap())
        })
        .collect()
}

fn write_temp(dir: &tempfile::TempDir, name: &str, data: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, data).unwrap();
    path
}

/// Both outputs of a fixture decode every video (and enough audio) frame.
fn check_decodes(name: &str, codec: &str, video_frames: usize, audio_frames: Option<usize>) {
    if !have_ffprobe() {
        return;
    }
    let fixture = load_fixture(name);
    let dir = tempfile::tempdir().unwrap();
    for (kind, data) in
        [("fragmented", fragmented_file(&fixture)), ("progressive", progressive_file(&fixture))]
    {
        let path = write_temp(&dir, &format!("{kind}.mp4"), &data);
        assert_eq!(decoded_frames(&path, "v:0"), (codec.to_string(), video_frames), "{name} {kind}");
        if let Some(minimum) = audio_frames {
            let (audio_codec, frames) = decoded_frames(&path, "a:0");
            assert_eq!(audio_codec, "aac");
            assert!(frames >= minimum, "{name} {kind}: {frames} audio frames");
        }
    }
}

#[test]
fn ffprobe_decodes_h264() {
    check_decodes("h264_640x360_20s_2sgop.mkv", "h264", 500, None);
}

#[test]
fn ffprobe_decodes_h265() {
    check_decodes("h265_640x360_10s.mkv", "hevc", 250, None);
}

#[test]
fn ffprobe_decodes_h264_with_aac() {
    check_decodes("gst_h264_aac_10s.mkv", "h264", 300, Some(460));
}

#[test]
fn ffprobe_decodes_b_frames_with_right_timestamps() {
    let name = "h264_bframes_aac_640x360_10s.mkv";
    if !have_ffprobe() {
        return;
    }
    let fixture = load_fixture(name);
    let video = &fixture.samples[0];
    let frames = video.len();
    assert!(video.iter().any(|s| s.pts < s.dts), "the fixture has B-frames");
    check_decodes(name, "h264", frames, Some(fixture.samples[1].len()));

    let dir = tempfile::tempdir().unwrap();
    let seconds = |ticks: i64, timescale: u32| ticks as f64 / f64::from(timescale);
    // Fragmented: absolute DTS exactly the input's; PTS the input's plus the constant shift
    // ffmpeg adds to make up for negative composition offsets (at most the largest of them).
    let path = write_temp(&dir, "fragmented.mp4", &fragmented_file(&fixture));
    let times = packet_times(&path, "v:0");
    assert_eq!(times.len(), frames);
    let shift = times[0].0 - seconds(video[0].pts, 90_000);
    let largest_negative = video.iter().map(|s| s.dts - s.pts).max().unwrap();
    assert!(shift > -1e-4 && shift < seconds(largest_negative, 90_000) + 1e-4, "shift {shift}");
    for (i, ((pts, dts), sample)) in times.iter().zip(video).enumerate() {
        let expected = seconds(sample.pts, 90_000) + shift;
        assert!((pts - expected).abs() < 1e-4, "frame {i}: pts {pts}, expected {expected}");
        assert!((dts - seconds(sample.dts, 90_000)).abs() < 1e-4, "frame {i}: dts {dts} vs {}", sample.dts);
    }
    // Progressive: the same presentation times relative to the earliest track start, DTS increasing
    // and never after PTS.
    let origin = fixture
        .tracks
        .iter()
        .zip(&fixture.samples)
        .map(|(t, s)| seconds(s.iter().map(|s| s.pts).min().unwrap(), t.timescale))
        .fold(f64::INFINITY, f64::min);
    let path = write_temp(&dir, "progressive.mp4", &progressive_file(&fixture));
    let times = packet_times(&path, "v:0");
    assert_eq!(times.len(), frames);
    for (i, ((pts, dts), sample)) in times.iter().zip(video).enumerate() {
        let expected = seconds(sample.pts, 90_000) - origin;
        assert!((pts - expected).abs() < 1.5e-3, "frame {i}: pts {pts}, expected {expected}");
        assert!(dts <= pts, "frame {i}: dts {dts} after pts {pts}");
        if i > 0 {
            assert!(*dts > times[i - 1].1, "frame {i}: dts not increasing");
        }
    }
}
