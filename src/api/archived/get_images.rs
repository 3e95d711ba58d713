//! `POST /getImages`: images of a stream at every sampling interval of a time range, one page at a
//! time. Owns the wire side: the input shape and its validation (the botocore model's members,
//! enums and ranges, plus the documented rules: range at most 300 s, SamplingInterval at least
//! 200 ms, JPEGQuality 1..100 (`model::JpegQuality`), WidthPixels/HeightPixels both or neither or
//! width alone), the NextToken's position (written by the one `page_token` codec) and the output
//! (`Images[].TimeStamp` as epoch seconds, `Error` `NO_MEDIA`/`MEDIA_ERROR` or base64
//! `ImageContent`). The images come from `playback::images`; this file must not decode, pick
//! frames or read fragments.
//!
//! Size rule: the model's two doc strings disagree (WidthPixels: either one alone is a validation
//! error; HeightPixels: height alone keeps the aspect ratio). AWS itself answers HeightPixels alone
//! with `InvalidArgumentException` "Height and width for the images need to be provided or none."
//! (boto/boto3#3900), so that is refused here too; WidthPixels alone is accepted and keeps the
//! source aspect ratio (what the project's acceptance checks rely on).

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use super::list_fragments::timestamp_kind;
use crate::api::aws::{AwsError, Call, EpochSeconds, OperationInput, Valid, page_token, timestamp_millis};
use crate::api::streams::StreamRef;
use crate::archive::TimestampKind;
use crate::imaging::ImageFormat;
use crate::model::{ImageGenerationConfig, JpegQuality, ValidationError, check_enum, check_range, required};
use crate::playback::images::{
    DEFAULT_SAMPLING_INTERVAL_MS, ImageContent, ImagesRequest, MAX_PAGE_IMAGES, MAX_RANGE_MS,
    MIN_SAMPLING_INTERVAL_MS, SampledImage,
};

/// `GetImagesInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetImagesInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    image_selector_type: Option<String>,
    start_timestamp: Option<f64>,
    end_timestamp: Option<f64>,
    sampling_interval: Option<i64>,
    format: Option<String>,
    format_config: Option<BTreeMap<String, String>>,
    width_pixels: Option<i64>,
    height_pixels: Option<i64>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

/// The paging position inside a NextToken: the next sample time and the request it belongs to.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Position {
    /// Next sample time, epoch ms.
    t: i64,
    /// `s` (server) or `p` (producer).
    k: char,
    s: i64,
    e: i64,
    i: i64,
}

fn kind_char(kind: TimestampKind) -> char {
    match kind {
        TimestampKind::Server => 's',
        TimestampKind::Producer => 'p',
    }
}

