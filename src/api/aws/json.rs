//! JSON in and out the way restJson1 clients expect.
//!
//! [`parse_json_body`] reads a request body into a typed input struct: an empty body counts as
//! `{}` (the SDKs send `{}` for inputs without members, the C producer pretty-prints with tabs),
//! and a body that is not JSON of the right shape becomes `SerializationException`. Input structs
//! keep required members as `Option` and check them when validated, so a missing member is
//! `InvalidArgumentException` with AWS's wording. [`EpochSeconds`] writes timestamps as JSON
//! numbers (never strings: aws-sdk-rust only parses numbers) and [`timestamp_millis`] reads them.
//! [`AwsJson`] is the same reading as an axum extractor, for the console's own endpoints. Nothing
//! here knows about streams.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;
use serde::{Serialize, Serializer};

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

/// A `Timestamp` member of an output: epoch milliseconds, written as the JSON number of epoch
/// seconds AWS sends (millisecond precision, always with a fraction: `1700000000.0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochSeconds(pub i64);

impl Serialize for EpochSeconds {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let secs = self.0.div_euclid(1000);
        let frac = self.0.rem_euclid(1000);
        serializer.serialize_f64(secs as f64 + frac as f64 / 1000.0)
    }
}

/// A `Timestamp` member of an input (a JSON number of epoch seconds, integer or fractional) as
/// epoch milliseconds; `member` names it in the error.
pub fn timestamp_millis(secs: f64, member: &str) -> Result<i64, AwsError> {
    let ms = (secs * 1000.0).round();
    if !ms.is_finite() || ms.abs() > 1e17 {
        return Err(AwsError::invalid_argument(format!("{member} is not a valid timestamp.")));
    }
    Ok(ms as i64)
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
        let json = |ms| serde_json::to_string(&EpochSeconds(ms)).unwrap();
        assert_eq!(json(1_700_000_000_123), "1700000000.123");
        assert_eq!(json(1_700_000_000_000), "1700000000.0");
        assert_eq!(timestamp_millis(1_795_510_516.766_225_5, "t").unwrap(), 1_795_510_516_766);
        assert!(timestamp_millis(1e300, "t").is_err());
    }
}
