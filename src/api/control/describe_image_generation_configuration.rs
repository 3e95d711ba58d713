//! `POST /describeImageGenerationConfiguration`: the stream's `ImageGenerationConfiguration` as
//! UpdateImageGenerationConfiguration stored it, or `{}` (no member) when none is set.
//! `FormatConfig` appears only when `JPEGQuality` was given, `WidthPixels`/`HeightPixels` only
//! when set. This handler reads; it changes nothing.

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, Call, OperationInput, Valid};
use crate::api::streams::StreamRef;
use crate::model::ImageGenerationConfig;

/// `DescribeImageGenerationConfigurationInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeImageGenerationConfigurationInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
}

impl OperationInput for DescribeImageGenerationConfigurationInput {
    type Valid = StreamRef;

    fn validate(self) -> Result<StreamRef, AwsError> {
        StreamRef::from_input(self.stream_name.as_deref(), self.stream_arn.as_deref())
    }
}

/// `DescribeImageGenerationConfigurationOutput`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeImageGenerationConfigurationOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    image_generation_configuration: Option<ImageGenerationConfiguration>,
}

/// `ImageGenerationConfiguration` as outputs carry it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageGenerationConfiguration {
    status: &'static str,
    image_selector_type: &'static str,
    destination_config: ImageGenerationDestinationConfig,
    sampling_interval: u32,
    format: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    format_config: Option<FormatConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    width_pixels: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    height_pixels: Option<u32>,
}

/// `ImageGenerationDestinationConfig`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct ImageGenerationDestinationConfig {
    uri: String,
    destination_region: String,
}

/// `FormatConfig`: the one key the model allows, its value a string.
#[derive(Debug, Serialize)]
struct FormatConfig {
    #[serde(rename = "JPEGQuality")]
    jpeg_quality: String,
}

impl ImageGenerationConfiguration {
    /// Shapes a stored configuration for the wire.
    pub fn from_config(c: &ImageGenerationConfig) -> Self {
        Self {
            status: c.status.as_str(),
            image_selector_type: c.selector.as_str(),
            destination_config: ImageGenerationDestinationConfig {
                uri: c.destination_uri.as_str().to_owned(),
                destination_region: c.destination_region.as_str().to_owned(),
            },
            sampling_interval: c.sampling_interval_ms,
            format: c.format.as_str(),
            format_config: c.jpeg_quality.map(|q| FormatConfig { jpeg_quality: q.to_string() }),
            width_pixels: c.width,
            height_pixels: c.height,
        }
    }
}

/// Describes the configuration.
pub async fn handle(
    call: Call,
    Valid(stream): Valid<DescribeImageGenerationConfigurationInput>,
) -> Result<DescribeImageGenerationConfigurationOutput, AwsError> {
    let state = &call.state;
    let stream = call.stream(&stream).await?;
    let config = state.archive.image_generation_config(stream.id).await?;
    Ok(DescribeImageGenerationConfigurationOutput {
        image_generation_configuration: config.as_ref().map(ImageGenerationConfiguration::from_config),
    })
}