impl GetImagesInput {
    /// Validates everything but the stream into a page request.
    fn request(&self) -> Result<ImagesRequest, AwsError> {
        let kind = timestamp_kind(
            required(self.image_selector_type.as_deref(), "imageSelectorType")?,
            "imageSelectorType",
        )?;
        let ts = |v: Option<f64>, member: &str| timestamp_millis(required(v, member)?, member);
        let start = ts(self.start_timestamp, "startTimestamp")?;
        let end = ts(self.end_timestamp, "endTimestamp")?;
        let format = check_enum("format", required(self.format.as_deref(), "format")?, &["JPEG", "PNG"])?;
        let quality = match &self.format_config {
            None => JpegQuality::DEFAULT,
            Some(config) => JpegQuality::from_format_config(config, "formatConfig")?,
        };
        let width =
            self.width_pixels.map(|w| ImageGenerationConfig::width_pixels(w, "widthPixels")).transpose()?;
        let height = self
            .height_pixels
            .map(|h| ImageGenerationConfig::height_pixels(h, "heightPixels"))
            .transpose()?;
        let max_results = self.max_results.map(|m| check_range("maxResults", m, 1, 100)).transpose()?;
        if let Some(t) = &self.next_token {
            let valid = t.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
            if t.is_empty() || t.len() > page_token::MAX_TOKEN_LEN || !valid {
                return Err(ValidationError::constraint(
                    Some(t),
                    "nextToken",
                    "Member must have length between 1 and 4096 and satisfy regular expression pattern: [a-zA-Z0-9+/]+={0,2}",
                )
                .into());
            }
        }
        if start > end {
            return Err(AwsError::invalid_argument("The StartTimestamp must not be after the EndTimestamp."));
        }
        if end - start > MAX_RANGE_MS {
            return Err(AwsError::invalid_argument(
                "The time range between StartTimestamp and EndTimestamp must not exceed 300 seconds.",
            ));
        }
        let interval = self.sampling_interval.unwrap_or(DEFAULT_SAMPLING_INTERVAL_MS);
        if interval < MIN_SAMPLING_INTERVAL_MS {
            return Err(AwsError::invalid_argument(format!(
                "The SamplingInterval must be at least {MIN_SAMPLING_INTERVAL_MS} milliseconds."
            )));
        }
        if height.is_some() && width.is_none() {
            return Err(AwsError::invalid_argument(
                "Height and width for the images need to be provided or none.",
            ));
        }
        let mut req = ImagesRequest {
            kind,
            start_ms: start,
            end_ms: end,
            sampling_interval_ms: interval,
            format: if format == "PNG" {
                ImageFormat::Png
            } else {
                ImageFormat::Jpeg { quality: quality.get() }
            },
            width,
            height,
            max_results: max_results.unwrap_or(MAX_PAGE_IMAGES as i64) as u32,
            resume_ms: None,
        };
        if let Some(t) = &self.next_token {
            req.resume_ms = Some(resume_point(t, &req)?);
        }
        Ok(req)
    }
}

impl OperationInput for GetImagesInput {
    type Valid = (StreamRef, ImagesRequest);

    fn validate(self) -> Result<Self::Valid, AwsError> {
        let stream = StreamRef::from_input(self.stream_name.as_deref(), self.stream_arn.as_deref())?;
        Ok((stream, self.request()?))
    }
}

fn next_token(next_ms: i64, req: &ImagesRequest) -> String {
    page_token::encode(&Position {
        t: next_ms,
        k: kind_char(req.kind),
        s: req.start_ms,
        e: req.end_ms,
        i: req.sampling_interval_ms,
    })
}

/// The next sample time a NextToken carries, if it belongs to this request.
fn resume_point(token: &str, req: &ImagesRequest) -> Result<i64, AwsError> {
    let p: Position = page_token::decode(token)?;
    let same =
        (p.k, p.s, p.e, p.i) == (kind_char(req.kind), req.start_ms, req.end_ms, req.sampling_interval_ms);
    if !same || p.t < req.start_ms || p.t > req.end_ms {
        return Err(AwsError::invalid_argument("The NextToken is not valid for this request."));
    }
    Ok(p.t)
}

/// `GetImagesOutput`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetImagesOutput {
    images: Vec<Image>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// `Image`: its time and either its content (base64) or why there is none.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Image {
    time_stamp: EpochSeconds,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_content: Option<String>,
}

impl Image {
    fn from_sample(image: &SampledImage) -> Self {
        let (error, image_content) = match &image.content {
            ImageContent::Image(bytes) => (None, Some(STANDARD.encode(bytes))),
            ImageContent::NoMedia => (Some("NO_MEDIA"), None),
            ImageContent::MediaError => (Some("MEDIA_ERROR"), None),
        };
        Self { time_stamp: EpochSeconds(image.timestamp_ms), error, image_content }
    }
}

