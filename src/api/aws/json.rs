//! JSON in and out the way restJson1 clients expect.
//!
//! [`AwsJson`] extracts a request body into a typed input struct: an empty body counts as `{}`
//! (the SDKs send `{}` for inputs without members, the C producer pretty-prints with tabs), and a
//! body that is not JSON of the right shape becomes `SerializationException`. Input structs keep
//! required members as `Option` and check them with [`required`], so a missing member is
//! `InvalidArgumentException` with AWS's wording. [`epoch_seconds`] writes timestamps as JSON numbers
//! (never strings: aws-sdk-rust only parses numbers). Nothing here knows about streams.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use super::{AwsError, AwsErrorCode};

/// Largest JSON request body accepted (the largest KVS input, a 1000-fragment list, is ~60 KiB).
pub const MAX_JSON_BODY: usize = 1024 * 1024;

/// A JSON request body parsed into `T`.
#[derive(Debug, Clone)]
pub struct AwsJson<T>(pub T);

impl<S, T> FromRequest<S> for AwsJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AwsError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AwsError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            AwsError::new(AwsErrorCode::SerializationException, "The request body could not be read.")
                .with_detail(e.to_string())
        })?;
        parse_json_body(&bytes).map(AwsJson)
    }
}

/// Parses a JSON body (empty = `{}`) into `T`.
pub fn parse_json_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AwsError> {
    let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { bytes };
    serde_json::from_slice(text).map_err(|e| {
        AwsError::new(AwsErrorCode::SerializationException, format!("Could not parse the request body: {e}"))
    })
}

/// Returns a required member or the AWS "must not be null" validation error.
pub fn required<T>(value: Option<T>, member: &str) -> Result<T, AwsError> {
    value.ok_or_else(|| {
        AwsError::invalid_argument(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

/// Epoch milliseconds as the JSON number of epoch seconds AWS sends (millisecond precision).
pub fn epoch_seconds(millis: i64) -> serde_json::Value {
    let secs = millis.div_euclid(1000);
    let frac = millis.rem_euclid(1000);
    let v = secs as f64 + frac as f64 / 1000.0;
    serde_json::Number::from_f64(v).map(serde_json::Value::Number).unwrap_or(serde_json::Value::Null)
}

/// A timestamp member of a typed output: epoch milliseconds written as [`epoch_seconds`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochSeconds(pub i64);

impl serde::Serialize for EpochSeconds {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        epoch_seconds(self.0).serialize(s)
    }
}

/// A JSON number of epoch seconds (integer or fractional) as epoch milliseconds.
pub fn millis_from_epoch_seconds(secs: f64) -> Option<i64> {
    if !secs.is_finite() {
        return None;
    }
    let ms = (secs * 1000.0).round();
    if ms.abs() > 1e17 { None } else { Some(ms as i64) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(rename_all = "PascalCase")]
    struct In {
        stream_name: Option<String>,
    }

    #[test]
    fn empty_and_pretty_bodies_parse() {
        let a: In = parse_json_body(b"").unwrap();
        assert!(a.stream_name.is_none());
        let b: In = parse_json_body(b"{\n\t\"StreamName\": \"x\"\n}").unwrap();
        assert_eq!(b.stream_name.as_deref(), Some("x"));
        let e = parse_json_body::<In>(b"{not json").unwrap_err();
        assert_eq!(e.code, AwsErrorCode::SerializationException);
        let e = parse_json_body::<In>(b"{\"StreamName\": 5}").unwrap_err();
        assert_eq!(e.code, AwsErrorCode::SerializationException);
    }

    #[test]
    fn timestamps_are_numbers() {
        assert_eq!(epoch_seconds(1_700_000_000_123).to_string(), "1700000000.123");
        assert_eq!(epoch_seconds(1_700_000_000_000).to_string(), "1700000000.0");
        assert_eq!(millis_from_epoch_seconds(1_795_510_516.766_225_5), Some(1_795_510_516_766));
    }
}
