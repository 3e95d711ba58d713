//! The one error type at the wire edge and its table of AWS error codes.
//!
//! [`AwsErrorCode`] lists every code this server sends, with its HTTP status in ONE table
//! (`as_str` and `status` both come from it). [`AwsError`] turns into the response AWS clients parse:
//! `x-amzn-ErrorType: <Code>`, a JSON body `{"__type": "<Code>", "message": …, "Message": …}`; the
//! request-id middleware adds `x-amzn-RequestId`. Internal detail never reaches the client: it rides
//! in a response extension that the logging middleware writes to the log, once, inside the request
//! span. This module must not log.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::archive::{CreateStreamError, IndexError, KeyUnavailable};
use crate::media::codec::CodecError;
use crate::model::ValidationError;
use crate::playback::PlaybackError;
use crate::webrtc::WebRtcError;

macro_rules! aws_error_codes {
    ($($variant:ident => $status:literal,)*) => {
        /// Every AWS error code this server sends.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum AwsErrorCode {
            $(
                #[doc = concat!("`", stringify!($variant), "` (HTTP ", stringify!($status), ")")]
                $variant,
            )*
        }

        impl AwsErrorCode {
            /// The code as sent in `x-amzn-ErrorType` and `__type`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(AwsErrorCode::$variant => stringify!($variant),)*
                }
            }

            /// The code named `name`, if this table has it.
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $(stringify!($variant) => Some(AwsErrorCode::$variant),)*
                    _ => None,
                }
            }

            /// The HTTP status AWS sends with this code (botocore model values).
            pub fn status(self) -> StatusCode {
                match self {
                    $(AwsErrorCode::$variant => StatusCode::from_u16($status).expect("valid status"),)*
                }
            }
        }
    };
}

aws_error_codes! {
    // kinesisvideo model errors
    InvalidArgumentException => 400,
    ClientLimitExceededException => 400,
    AccountStreamLimitExceededException => 400,
    AccountChannelLimitExceededException => 400,
    DeviceStreamLimitExceededException => 400,
    InvalidDeviceException => 400,
    InvalidResourceFormatException => 400,
    ResourceInUseException => 400,
    TagsPerResourceExceededLimitException => 400,
    VersionMismatchException => 400,
    NoDataRetentionException => 400,
    NotAuthorizedException => 401,
    AccessDeniedException => 401,
    ResourceNotFoundException => 404,
    StreamEdgeConfigurationNotFoundException => 404,
    // media / archived-media model errors
    ConnectionLimitExceededException => 400,
    InvalidEndpointException => 400,
    UnsupportedStreamMediaTypeException => 400,
    MissingCodecPrivateDataException => 400,
    InvalidCodecPrivateDataException => 400,
    InvalidMediaFrameException => 400,
    // secretsmanager model errors (the JSON 1.1 protocol sends every client error with HTTP 400)
    ResourceExistsException => 400,
    InvalidParameterException => 400,
    InvalidRequestException => 400,
    // generic AWS protocol errors (authentication, serialization, routing, faults)
    SerializationException => 400,
    IncompleteSignatureException => 400,
    MissingAuthenticationTokenException => 403,
    UnrecognizedClientException => 403,
    InvalidSignatureException => 403,
    UnknownOperationException => 404,
    InternalFailure => 500,
    ServiceUnavailable => 503,
}

/// An error on its way to the client.
#[derive(Debug, Clone)]
pub struct AwsError {
    /// The code.
    pub code: AwsErrorCode,
    /// A message safe to show the client.
    pub message: String,
    /// Detail for the server log only.
    pub detail: Option<String>,
}

/// Internal detail of an error response, read by the logging middleware.
#[derive(Debug, Clone)]
pub struct ErrorDetail(pub String);

