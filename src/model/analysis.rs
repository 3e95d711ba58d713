//! Analysis configuration and results as plain data: a stream's KVS image-generation and
//! notification configurations ([`ImageGenerationConfig`], [`NotificationConfig`]) with the
//! botocore model's validation, how far an analysis worker has got in a stream ([`WorkerCursor`]),
//! and what analyzers found ([`NewAnalyzerEvent`], [`AnalyzerEvent`]).
//!
//! Owns the rules of the `ImageGenerationConfiguration` and `NotificationConfiguration` shapes
//! (enums, `DestinationUri` and `DestinationRegion` patterns, ranges). It must not touch storage,
//! the wire, images or delivery: what a destination URI means to openkvs is the workers' business
//! (design/0009-analysis.md, "Destinations").

use std::collections::BTreeMap;

use super::{FragmentNumber, Region, ValidationError, check_len};

/// `ConfigurationStatus`: whether a configuration is in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigurationStatus {
    /// `ENABLED`: images are generated / notifications are sent.
    Enabled,
    /// `DISABLED`: the configuration is kept but not acted on.
    Disabled,
}

impl ConfigurationStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigurationStatus::Enabled => "ENABLED",
            ConfigurationStatus::Disabled => "DISABLED",
        }
    }

    /// Parses the stored/wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ENABLED" => Some(ConfigurationStatus::Enabled),
            "DISABLED" => Some(ConfigurationStatus::Disabled),
            _ => None,
        }
    }

    /// Validates a client-supplied status; `member` names the JSON member in the error.
    pub fn parse_member(s: &str, member: &str) -> Result<Self, ValidationError> {
        Self::parse(s).ok_or_else(|| ValidationError::enum_value(member, s, &["ENABLED", "DISABLED"]))
    }
}

/// `ImageSelectorType`: which of a fragment's clocks image sampling follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageSelectorType {
    /// `SERVER_TIMESTAMP`: arrival time at the server.
    ServerTimestamp,
    /// `PRODUCER_TIMESTAMP`: the producer's timestamps.
    ProducerTimestamp,
}

impl ImageSelectorType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageSelectorType::ServerTimestamp => "SERVER_TIMESTAMP",
            ImageSelectorType::ProducerTimestamp => "PRODUCER_TIMESTAMP",
        }
    }

    /// Parses the stored/wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "SERVER_TIMESTAMP" => Some(ImageSelectorType::ServerTimestamp),
            "PRODUCER_TIMESTAMP" => Some(ImageSelectorType::ProducerTimestamp),
            _ => None,
        }
    }

    /// Validates a client-supplied selector; `member` names the JSON member in the error.
    pub fn parse_member(s: &str, member: &str) -> Result<Self, ValidationError> {
        Self::parse(s).ok_or_else(|| {
            ValidationError::enum_value(member, s, &["SERVER_TIMESTAMP", "PRODUCER_TIMESTAMP"])
        })
    }
}

/// `Format`: the encoding of generated images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// `JPEG` (quality from `FormatConfig.JPEGQuality`).
    Jpeg,
    /// `PNG`.
    Png,
}

impl ImageFormat {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "JPEG",
            ImageFormat::Png => "PNG",
        }
    }

    /// Parses the stored/wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "JPEG" => Some(ImageFormat::Jpeg),
            "PNG" => Some(ImageFormat::Png),
            _ => None,
        }
    }

    /// Validates a client-supplied format; `member` names the JSON member in the error.
    pub fn parse_member(s: &str, member: &str) -> Result<Self, ValidationError> {
        Self::parse(s).ok_or_else(|| ValidationError::enum_value(member, s, &["JPEG", "PNG"]))
    }
}

/// A `DestinationUri`: 1..=255 characters matching `^[a-zA-Z_0-9]+:(//)?([^/]+)/?([^*]*)$`
/// (a scheme, an authority, then a path without `*`). Kept exactly as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationUri(String);

impl DestinationUri {
    /// The model's pattern, quoted in errors.
    pub const PATTERN: &'static str = "^[a-zA-Z_0-9]+:(//)?([^/]+)/?([^*]*)$";

    /// Validates a URI; `member` names the JSON member in the error.
    pub fn parse_member(value: &str, member: &str) -> Result<Self, ValidationError> {
        check_len(member, value, 1, 255)?;
        if !matches_destination_pattern(value) {
            return Err(ValidationError::pattern(member, Self::PATTERN));
        }
        Ok(Self(value.to_owned()))
    }

    /// The URI as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The scheme (the text before the first `:`), e.g. `s3`, `https`, `nats`, `arn`.
    pub fn scheme(&self) -> &str {
        self.0.split_once(':').map_or("", |(scheme, _)| scheme)
    }
}

