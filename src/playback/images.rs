//! GetImages: one page of pictures of a stream, one per sampling interval of a time range.
//!
//! Owns the page arithmetic (sample times `start`, `start + interval`, … up to `end` inclusive;
//! at most [`MAX_PAGE_IMAGES`] per page; where the next page starts), which stored fragment
//! answers each time (an index lookup per time, reusing the previous answer while it covers the
//! next time), reading those fragments (plus, when one does not start with a key frame, the
//! fragments before it back to one that does) and the outcome per time: an encoded image,
//! `NoMedia` (no fragment covers the time) or `MediaError` (the media there cannot be made into a
//! picture: H.265, audio only, undecodable, too large). Decoding, scaling and encoding are
//! `imaging`'s and run on blocking threads, several fragments at a time. It knows nothing of
//! HTTP, JSON or NextToken encoding; the API layer validates the request against the limits
//! below before calling.

use bytes::Bytes;
use futures_util::StreamExt;

use super::{Playback, PlaybackError};
use crate::archive::{IndexError, ReadError, TimestampKind};
use crate::imaging::{ImageFormat, ImagingError, Picture, StoredFragment, encode, pictures_at, target_size};
use crate::model::{FragmentRecord, Stream};

/// Longest range between StartTimestamp and EndTimestamp (AWS: 300 s).
pub const MAX_RANGE_MS: i64 = 300_000;

/// Smallest SamplingInterval (AWS: 200 ms, 5 images per second).
pub const MIN_SAMPLING_INTERVAL_MS: i64 = 200;

/// SamplingInterval when the request has none. The model leaves it optional without a default;
/// 3000 ms was the smallest value the first version of the API (where it was required) allowed.
pub const DEFAULT_SAMPLING_INTERVAL_MS: i64 = 3000;

/// Most images in one response (AWS: a MaxResults above 25 still gives pages of 25).
pub const MAX_PAGE_IMAGES: usize = 25;

/// Largest encoded image: `ImageContent` is at most 6 291 456 base64 characters.
pub const MAX_IMAGE_BYTES: usize = 6_291_456 / 4 * 3;

/// How far before a fragment without a leading key frame to look for the key frame its first
/// frames depend on (the longest fragment ingest accepts by default).
const KEY_FRAME_LOOKBACK_MS: i64 = 20_000;

/// One GetImages page request, already validated against the limits above.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagesRequest {
    /// Which timestamps the range and the images' times are on.
    pub kind: TimestampKind,
    /// First sample time, epoch ms.
    pub start_ms: i64,
    /// Last possible sample time (inclusive), epoch ms.
    pub end_ms: i64,
    /// Time between samples, ms (at least [`MIN_SAMPLING_INTERVAL_MS`]).
    pub sampling_interval_ms: i64,
    /// Output format.
    pub format: ImageFormat,
    /// Requested width (see [`target_size`]).
    pub width: Option<u32>,
    /// Requested height.
    pub height: Option<u32>,
    /// MaxResults; pages hold at most [`MAX_PAGE_IMAGES`] whatever it says.
    pub max_results: u32,
    /// Where this page starts (a previous page's [`ImagesPage::next_ms`]); `None` = `start_ms`.
    pub resume_ms: Option<i64>,
}

/// What one sample time gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageContent {
    /// The encoded image.
    Image(Bytes),
    /// No media covers the time (AWS `NO_MEDIA`).
    NoMedia,
    /// The media at that time cannot be made into an image (AWS `MEDIA_ERROR`).
    MediaError,
}

/// One sample time and its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampledImage {
    /// The sample time, epoch ms on the request's timeline.
    pub timestamp_ms: i64,
    /// The image or why there is none.
    pub content: ImageContent,
}

/// One page of images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagesPage {
    /// The images, in time order.
    pub images: Vec<SampledImage>,
    /// The first sample time of the next page, if there is one.
    pub next_ms: Option<i64>,
}

