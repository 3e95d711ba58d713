//! `POST /updateImageGenerationConfiguration`: sets the stream's `ImageGenerationConfiguration`,
//! or deletes it when the member is absent or `null` (the model: "If the structure is null, the
//! configuration will be deleted from the stream").
//!
//! Validation follows the botocore model (required members, enums, `DestinationUri` and
//! `DestinationRegion` patterns, `WidthPixels` 1..=3840, `HeightPixels` 1..=2160, a one-entry
//! `FormatConfig` whose only key is `JPEGQuality`) plus its documentation (`SamplingInterval` at
//! least 200 ms, `JPEGQuality` an integer 1..=100 (`model::JpegQuality`), `DestinationRegion`
//! equal to the stream's region); a breach is `InvalidArgumentException`. Setting a configuration on a stream that keeps
//! no data (`DataRetentionInHours` 0) is `NoDataRetentionException`, on a stream that is not
//! ACTIVE `ResourceInUseException`.
//!
//! Destinations (`workers::delivery::ImageDestination`, design/0019-image-delivery.md): images are
//! PUT into the bucket of an `s3://bucket/prefix` URI, as in AWS; openkvs also accepts
//! `file://dir/sub`, a directory under its own image root. Anything else the model's pattern
//! admits, a bucket name S3 refuses, and `.`, `..` or empty path segments are
//! `InvalidArgumentException`: a configuration is only stored when its images can be delivered.
//! This handler only stores the configuration and tells the workers it changed; it generates
//! nothing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, AwsErrorCode, Call, OperationInput, Valid};
use crate::api::streams::StreamRef;
use crate::model::{
    ConfigurationStatus, DestinationUri, ImageFormat, ImageGenerationConfig, ImageSelectorType, JpegQuality,
    Stream, StreamStatus, required,
};
use crate::workers::delivery::ImageDestination;

/// `UpdateImageGenerationConfigurationInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateImageGenerationConfigurationInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    image_generation_configuration: Option<ImageGenerationConfigurationInput>,
}

/// The `ImageGenerationConfiguration` structure as sent.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageGenerationConfigurationInput {
    status: Option<String>,
    image_selector_type: Option<String>,
    destination_config: Option<DestinationConfigInput>,
    sampling_interval: Option<i64>,
    format: Option<String>,
    format_config: Option<BTreeMap<String, String>>,
    width_pixels: Option<i64>,
    height_pixels: Option<i64>,
}

/// The `ImageGenerationDestinationConfig` structure as sent.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DestinationConfigInput {
    uri: Option<String>,
    destination_region: Option<String>,
}

const MEMBER: &str = "imageGenerationConfiguration";

impl ImageGenerationConfigurationInput {
    /// Validates every member (those that need the stream are checked by [`check_for_stream`]).
    fn parse(&self) -> Result<ImageGenerationConfig, AwsError> {
        let m = |name: &str| format!("{MEMBER}.{name}");
        let status =
            ConfigurationStatus::parse_member(required(self.status.as_deref(), &m("status"))?, &m("status"))?;
        let selector = ImageSelectorType::parse_member(
            required(self.image_selector_type.as_deref(), &m("imageSelectorType"))?,
            &m("imageSelectorType"),
        )?;
        let destination = required(self.destination_config.as_ref(), &m("destinationConfig"))?;
        let uri_member = m("destinationConfig.uri");
        let destination_uri =
            DestinationUri::parse_member(required(destination.uri.as_deref(), &uri_member)?, &uri_member)?;
        ImageDestination::parse(destination_uri.as_str()).map_err(AwsError::invalid_argument)?;
        let region_member = m("destinationConfig.destinationRegion");
        let destination_region = ImageGenerationConfig::destination_region(
            required(destination.destination_region.as_deref(), &region_member)?,
            &region_member,
        )?;
        let sampling_interval_ms = ImageGenerationConfig::sampling_interval(
            required(self.sampling_interval, &m("samplingInterval"))?,
            &m("samplingInterval"),
        )?;
        let format =
            ImageFormat::parse_member(required(self.format.as_deref(), &m("format"))?, &m("format"))?;
        let jpeg_quality = self
            .format_config
            .as_ref()
            .map(|c| JpegQuality::from_format_config(c, &m("formatConfig")).map(JpegQuality::get))
            .transpose()?;
        let width = self
            .width_pixels
            .map(|w| ImageGenerationConfig::width_pixels(w, &m("widthPixels")))
            .transpose()?;
        let height = self
            .height_pixels
            .map(|h| ImageGenerationConfig::height_pixels(h, &m("heightPixels")))
            .transpose()?;
        Ok(ImageGenerationConfig {
            status,
            selector,
            destination_uri,
            destination_region,
            sampling_interval_ms,
            format,
            jpeg_quality,
            width,
            height,
        })
    }
}

impl OperationInput for UpdateImageGenerationConfigurationInput {
    /// The stream, and the configuration to set (`None`: delete it).
    type Valid = (StreamRef, Option<ImageGenerationConfig>);

    fn validate(self) -> Result<Self::Valid, AwsError> {
        let stream = StreamRef::from_input(self.stream_name.as_deref(), self.stream_arn.as_deref())?;
        let config = self.image_generation_configuration.as_ref().map(|c| c.parse()).transpose()?;
        Ok((stream, config))
    }
}

/// `UpdateImageGenerationConfigurationOutput` (no members).
#[derive(Debug, Serialize)]
pub struct UpdateImageGenerationConfigurationOutput {}

/// The checks that need the stream: its region, its retention and its status.
fn check_for_stream(config: &ImageGenerationConfig, stream: &Stream) -> Result<(), AwsError> {
    if config.destination_region != stream.arn.region {
        return Err(AwsError::invalid_argument(format!(
            "The DestinationRegion ({}) must match the Region of the stream ({}).",
            config.destination_region, stream.arn.region
        )));
    }
    check_stream_accepts_configuration(stream)
}

/// `NoDataRetentionException` for a stream that keeps no data, `ResourceInUseException` for one
/// that is not ACTIVE (shared with UpdateNotificationConfiguration).
pub(crate) fn check_stream_accepts_configuration(stream: &Stream) -> Result<(), AwsError> {
    if !stream.retention.is_persistent() {
        return Err(AwsError::new(
            AwsErrorCode::NoDataRetentionException,
            "The stream does not retain data (DataRetentionInHours is 0).",
        ));
    }
    if stream.status != StreamStatus::Active {
        return Err(AwsError::new(
            AwsErrorCode::ResourceInUseException,
            format!("The stream is {}, not ACTIVE.", stream.status.as_str()),
        ));
    }
    Ok(())
}

/// Sets or deletes the configuration.
pub async fn handle(
    call: Call,
    Valid((stream, config)): Valid<UpdateImageGenerationConfigurationInput>,
) -> Result<UpdateImageGenerationConfigurationOutput, AwsError> {
    let state = &call.state;
    let stream = call.stream(&stream).await?;
    if let Some(c) = &config {
        check_for_stream(c, &stream)?;
    }
    state.archive.set_image_generation_config(stream.id, config.as_ref(), state.clock.now_millis()).await?;
    state.workers.stream_changed(stream.id);
    Ok(UpdateImageGenerationConfigurationOutput {})
}
