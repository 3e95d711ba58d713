//! SigV4 for PutMedia, signed the way the KVS C producer signs it: service `kinesisvideo`, payload
//! hash = SHA-256 of the empty string (the body is streamed and never hashed), every header the
//! request sends in `SignedHeaders` except `authorization`, `content-type`, `content-length` and
//! `x-amz-security-token` (the token is sent but not signed).
//!
//! aws-sigv4 leaves `user-agent` and `transfer-encoding` out by default; this module overrides that
//! list so the signed set is exactly the C producer's
//! (`connection;host;transfer-encoding;user-agent;x-amz-date;x-amzn-…`). Pure: no I/O; the caller
//! passes the time.

use std::borrow::Cow;
use std::time::SystemTime;

use aws_sdk_kinesisvideo::config::Credentials;
use aws_sigv4::http_request::{
    SessionTokenMode, SignableBody, SignableRequest, SigningSettings, sign as sigv4_sign,
};
use aws_sigv4::sign::v4;

/// Hex SHA-256 of the empty string: the payload hash of every PutMedia request.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The SigV4 service name of every KVS API.
pub const SERVICE: &str = "kinesisvideo";

/// Signing failed (malformed header value or URL).
#[derive(Debug, thiserror::Error)]
#[error("cannot sign the PutMedia request: {0}")]
pub struct SignError(String);

/// Signs a PutMedia request. `headers` are every header the request will send (lower-case names),
/// `host` included; returns the headers to add: `authorization`, `x-amz-date` and, with temporary
/// credentials, `x-amz-security-token`.
pub fn sign_put_media(
    url: &str,
    headers: &[(&str, &str)],
    credentials: &Credentials,
    region: &str,
    time: SystemTime,
) -> Result<Vec<(String, String)>, SignError> {
    let identity = credentials.clone().into();
    let mut settings = SigningSettings::default();
    settings.excluded_headers = Some(vec![
        Cow::Borrowed("authorization"),
        Cow::Borrowed("content-type"),
        Cow::Borrowed("content-length"),
    ]);
    settings.session_token_mode = SessionTokenMode::Exclude;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SERVICE)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| SignError(e.to_string()))?
        .into();
    let signable = SignableRequest::new(
        "POST",
        url,
        headers.iter().copied(),
        SignableBody::Precomputed(EMPTY_SHA256.to_owned()),
    )
    .map_err(|e| SignError(e.to_string()))?;
    let (instructions, _signature) =
        sigv4_sign(signable, &params).map_err(|e| SignError(e.to_string()))?.into_parts();
    Ok(instructions.headers().map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
}

/// Signs a POST whose JSON body is sent whole (GetMedia, GetHLSStreamingSessionURL): payload
/// hash = SHA-256 of `body`, aws-sigv4's default signed-header set. `headers` are every header the
/// request will send (lower-case names), `host` included; returns the headers to add.
pub fn sign_json_post(
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    credentials: &Credentials,
    region: &str,
    time: SystemTime,
) -> Result<Vec<(String, String)>, SignError> {
    sign_json_post_for(SERVICE, url, headers, body, credentials, region, time)
}

/// [`sign_json_post`] for another signing service (`secretsmanager` for the edge agent's
/// GetSecretValue).
pub fn sign_json_post_for(
    service: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    credentials: &Credentials,
    region: &str,
    time: SystemTime,
) -> Result<Vec<(String, String)>, SignError> {
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| SignError(e.to_string()))?
        .into();
    let signable = SignableRequest::new("POST", url, headers.iter().copied(), SignableBody::Bytes(body))
        .map_err(|e| SignError(e.to_string()))?;
    let (instructions, _signature) =
        sigv4_sign(signable, &params).map_err(|e| SignError(e.to_string()))?.into_parts();
    Ok(instructions.headers().map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header<'a>(out: &'a [(String, String)], name: &str) -> Option<&'a str> {
        out.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    #[test]
    fn signs_the_c_producer_header_set() {
        let creds = Credentials::new("AKID", "secret", Some("token".into()), None, "test");
        let headers = [
            ("host", "127.0.0.1:4567"),
            ("user-agent", "openkvs"),
            ("x-amzn-stream-name", "s1"),
            ("x-amzn-producer-start-timestamp", "1700000000.000"),
            ("x-amzn-fragment-acknowledgment-required", "1"),
            ("x-amzn-fragment-timecode-type", "ABSOLUTE"),
            ("transfer-encoding", "chunked"),
            ("connection", "keep-alive"),
            ("content-type", "application/json"),
        ];
        let time = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let out =
            sign_put_media("http://127.0.0.1:4567/putMedia", &headers, &creds, "us-east-1", time).unwrap();
        let auth = header(&out, "authorization").unwrap();
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKID/20231114/us-east-1/kinesisvideo/aws4_request")
        );
        assert!(
            auth.contains(
                "SignedHeaders=connection;host;transfer-encoding;user-agent;x-amz-date;\
                 x-amzn-fragment-acknowledgment-required;x-amzn-fragment-timecode-type;\
                 x-amzn-producer-start-timestamp;x-amzn-stream-name,"
            ),
            "{auth}"
        );
        assert_eq!(header(&out, "x-amz-date"), Some("20231114T221320Z"));
        assert_eq!(header(&out, "x-amz-security-token"), Some("token"));
    }
}
