//! `POST /getImages`: images of a stream at every sampling interval of a time range, one page at a
//! time. Owns the wire side: the input shape and its validation (the botocore model's members,
//! enums and ranges, plus the documented rules: range at most 300 s, SamplingInterval at least
//! 200 ms, JPEGQuality 1..100, WidthPixels/HeightPixels both or neither or width alone), the
//! NextToken encoding and the output JSON (`Images[].TimeStamp` as epoch seconds, `Error`
//! `NO_MEDIA`/`MEDIA_ERROR` or base64 `ImageContent`). The images come from
//! `playback::images`; this file must not decode, pick frames or read fragments.
//!
//! Size rule: the model's two doc strings disagree (WidthPixels: either one alone is a validation
//! error; HeightPixels: height alone keeps the aspect ratio). AWS itself answers HeightPixels alone
//! with `InvalidArgumentException` "Height and width for the images need to be provided or none."
//! (boto/boto3#3900), so that is refused here too; WidthPixels alone is accepted and keeps the
//! source aspect ratio (what the project's acceptance checks rely on).

use std::collections::HashMap;

use axum::extract::State;
use axum::{Extension, Json};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::api::AppState;
use crate::api::aws::{
    AwsError, AwsErrorCode, AwsJson, Operation, epoch_seconds, millis_from_epoch_seconds, required,
};
use crate::api::streams::{StreamRef, resolve};
use crate::archive::TimestampKind;
use crate::auth::Caller;
use crate::imaging::{DEFAULT_JPEG_QUALITY, ImageFormat};
use crate::playback::images::{
    DEFAULT_SAMPLING_INTERVAL_MS, ImageContent, ImagesRequest, MAX_PAGE_IMAGES, MAX_RANGE_MS,
    MIN_SAMPLING_INTERVAL_MS,
};

/// The operation this file serves.
pub const OPERATION: Operation = Operation::GetImages;

/// `GetImages` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    image_selector_type: Option<String>,
    start_timestamp: Option<f64>,
    end_timestamp: Option<f64>,
    sampling_interval: Option<i64>,
    format: Option<String>,
    format_config: Option<HashMap<String, String>>,
    width_pixels: Option<i64>,
    height_pixels: Option<i64>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

/// The paging state inside a NextToken: the next sample time and the request it belongs to.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Token {
    /// Next sample time, epoch ms.
    t: i64,
    /// `s` (server) or `p` (producer).
    k: char,
    s: i64,
    e: i64,
    i: i64,
}

fn constraint(value: impl std::fmt::Display, member: &str, rule: &str) -> AwsError {
    AwsError::invalid_argument(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {rule}"
    ))
}

fn in_range(value: Option<i64>, member: &str, min: i64, max: i64) -> Result<Option<i64>, AwsError> {
    match value {
        Some(v) if !(min..=max).contains(&v) => {
            Err(constraint(v, member, &format!("Member must have value between {min} and {max}")))
        }
        v => Ok(v),
    }
}

fn kind_char(kind: TimestampKind) -> char {
    match kind {
        TimestampKind::Server => 's',
        TimestampKind::Producer => 'p',
    }
}

