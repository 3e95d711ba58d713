//! GetClip: a time range of a stream as one progressive (non-fragmented) MP4.
//!
//! Owns the range rules (fragments whose timestamp lies in the inclusive range, at most
//! `max_clip_fragments` and `max_clip_bytes` of stored fragment bytes), joining the fragments'
//! samples into one timeline per track, and stopping at a change of track headers (a progressive
//! MP4 has one sample description per track; the clip ends before the change). The MP4 layout
//! comes from `media::fmp4`; the result is a header plus zero-copy frame slices the caller streams.

use bytes::Bytes;

use super::{Playback, PlaybackError};
use crate::archive::TimestampKind;
use crate::media::codec::{PlayableTrack, Sample, TrackRun};
use crate::media::fmp4;
use crate::model::Stream;

/// A clip ready to stream: `head` (ftyp, moov, mdat header) then `body` in order.
#[derive(Debug)]
pub struct Clip {
    /// ftyp + moov + the mdat box header.
    pub head: Bytes,
    /// The mdat payload, frame by frame.
    pub body: Vec<Bytes>,
}

impl Clip {
    /// Total size in bytes.
    pub fn len(&self) -> u64 {
        self.head.len() as u64 + self.body.iter().map(|b| b.len() as u64).sum::<u64>()
    }

    /// Whether the clip is empty (never, for a built clip).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Playback {
    /// Builds the clip of `stream` for `start_ms..=end_ms` on `kind` timestamps.
    pub async fn clip(
        &self,
        stream: &Stream,
        kind: TimestampKind,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Clip, PlaybackError> {
        if !stream.retention.is_persistent() {
            return Err(PlaybackError::NoDataRetention);
        }
        let max = self.config.max_clip_fragments.max(1);
        let fragments =
            self.archive.fragments_in_range(stream.id, kind, start_ms, end_ms, None, max + 1).await?;
        if fragments.is_empty() {
            return Err(PlaybackError::NoFragments(
                "No fragments found in the stream for the given time range.".into(),
            ));
        }
        if fragments.len() > max as usize {
            return Err(PlaybackError::ClipLimit(format!(
                "The requested range contains more than {max} fragments; request a shorter clip."
            )));
        }
        let bytes: u64 = fragments.iter().map(|f| f.size_bytes.max(0) as u64).sum();
        if bytes > self.config.max_clip_bytes {
            return Err(PlaybackError::ClipLimit(format!(
                "The requested range holds more than {} bytes of media; request a shorter clip.",
                self.config.max_clip_bytes
            )));
        }
        let mut tracks: Vec<PlayableTrack> = Vec::new();
        let mut samples: Vec<Vec<Sample>> = Vec::new();
        for f in &fragments {
            let media = self.fragment_media(f).await?;
            if tracks.is_empty() {
                tracks = media.tracks;
                samples = media.samples;
                continue;
            }
            if media.tracks != tracks {
                tracing::info!(stream = %stream.name, "clip ends at fragment {}: track headers changed", f.number);
                break;
            }
            for (all, new) in samples.iter_mut().zip(media.samples) {
                all.extend(new);
            }
        }
        for s in &mut samples {
            // Durations follow the joined timeline: a fragment's last frame lasts until the next
            // fragment's first one (the per-fragment estimate may differ by a rounding).
            for i in 0..s.len().saturating_sub(1) {
                let d = s[i + 1].dts - s[i].dts;
                if d > 0 {
                    s[i].duration = u32::try_from(d).unwrap_or(u32::MAX);
                }
            }
        }
        let runs: Vec<TrackRun> =
            tracks.iter().zip(&samples).map(|(track, samples)| TrackRun { track, samples }).collect();
        let mp4 = fmp4::progressive_mp4(&runs)?;
        Ok(Clip { head: mp4.head, body: mp4.body })
    }
}