impl AwsError {
    /// An error with a client-safe message.
    pub fn new(code: AwsErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), detail: None }
    }

    /// Attaches detail for the log.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// `InvalidArgumentException` with a message.
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(AwsErrorCode::InvalidArgumentException, message)
    }

    /// `ResourceNotFoundException` for a stream.
    pub fn stream_not_found() -> Self {
        Self::new(AwsErrorCode::ResourceNotFoundException, "The requested stream is not found or not active.")
    }

    /// `ResourceNotFoundException` for a signaling channel.
    pub fn channel_not_found() -> Self {
        Self::new(AwsErrorCode::ResourceNotFoundException, "The requested signaling channel is not found.")
    }

    /// `InternalFailure`, keeping `detail` for the log.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(AwsErrorCode::InternalFailure, "We encountered an internal error. Please try again.")
            .with_detail(detail)
    }

    /// The JSON body.
    pub fn body(&self) -> String {
        let body = ErrorBody {
            code: self.code.as_str(),
            message: &self.message,
            message_capitalised: &self.message,
        };
        serde_json::to_string(&body).expect("error bodies serialise")
    }
}

/// The body of an error response: `__type` (what the SDKs read after the header) and the message
/// under both spellings clients look for.
#[derive(serde::Serialize)]
struct ErrorBody<'a> {
    #[serde(rename = "__type")]
    code: &'static str,
    message: &'a str,
    #[serde(rename = "Message")]
    message_capitalised: &'a str,
}

impl std::fmt::Display for AwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl IntoResponse for AwsError {
    fn into_response(self) -> Response {
        let mut resp = (self.code.status(), self.body()).into_response();
        let headers = resp.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert("x-amzn-ErrorType", HeaderValue::from_static(self.code.as_str()));
        let detail = match self.detail {
            Some(d) => format!("{}: {} ({d})", self.code.as_str(), self.message),
            None => format!("{}: {}", self.code.as_str(), self.message),
        };
        resp.extensions_mut().insert(ErrorDetail(detail));
        resp
    }
}

impl From<ValidationError> for AwsError {
    fn from(e: ValidationError) -> Self {
        AwsError::invalid_argument(e.0)
    }
}

impl From<IndexError> for AwsError {
    /// The context-free mapping; call sites that know more (a name conflict is
    /// `ResourceInUseException`, a missing stream is `ResourceNotFoundException`) map first.
    fn from(e: IndexError) -> Self {
        match e {
            IndexError::NotFound => AwsError::stream_not_found(),
            IndexError::Conflict { constraint } => {
                AwsError::new(AwsErrorCode::ResourceInUseException, "The resource is in use.")
                    .with_detail(constraint)
            }
            IndexError::VersionMismatch => AwsError::new(
                AwsErrorCode::VersionMismatchException,
                "The stream version you specified is not the latest version.",
            ),
            IndexError::TagLimitExceeded => AwsError::new(
                AwsErrorCode::TagsPerResourceExceededLimitException,
                "The resource can have at most 50 tags.",
            ),
            IndexError::Other(detail) => AwsError::internal(detail),
        }
    }
}

impl From<PlaybackError> for AwsError {
    /// HLS/DASH/GetClip failures. Session resources answer a forged or expired token with
    /// `NotAuthorizedException` (401) and nothing else.
    fn from(e: PlaybackError) -> Self {
        use AwsErrorCode as C;
        match e {
            PlaybackError::InvalidToken => AwsError::new(C::NotAuthorizedException, "The SessionToken is not valid."),
            PlaybackError::ExpiredToken => {
                AwsError::new(C::NotAuthorizedException, "The SessionToken has expired; request a new session URL.")
            }
            PlaybackError::FragmentNotInSession => {
                AwsError::new(C::ResourceNotFoundException, "The requested fragment is not part of this session.")
            }
            PlaybackError::NoSuchTrack(n) => AwsError::invalid_argument(format!("TrackNumber {n} does not exist.")),
            PlaybackError::NoFragments(m) => AwsError::new(C::ResourceNotFoundException, m),
            PlaybackError::NoDataRetention => AwsError::new(
                C::NoDataRetentionException,
                "The stream does not retain data (DataRetentionInHours is 0).",
            ),
            PlaybackError::ClipLimit(m) => AwsError::invalid_argument(m),
            PlaybackError::Codec(CodecError::MissingCodecPrivate) => {
                AwsError::new(C::MissingCodecPrivateDataException, "No codec private data was found in the track.")
            }
            PlaybackError::Codec(CodecError::InvalidCodecPrivate(d)) => {
                AwsError::new(C::InvalidCodecPrivateDataException, "The codec private data is not valid.").with_detail(d)
            }
            PlaybackError::Codec(CodecError::Unsupported(d)) => AwsError::new(
                C::UnsupportedStreamMediaTypeException,
                "The media type is not supported: track 1 must be H.264 or H.265 video (or AAC audio), track 2 AAC.",
            )
            .with_detail(d),
            PlaybackError::Codec(CodecError::InvalidFrame(d)) => {
                AwsError::new(C::InvalidMediaFrameException, "A media frame could not be read.").with_detail(d)
            }
            PlaybackError::KeyUnavailable(k) => AwsError::from(k),
            PlaybackError::Index(e) => AwsError::from(e),
            PlaybackError::Internal(d) => AwsError::internal(d),
        }
    }
}