/// The sample times of one page and the start of the next page.
pub fn page_times(req: &ImagesRequest) -> (Vec<i64>, Option<i64>) {
    let interval = req.sampling_interval_ms.max(1);
    let page = (req.max_results as usize).clamp(1, MAX_PAGE_IMAGES);
    // A resume position between two sample times continues at the next one.
    let from = req.resume_ms.unwrap_or(req.start_ms).max(req.start_ms);
    let k0 = (from - req.start_ms + interval - 1) / interval;
    let mut times: Vec<i64> = (k0..)
        .map(|k| req.start_ms.saturating_add(k.saturating_mul(interval)))
        .take_while(|t| *t <= req.end_ms)
        .take(page + 1)
        .collect();
    let next = (times.len() > page).then(|| times[page]);
    times.truncate(page);
    (times, next)
}

/// Fragments decoded together and the sample times they answer.
#[derive(Debug)]
struct DecodeUnit {
    /// Lead-in fragments (back to a key frame), then the covering fragment.
    fragments: Vec<FragmentRecord>,
    times: Vec<i64>,
}

fn start_of(f: &FragmentRecord, kind: TimestampKind) -> i64 {
    match kind {
        TimestampKind::Server => f.server_ts_ms,
        TimestampKind::Producer => f.producer_ts_ms,
    }
}

fn covers(f: &FragmentRecord, kind: TimestampKind, t: i64) -> bool {
    let start = start_of(f, kind);
    t >= start && t < start.saturating_add(f.duration_ms.max(1))
}

impl Playback {
    /// One page of GetImages for `stream`.
    pub async fn images(&self, stream: &Stream, req: &ImagesRequest) -> Result<ImagesPage, PlaybackError> {
        if !stream.retention.is_persistent() {
            return Err(PlaybackError::NoDataRetention);
        }
        let (times, next_ms) = page_times(req);
        let units = self.decode_units(stream, req.kind, &times).await?;
        let parallel = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 4);
        let rendered: Vec<Result<Vec<(i64, ImageContent)>, PlaybackError>> =
            futures_util::stream::iter(units)
                .map(|unit| self.render_unit(stream, req, unit))
                .buffered(parallel)
                .collect()
                .await;
        let mut answered = std::collections::HashMap::new();
        for unit in rendered {
            answered.extend(unit?);
        }
        let images = times
            .iter()
            .map(|t| SampledImage {
                timestamp_ms: *t,
                content: answered.remove(t).unwrap_or(ImageContent::NoMedia),
            })
            .collect();
        Ok(ImagesPage { images, next_ms })
    }

    /// Groups the times by the fragment covering each (times no fragment covers are left out).
    async fn decode_units(
        &self,
        stream: &Stream,
        kind: TimestampKind,
        times: &[i64],
    ) -> Result<Vec<DecodeUnit>, PlaybackError> {
        let index = &self.archive;
        let mut units: Vec<DecodeUnit> = Vec::new();
        let mut last: Option<FragmentRecord> = None;
        for &t in times {
            let covering = match last.as_ref().filter(|f| covers(f, kind, t)) {
                Some(f) => Some(f.clone()),
                None => index.fragment_at(stream.id, kind, t).await?.filter(|f| covers(f, kind, t)),
            };
            let Some(f) = covering else { continue };
            match units.last_mut() {
                Some(u) if u.fragments.last().is_some_and(|l| l.number == f.number) => u.times.push(t),
                _ => {
                    let mut fragments = if f.key_frame { Vec::new() } else { self.lead_in(&f, kind).await? };
                    fragments.push(f.clone());
                    units.push(DecodeUnit { fragments, times: vec![t] });
                }
            }
            last = Some(f);
        }
        Ok(units)
    }

    /// The fragments before `f` back to the nearest one that starts with a key frame (all of the
    /// lookback window when none does).
    async fn lead_in(
        &self,
        f: &FragmentRecord,
        kind: TimestampKind,
    ) -> Result<Vec<FragmentRecord>, PlaybackError> {
        let start = start_of(f, kind);
        let before = self
            .archive
            .fragments_in_range(f.stream_id, kind, start - KEY_FRAME_LOOKBACK_MS, start, None, 1000)
            .await?;
        let before: Vec<FragmentRecord> =
            before.into_iter().filter(|b| b.number != f.number && start_of(b, kind) < start).collect();
        let from = before.iter().rposition(|b| b.key_frame).unwrap_or(0);
        Ok(before[from..].to_vec())
    }

    /// Reads a unit's fragments and makes its images (decode, scale, encode on a blocking thread).
    async fn render_unit(
        &self,
        stream: &Stream,
        req: &ImagesRequest,
        unit: DecodeUnit,
    ) -> Result<Vec<(i64, ImageContent)>, PlaybackError> {
        let all = |content: ImageContent| unit.times.iter().map(|t| (*t, content.clone())).collect();
        let covering = unit.fragments.len() - 1;
        let mut stored = Vec::with_capacity(unit.fragments.len());
        for (i, f) in unit.fragments.iter().enumerate() {
            let header = match self.archive.track_header(f.stream_id, f.header_id).await {
                Ok(h) => Bytes::from(h),
                Err(IndexError::NotFound) => {
                    tracing::warn!(stream = %stream.name, "fragment {}: its track header set is missing", f.number);
                    return Ok(all(ImageContent::MediaError));
                }
                Err(e) => return Err(e.into()),
            };
            match self.archive.read_fragment(f).await {
                Ok(cluster) => stored.push(StoredFragment {
                    header,
                    cluster,
                    start_ms: start_of(f, req.kind),
                    duration_ms: f.duration_ms,
                }),
                // Gone (retention) since the index said it was there: a lead-in only costs the
                // GOP its start, the covering fragment means there is no media any more.
                Err(ReadError::Missing) if i < covering => {}
                Err(ReadError::Missing) => return Ok(all(ImageContent::NoMedia)),
                Err(e) => return Err(PlaybackError::unreadable(f, e)),
            }
        }
        let (times, req) = (unit.times, req.clone());
        let name = stream.name.to_string();
        tokio::task::spawn_blocking(move || {
            pictures_at(&stored, &times)
                .into_iter()
                .map(|(t, picture)| {
                    let content = match picture.and_then(|p| render(&p, &req)) {
                        Ok(bytes) => ImageContent::Image(bytes),
                        Err(ImagingError::NoMedia) => ImageContent::NoMedia,
                        Err(e) => {
                            tracing::debug!(stream = %name, "no image at {t}: {e}");
                            ImageContent::MediaError
                        }
                    };
                    (t, content)
                })
                .collect()
        })
        .await
        .map_err(|e| PlaybackError::Internal(e.to_string()))
    }
}

