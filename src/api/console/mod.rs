//! The web console's HTTP side: its embedded page and assets, its sign-in endpoints, and the
//! cookie authorization the SigV4 layer falls back to for the console's own requests.
//!
//! - [`assets`]: `GET /` (when it is not the signaling WebSocket) and `GET /console/…`: the files
//!   of `console/` compiled into the binary, with their content types, `ETag`s and a strict
//!   `Content-Security-Policy`.
//! - [`sign_in`]: `POST /console/api/signIn` (access key + secret → server-side session and an
//!   `HttpOnly; SameSite=Strict` cookie), `POST /console/api/signOut`, `GET /console/api/session`.
//! - [`session_auth`]: turns the session cookie of a console request into the same
//!   [`Caller`](crate::auth::Caller) a verified signature yields, so the console calls the very
//!   operation paths the SDKs use (`/listStreams`, `/getClip`, …) under the signed-in key's policy.
//!
//! CSRF: every console API request and every cookie-authorized operation must carry
//! [`CONSOLE_HEADER`]`: 1`. Browsers only send such a header cross-origin after a CORS preflight,
//! and `api::cors` does not allow it, so another site cannot make a signed-in browser call the API
//! (the cookie is also `SameSite=Strict`, and `Sec-Fetch-Site: cross-site` is refused).
//!
//! Sessions themselves (tokens, expiry, limits) live in `auth::console_session`; this module must
//! not keep state of its own.

pub mod assets;
pub mod session_auth;
pub mod sign_in;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::{get, post};

use super::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "openkvs_console";

/// The header every console request carries (value `1`): the CSRF guard.
pub const CONSOLE_HEADER: &str = "x-openkvs-console";

/// The console's routes (`GET /` is routed by `api::router`, which shares it with the signaling
/// WebSocket).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/api/signIn", post(sign_in::sign_in))
        .route("/console/api/signOut", post(sign_in::sign_out))
        .route("/console/api/session", get(sign_in::session))
        .route("/console", get(assets::index))
        .route("/console/", get(assets::index))
        .route("/console/{*path}", get(assets::asset))
}

/// Whether the request carries `X-Openkvs-Console: 1`.
pub fn has_console_header(headers: &HeaderMap) -> bool {
    headers.get(CONSOLE_HEADER).is_some_and(|v| v.as_bytes() == b"1")
}

/// Whether the browser says the request comes from another site (`Sec-Fetch-Site`).
pub fn is_cross_site(headers: &HeaderMap) -> bool {
    headers.get("sec-fetch-site").is_some_and(|v| matches!(v.as_bytes(), b"cross-site" | b"same-site"))
}

/// The session cookie's value, from any `Cookie` header.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim_matches('"'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn console_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.append("cookie", HeaderValue::from_static("a=1; openkvs_console=abc; b=2"));
        assert_eq!(session_cookie(&h), Some("abc"));
        let mut h = HeaderMap::new();
        h.append("cookie", HeaderValue::from_static("a=1"));
        h.append("cookie", HeaderValue::from_static("openkvs_console=xyz"));
        assert_eq!(session_cookie(&h), Some("xyz"));
        let mut h = HeaderMap::new();
        h.append("cookie", HeaderValue::from_static("openkvs_consoleX=1"));
        assert_eq!(session_cookie(&h), None);
    }

    #[test]
    fn console_header_must_be_exactly_one() {
        let mut h = HeaderMap::new();
        assert!(!has_console_header(&h));
        h.insert(CONSOLE_HEADER, HeaderValue::from_static("true"));
        assert!(!has_console_header(&h));
        h.insert(CONSOLE_HEADER, HeaderValue::from_static("1"));
        assert!(has_console_header(&h));
        h.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(!is_cross_site(&h));
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(is_cross_site(&h));
    }
}
