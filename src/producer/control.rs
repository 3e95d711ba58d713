//! The control-plane calls a producer makes before PutMedia, through the official
//! `aws-sdk-kinesisvideo` client and the standard AWS configuration chain (`aws-config`: env
//! `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`, `AWS_PROFILE` and the shared
//! files, SSO, container and instance credentials; `AWS_REGION`; `AWS_ENDPOINT_URL`).
//!
//! The sequence is the C producer's (CLIENTS.md §5): DescribeStream → (404 and `--create`)
//! CreateStream, then DescribeStream until ACTIVE → GetDataEndpoint(PUT_MEDIA).
//!
//! Owns the SDK configuration and AWS error texts of these calls; knows nothing of the body.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_config::environment::region::EnvironmentVariableRegionProvider;
use aws_config::meta::region::RegionProviderChain;
use aws_config::profile::region::ProfileFileRegionProvider;
use aws_sdk_kinesisvideo::Client;
use aws_sdk_kinesisvideo::config::{Credentials, ProvideCredentials, Region};
use aws_sdk_kinesisvideo::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_kinesisvideo::types::{ApiName, Status};

/// Region used with `--endpoint` when the configuration chain names none.
pub const DEFAULT_LOCAL_REGION: &str = "us-east-1";

/// A control-plane call failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation} failed: {code}: {message}")]
pub struct ControlError {
    /// The operation (`DescribeStream`, …) or step (`credentials`).
    pub operation: &'static str,
    /// The AWS error code (`ResourceNotFoundException`, …) or a short description.
    pub code: String,
    /// The message.
    pub message: String,
}

impl ControlError {
    fn from_sdk<E, R>(operation: &'static str, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        match err.as_service_error() {
            Some(service) => ControlError {
                operation,
                code: service.code().unwrap_or("UnknownError").to_owned(),
                message: service.message().unwrap_or("").to_owned(),
            },
            None => ControlError {
                operation,
                code: "request failed".to_owned(),
                message: DisplayErrorContext(&err).to_string(),
            },
        }
    }
}

/// A configured control-plane client, with the region and credentials PutMedia is signed with.
#[derive(Debug, Clone)]
pub struct ControlPlane {
    /// The SDK client.
    pub client: Client,
    /// The region.
    pub region: String,
    /// The credentials the chain resolved.
    pub credentials: Credentials,
}

/// What PutMedia needs about a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedStream {
    /// `DataEndpoint` for PUT_MEDIA.
    pub data_endpoint: String,
    /// `DataRetentionInHours` (0: the stream does not archive; RECEIVED is the last ACK).
    pub retention_hours: i32,
    /// Whether this call created the stream.
    pub created: bool,
}

/// A new HTTP client for the AWS SDK clients (the control plane and the credential chain's STS,
/// SSO and IMDS calls): hyper + rustls with the ring provider, like every other TLS connection of
/// the crate, trusting the system's roots. The SDK's own default client would build aws-lc-sys (a
/// C/CMake library) for a second copy of the same cryptography. Each runtime should build its own
/// (the client's connection pool lives on the runtime that uses it).
pub fn sdk_http_client() -> aws_sdk_kinesisvideo::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https()
}

impl ControlPlane {
    /// Loads the AWS configuration chain. `endpoint` overrides the control-plane URL (like
    /// `AWS_ENDPOINT_URL`); `region` overrides the chain's region. With an endpoint and no region
    /// anywhere, [`DEFAULT_LOCAL_REGION`] is used; without either it is an error.
    ///
    /// With an endpoint the region is looked up in the environment (`AWS_REGION`,
    /// `AWS_DEFAULT_REGION`) and the profile files only, never in the EC2 instance metadata
    /// service: a local endpoint has no instance behind it, and asking IMDS off EC2 costs a timeout
    /// and a long warning per attempt. Credentials keep the whole chain (environment and profile
    /// come first, so IMDS is only asked when neither has a key).
    pub async fn load(endpoint: Option<&str>, region: Option<&str>) -> Result<Self, ControlError> {
        Self::load_as(endpoint, region, None).await
    }

