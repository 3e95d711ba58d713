//! The console's session endpoints (JSON, PascalCase like the rest of the API, AWS-shaped errors):
//!
//! - `POST /console/api/signIn` `{"AccessKeyId","SecretAccessKey","Region"?}`: checks the pair
//!   against the configured keys (the same answer, in the same time, for an unknown key and a wrong
//!   secret; failures are rate limited), starts a session and sets the `HttpOnly; SameSite=Strict`
//!   session cookie (`Secure` on the HTTPS listener).
//! - `POST /console/api/signOut`: ends the session and clears the cookie.
//! - `GET /console/api/session`: `{"SignedIn": false}` or who is signed in, in which region, until
//!   when, and what the key's policy allows (the console hides what it may not do).
//!
//! Every call must carry `X-Openkvs-Console: 1` (see the module above). Owns the cookie's format;
//! session bookkeeping is `auth::console_session`'s.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use super::{SESSION_COOKIE, has_console_header, is_cross_site, session_cookie};
use crate::api::aws::{AwsError, AwsErrorCode, AwsJson, EpochSeconds};
use crate::api::{AppState, ListenerInfo};
use crate::auth::AuthMode;
use crate::auth::console_session::ConsoleSession;
use crate::model::Region;

/// The region a session works in when sign-in names none.
pub const DEFAULT_REGION: &str = "us-east-1";

/// `SignIn` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    region: Option<String>,
}

fn csrf_guard(headers: &HeaderMap) -> Result<(), AwsError> {
    if !has_console_header(headers) || is_cross_site(headers) {
        return Err(AwsError::new(
            AwsErrorCode::AccessDeniedException,
            "Console requests must come from the console page (X-Openkvs-Console: 1).",
        ));
    }
    Ok(())
}

fn is_https(listener: Option<&Extension<ListenerInfo>>) -> bool {
    listener.is_some_and(|Extension(l)| l.scheme == "https")
}

/// The `Set-Cookie` value for a session token (`max_age_secs` 0 clears the cookie).
pub fn session_cookie_header(token: &str, max_age_secs: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={token}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Strict{secure}")
}

/// The session answer: who is signed in, in which region, until when, and what the key's policy
/// allows (the console hides what it may not do), or only `SignedIn: false` and the auth mode.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SessionInfo {
    signed_in: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signed_in_at: Option<EpochSeconds>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<EpochSeconds>,
    #[serde(skip_serializing_if = "Option::is_none")]
    idle_timeout_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_mode: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy: Option<PolicyInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'static str>,
}

/// What a key's policy allows: operation names and stream name globs (`null`: all).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct PolicyInfo {
    operations: Option<Vec<String>>,
    streams: Option<Vec<String>>,
}

impl SessionInfo {
    /// A signed-in session.
    fn of(state: &AppState, session: &ConsoleSession) -> Self {
        let policy = state.keys.policy_for(&session.access_key_id);
        let limits = state.console_sessions.limits();
        Self {
            signed_in: true,
            access_key_id: Some(session.access_key_id.clone()),
            region: Some(session.region.as_str().to_owned()),
            signed_in_at: Some(EpochSeconds(session.created_at_ms)),
            expires_at: Some(EpochSeconds(session.expires_at_ms(limits))),
            idle_timeout_seconds: Some(limits.idle_ms / 1000),
            auth_mode: Some(auth_mode(state)),
            policy: Some(PolicyInfo {
                operations: policy.operations.clone(),
                streams: policy.streams.clone(),
            }),
            version: Some(env!("CARGO_PKG_VERSION")),
        }
    }

    /// No session; `auth_mode` tells the console whether sign-in needs a real key.
    fn signed_out(auth_mode: Option<&'static str>) -> Self {
        Self {
            signed_in: false,
            access_key_id: None,
            region: None,
            signed_in_at: None,
            expires_at: None,
            idle_timeout_seconds: None,
            auth_mode,
            policy: None,
            version: None,
        }
    }
}

fn auth_mode(state: &AppState) -> &'static str {
    match state.keys.mode() {
        AuthMode::Keys => "keys",
        AuthMode::Open => "open",
    }
}

fn with_cookie(mut resp: Response, cookie: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// `POST /console/api/signIn`.
pub async fn sign_in(
    State(state): State<AppState>,
    listener: Option<Extension<ListenerInfo>>,
    headers: HeaderMap,
    AwsJson(input): AwsJson<Input>,
) -> Result<Response, AwsError> {
    csrf_guard(&headers)?;
    let now = state.clock.now_millis();
    let key = input.access_key_id.unwrap_or_default();
    let secret = input.secret_access_key.unwrap_or_default();
    let region =
        Region::parse(input.region.as_deref().filter(|r| !r.is_empty()).unwrap_or(DEFAULT_REGION))
            .map_err(|_| AwsError::invalid_argument("Region is not a valid region name (e.g. us-east-1)."))?;
    if !state.console_sessions.sign_in_allowed(now) {
        return Err(AwsError::new(
            AwsErrorCode::ClientLimitExceededException,
            "Too many failed sign-ins: wait a minute and try again.",
        ));
    }
    if !state.keys.accepts_console_secret(&key, &secret) {
        state.console_sessions.note_failed_sign_in(now);
        return Err(AwsError::new(
            AwsErrorCode::NotAuthorizedException,
            "The access key or secret is not valid.",
        )
        .with_detail(format!("console sign-in refused for key {key:?}")));
    }
    let token = state.console_sessions.create(&key, region, now);
    let session =
        state.console_sessions.peek(token.as_str(), now).ok_or_else(super::session_auth::not_signed_in)?;
    tracing::info!(access_key_id = %key, "console sign-in");
    let max_age = state.console_sessions.limits().absolute_ms / 1000;
    let cookie = session_cookie_header(token.as_str(), max_age, is_https(listener.as_ref()));
    Ok(with_cookie(Json(SessionInfo::of(&state, &session)).into_response(), &cookie))
}

/// `POST /console/api/signOut`.
pub async fn sign_out(
    State(state): State<AppState>,
    listener: Option<Extension<ListenerInfo>>,
    headers: HeaderMap,
) -> Result<Response, AwsError> {
    csrf_guard(&headers)?;
    if let Some(token) = session_cookie(&headers) {
        state.console_sessions.end(token);
    }
    let cookie = session_cookie_header("", 0, is_https(listener.as_ref()));
    Ok(with_cookie(Json(SessionInfo::signed_out(None)).into_response(), &cookie))
}

/// `GET /console/api/session`.
pub async fn session(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AwsError> {
    csrf_guard(&headers)?;
    let now = state.clock.now_millis();
    let body = match session_cookie(&headers).and_then(|t| state.console_sessions.resume(t, now)) {
        Some(s) => SessionInfo::of(&state, &s),
        None => SessionInfo::signed_out(Some(auth_mode(&state))),
    };
    let mut resp = Json(body).into_response();
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_cookie_flags() {
        let c = session_cookie_header("abc", 43200, false);
        assert_eq!(c, "openkvs_console=abc; Path=/; Max-Age=43200; HttpOnly; SameSite=Strict");
        assert!(session_cookie_header("abc", 1, true).ends_with("; Secure"));
    }
}
