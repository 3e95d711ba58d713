//! One webhook delivery: POST the JSON batch with an HMAC signature, retrying non-2xx answers and
//! connection failures with exponential backoff.
//!
//! Headers: `X-Openkvs-Timestamp: <unix seconds>` and
//! `X-Openkvs-Signature: v1=<hex HMAC-SHA256(key, "<timestamp>.<body>")>`, so a receiver can check
//! both the sender and freshness (reject old timestamps against replays). Only HTTP through
//! [`crate::outbound`].

use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::clock::Clock;

/// The signature header's value for a body sent at `timestamp`.
pub fn signature(key: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Delivers `body` to `url`; returns whether a 2xx answer was received within `attempts`.
pub async fn deliver(
    url: &str,
    body: Bytes,
    key: &[u8],
    clock: &dyn Clock,
    attempts: u32,
    first_backoff: Duration,
    timeout: Duration,
) -> bool {
    let mut backoff = first_backoff;
    for attempt in 1..=attempts {
        let ts = clock.now_secs();
        let headers = [
            ("x-openkvs-timestamp", ts.to_string()),
            ("x-openkvs-signature", signature(key, ts, &body)),
            ("x-openkvs-delivery-attempt", attempt.to_string()),
        ];
        match crate::outbound::post(url, "application/json", &headers, body.clone(), timeout).await {
            Ok(status) if (200..300).contains(&status) => return true,
            Ok(status) => tracing::debug!(url, attempt, status, "webhook answered non-2xx"),
            Err(e) => tracing::debug!(url, attempt, "webhook failed: {e}"),
        }
        if attempt < attempts {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(60));
        }
    }
    tracing::warn!(url, attempts, "webhook delivery abandoned");
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_covers_timestamp_and_body() {
        let a = signature(b"k", 1, b"{}");
        assert!(a.starts_with("v1=") && a.len() == 3 + 64);
        assert_ne!(a, signature(b"k", 2, b"{}"));
        assert_ne!(a, signature(b"k", 1, b"{ }"));
        assert_ne!(a, signature(b"j", 1, b"{}"));
    }
}
