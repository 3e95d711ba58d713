//! Building an S3 client (Apache Arrow's `object_store`) for one bucket from connection settings:
//! endpoint (plain HTTP and path-style requests for `http://` endpoints such as SeaweedFS or MinIO),
//! region, static credentials or the standard AWS environment chain, timeouts and the retry
//! policy. The fragment store (`archive::store::s3`) and the image delivery
//! (`workers::delivery::s3`) both build their clients here, each with its own retry policy.
//!
//! Owns no state and makes no request; it knows nothing of fragments, images or keys.

use std::time::Duration;

use object_store::RetryConfig;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::{BackoffConfig, ClientOptions};

/// Where and how to reach an S3 API.
#[derive(Debug, Clone, Copy)]
pub struct S3Connection<'a> {
    /// Endpoint URL; `None` is AWS S3 itself.
    pub endpoint: Option<&'a str>,
    /// Signing region.
    pub region: &'a str,
    /// Static credentials; `None` takes the standard AWS environment chain.
    pub credentials: Option<(&'a str, &'a str)>,
    /// Per-request timeout (the connect timeout is this, at most 3 s).
    pub request_timeout: Duration,
}

/// How the client itself retries a failed request.
#[derive(Debug, Clone, Copy)]
pub enum S3Retry {
    /// No retry: the caller retries (and counts) itself.
    Never,
    /// Exponential backoff from 50 ms up to 1 s, for at most this long.
    For(Duration),
}

/// A client for one bucket. Installs ring as the process's rustls provider (reqwest's rustls has
/// no built-in provider here: no aws-lc, no OpenSSL).
pub fn client(
    connection: S3Connection<'_>,
    bucket: &str,
    retry: S3Retry,
) -> Result<AmazonS3, object_store::Error> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let timeout = connection.request_timeout;
    let retry = match retry {
        S3Retry::Never => {
            RetryConfig { backoff: BackoffConfig::default(), max_retries: 0, retry_timeout: timeout }
        }
        S3Retry::For(bound) => RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(50),
                max_backoff: Duration::from_secs(1),
                base: 2.0,
            },
            max_retries: 10,
            retry_timeout: bound,
        },
    };
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_region(connection.region)
        .with_retry(retry)
        .with_client_options(
            ClientOptions::new()
                .with_timeout(timeout)
                .with_connect_timeout(timeout.min(Duration::from_secs(3)))
                .with_pool_idle_timeout(Duration::from_secs(30)),
        );
    if let Some(endpoint) = connection.endpoint {
        builder = builder
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"))
            .with_virtual_hosted_style_request(false);
    }
    if let Some((id, secret)) = connection.credentials {
        builder = builder.with_access_key_id(id).with_secret_access_key(secret);
    }
    builder.build()
}
