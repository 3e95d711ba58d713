//! The authentication layer: fails closed over the request's [`Route`].
//!
//! Every request reaches it with the route the request context resolved (an unknown path never
//! does). For an [`Operation`] it builds [`RequestParts`] from the request exactly as received
//! (method, raw path, raw query, every header with its raw bytes; HTTP/2's `:authority` stands in
//! for `Host`), picks the payload hash the operation's [`AuthKind`] calls for (SHA-256 of the
//! buffered JSON body; for streaming PutMedia the empty-string hash the KVS producers sign, or
//! `UNSIGNED-PAYLOAD` when declared), verifies the signature and the key's operation policy, and
//! hands the handler a [`Caller`]. The signaling WebSocket's presigned URL is verified the same
//! way ([`verify_bodiless`]) under the IAM action of its role (`ConnectAsMaster` /
//! `ConnectAsViewer`). Session resources (sealed `SessionToken`, opened by their handler), the
//! console's page and sign-in endpoints, and the operator endpoints pass without a caller; a
//! request without a route is refused. Failures become the AWS error a client expects (table in
//! `auth::sigv4`).
//!
//! The web console's requests carry no signature: an unsigned request with `X-Openkvs-Console: 1`
//! is authorized by its session cookie instead (`api::console::session_auth`), yielding the same
//! [`Caller`] under the same key policy; never for PutMedia, never without that header.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{AuthKind, AwsError, AwsErrorCode, MAX_JSON_BODY, Operation};
use crate::api::AppState;
use crate::api::route::Route;
use crate::api::signaling::websocket::{requested_role, role_action};
use crate::auth::Caller;
use crate::auth::sigv4::{
    EMPTY_PAYLOAD_SHA256, PayloadHash, RequestParts, SigV4Error, payload_hash_for, sha256_hex,
};
use crate::model::Region;