    /// As [`ControlPlane::load`], signing with `credentials` instead of the chain's when given (a
    /// development server's key, known to the caller that started it).
    pub async fn load_as(
        endpoint: Option<&str>,
        region: Option<&str>,
        credentials: Option<Credentials>,
    ) -> Result<Self, ControlError> {
        let mut loader =
            aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(sdk_http_client());
        if let Some(c) = credentials {
            loader = loader.credentials_provider(c);
        }
        if let Some(r) = region {
            loader = loader.region(Region::new(r.to_owned()));
        } else if endpoint.is_some() {
            loader = loader.region(
                RegionProviderChain::first_try(EnvironmentVariableRegionProvider::new())
                    .or_else(ProfileFileRegionProvider::new())
                    .or_else(Region::new(DEFAULT_LOCAL_REGION)),
            );
        }
        if let Some(e) = endpoint {
            loader = loader.endpoint_url(e);
        }
        let sdk: SdkConfig = loader.load().await;
        let region = match (sdk.region(), endpoint) {
            (Some(r), _) => r.to_string(),
            (None, Some(_)) => DEFAULT_LOCAL_REGION.to_owned(),
            (None, None) => {
                return Err(ControlError {
                    operation: "configuration",
                    code: "no region".to_owned(),
                    message: "pass --region or set AWS_REGION".to_owned(),
                });
            }
        };
        let provider = sdk.credentials_provider().ok_or_else(|| ControlError {
            operation: "credentials",
            code: "no credentials provider".to_owned(),
            message: "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE".to_owned(),
        })?;
        let credentials = provider.provide_credentials().await.map_err(|e| ControlError {
            operation: "credentials",
            code: "no credentials".to_owned(),
            message: format!(
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (a development openkvs server \
                 accepts openkvs / openkvs-secret) or AWS_PROFILE; the last provider said: {e}"
            ),
        })?;
        let conf =
            aws_sdk_kinesisvideo::config::Builder::from(&sdk).region(Region::new(region.clone())).build();
        Ok(ControlPlane { client: Client::from_conf(conf), region, credentials })
    }

    /// DescribeStream; with `create = Some(hours)`, CreateStream on ResourceNotFoundException and
    /// wait for ACTIVE; then GetDataEndpoint(PUT_MEDIA).
    pub async fn resolve_for_put(
        &self,
        stream: &str,
        create: Option<i32>,
    ) -> Result<ResolvedStream, ControlError> {
        let mut created = false;
        let mut info = match self.client.describe_stream().stream_name(stream).send().await {
            Ok(out) => out.stream_info,
            Err(e) => {
                let not_found = e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception());
                match create {
                    Some(hours) if not_found => {
                        self.client
                            .create_stream()
                            .stream_name(stream)
                            .data_retention_in_hours(hours)
                            .send()
                            .await
                            .map_err(|e| ControlError::from_sdk("CreateStream", e))?;
                        created = true;
                        None
                    }
                    _ => return Err(ControlError::from_sdk("DescribeStream", e)),
                }
            }
        };
        // A new stream is CREATING for a moment on AWS.
        for _ in 0..60 {
            if info.as_ref().and_then(|i| i.status()) == Some(&Status::Active) {
                break;
            }
            if info.is_some() {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            info = self
                .client
                .describe_stream()
                .stream_name(stream)
                .send()
                .await
                .map_err(|e| ControlError::from_sdk("DescribeStream", e))?
                .stream_info;
        }
        let retention_hours = info.as_ref().and_then(|i| i.data_retention_in_hours()).unwrap_or(0);
        let data_endpoint = self
            .client
            .get_data_endpoint()
            .stream_name(stream)
            .api_name(ApiName::PutMedia)
            .send()
            .await
            .map_err(|e| ControlError::from_sdk("GetDataEndpoint", e))?
            .data_endpoint
            .ok_or_else(|| ControlError {
                operation: "GetDataEndpoint",
                code: "no DataEndpoint".to_owned(),
                message: "the response has no DataEndpoint".to_owned(),
            })?;
        Ok(ResolvedStream { data_endpoint, retention_hours, created })
    }

    /// GetDataEndpoint for `api` (GET_MEDIA, GET_HLS_STREAMING_SESSION_URL, …) of an existing
    /// stream.
    pub async fn data_endpoint(&self, stream: &str, api: ApiName) -> Result<String, ControlError> {
        self.client
            .get_data_endpoint()
            .stream_name(stream)
            .api_name(api)
            .send()
            .await
            .map_err(|e| ControlError::from_sdk("GetDataEndpoint", e))?
            .data_endpoint
            .ok_or_else(|| ControlError {
                operation: "GetDataEndpoint",
                code: "no DataEndpoint".to_owned(),
                message: "the response has no DataEndpoint".to_owned(),
            })
    }
}
