//! The generic layer between the route table and the typed operation handlers.
//!
//! Every operation is one file with an input struct and an output struct whose serde names are
//! the botocore member names, and a handler
//! `async fn handle(call: Call, Valid(req): Valid<XInput>) -> Result<XOutput, AwsError>`.
//! [`route`] wraps such a handler for the router: it reads the input ([`OperationInput::from_request`]:
//! the JSON body, or PutMedia's headers), validates it ([`OperationInput::validate`], pure: no
//! I/O, so the fuzz targets run it for every operation through [`check_input`]), calls the
//! handler and turns its output into the response ([`OperationOutput`]: JSON for structs, the
//! blob for media payloads). Errors are [`AwsError`]s, answered by their own `IntoResponse`.
//!
//! [`Call`] is what a handler gets besides its input: the state, the authenticated caller, the
//! operation (resolved once by the request context) and where the request came in. Nothing here
//! knows any particular operation.

use std::future::Future;
use std::net::SocketAddr;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{AwsError, AwsErrorCode, parse_json_body};
use crate::api::channels::{ChannelRef, resolve_channel};
use crate::api::streams::{StreamRef, resolve};
use crate::api::{AppState, ListenerInfo, Operation, RemoteAddr, public_base_url};
use crate::auth::Caller;
use crate::model::{SignalingChannel, Stream};

/// An operation's input shape: deserialised from the request, then validated.
pub trait OperationInput: DeserializeOwned + Send + Sized + 'static {
    /// What validation yields: the request in domain types, ready for the handler.
    type Valid: Send + 'static;

    /// Checks every rule that needs nothing but the input (the model's required members, enums,
    /// ranges and patterns, and the documented cross-member rules), in the order AWS reports them.
    /// Rules that need the stream or the index are the handler's.
    fn validate(self) -> Result<Self::Valid, AwsError>;

    /// Reads the input from the request: by default the JSON body (empty = `{}`; a body that is
    /// not JSON of this shape is `SerializationException`).
    fn from_request(req: Request) -> impl Future<Output = Result<Self, AwsError>> + Send {
        async move {
            let bytes = Bytes::from_request(req, &()).await.map_err(|e| {
                AwsError::new(AwsErrorCode::SerializationException, "The request body could not be read.")
                    .with_detail(e.to_string())
            })?;
            parse_json_body(&bytes)
        }
    }
}

/// A validated input: the handler's proof that [`OperationInput::validate`] ran.
#[derive(Debug)]
pub struct Valid<I: OperationInput>(pub I::Valid);

/// An operation's output shape.
pub trait OperationOutput {
    /// The response.
    fn into_response(self) -> Response;
}

/// Structured outputs are JSON bodies (`application/json`), members named by serde.
impl<T: Serialize> OperationOutput for T {
    fn into_response(self) -> Response {
        Json(self).into_response()
    }
}

/// A blob output: the model's `ContentType` header and `Payload` body (GetMedia,
/// GetMediaForFragmentList, GetClip), or PutMedia's stream of ACK lines. Streamed as produced.
#[derive(Debug)]
pub struct PayloadOutput {
    /// `Content-Type`.
    pub content_type: &'static str,
    /// `Content-Length`, when known before the body is sent.
    pub content_length: Option<u64>,
    /// The body.
    pub payload: Body,
}

impl OperationOutput for PayloadOutput {
    fn into_response(self) -> Response {
        let mut resp = Response::new(self.payload);
        *resp.status_mut() = StatusCode::OK;
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        if let Some(len) = self.content_length {
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        }
        resp
    }
}

/// One call of an operation: what its handler gets besides the input.
#[derive(Debug, Clone)]
pub struct Call {
    /// The server's state.
    pub state: AppState,
    /// Who signed the request (or whose console session it is), with the key's policy.
    pub caller: Caller,
    /// The operation, as the request context resolved it.
    pub operation: Operation,
    /// The listener the request came in on.
    listener: Option<ListenerInfo>,
    /// The `Host` header.
    host: Option<String>,
    /// The client's address.
    pub remote: Option<SocketAddr>,
}

impl FromRequestParts<AppState> for Call {
    type Rejection = AwsError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AwsError> {
        // The authentication layer inserts the caller of every operation request; without one the
        // request did not pass it, and is refused rather than served.
        let caller = parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| AwsError::internal("an operation handler was reached without a caller"))?;
        let operation =
            parts.extensions.get::<Operation>().copied().ok_or_else(|| {
                AwsError::internal("an operation handler was reached without its operation")
            })?;
        Ok(Self {
            state: state.clone(),
            caller,
            operation,
            listener: parts.extensions.get::<ListenerInfo>().cloned(),
            host: parts.headers.get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_owned),
            remote: parts.extensions.get::<RemoteAddr>().map(|r| r.0),
        })
    }
}

impl Call {
    /// The listener the request came in on.
    pub fn listener(&self) -> Result<&ListenerInfo, AwsError> {
        self.listener.as_ref().ok_or_else(|| AwsError::internal("the request carries no listener"))
    }

    /// The `Host` header the client sent.
    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    /// The base URL clients should use for data endpoints and session URLs
    /// ([`public_base_url`]).
    pub fn public_base_url(&self) -> Result<String, AwsError> {
        Ok(public_base_url(&self.state.settings, self.listener()?, self.host()))
    }

    /// Authorizes the caller for this operation on the referenced stream and looks it up.
    pub async fn stream(&self, stream: &StreamRef) -> Result<Stream, AwsError> {
        resolve(&self.state, &self.caller, self.operation, stream).await
    }

    /// Authorizes the caller for this operation on the referenced channel and looks it up.
    pub async fn channel(&self, channel: &ChannelRef) -> Result<SignalingChannel, AwsError> {
        resolve_channel(&self.state, &self.caller, self.operation, channel).await
    }
}

/// The router's method router for a typed handler (see the module documentation).
pub fn route<H, I, O, Fut>(handler: H) -> MethodRouter<AppState>
where
    H: Fn(Call, Valid<I>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<O, AwsError>> + Send + 'static,
    I: OperationInput,
    O: OperationOutput + 'static,
{
    post(move |call: Call, req: Request| async move {
        let input = I::from_request(req).await?;
        let valid = input.validate()?;
        handler(call, Valid(valid)).await.map(O::into_response)
    })
}

/// Deserialises `body` into the input type of `handler` and validates it.
pub fn check_input<H, I, O, Fut>(_handler: H, body: &[u8]) -> Result<(), AwsError>
where
    H: Fn(Call, Valid<I>) -> Fut,
    Fut: Future<Output = Result<O, AwsError>>,
    I: OperationInput,
{
    parse_json_body::<I>(body)?.validate().map(drop)
}