/// Validates the input into a page request (everything but the stream).
fn parse_request(input: &Input) -> Result<ImagesRequest, AwsError> {
    let kind = match required(input.image_selector_type.as_deref(), "imageSelectorType")? {
        "PRODUCER_TIMESTAMP" => TimestampKind::Producer,
        "SERVER_TIMESTAMP" => TimestampKind::Server,
        other => {
            return Err(constraint(
                other,
                "imageSelectorType",
                "Member must satisfy enum value set: [PRODUCER_TIMESTAMP, SERVER_TIMESTAMP]",
            ));
        }
    };
    let ts = |v: Option<f64>, member: &str| -> Result<i64, AwsError> {
        millis_from_epoch_seconds(required(v, member)?)
            .ok_or_else(|| AwsError::invalid_argument(format!("{member} is not a valid timestamp.")))
    };
    let start = ts(input.start_timestamp, "startTimestamp")?;
    let end = ts(input.end_timestamp, "endTimestamp")?;
    let format = required(input.format.as_deref(), "format")?;
    if !matches!(format, "JPEG" | "PNG") {
        return Err(constraint(format, "format", "Member must satisfy enum value set: [JPEG, PNG]"));
    }
    let quality = match &input.format_config {
        None => DEFAULT_JPEG_QUALITY,
        Some(config) => jpeg_quality(config)?,
    };
    let width = in_range(input.width_pixels, "widthPixels", 1, 3840)?;
    let height = in_range(input.height_pixels, "heightPixels", 1, 2160)?;
    let max_results = in_range(input.max_results, "maxResults", 1, 100)?.unwrap_or(MAX_PAGE_IMAGES as i64);
    if let Some(t) = &input.next_token {
        let valid = t.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
        if t.is_empty() || t.len() > 4096 || !valid {
            return Err(constraint(
                t,
                "nextToken",
                "Member must have length between 1 and 4096 and satisfy regular expression pattern: [a-zA-Z0-9+/]+={0,2}",
            ));
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
    let interval = input.sampling_interval.unwrap_or(DEFAULT_SAMPLING_INTERVAL_MS);
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
        format: if format == "PNG" { ImageFormat::Png } else { ImageFormat::Jpeg { quality } },
        width: width.map(|w| w as u32),
        height: height.map(|h| h as u32),
        max_results: max_results as u32,
        resume_ms: None,
    };
    if let Some(t) = &input.next_token {
        req.resume_ms = Some(decode_token(t, &req)?);
    }
    Ok(req)
}

/// `FormatConfig`: exactly one entry, `JPEGQuality`, an integer 1..100 (given as a string).
fn jpeg_quality(config: &HashMap<String, String>) -> Result<u8, AwsError> {
    if config.len() != 1 {
        return Err(constraint(
            format!("{config:?}"),
            "formatConfig",
            "Member must have length less than or equal to 1 and greater than or equal to 1",
        ));
    }
    let (key, value) = config.iter().next().expect("one entry");
    if key != "JPEGQuality" {
        return Err(constraint(key, "formatConfig", "Map keys must satisfy enum value set: [JPEGQuality]"));
    }
    match value.parse::<u8>() {
        Ok(q) if (1..=100).contains(&q) && value.bytes().all(|b| b.is_ascii_digit()) => Ok(q),
        _ => Err(AwsError::invalid_argument(format!(
            "The JPEGQuality value '{value}' is not valid: it must be an integer from 1 to 100."
        ))),
    }
}

fn encode_token(next_ms: i64, req: &ImagesRequest) -> String {
    let token = Token {
        t: next_ms,
        k: kind_char(req.kind),
        s: req.start_ms,
        e: req.end_ms,
        i: req.sampling_interval_ms,
    };
    STANDARD.encode(serde_json::to_vec(&token).unwrap_or_default())
}

/// The next sample time a NextToken carries, if it belongs to this request.
fn decode_token(s: &str, req: &ImagesRequest) -> Result<i64, AwsError> {
    let bad = || AwsError::invalid_argument("The NextToken is not valid for this request.");
    let raw = STANDARD.decode(s).map_err(|_| bad())?;
    let t: Token = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let same =
        (t.k, t.s, t.e, t.i) == (kind_char(req.kind), req.start_ms, req.end_ms, req.sampling_interval_ms);
    if !same || t.t < req.start_ms || t.t > req.end_ms {
        return Err(bad());
    }
    Ok(t.t)
}

/// Answers one page of images.
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
    let req = parse_request(&input)?;
    let stream = resolve(&state, &caller, OPERATION, &stream_ref).await?;
    let page = state.playback.images(&stream, &req).await?;
    let images: Vec<Value> = page
        .images
        .iter()
        .map(|image| {
            let time = epoch_seconds(image.timestamp_ms);
            match &image.content {
                ImageContent::Image(bytes) => {
                    json!({"TimeStamp": time, "ImageContent": STANDARD.encode(bytes)})
                }
                ImageContent::NoMedia => json!({"TimeStamp": time, "Error": "NO_MEDIA"}),
                ImageContent::MediaError => json!({"TimeStamp": time, "Error": "MEDIA_ERROR"}),
            }
        })
        .collect();
    let mut out = json!({ "Images": images });
    if let Some(next) = page.next_ms {
        out["NextToken"] = Value::String(encode_token(next, &req));
    }
    Ok(Json(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(v: Value) -> Input {
        serde_json::from_value(v).unwrap()
    }

    fn base() -> Value {
        json!({"StreamName": "s", "ImageSelectorType": "PRODUCER_TIMESTAMP", "StartTimestamp": 1000.0,
               "EndTimestamp": 1020.0, "Format": "JPEG"})
    }

    fn with(field: &str, value: Value) -> Input {
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
        let token = encode_token(1_006_000, &r);
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b)));
        let resumed = parse_request(&with("NextToken", json!(token))).unwrap();
        assert_eq!(resumed.resume_ms, Some(1_006_000));
        let mut other = base();
        other["NextToken"] = json!(token);
        other["SamplingInterval"] = json!(1000);
        assert!(parse_request(&input(other)).is_err(), "token of another request");
    }
}
