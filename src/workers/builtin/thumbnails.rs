//! The `thumbnails` worker: key-frame images of every stream it runs on, written to disk.
//!
//! Settings come from the stream's ImageGenerationConfiguration when it is ENABLED (sampling
//! interval, format, JPEG quality, width/height with AWS's aspect rules, destination) and from
//! `[workers.thumbnails]` otherwise. One image is made per multiple of the sampling interval in
//! producer time that falls in the fragment (the frame shown at that instant; H.264 via
//! `imaging`). Files: `<data-dir>/images/<bucket>/<prefix>/<stream>/<producer-ms>.<ext>` for an
//! `s3://bucket/prefix` destination, `<data-dir>/images/<stream>/<producer-ms>.<ext>` otherwise,
//! `<stream>` being the escaped name (`StreamName::path_segments`: `..` is `%2E%2E`, never a path)
//! (written to a temporary name, then renamed, so readers never see half an image). Each image
//! is recorded as an `image` event with its path, size and format.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::Deserialize;

use crate::model::ImageFormat;
use crate::workers::analyzer::{
    AnalysisOutput, Analyzer, AnalyzerError, EventDraft, FragmentInput, StreamInfo,
};

/// The worker's name.
pub const NAME: &str = "thumbnails";

/// `[workers.thumbnails]` configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThumbnailsConfig {
    /// Stream-name globs the worker runs on (the `openkvs:analyzers` tag overrides per stream).
    pub streams: Vec<String>,
    /// One image per this many ms of producer time.
    pub sampling_interval_ms: i64,
    /// `jpeg` or `png`.
    pub format: String,
    /// JPEG quality 1..100.
    pub jpeg_quality: u8,
    /// Image width (height keeps the aspect ratio); 0 keeps the source size.
    pub width: u32,
}

impl Default for ThumbnailsConfig {
    fn default() -> Self {
        Self {
            streams: Vec::new(),
            sampling_interval_ms: 10_000,
            format: "jpeg".to_owned(),
            jpeg_quality: 80,
            width: 320,
        }
    }
}

/// What one stream's images look like.
#[derive(Debug, Clone, PartialEq)]
struct Plan {
    interval_ms: i64,
    format: ImageFormat,
    quality: u8,
    width: Option<u32>,
    height: Option<u32>,
    dir: PathBuf,
}

/// The thumbnail analyzer.
#[derive(Debug)]
pub struct Thumbnails {
    config: ThumbnailsConfig,
    root: PathBuf,
}

impl Thumbnails {
    /// A thumbnail worker writing under `root` (`<data-dir>/images`).
    pub fn new(config: ThumbnailsConfig, root: PathBuf) -> Self {
        Self { config, root }
    }

    fn plan(&self, stream: &StreamInfo) -> Plan {
        // A stream name is never a path (`..` is a valid name): its escaped components.
        let name: PathBuf = stream.stream.name.path_segments().into_iter().collect();
        match stream.image_generation.as_ref().filter(|c| c.is_enabled()) {
            Some(c) => Plan {
                interval_ms: i64::from(c.sampling_interval_ms).max(200),
                format: c.format,
                quality: c.jpeg_quality.unwrap_or(80),
                width: c.width,
                height: c.height,
                dir: destination_dir(&self.root, c.destination_uri.as_str()).join(&name),
            },
            None => Plan {
                interval_ms: self.config.sampling_interval_ms.max(200),
                format: if self.config.format.eq_ignore_ascii_case("png") {
                    ImageFormat::Png
                } else {
                    ImageFormat::Jpeg
                },
                quality: self.config.jpeg_quality.clamp(1, 100),
                width: (self.config.width > 0).then_some(self.config.width),
                height: None,
                dir: self.root.join(&name),
            },
        }
    }
}

/// The local directory for an image destination URI: `s3://bucket/prefix` → `root/bucket/prefix`
/// (path segments are kept only when they are plain names), anything else → `root`.
pub fn destination_dir(root: &Path, uri: &str) -> PathBuf {
    let mut dir = root.to_path_buf();
    if let Some(rest) = uri.split_once("://").map(|(_, r)| r) {
        for seg in rest.split('/').filter(|s| !s.is_empty() && *s != "." && *s != "..") {
            dir.push(seg);
        }
    }
    dir
}

