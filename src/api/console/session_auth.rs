//! Cookie authorization of the console's calls to AWS operations.
//!
//! The SigV4 layer asks [`console_caller`] first. A request that carries no signature (no
//! `Authorization` header, no presigned query) but does carry `X-Openkvs-Console: 1` is the console's:
//! its session cookie must name a live session, and the [`Caller`] is then built exactly as a
//! verified signature would build it (the session's key, its region, that key's policy, which must
//! allow the operation). A cookie without the header is never looked at (CSRF), and PutMedia always
//! needs a real signature. Everything else is left to SigV4 verification.
//!
//! Owns only that decision; sessions are kept by `auth::console_session`.

use axum::http::request::Parts;

use super::{has_console_header, is_cross_site, session_cookie};
use crate::api::AppState;
use crate::api::aws::{AuthKind, AwsError, AwsErrorCode, Operation};
use crate::auth::Caller;

/// `None` when the request is not a console request (SigV4 verification applies); otherwise the
/// caller of its session, or why it has none.
pub fn console_caller(state: &AppState, op: Operation, parts: &Parts) -> Option<Result<Caller, AwsError>> {
    if !has_console_header(&parts.headers) || carries_signature(parts) {
        return None;
    }
    Some(session_caller(state, op, parts))
}

fn carries_signature(parts: &Parts) -> bool {
    parts.headers.contains_key(axum::http::header::AUTHORIZATION)
        || parts.uri.query().is_some_and(|q| {
            q.split('&').any(|pair| {
                let name = pair.split('=').next().unwrap_or("");
                name.eq_ignore_ascii_case("X-Amz-Signature") || name.eq_ignore_ascii_case("X-Amz-Credential")
            })
        })
}

/// The error a console request gets when its session is missing, expired or unknown; the console
/// shows its sign-in screen on it.
pub fn not_signed_in() -> AwsError {
    AwsError::new(
        AwsErrorCode::MissingAuthenticationTokenException,
        "The console session is missing or has expired: sign in again.",
    )
}

fn session_caller(state: &AppState, op: Operation, parts: &Parts) -> Result<Caller, AwsError> {
    if op.auth() == AuthKind::SigV4Streaming {
        return Err(AwsError::new(
            op.denied_code(),
            format!("{} needs a SigV4 signature; a console session cannot call it.", op.name()),
        ));
    }
    if is_cross_site(&parts.headers) {
        return Err(AwsError::new(
            AwsErrorCode::AccessDeniedException,
            "Cross-site console requests are refused.",
        ));
    }
    let token = session_cookie(&parts.headers).ok_or_else(not_signed_in)?;
    let session = state.console_sessions.resume(token, state.clock.now_millis()).ok_or_else(not_signed_in)?;
    let policy = state.keys.policy_for(&session.access_key_id);
    if !policy.allows_operation(op.name()) {
        return Err(AwsError::new(
            op.denied_code(),
            format!(
                "User {} is not authorized to perform: kinesisvideo:{}",
                session.access_key_id,
                op.name()
            ),
        ));
    }
    Ok(Caller { access_key_id: session.access_key_id, region: session.region, policy })
}