/// Authenticates and authorizes every request by its route.
pub async fn authenticate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let verified = match req.extensions().get::<Route>().copied() {
        Some(Route::Operation(op)) => verify(&state, op, req).await,
        Some(Route::SignalingSocket) => verify_signaling_socket(&state, req),
        Some(Route::SessionResource | Route::Console | Route::Public) => Ok(req),
        None => Err(AwsError::new(
            AwsErrorCode::UnknownOperationException,
            "The requested operation is not supported.",
        )
        .with_detail(format!(
            "{} {} reached authentication without a route",
            req.method(),
            req.uri().path()
        ))),
    };
    match verified {
        Ok(req) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

async fn verify(state: &AppState, op: Operation, req: Request) -> Result<Request, AwsError> {
    let (mut parts, body) = req.into_parts();
    if let Some(console) = crate::api::console::session_auth::console_caller(state, op, &parts) {
        parts.extensions.insert(console?);
        return Ok(Request::from_parts(parts, body));
    }
    let (body, body_hash) = match op.auth() {
        AuthKind::SigV4Json => {
            let bytes = axum::body::to_bytes(body, MAX_JSON_BODY).await.map_err(|e| {
                AwsError::new(
                    AwsErrorCode::SerializationException,
                    "The request body is too large or unreadable.",
                )
                .with_detail(e.to_string())
            })?;
            let hash = sha256_hex(&bytes);
            (Body::from(bytes), hash)
        }
        AuthKind::SigV4Streaming => (body, EMPTY_PAYLOAD_SHA256.to_owned()),
    };
    let caller =
        verify_parts(state, &parts, &[PayloadHashChoice::Body(&body_hash)], op.name(), op.denied_code())?;
    parts.extensions.insert(caller);
    Ok(Request::from_parts(parts, body))
}

/// The signaling WebSocket upgrade: a bodiless request presigned by the WebRTC SDKs, whose role
/// (`X-Amz-ClientId` absent: master) names the IAM action the key's policy must allow. The role
/// travels to the handler as a request extension, beside the [`Caller`].
fn verify_signaling_socket(state: &AppState, req: Request) -> Result<Request, AwsError> {
    let (mut parts, body) = req.into_parts();
    let role = requested_role(parts.uri.query().unwrap_or(""))?;
    let caller = verify_bodiless(state, &parts, role_action(&role))?;
    parts.extensions.insert(caller);
    parts.extensions.insert(role);
    Ok(Request::from_parts(parts, body))
}

/// Which payload hash a signature may have covered.
enum PayloadHashChoice<'a> {
    /// The body's hash (or the empty-string hash of a streaming or bodiless request), unless the
    /// request declares `UNSIGNED-PAYLOAD`.
    Body(&'a str),
    /// `UNSIGNED-PAYLOAD`.
    Unsigned,
}

/// Verifies the request's signature against the first payload hash that matches, then the key's
/// policy for `action`; the refusal for a policy that does not allow it is `denied`.
fn verify_parts(
    state: &AppState,
    parts: &Parts,
    choices: &[PayloadHashChoice<'_>],
    action: &str,
    denied: AwsErrorCode,
) -> Result<Caller, AwsError> {
    let authority = parts.uri.authority().map(|a| a.as_str().to_owned());
    let mut headers: Vec<(&str, &[u8])> =
        parts.headers.iter().map(|(name, value)| (name.as_str(), value.as_bytes())).collect();
    if !parts.headers.contains_key(axum::http::header::HOST)
        && let Some(a) = authority.as_deref()
    {
        headers.push(("host", a.as_bytes()));
    }
    let request_parts = RequestParts {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &headers,
    };
    let now = state.clock.now_secs();
    let keys = state.keys.as_ref();
    let attempt = |choice: &PayloadHashChoice<'_>| {
        let payload = match choice {
            PayloadHashChoice::Body(hash) => payload_hash_for(&headers, hash),
            PayloadHashChoice::Unsigned => PayloadHash::Unsigned,
        };
        state.verifier.verify(&request_parts, payload, now, keys)
    };
    let (first, others) = choices.split_first().expect("at least one payload hash");
    let mut outcome = attempt(first);
    for choice in others {
        if !matches!(outcome, Err(SigV4Error::SignatureMismatch { .. })) {
            break;
        }
        outcome = attempt(choice);
    }
    let identity = outcome.map_err(|e| sigv4_failure(e, parts))?;
    let region = Region::parse(&identity.region).map_err(|_| {
        AwsError::new(AwsErrorCode::InvalidSignatureException, "The credential scope region is invalid.")
    })?;
    let policy = state.keys.policy_for(&identity.access_key_id);
    if !policy.allows_operation(action) {
        return Err(AwsError::new(
            denied,
            format!("User {} is not authorized to perform: kinesisvideo:{action}", identity.access_key_id),
        ));
    }
    Ok(Caller { access_key_id: identity.access_key_id, region, policy })
}

fn sigv4_error(e: SigV4Error) -> AwsError {
    let code = AwsErrorCode::from_name(e.aws_code()).unwrap_or(AwsErrorCode::InvalidSignatureException);
    AwsError::new(code, e.message()).with_detail(e.to_string())
}

/// Headers HTTP/2 cannot carry (RFC 9113 §8.2.2): a client that signed one of them signed for
/// HTTP/1.1, e.g. the KVS producers' `connection` and `transfer-encoding` on PutMedia.
const CONNECTION_SPECIFIC: [&str; 5] =
    ["connection", "transfer-encoding", "keep-alive", "upgrade", "proxy-connection"];

/// [`sigv4_error`] for a request that failed verification: the log line names the access key id
/// the request claims (so an operator knows which camera or app is misconfigured), and a signed
/// connection-specific header missing from an HTTP/2 request gets a message that says why.
fn sigv4_failure(e: SigV4Error, parts: &axum::http::request::Parts) -> AwsError {
    let authorization = parts.headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let key = crate::auth::sigv4::claimed_access_key_id(authorization, parts.uri.query().unwrap_or(""));
    let detail = match &key {
        Some(k) => format!("{e} (access key id {k:?})"),
        None => format!("{e} (no access key id)"),
    };
    let http2_hop_by_hop = matches!(&e, SigV4Error::SignedHeaderAbsent { name }
        if parts.version == axum::http::Version::HTTP_2 && CONNECTION_SPECIFIC.contains(&name.as_str()));
    let mut err = sigv4_error(e);
    if http2_hop_by_hop {
        err.message
            .push_str(" HTTP/2 carries no connection-specific headers; send this request over HTTP/1.1.");
    }
    err.with_detail(detail)
}

/// Verifies a bodiless request that is not an [`Operation`] (the signaling WebSocket upgrade,
/// presigned by the WebRTC SDKs) and checks that the key's policy allows `action` (an IAM-style
/// action name such as `ConnectAsMaster`). The SDKs sign the empty-payload hash; `UNSIGNED-PAYLOAD`
/// is accepted too.
pub fn verify_bodiless(state: &AppState, parts: &Parts, action: &str) -> Result<Caller, AwsError> {
    let choices = [PayloadHashChoice::Body(EMPTY_PAYLOAD_SHA256), PayloadHashChoice::Unsigned];
    verify_parts(state, parts, &choices, action, AwsErrorCode::AccessDeniedException)
}