/// Answers one page of images.
pub async fn handle(
    call: Call,
    Valid((stream, req)): Valid<GetImagesInput>,
) -> Result<GetImagesOutput, AwsError> {
    let stream = call.stream(&stream).await?;
    let page = call.state.playback.images(&stream, &req).await?;
    Ok(GetImagesOutput {
        images: page.images.iter().map(Image::from_sample).collect(),
        next_token: page.next_ms.map(|next| next_token(next, &req)),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::api::aws::AwsErrorCode;

    fn input(v: Value) -> GetImagesInput {
        serde_json::from_value(v).unwrap()
    }

    fn parse_request(input: &GetImagesInput) -> Result<ImagesRequest, AwsError> {
        input.request()
    }

    fn base() -> Value {
        json!({"StreamName": "s", "ImageSelectorType": "PRODUCER_TIMESTAMP", "StartTimestamp": 1000.0,
               "EndTimestamp": 1020.0, "Format": "JPEG"})
    }

    fn with(field: &str, value: Value) -> GetImagesInput {
        let mut v = base();
        if value.is_null() {
            v.as_object_mut().unwrap().remove(field);
        } else {
            v[field] = value;
        }
        input(v)
    }

    #[test]
    fn defaults_and_sizes() {
        let r = parse_request(&input(base())).unwrap();
        assert_eq!(r.format, ImageFormat::Jpeg { quality: 80 });
        assert_eq!((r.start_ms, r.end_ms, r.sampling_interval_ms), (1_000_000, 1_020_000, 3000));
        assert_eq!((r.width, r.height, r.max_results, r.resume_ms), (None, None, 25, None));
        let r = parse_request(&with("WidthPixels", json!(320))).unwrap();
        assert_eq!((r.width, r.height), (Some(320), None));
        let mut v = base();
        v["WidthPixels"] = json!(3840);
        v["HeightPixels"] = json!(2160);
        v["Format"] = json!("PNG");
        v["FormatConfig"] = json!({"JPEGQuality": "100"});
        let r = parse_request(&input(v)).unwrap();
        assert_eq!((r.width, r.height, r.format), (Some(3840), Some(2160), ImageFormat::Png));
    }

    #[test]
    fn every_rule_is_checked() {
        let bad = [
            ("ImageSelectorType", Value::Null),
            ("ImageSelectorType", json!("FRAGMENT")),
            ("StartTimestamp", Value::Null),
            ("EndTimestamp", Value::Null),
            ("EndTimestamp", json!(999.0)),
            ("EndTimestamp", json!(1300.001)),
            ("Format", Value::Null),
            ("Format", json!("GIF")),
            ("FormatConfig", json!({})),
            ("FormatConfig", json!({"Quality": "5"})),
            ("FormatConfig", json!({"JPEGQuality": "0"})),
            ("FormatConfig", json!({"JPEGQuality": "101"})),
            ("FormatConfig", json!({"JPEGQuality": "+5"})),
            ("FormatConfig", json!({"JPEGQuality": "high"})),
            ("WidthPixels", json!(0)),
            ("WidthPixels", json!(3841)),
            ("HeightPixels", json!(100)),
            ("MaxResults", json!(0)),
            ("MaxResults", json!(101)),
            ("SamplingInterval", json!(199)),
            ("NextToken", json!("")),
            ("NextToken", json!("not a token!")),
            ("NextToken", json!("bm9wZQ==")),
        ];
        for (field, value) in bad {
            let e = parse_request(&with(field, value.clone())).unwrap_err();
            assert_eq!(e.code, AwsErrorCode::InvalidArgumentException, "{field} = {value}");
        }
        let mut v = base();
        v["WidthPixels"] = json!(10);
        v["HeightPixels"] = json!(2161);
        assert!(parse_request(&input(v)).is_err());
        assert!(parse_request(&with("EndTimestamp", json!(1300.0))).is_ok(), "exactly 300 s");
        assert!(parse_request(&with("SamplingInterval", json!(200))).is_ok());
    }

    #[test]
    fn tokens_round_trip_and_belong_to_their_request() {
        let r = parse_request(&input(base())).unwrap();
        let token = next_token(1_006_000, &r);
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b)));
        let resumed = parse_request(&with("NextToken", json!(token))).unwrap();
        assert_eq!(resumed.resume_ms, Some(1_006_000));
        let mut other = base();
        other["NextToken"] = json!(token);
        other["SamplingInterval"] = json!(1000);
        assert!(parse_request(&input(other)).is_err(), "token of another request");
    }
}
