//! The `thumbnails` worker: key-frame images of every stream it runs on, delivered to the stream's
//! destination (design/0019-image-delivery.md).
//!
//! Settings come from the stream's ImageGenerationConfiguration when it is ENABLED (sampling
//! interval, format, JPEG quality, width/height with AWS's aspect rules, destination) and from
//! `[workers.thumbnails]` otherwise. One image is made per multiple of the sampling interval in
//! producer time that falls in the fragment (the frame shown at that instant; H.264 via
//! `imaging`). Where it goes ([`crate::workers::delivery::ImageDestination`]):
//! - `s3://bucket/prefix`: the object `prefix/<AccountID>_<StreamName>_<ImageTimecode>_<id>.<ext>`
//!   in that bucket (AWS's documented layout), queued to [`ImageUploads`] with the metadata AWS sets
//!   (`aws_kinesisvideo_producer_timestamp`, `…_server_timestamp`, `…_fragment_number`); its
//!   `image` event is recorded once the PUT succeeded. The analysis never waits for S3.
//! - `file://dir/sub`: `<image root>/dir/sub/<stream>/<producer-ms>.<ext>`; without a configuration,
//!   `<image root>/<stream>/<producer-ms>.<ext>`. `<stream>` is the escaped name
//!   (`StreamName::path_segments`: `..` is `%2E%2E`, never a path). Files are written to a
//!   temporary name, then renamed, so readers never see half an image; the `image` event is
//!   returned with the analysis.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use serde::Deserialize;

use crate::model::{FragmentRecord, ImageFormat};
use crate::workers::analyzer::{
    AnalysisOutput, Analyzer, AnalyzerError, DeliveryStatus, EventDraft, FragmentInput, StreamInfo,
};
use crate::workers::delivery::s3::{ImageUpload, ImageUploads};
use crate::workers::delivery::{ImageDestination, image_id, image_object_name, object_key};

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

/// Where one stream's images go.
#[derive(Debug, Clone, PartialEq)]
enum Target {
    /// Files in this directory.
    Local(PathBuf),
    /// Objects in an S3 bucket.
    S3 {
        /// The bucket.
        bucket: String,
        /// The key prefix.
        prefix: String,
        /// The configuration's DestinationRegion.
        region: String,
    },
}

/// What one stream's images look like.
#[derive(Debug, Clone, PartialEq)]
struct Plan {
    interval_ms: i64,
    format: ImageFormat,
    quality: u8,
    width: Option<u32>,
    height: Option<u32>,
    target: Target,
}

/// One encoded image.
#[derive(Debug)]
struct Encoded {
    /// Producer time of the picture, epoch ms.
    ts: i64,
    bytes: Bytes,
    width: u32,
    height: u32,
    /// Where it was written (local targets).
    path: Option<PathBuf>,
}

/// The thumbnail analyzer.
#[derive(Debug)]
pub struct Thumbnails {
    config: ThumbnailsConfig,
    root: PathBuf,
    uploads: Arc<ImageUploads>,
}

impl Thumbnails {
    /// A thumbnail worker writing local images under `root` (`<data-dir>/images`) and S3 images
    /// through `uploads`.
    pub fn new(config: ThumbnailsConfig, root: PathBuf, uploads: Arc<ImageUploads>) -> Self {
        Self { config, root, uploads }
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
                target: match ImageDestination::stored(c.destination_uri.as_str()) {
                    ImageDestination::S3 { bucket, prefix } => {
                        Target::S3 { bucket, prefix, region: c.destination_region.to_string() }
                    }
                    ImageDestination::Local { relative } => {
                        Target::Local(self.root.join(relative).join(&name))
                    }
                },
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
                target: Target::Local(self.root.join(&name)),
            },
        }
    }

    /// Queues the images of one fragment for their S3 bucket; each `image` event is recorded when
    /// its PUT succeeded.
    fn upload(&self, input: &FragmentInput, plan: &Plan, images: Vec<Encoded>) {
        let Target::S3 { bucket, prefix, region } = &plan.target else { return };
        let stream = &input.stream.stream;
        let record: &FragmentRecord = &input.record;
        let arn = stream.arn.to_string();
        let (ext, content_type) = extension(plan.format);
        for image in images {
            let id = image_id(&arn, record.number.as_str(), image.ts, ext);
            let key =
                object_key(prefix, &image_object_name(&stream.arn.account, &stream.name, image.ts, &id, ext));
            let event = EventDraft {
                kind: "image".to_owned(),
                producer_ts_ms: image.ts,
                end_ts_ms: None,
                score: None,
                detail: serde_json::json!({
                    "Uri": format!("s3://{bucket}/{key}"),
                    "Bucket": bucket,
                    "Key": key,
                    "Format": ext,
                    "WidthPixels": image.width,
                    "HeightPixels": image.height,
                    "Bytes": image.bytes.len(),
                }),
            };
            let server_ts = record.server_ts_ms + (image.ts - record.producer_ts_ms);
            let upload = ImageUpload {
                key,
                bytes: image.bytes,
                content_type,
                metadata: vec![
                    ("aws_kinesisvideo_producer_timestamp", image.ts.to_string()),
                    ("aws_kinesisvideo_server_timestamp", server_ts.to_string()),
                    ("aws_kinesisvideo_fragment_number", record.number.as_str().to_owned()),
                ],
                event: Some((input.events.clone(), event)),
            };
            self.uploads.submit(bucket, region, upload);
        }
    }
}