/// The sample instants (multiples of `interval`) in `[start, start + duration)`.
pub fn sample_times(start_ms: i64, duration_ms: i64, interval_ms: i64) -> Vec<i64> {
    let interval = interval_ms.max(1);
    let first = start_ms.div_euclid(interval) * interval;
    let first = if first < start_ms { first + interval } else { first };
    (0..).map(|i| first + i * interval).take_while(|t| *t < start_ms + duration_ms.max(1)).collect()
}

#[async_trait]
impl Analyzer for Thumbnails {
    fn name(&self) -> &str {
        NAME
    }

    fn required_for(&self, stream: &StreamInfo) -> bool {
        stream.image_generation.as_ref().is_some_and(|c| c.is_enabled())
    }

    async fn analyze(&self, input: FragmentInput) -> Result<AnalysisOutput, AnalyzerError> {
        let plan = self.plan(&input.stream);
        let record = input.record.clone();
        let times = sample_times(record.producer_ts_ms, record.duration_ms, plan.interval_ms);
        if times.is_empty() {
            return Ok(AnalysisOutput::default());
        }
        let fragment = input.media.stored_fragment(&record).await?;
        crate::workers::compute::run(move || {
            let pictures = super::fragment_pictures(&fragment, &times)?;
            std::fs::create_dir_all(&plan.dir).map_err(|e| {
                AnalyzerError::Transient(format!("cannot create {}: {e}", plan.dir.display()))
            })?;
            let mut events = Vec::new();
            for (ts, picture) in pictures {
                let Ok(picture) = picture else { continue };
                let (w, h) =
                    crate::imaging::target_size(picture.width(), picture.height(), plan.width, plan.height);
                let picture = if (w, h) == (picture.width(), picture.height()) {
                    picture
                } else {
                    picture.scaled(w, h)
                };
                let (format, ext) = match plan.format {
                    ImageFormat::Jpeg => (crate::imaging::ImageFormat::Jpeg { quality: plan.quality }, "jpg"),
                    ImageFormat::Png => (crate::imaging::ImageFormat::Png, "png"),
                };
                let bytes = crate::imaging::encode(&picture, format)
                    .map_err(|e| AnalyzerError::Media(e.to_string()))?;
                let path = plan.dir.join(format!("{ts}.{ext}"));
                let tmp = plan.dir.join(format!(".{ts}.{ext}.tmp"));
                std::fs::write(&tmp, &bytes)
                    .and_then(|()| std::fs::rename(&tmp, &path))
                    .map_err(|e| AnalyzerError::Transient(format!("cannot write {}: {e}", path.display())))?;
                events.push(EventDraft {
                    kind: "image".to_owned(),
                    producer_ts_ms: ts,
                    end_ts_ms: None,
                    score: None,
                    detail: serde_json::json!({
                        "Path": path.display().to_string(),
                        "Format": ext,
                        "WidthPixels": w,
                        "HeightPixels": h,
                        "Bytes": bytes.len(),
                    }),
                });
            }
            Ok(AnalysisOutput { events })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_multiples_of_the_interval_inside_the_fragment() {
        assert_eq!(sample_times(1000, 2000, 1000), vec![1000, 2000]);
        assert_eq!(sample_times(1001, 2000, 1000), vec![2000, 3000]);
        assert_eq!(sample_times(1001, 500, 1000), Vec::<i64>::new());
        assert_eq!(sample_times(0, 2000, 10_000), vec![0]);
    }

    #[test]
    fn destinations_map_under_the_image_root() {
        let root = Path::new("/d/images");
        assert_eq!(destination_dir(root, "s3://bucket/pre/fix"), PathBuf::from("/d/images/bucket/pre/fix"));
        assert_eq!(destination_dir(root, "s3://b/../../etc"), PathBuf::from("/d/images/b/etc"));
        assert_eq!(destination_dir(root, "arn:aws:x"), PathBuf::from("/d/images"));
    }
}