/// Scales and encodes one picture as the request asks.
fn render(picture: &Picture, req: &ImagesRequest) -> Result<Bytes, ImagingError> {
    let (w, h) = target_size(picture.width(), picture.height(), req.width, req.height);
    let bytes = if (w, h) == (picture.width(), picture.height()) {
        encode(picture, req.format)?
    } else {
        encode(&picture.scaled(w, h), req.format)?
    };
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(ImagingError::Encode(format!(
            "the {w}x{h} image is {} bytes, more than GetImages can carry",
            bytes.len()
        )));
    }
    Ok(Bytes::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(start: i64, end: i64, interval: i64, max: u32, resume: Option<i64>) -> ImagesRequest {
        ImagesRequest {
            kind: TimestampKind::Producer,
            start_ms: start,
            end_ms: end,
            sampling_interval_ms: interval,
            format: ImageFormat::Png,
            width: None,
            height: None,
            max_results: max,
            resume_ms: resume,
        }
    }

    #[test]
    fn pages_cover_the_range_inclusively() {
        let (t, next) = page_times(&req(1000, 21_000, 2000, 100, None));
        assert_eq!(t, (0..11).map(|k| 1000 + 2000 * k).collect::<Vec<_>>());
        assert_eq!(next, None);
        let (t, next) = page_times(&req(0, 300_000, 200, 100, None));
        assert_eq!((t.len(), t[24], next), (25, 4800, Some(5000)), "pages of 25 at most");
        let (t, next) = page_times(&req(0, 300_000, 200, 3, Some(5000)));
        assert_eq!((t, next), (vec![5000, 5200, 5400], Some(5600)));
        let (t, _) = page_times(&req(0, 10_000, 1000, 2, Some(4500)));
        assert_eq!(t, vec![5000, 6000], "a resume point between samples goes to the next");
        let (t, next) = page_times(&req(500, 700, 3000, 25, None));
        assert_eq!((t, next), (vec![500], None), "a range shorter than the interval gives its start");
        let (t, next) = page_times(&req(0, 1000, 200, 6, None));
        assert_eq!((t.len(), next), (6, None), "exactly one full page");
        assert_eq!(page_times(&req(0, 1000, 200, 25, Some(1200))), (vec![], None));
    }
}
