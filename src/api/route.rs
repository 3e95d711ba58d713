//! What a request is, decided once per request (by the request context, `aws::middleware`) from
//! its method, path, query and `X-Amz-Target` header, and carried to the layers below as a request extension.
//!
//! Every path the server answers is one of these kinds; anything else is refused with
//! `UnknownOperationException` before authentication or any handler sees it, so a route added
//! without a kind here is never served unauthenticated. The authentication layer
//! (`aws::sigv4_layer`) decides per kind: operations and the signaling WebSocket are verified
//! there; session resources carry a sealed `SessionToken` their handler opens; the console's page
//! and sign-in endpoints and the operator endpoints are public by design. This module must not do
//! I/O.

use super::Operation;

/// The kind of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// One of the operations of the route table (`api/mod.rs`).
    Operation(Operation),
    /// An HLS (`/hls/v1/…`), DASH (`/dash/v1/…`) or WHEP (`/whep/v1/…`) session resource.
    SessionResource,
    /// The signaling WebSocket: `GET /` with `X-Amz-ChannelARN` in the (presigned) query.
    SignalingSocket,
    /// The web console: its page (`GET /` otherwise), assets and sign-in API under `/console`.
    Console,
    /// The documented unauthenticated operator endpoints: `/health`, `/ready`, `/metrics`.
    Public,
}

impl Route {
    /// The kind of the request to `path` with `query`, or `None` for a path this server does not
    /// serve. A `POST /` with an `X-Amz-Target` header (`target`) is the AWS JSON 1.1 operation it
    /// names, or nothing when it names none.
    pub fn resolve(post: bool, path: &str, query: Option<&str>, target: Option<&str>) -> Option<Route> {
        if let Some(op) = Operation::from_path(path) {
            return Some(Route::Operation(op));
        }
        if let (true, "/", Some(target)) = (post, path, target) {
            return Operation::from_target(target).map(Route::Operation);
        }
        Some(match path {
            "/health" | "/ready" | "/metrics" => Route::Public,
            "/" if query.is_some_and(names_signaling_channel) => Route::SignalingSocket,
            "/" | "/console" => Route::Console,
            p if p.starts_with("/console/") => Route::Console,
            p if p.starts_with("/hls/v1/") || p.starts_with("/dash/v1/") || p.starts_with("/whep/v1/") => {
                Route::SessionResource
            }
            _ => return None,
        })
    }

    /// The name logged with the request: the operation's, or the kind's.
    pub fn name(self) -> &'static str {
        match self {
            Route::Operation(op) => op.name(),
            Route::SessionResource => "SessionResource",
            Route::SignalingSocket => "SignalingSocket",
            Route::Console => "Console",
            Route::Public => "Public",
        }
    }
}

/// Whether a query carries `X-Amz-ChannelARN` (any case), as the KVS WebRTC SDKs open the
/// signaling WebSocket.
fn names_signaling_channel(query: &str) -> bool {
    query
        .split('&')
        .any(|pair| pair.split('=').next().is_some_and(|k| k.eq_ignore_ascii_case("X-Amz-ChannelARN")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_has_one_kind_or_none() {
        for op in Operation::ALL {
            assert_eq!(Route::resolve(true, op.path(), None, op.target()), Some(Route::Operation(*op)));
        }
        assert_eq!(Route::resolve(true, "/", None, Some("secretsmanager.ListSecrets")), None);
        assert_eq!(
            Route::resolve(false, "/", None, Some("secretsmanager.GetSecretValue")),
            Some(Route::Console)
        );
        assert_eq!(Route::resolve(false, "/", None, None), Some(Route::Console));
        assert_eq!(
            Route::resolve(false, "/", Some("X-Amz-ChannelARN=arn"), None),
            Some(Route::SignalingSocket)
        );
        assert_eq!(
            Route::resolve(false, "/", Some("x-amz-channelarn=arn&X-Amz-Signature=1"), None),
            Some(Route::SignalingSocket)
        );
        assert_eq!(Route::resolve(false, "/console/api/signIn", None, None), Some(Route::Console));
        assert_eq!(Route::resolve(false, "/console", None, None), Some(Route::Console));
        assert_eq!(
            Route::resolve(false, "/hls/v1/getHLSMasterPlaylist.m3u8", Some("SessionToken=x"), None),
            Some(Route::SessionResource)
        );
        assert_eq!(
            Route::resolve(false, "/dash/v1/getDASHManifest.mpd", None, None),
            Some(Route::SessionResource)
        );
        assert_eq!(
            Route::resolve(false, "/whep/v1/play", Some("SessionToken=x"), None),
            Some(Route::SessionResource)
        );
        assert_eq!(Route::resolve(false, "/whep/v1/sessions/abc", None, None), Some(Route::SessionResource));
        for public in ["/health", "/ready", "/metrics"] {
            assert_eq!(Route::resolve(false, public, None, None), Some(Route::Public));
        }
        for unknown in [
            "/tagResource",
            "/describestream",
            "/describeStream/",
            "/consoles",
            "/hls/v2/x",
            "/whep/v2/x",
            "/admin",
            "",
        ] {
            assert_eq!(Route::resolve(false, unknown, None, None), None, "{unknown}");
        }
    }
}