/// Whether `v` matches [`DestinationUri::PATTERN`] as a whole.
fn matches_destination_pattern(v: &str) -> bool {
    // The scheme class has no ':', so the first ':' ends it.
    let Some((scheme, rest)) = v.split_once(':') else {
        return false;
    };
    if scheme.is_empty() || !scheme.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return false;
    }
    // `([^/]+)/?([^*]*)`: a non-empty authority up to the first '/', then no '*'. Taking the whole
    // authority is the least restrictive split (any shorter one leaves more text under `[^*]*`).
    let authority_then_path = |r: &str| {
        let authority_end = r.find('/').unwrap_or(r.len());
        authority_end > 0 && !r[authority_end..].contains('*')
    };
    rest.strip_prefix("//").is_some_and(authority_then_path) || authority_then_path(rest)
}

/// A stream's `ImageGenerationConfiguration`: sample the stream every `sampling_interval_ms` and
/// deliver an image of `format` to `destination_uri`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageGenerationConfig {
    /// `Status`: whether images are generated.
    pub status: ConfigurationStatus,
    /// `ImageSelectorType`: which clock the sampling follows.
    pub selector: ImageSelectorType,
    /// `DestinationConfig.Uri`: where images go.
    pub destination_uri: DestinationUri,
    /// `DestinationConfig.DestinationRegion` (the stream's own region).
    pub destination_region: Region,
    /// `SamplingInterval`: one image per this many milliseconds, at least
    /// [`Self::MIN_SAMPLING_INTERVAL_MS`].
    pub sampling_interval_ms: u32,
    /// `Format`.
    pub format: ImageFormat,
    /// `FormatConfig.JPEGQuality`, 1..=100, when given (the service default is
    /// [`Self::DEFAULT_JPEG_QUALITY`], see [`Self::effective_jpeg_quality`]).
    pub jpeg_quality: Option<u8>,
    /// `WidthPixels`, 1..=[`Self::MAX_WIDTH_PIXELS`]; `None` keeps the source width, or the aspect
    /// ratio when only the height is given.
    pub width: Option<u32>,
    /// `HeightPixels`, 1..=[`Self::MAX_HEIGHT_PIXELS`]; `None` keeps the source height, or the
    /// aspect ratio when only the width is given.
    pub height: Option<u32>,
}

impl ImageGenerationConfig {
    /// Shortest `SamplingInterval` (the model documentation: "the minimum value … is 200 ms").
    pub const MIN_SAMPLING_INTERVAL_MS: u32 = 200;
    /// Largest `SamplingInterval` the wire type (a 32-bit integer) carries.
    pub const MAX_SAMPLING_INTERVAL_MS: u32 = i32::MAX as u32;
    /// Largest `WidthPixels`.
    pub const MAX_WIDTH_PIXELS: u32 = 3840;
    /// Largest `HeightPixels`.
    pub const MAX_HEIGHT_PIXELS: u32 = 2160;
    /// `JPEGQuality` when none is given (the model documentation).
    pub const DEFAULT_JPEG_QUALITY: u8 = JpegQuality::DEFAULT.0;

    /// Whether images are to be generated.
    pub fn is_enabled(&self) -> bool {
        self.status == ConfigurationStatus::Enabled
    }

    /// The JPEG quality to encode with: the configured one or the default.
    pub fn effective_jpeg_quality(&self) -> u8 {
        self.jpeg_quality.unwrap_or(Self::DEFAULT_JPEG_QUALITY)
    }

    /// Validates a client-supplied `DestinationRegion`: 9..=14 characters matching
    /// `^[a-z]+(-[a-z]+)?-[a-z]+-[0-9]$`.
    pub fn destination_region(value: &str, member: &str) -> Result<Region, ValidationError> {
        check_len(member, value, 9, 14)?;
        let parts: Vec<&str> = value.split('-').collect();
        let (last, words) = parts.split_last().expect("split yields at least one part");
        let shaped = (words.len() == 2 || words.len() == 3)
            && words.iter().all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
            && last.len() == 1
            && last.bytes().all(|b| b.is_ascii_digit());
        if !shaped {
            return Err(ValidationError::pattern(member, "^[a-z]+(-[a-z]+)?-[a-z]+-[0-9]$"));
        }
        Region::parse(value)
    }

    /// Validates a client-supplied `SamplingInterval` (milliseconds).
    pub fn sampling_interval(ms: i64, member: &str) -> Result<u32, ValidationError> {
        let (min, max) =
            (i64::from(Self::MIN_SAMPLING_INTERVAL_MS), i64::from(Self::MAX_SAMPLING_INTERVAL_MS));
        if !(min..=max).contains(&ms) {
            return Err(ValidationError::range(member, ms, min, max));
        }
        Ok(ms as u32)
    }

