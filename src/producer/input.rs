//! The `openkvs put` input, opened and checked before anything is sent or created: a file or stdin
//! must begin like Matroska (an EBML header with DocType `matroska`/`webm`, a Segment, and a Tracks
//! element) or the command stops with a message that names the format it looks like and the
//! `ffmpeg … -c copy -f matroska` remux, before `--create` could make a stream for it.
//!
//! The bytes read for the check are kept and handed back in front of the rest of the input, so a
//! pipe (`ffmpeg … -f matroska - | openkvs put … -`) loses nothing.
//!
//! Owns that check and its messages; it sends nothing and does not parse past Tracks.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::put::Input;
use crate::media::mkv::{MkvDemuxer, MkvEvent};

/// The most bytes read before Tracks must have appeared (ffmpeg and the KVS producers write it
/// within the first few kilobytes; a header element may be up to 1 MiB).
pub const MAX_PROBE_BYTES: usize = 4 << 20;

/// Why the input cannot be sent.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file cannot be opened or the input cannot be read.
    #[error("cannot read {what}: {source}")]
    Io {
        /// The input's name.
        what: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The input is not Matroska (or its start is malformed).
    #[error("{what} is not Matroska: {why}. {remux}")]
    NotMatroska {
        /// The input's name.
        what: String,
        /// What was found.
        why: String,
        /// How to make Matroska of it.
        remux: String,
    },
}

/// Progress of the check over the bytes seen so far.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Tracks arrived: the input is Matroska.
    Matroska,
    /// More bytes are needed.
    NeedMore,
    /// Not Matroska: what was found instead.
    Not(String),
}

/// The pure part of the check: bytes in, a [`Verdict`] out.
#[derive(Debug, Default)]
pub struct HeaderCheck {
    demuxer: MkvDemuxer,
    first: Vec<u8>,
    seen: usize,
    /// An EBML header with a Matroska/WebM DocType was read.
    ebml: bool,
}

impl HeaderCheck {
    /// A check expecting the first byte of the input.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next bytes (`eof`: nothing follows them).
    pub fn feed(&mut self, chunk: &[u8], eof: bool) -> Verdict {
        if self.first.len() < 16 {
            let take = chunk.len().min(16 - self.first.len());
            self.first.extend_from_slice(chunk.get(..take).unwrap_or_default());
        }
        self.seen = self.seen.saturating_add(chunk.len());
        if !chunk.is_empty() {
            self.demuxer.push(Bytes::copy_from_slice(chunk));
        }
        if eof {
            self.demuxer.finish();
        }
        loop {
            match self.demuxer.pull() {
                Ok(Some(MkvEvent::Tracks { .. })) => return Verdict::Matroska,
                Ok(Some(MkvEvent::ClusterStart { .. })) => {
                    return Verdict::Not("a Cluster comes before any Tracks element".into());
                }
                Ok(Some(MkvEvent::EbmlHeader { .. })) => self.ebml = true,
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) if self.ebml => {
                    return Verdict::Not(format!("its Matroska header is damaged or cut short ({e})"));
                }
                Err(e) => {
                    return Verdict::Not(match looks_like(&self.first) {
                        Some(kind) => format!("it looks like {kind}"),
                        None => format!("{e}"),
                    });
                }
            }
        }
        if eof {
            return Verdict::Not(if self.seen == 0 {
                "it is empty".into()
            } else {
                match looks_like(&self.first) {
                    Some(kind) => format!("it looks like {kind}"),
                    None => format!("it ends after {} bytes, before any Tracks element", self.seen),
                }
            });
        }
        if self.seen > MAX_PROBE_BYTES {
            return Verdict::Not(format!("no Tracks element in its first {} bytes", self.seen));
        }
        Verdict::NeedMore
    }
}

/// What a non-Matroska input appears to be, from its first bytes.
fn looks_like(first: &[u8]) -> Option<&'static str> {
    match first {
        [_, _, _, _, b'f', b't', b'y', b'p', ..] => Some("an MP4/QuickTime file"),
        [0x47, ..] => Some("an MPEG transport stream"),
        [0, 0, 0, 1, ..] | [0, 0, 1, ..] => Some("a raw H.264/H.265 (Annex B) elementary stream"),
        [b'R', b'I', b'F', b'F', ..] => Some("a RIFF (AVI/WAV) file"),
        [b'F', b'L', b'V', ..] => Some("an FLV stream"),
        [b'O', b'g', b'g', b'S', ..] => Some("an Ogg stream"),
        _ => None,
    }
}

