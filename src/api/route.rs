//! What a request is, decided once per request (by the request context, `aws::middleware`) from
//! its path and query, and carried to the layers below as a request extension.
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
    /// serve.
    pub fn resolve(path: &str, query: Option<&str>) -> Option<Route> {
        if let Some(op) = Operation::from_path(path) {
            return Some(Route::Operation(op));
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
            assert_eq!(Route::resolve(op.path(), None), Some(Route::Operation(*op)));
        }
        assert_eq!(Route::resolve("/", None), Some(Route::Console));
        assert_eq!(Route::resolve("/", Some("X-Amz-ChannelARN=arn")), Some(Route::SignalingSocket));
        assert_eq!(
            Route::resolve("/", Some("x-amz-channelarn=arn&X-Amz-Signature=1")),
            Some(Route::SignalingSocket)
        );
        assert_eq!(Route::resolve("/console/api/signIn", None), Some(Route::Console));
        assert_eq!(Route::resolve("/console", None), Some(Route::Console));
        assert_eq!(
            Route::resolve("/hls/v1/getHLSMasterPlaylist.m3u8", Some("SessionToken=x")),
            Some(Route::SessionResource)
        );
        assert_eq!(Route::resolve("/dash/v1/getDASHManifest.mpd", None), Some(Route::SessionResource));
        assert_eq!(Route::resolve("/whep/v1/play", Some("SessionToken=x")), Some(Route::SessionResource));
        assert_eq!(Route::resolve("/whep/v1/sessions/abc", None), Some(Route::SessionResource));
        for public in ["/health", "/ready", "/metrics"] {
            assert_eq!(Route::resolve(public, None), Some(Route::Public));
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
            assert_eq!(Route::resolve(unknown, None), None, "{unknown}");
        }
    }
}