impl From<KeyUnavailable> for AwsError {
    /// Media whose data key cannot be had (its master key left the keyring): a 401 like KVS's
    /// refusals when its KMS key cannot be used, naming the PutMedia/GetMedia error code. The
    /// keyring id goes to the log only.
    fn from(k: KeyUnavailable) -> Self {
        let code = match k {
            KeyUnavailable::WrongKey { .. } => "KMS_KEY_VALIDATION_ERROR",
            KeyUnavailable::NotInKeyring { .. } | KeyUnavailable::NoSuchVersion { .. } => "KMS_KEY_NOT_FOUND",
        };
        AwsError::new(
            AwsErrorCode::NotAuthorizedException,
            format!(
                "The stream's media cannot be decrypted: the key that encrypts it is not available ({code})."
            ),
        )
        .with_detail(k.to_string())
    }
}

impl From<CreateStreamError> for AwsError {
    /// CreateStream failures: an unknown `KmsKeyId` is `InvalidArgumentException`.
    fn from(e: CreateStreamError) -> Self {
        match e {
            CreateStreamError::UnknownKmsKey(k) => AwsError::invalid_argument(format!(
                "KmsKeyId {:?} is not a key of this server's keyring.",
                k.0
            )),
            CreateStreamError::Index(e) => AwsError::from(e),
        }
    }
}

impl From<WebRtcError> for AwsError {
    /// WHEP and storage-session failures; WHEP resources answer with WHEP's statuses (400 bad
    /// offer, 401 bad token, 404 unknown session, 503 too many sessions).
    fn from(e: WebRtcError) -> Self {
        use AwsErrorCode as C;
        match e {
            WebRtcError::InvalidToken => {
                AwsError::new(C::NotAuthorizedException, "The SessionToken is not valid.")
            }
            WebRtcError::ExpiredToken => {
                AwsError::new(C::NotAuthorizedException, "The SessionToken has expired.")
            }
            WebRtcError::BadOffer(d) => {
                AwsError::invalid_argument("The SDP offer cannot be used.").with_detail(d)
            }
            WebRtcError::SessionNotFound => {
                AwsError::new(C::ResourceNotFoundException, "The WebRTC session does not exist.")
            }
            WebRtcError::TooManySessions => {
                AwsError::new(C::ServiceUnavailable, "Too many WebRTC sessions; try again later.")
            }
            WebRtcError::Unavailable => {
                AwsError::new(C::ServiceUnavailable, "The WebRTC media endpoint is not running.")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_gives_model_statuses() {
        assert_eq!(AwsErrorCode::ResourceNotFoundException.status(), StatusCode::NOT_FOUND);
        assert_eq!(AwsErrorCode::NotAuthorizedException.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(AwsErrorCode::InvalidSignatureException.status(), StatusCode::FORBIDDEN);
        assert_eq!(AwsErrorCode::VersionMismatchException.as_str(), "VersionMismatchException");
    }

    #[test]
    fn response_carries_type_header_and_body() {
        let resp = AwsError::stream_not_found().into_response();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        assert_eq!(resp.headers()["x-amzn-ErrorType"], "ResourceNotFoundException");
        let body = AwsError::stream_not_found().body();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["__type"], "ResourceNotFoundException");
        assert!(v["message"].as_str().unwrap().contains("not found"));
    }
}