    /// Validates a client-supplied `WidthPixels`.
    pub fn width_pixels(v: i64, member: &str) -> Result<u32, ValidationError> {
        if !(1..=i64::from(Self::MAX_WIDTH_PIXELS)).contains(&v) {
            return Err(ValidationError::range(member, v, 1, i64::from(Self::MAX_WIDTH_PIXELS)));
        }
        Ok(v as u32)
    }

    /// Validates a client-supplied `HeightPixels`.
    pub fn height_pixels(v: i64, member: &str) -> Result<u32, ValidationError> {
        if !(1..=i64::from(Self::MAX_HEIGHT_PIXELS)).contains(&v) {
            return Err(ValidationError::range(member, v, 1, i64::from(Self::MAX_HEIGHT_PIXELS)));
        }
        Ok(v as u32)
    }
}

/// `FormatConfig.JPEGQuality`, the JPEG quality of generated images (ImageGenerationConfiguration
/// and GetImages carry the same `FormatConfig` shape). The one JPEG-quality rule: `FormatConfig`
/// is a one-entry map whose only key is `JPEGQuality`; the model carries the value as a string
/// (`^[a-zA-Z_0-9]+`) whose documented values are the integers 1..=100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JpegQuality(u8);

impl JpegQuality {
    /// The quality when none is given (the model documentation).
    pub const DEFAULT: JpegQuality = JpegQuality(80);

    /// Validates a client-supplied `FormatConfig` map; `member` names it in the error.
    pub fn from_format_config(map: &BTreeMap<String, String>, member: &str) -> Result<Self, ValidationError> {
        let mut entries = map.iter();
        let (Some((key, value)), None) = (entries.next(), entries.next()) else {
            return Err(ValidationError::length(member, 1, 1));
        };
        if key != "JPEGQuality" {
            return Err(ValidationError::constraint(
                Some(key),
                member,
                "Map keys must satisfy constraint: [Member must satisfy enum value set: [JPEGQuality]]",
            ));
        }
        match value.parse::<u8>() {
            Ok(q @ 1..=100) if value.bytes().all(|b| b.is_ascii_digit()) => Ok(Self(q)),
            _ => Err(ValidationError::constraint(
                Some(value),
                &format!("{member}.JPEGQuality"),
                "Member must be an integer between 1 and 100",
            )),
        }
    }

    /// The quality, 1..=100.
    pub fn get(self) -> u8 {
        self.0
    }
}

/// A stream's `NotificationConfiguration`: where to announce delivered images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationConfig {
    /// `Status`: whether notifications are sent.
    pub status: ConfigurationStatus,
    /// `DestinationConfig.Uri`: where notifications go.
    pub destination_uri: DestinationUri,
}

impl NotificationConfig {
    /// Whether notifications are to be sent.
    pub fn is_enabled(&self) -> bool {
        self.status == ConfigurationStatus::Enabled
    }
}

/// How far one analysis worker has got in one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerCursor {
    /// The stream's index id.
    pub stream_id: i64,
    /// The last fragment the worker finished.
    pub fragment_number: FragmentNumber,
    /// When the cursor last moved forward, epoch ms.
    pub updated_at_ms: i64,
}

/// Something an analyzer found, before the index gives it an id.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAnalyzerEvent {
    /// The stream's index id.
    pub stream_id: i64,
    /// The worker recording it (e.g. `motion`, `images`).
    pub worker: String,
    /// What happened: one of the `AnalyzerEvent::*` kind constants, or an analyzer's own kind.
    pub kind: String,
    /// The fragment it was found in, if it is tied to one.
    pub fragment_number: Option<FragmentNumber>,
    /// When it happened, producer time, epoch ms (events are listed by this).
    pub producer_ts_ms: i64,
    /// When it happened, server (arrival) time, epoch ms.
    pub server_ts_ms: i64,
    /// End of the interval it covers (producer time, epoch ms); `None` for an instant.
    pub end_ts_ms: Option<i64>,
    /// Analyzer-specific strength (e.g. the changed-area fraction of a motion event).
    pub score: Option<f64>,
    /// Analyzer-specific detail (stored as JSON text).
    pub detail: serde_json::Value,
}