/// The file extension and content type of a format.
fn extension(format: ImageFormat) -> (&'static str, &'static str) {
    match format {
        ImageFormat::Jpeg => ("jpg", "image/jpeg"),
        ImageFormat::Png => ("png", "image/png"),
    }
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
        let images = {
            let plan = plan.clone();
            crate::workers::compute::run(move || encode_and_write(&fragment, &times, &plan)).await?
        };
        if let Target::S3 { .. } = plan.target {
            self.upload(&input, &plan, images);
            return Ok(AnalysisOutput::default());
        }
        let (ext, _) = extension(plan.format);
        let events = images
            .into_iter()
            .map(|image| EventDraft {
                kind: "image".to_owned(),
                producer_ts_ms: image.ts,
                end_ts_ms: None,
                score: None,
                detail: serde_json::json!({
                    "Path": image.path.map(|p| p.display().to_string()),
                    "Format": ext,
                    "WidthPixels": image.width,
                    "HeightPixels": image.height,
                    "Bytes": image.bytes.len(),
                }),
            })
            .collect();
        Ok(AnalysisOutput { events })
    }

    fn deliveries(&self) -> Option<Vec<DeliveryStatus>> {
        Some(self.uploads.status())
    }
}

/// Decodes the pictures at `times`, scales and encodes them, and writes them when the target is a
/// directory (compute pool: CPU-heavy, blocking file I/O).
fn encode_and_write(
    fragment: &crate::imaging::StoredFragment,
    times: &[i64],
    plan: &Plan,
) -> Result<Vec<Encoded>, AnalyzerError> {
    let pictures = super::fragment_pictures(fragment, times)?;
    let dir = match &plan.target {
        Target::Local(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| AnalyzerError::Transient(format!("cannot create {}: {e}", dir.display())))?;
            Some(dir)
        }
        Target::S3 { .. } => None,
    };
    let (ext, _) = extension(plan.format);
    let mut out = Vec::new();
    for (ts, picture) in pictures {
        let Ok(picture) = picture else { continue };
        let (w, h) = crate::imaging::target_size(picture.width(), picture.height(), plan.width, plan.height);
        let picture =
            if (w, h) == (picture.width(), picture.height()) { picture } else { picture.scaled(w, h) };
        let format = match plan.format {
            ImageFormat::Jpeg => crate::imaging::ImageFormat::Jpeg { quality: plan.quality },
            ImageFormat::Png => crate::imaging::ImageFormat::Png,
        };
        let bytes =
            crate::imaging::encode(&picture, format).map_err(|e| AnalyzerError::Media(e.to_string()))?;
        let path = match dir {
            Some(dir) => {
                let path = dir.join(format!("{ts}.{ext}"));
                let tmp = dir.join(format!(".{ts}.{ext}.tmp"));
                std::fs::write(&tmp, &bytes)
                    .and_then(|()| std::fs::rename(&tmp, &path))
                    .map_err(|e| AnalyzerError::Transient(format!("cannot write {}: {e}", path.display())))?;
                Some(path)
            }
            None => None,
        };
        out.push(Encoded { ts, bytes: Bytes::from(bytes), width: w, height: h, path });
    }
    Ok(out)
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
}