/// The remux advice for `input`.
fn remux_hint(input: &Input) -> String {
    match input {
        Input::File(path) => {
            let out: PathBuf = path.with_extension("mkv");
            let out = if out == *path { path.with_extension("remuxed.mkv") } else { out };
            format!(
                "openkvs put sends Matroska (MKV), as the KVS producers do; remux it without re-encoding: \
                 ffmpeg -i {} -c copy -f matroska {}",
                path.display(),
                out.display()
            )
        }
        Input::Stdin => "openkvs put sends Matroska (MKV), as the KVS producers do; have ffmpeg write it: \
                         ffmpeg -i SOURCE -c copy -f matroska - | openkvs put … -"
            .to_owned(),
    }
}

fn name(input: &Input) -> String {
    match input {
        Input::File(p) => p.display().to_string(),
        Input::Stdin => "stdin".to_owned(),
    }
}

/// Opens the input and reads it until its Tracks element; returns a reader that yields the whole
/// input (the bytes read for the check first).
pub async fn open_checked(input: &Input) -> Result<Box<dyn AsyncRead + Send + Unpin>, InputError> {
    let io = |source| InputError::Io { what: name(input), source };
    let mut reader: Box<dyn AsyncRead + Send + Unpin> = match input {
        Input::Stdin => Box::new(tokio::io::stdin()),
        Input::File(path) => Box::new(open_file(path).await.map_err(io)?),
    };
    let mut check = HeaderCheck::new();
    let mut prefix = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = reader.read(&mut buf).await.map_err(io)?;
        let chunk = buf.get(..n).unwrap_or_default();
        prefix.extend_from_slice(chunk);
        match check.feed(chunk, n == 0) {
            Verdict::Matroska => break,
            Verdict::NeedMore => {}
            Verdict::Not(why) => {
                return Err(InputError::NotMatroska { what: name(input), why, remux: remux_hint(input) });
            }
        }
    }
    Ok(Box::new(std::io::Cursor::new(prefix).chain(reader)))
}

async fn open_file(path: &Path) -> std::io::Result<tokio::fs::File> {
    let file = tokio::fs::File::open(path).await?;
    if file.metadata().await?.is_dir() {
        return Err(std::io::Error::other("it is a directory"));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &[u8] = include_bytes!("../../tests/fixtures/h264_640x360_20s_2sgop.mkv");

    fn verdict(bytes: &[u8], piece: usize) -> Verdict {
        let mut check = HeaderCheck::new();
        for chunk in bytes.chunks(piece.max(1)) {
            match check.feed(chunk, false) {
                Verdict::NeedMore => {}
                v => return v,
            }
        }
        check.feed(&[], true)
    }

    #[test]
    fn matroska_passes_in_any_pieces() {
        assert_eq!(verdict(FIXTURE, 1), Verdict::Matroska);
        assert_eq!(verdict(FIXTURE, 7), Verdict::Matroska);
        assert_eq!(verdict(FIXTURE, 64 * 1024), Verdict::Matroska);
    }

    #[test]
    fn other_formats_are_named() {
        let mp4 = b"\0\0\0\x20ftypisom\0\0\x02\0isomiso2avc1mp41";
        assert_eq!(verdict(mp4, 4096), Verdict::Not("it looks like an MP4/QuickTime file".into()));
        let mut ts = vec![0u8; 376];
        ts[0] = 0x47;
        ts[188] = 0x47;
        assert_eq!(verdict(&ts, 100), Verdict::Not("it looks like an MPEG transport stream".into()));
        assert!(matches!(verdict(b"\0\0\0\x01\x67\x42", 10), Verdict::Not(w) if w.contains("Annex B")));
        assert_eq!(verdict(b"", 10), Verdict::Not("it is empty".into()));
        assert!(matches!(verdict(b"hello world", 3), Verdict::Not(w) if w.contains("EBML")));
    }

    #[test]
    fn truncated_matroska_is_refused() {
        let cut = FIXTURE.get(..40).unwrap();
        assert!(matches!(verdict(cut, 8), Verdict::Not(_)), "{:?}", verdict(cut, 8));
    }

    #[tokio::test]
    async fn the_checked_reader_yields_every_byte() {
        let dir = std::env::temp_dir().join(format!("openkvs-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("in.mkv");
        std::fs::write(&path, FIXTURE).unwrap();
        let mut r = open_checked(&Input::File(path.clone())).await.unwrap();
        let mut all = Vec::new();
        r.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, FIXTURE);
        let mp4 = dir.join("clip.mp4");
        std::fs::write(&mp4, b"\0\0\0\x20ftypisom\0\0\x02\0isomiso2avc1mp41").unwrap();
        let err = open_checked(&Input::File(mp4.clone())).await.err().unwrap().to_string();
        assert!(
            err.contains("MP4") && err.contains("-c copy -f matroska") && err.contains("clip.mkv"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
