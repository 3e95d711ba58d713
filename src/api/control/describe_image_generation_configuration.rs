//! `POST /describeImageGenerationConfiguration`: the stream's `ImageGenerationConfiguration` as
//! UpdateImageGenerationConfiguration stored it, or `{}` (no member) when none is set.
//! `FormatConfig` appears only when `JPEGQuality` was given, `WidthPixels`/`HeightPixels` only
//! when set. This handler reads; it changes nothing.

use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::api::AppState;
use crate::api::aws::{AwsError, AwsErrorCode, AwsJson, Operation};
use crate::api::streams::{StreamRef, resolve};
use crate::auth::Caller;
use crate::model::ImageGenerationConfig;

/// The operation this file serves.
pub const OPERATION: Operation = Operation::DescribeImageGenerationConfiguration;

/// `DescribeImageGenerationConfiguration` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
}

/// The wire's `ImageGenerationConfiguration` structure.
pub fn configuration_json(c: &ImageGenerationConfig) -> Value {
    let mut out = Map::new();
    out.insert("Status".into(), json!(c.status.as_str()));
    out.insert("ImageSelectorType".into(), json!(c.selector.as_str()));
    out.insert(
        "DestinationConfig".into(),
        json!({ "Uri": c.destination_uri.as_str(), "DestinationRegion": c.destination_region.as_str() }),
    );
    out.insert("SamplingInterval".into(), json!(c.sampling_interval_ms));
    out.insert("Format".into(), json!(c.format.as_str()));
    if let Some(q) = c.jpeg_quality {
        out.insert("FormatConfig".into(), json!({ "JPEGQuality": q.to_string() }));
    }
    if let Some(w) = c.width {
        out.insert("WidthPixels".into(), json!(w));
    }
    if let Some(h) = c.height {
        out.insert("HeightPixels".into(), json!(h));
    }
    Value::Object(out)
}

/// Describes the configuration.
pub async fn handle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AwsJson(input): AwsJson<Input>,
) -> Result<Json<Value>, AwsError> {
    let stream_ref = StreamRef::from_pair(
        input.stream_name.as_deref(),
        input.stream_arn.as_deref(),
        AwsErrorCode::InvalidArgumentException,
    )?;
    let stream = resolve(&state, &caller, OPERATION, &stream_ref).await?;
    Ok(Json(match state.archive.image_generation_config(stream.id).await? {
        Some(c) => json!({ "ImageGenerationConfiguration": configuration_json(&c) }),
        None => json!({}),
    }))
}