/// A recorded analyzer event.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyzerEvent {
    /// Index-assigned id; breaks ties between events of the same millisecond.
    pub id: i64,
    /// The stream's index id.
    pub stream_id: i64,
    /// The worker that recorded it.
    pub worker: String,
    /// What happened.
    pub kind: String,
    /// The fragment it was found in, if any.
    pub fragment_number: Option<FragmentNumber>,
    /// When it happened, producer time, epoch ms.
    pub producer_ts_ms: i64,
    /// When it happened, server time, epoch ms.
    pub server_ts_ms: i64,
    /// End of the interval it covers, if it is one.
    pub end_ts_ms: Option<i64>,
    /// Analyzer-specific strength.
    pub score: Option<f64>,
    /// Analyzer-specific detail.
    pub detail: serde_json::Value,
    /// When the index stored it, epoch ms.
    pub created_at_ms: i64,
}

impl AnalyzerEvent {
    /// Kind: motion started (`end_ts_ms` unset).
    pub const MOTION_START: &'static str = "motion_start";
    /// Kind: motion ended (`end_ts_ms` is the end, `producer_ts_ms` the matching start).
    pub const MOTION_END: &'static str = "motion_end";
    /// Kind: an image was generated and delivered.
    pub const IMAGE: &'static str = "image";
    /// Kind: an analyzer failed on a fragment (`detail` says why).
    pub const ANALYZER_ERROR: &'static str = "analyzer_error";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destination_uris_follow_the_model_pattern() {
        for ok in [
            "s3://bucket/prefix/x",
            "s3://bucket",
            "https://hooks.example.com:8443/kvs?a=b",
            "nats://kvs.events",
            "arn:aws:sns:us-east-1:123456789012:topic",
            "s3:bucket",
            "s3://b*ucket/prefix",
        ] {
            assert!(DestinationUri::parse_member(ok, "uri").is_ok(), "{ok}");
        }
        for bad in ["", "s3", "://bucket", "s3://", "s3:///x", "s3://bucket/pre*fix", "s-3://bucket", "s3:/x"]
        {
            assert!(DestinationUri::parse_member(bad, "uri").is_err(), "{bad}");
        }
        assert!(DestinationUri::parse_member(&format!("s3://{}", "b".repeat(250)), "uri").is_ok());
        assert!(DestinationUri::parse_member(&format!("s3://{}", "b".repeat(251)), "uri").is_err());
        assert_eq!(DestinationUri::parse_member("nats://x", "uri").unwrap().scheme(), "nats");
    }

    #[test]
    fn destination_regions_follow_the_model_pattern() {
        for ok in ["us-east-1", "ap-southeast-2", "us-gov-west-1"] {
            assert_eq!(ImageGenerationConfig::destination_region(ok, "r").unwrap().as_str(), ok);
        }
        for bad in ["us-east", "useast-1", "us-east-12", "US-EAST-1", "a-b-c-d-1", "us--east-1", "u-e-1"] {
            assert!(ImageGenerationConfig::destination_region(bad, "r").is_err(), "{bad}");
        }
    }

    #[test]
    fn ranges_and_enums() {
        assert!(ImageGenerationConfig::sampling_interval(199, "s").is_err());
        assert_eq!(ImageGenerationConfig::sampling_interval(200, "s").unwrap(), 200);
        assert!(ImageGenerationConfig::sampling_interval(i64::from(i32::MAX) + 1, "s").is_err());
        let config = |k: &str, v: &str| BTreeMap::from([(k.to_owned(), v.to_owned())]);
        assert_eq!(JpegQuality::from_format_config(&config("JPEGQuality", "100"), "f").unwrap().get(), 100);
        for bad in ["0", "101", "abc", "+5", "", "80.0"] {
            assert!(JpegQuality::from_format_config(&config("JPEGQuality", bad), "f").is_err(), "{bad}");
        }
        assert!(JpegQuality::from_format_config(&config("Quality", "5"), "f").is_err());
        assert!(JpegQuality::from_format_config(&BTreeMap::new(), "f").is_err());
        assert!(ImageGenerationConfig::width_pixels(3841, "w").is_err());
        assert!(ImageGenerationConfig::height_pixels(0, "h").is_err());
        assert_eq!(ImageGenerationConfig::height_pixels(2160, "h").unwrap(), 2160);
        for s in [ConfigurationStatus::Enabled, ConfigurationStatus::Disabled] {
            assert_eq!(ConfigurationStatus::parse(s.as_str()), Some(s));
        }
        for s in [ImageSelectorType::ServerTimestamp, ImageSelectorType::ProducerTimestamp] {
            assert_eq!(ImageSelectorType::parse(s.as_str()), Some(s));
        }
        for f in [ImageFormat::Jpeg, ImageFormat::Png] {
            assert_eq!(ImageFormat::parse(f.as_str()), Some(f));
        }
        let e = ImageFormat::parse_member("GIF", "imageGenerationConfiguration.format").unwrap_err();
        assert!(e.0.contains("enum value set: [JPEG, PNG]"), "{e}");
    }
}
