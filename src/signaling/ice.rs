//! What GetIceServerConfig answers: configured STUN/TURN servers, and TURN credentials minted per
//! request for a TURN server that uses the "TURN REST API" shared-secret scheme (coturn's
//! `use-auth-secret` / `static-auth-secret`): username `EXPIRY_UNIX:CLIENT_ID`, password
//! `base64(HMAC-SHA1(secret, username))`, so no per-user state is needed (openkvs's own relay,
//! `crate::turn_relay`, checks the same scheme). Owns that scheme and the list shape; no I/O, no clock (callers pass `now`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde::Deserialize;

/// One configured ICE server with fixed credentials (STUN needs none).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticIceServer {
    /// `stun:` / `turn:` / `turns:` URIs.
    pub uris: Vec<String>,
    /// TURN username.
    #[serde(default)]
    pub username: String,
    /// TURN password.
    #[serde(default)]
    pub password: String,
}

/// `[signaling.ice]` configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IceConfig {
    /// Servers returned as configured.
    pub servers: Vec<StaticIceServer>,
    /// TURN URIs whose credentials are minted per request from `turn_shared_secret`.
    pub turn_uris: Vec<String>,
    /// The TURN server's shared secret (coturn `static-auth-secret`).
    pub turn_shared_secret: Option<String>,
    /// Lifetime of minted credentials and the `Ttl` returned, seconds (AWS: 30..86400, 300 typical).
    pub credential_ttl_secs: u64,
}

impl Default for IceConfig {
    fn default() -> Self {
        Self {
            servers: Vec::new(),
            turn_uris: Vec::new(),
            turn_shared_secret: None,
            credential_ttl_secs: 300,
        }
    }
}

/// One entry of `IceServerList`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceServer {
    /// URIs.
    pub uris: Vec<String>,
    /// Username.
    pub username: String,
    /// Password.
    pub password: String,
    /// Seconds the credentials stay valid.
    pub ttl_secs: u64,
}

/// The TURN REST API credentials for `client_id` valid until `now + ttl`.
pub fn turn_credentials(secret: &str, client_id: &str, now_unix: i64, ttl_secs: u64) -> (String, String) {
    let username = format!("{}:{}", now_unix + ttl_secs as i64, client_id);
    let password = turn_password(secret, &username);
    (username, password)
}

/// The TURN REST API password of `username`: `base64(HMAC-SHA1(secret, username))`.
pub fn turn_password(secret: &str, username: &str) -> String {
    let mut mac =
        <Hmac<sha1::Sha1> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(username.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

impl IceConfig {
    /// Whether GetIceServerConfig will list a TURN server (a static `turn:`/`turns:` URI, or
    /// `turn_uris` with a shared secret to mint credentials).
    pub fn has_turn(&self) -> bool {
        let turn = |u: &String| u.starts_with("turn:") || u.starts_with("turns:");
        self.servers.iter().any(|s| s.uris.iter().any(turn))
            || (self.turn_shared_secret.is_some() && self.turn_uris.iter().any(turn))
    }

    /// What to tell an operator when signaling channels exist (`situation`: "3 signaling channels
    /// exist", "signaling channel door was created") and GetIceServerConfig lists no TURN server;
    /// `None` when one is configured or openkvs's own relay runs (`own_relay`). AWS always answers
    /// GetIceServerConfig with TURN servers and the KVS WebRTC C SDK's samples depend on it.
    pub fn missing_turn_warning(&self, situation: &str, own_relay: bool) -> Option<String> {
        (!self.has_turn() && !own_relay).then(|| {
            format!(
                "{situation} but no TURN server is configured: GetIceServerConfig \
                 answers {}, so peers behind NAT and the KVS WebRTC C SDK samples (which require a TURN \
                 server) cannot connect. openkvs's own TURN relay is off ([turn] enabled = false); turn it \
                 on, or run coturn with use-auth-secret and set [signaling.ice] turn_uris and \
                 turn_shared_secret (README, \"WebRTC\")",
                if self.servers.is_empty() { "an empty IceServerList" } else { "STUN servers only" }
            )
        })
    }

    /// The servers for one request.
    pub fn servers_for(&self, client_id: &str, now_unix: i64) -> Vec<IceServer> {
        let ttl = self.credential_ttl_secs;
        let mut out: Vec<IceServer> = self
            .servers
            .iter()
            .map(|s| IceServer {
                uris: s.uris.clone(),
                username: s.username.clone(),
                password: s.password.clone(),
                ttl_secs: ttl,
            })
            .collect();
        if let Some(secret) = &self.turn_shared_secret
            && !self.turn_uris.is_empty()
        {
            let (username, password) = turn_credentials(secret, client_id, now_unix, ttl);
            out.push(IceServer { uris: self.turn_uris.clone(), username, password, ttl_secs: ttl });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turn_rest_api_credentials() {
        // Known answer: HMAC-SHA1("secret", "1700000300:viewer-1"), base64.
        let (u, p) = turn_credentials("secret", "viewer-1", 1_700_000_000, 300);
        assert_eq!(u, "1700000300:viewer-1");
        let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(b"secret").unwrap();
        mac.update(u.as_bytes());
        assert_eq!(p, STANDARD.encode(mac.finalize().into_bytes()));
        assert_eq!(p.len(), 28);
        let cfg = IceConfig {
            servers: vec![StaticIceServer {
                uris: vec!["stun:127.0.0.1:3478".into()],
                username: String::new(),
                password: String::new(),
            }],
            turn_uris: vec!["turn:127.0.0.1:3478?transport=udp".into()],
            turn_shared_secret: Some("secret".into()),
            credential_ttl_secs: 600,
        };
        let list = cfg.servers_for("v", 10);
        assert_eq!(list.len(), 2);
        assert_eq!(list[1].username, "610:v");
        assert!(IceConfig::default().servers_for("v", 0).is_empty());
    }

    #[test]
    fn a_missing_turn_server_is_reported() {
        let none = IceConfig::default();
        assert!(!none.has_turn());
        let w = none.missing_turn_warning("2 signaling channels exist", false).unwrap();
        assert!(w.starts_with("2 signaling channels exist but") && w.contains("empty IceServerList"), "{w}");
        let stun = IceConfig {
            servers: vec![StaticIceServer {
                uris: vec!["stun:stun.example:3478".into()],
                username: String::new(),
                password: String::new(),
            }],
            ..IceConfig::default()
        };
        assert!(stun.missing_turn_warning("x", false).unwrap().contains("STUN servers only"));
        let no_secret = IceConfig { turn_uris: vec!["turn:h:3478".into()], ..IceConfig::default() };
        assert!(!no_secret.has_turn());
        let minted = IceConfig { turn_shared_secret: Some("s".into()), ..no_secret };
        assert!(minted.has_turn());
        assert_eq!(minted.missing_turn_warning("x", false), None);
        assert_eq!(none.missing_turn_warning("x", true), None, "openkvs's own relay runs");
        let fixed = IceConfig {
            servers: vec![StaticIceServer {
                uris: vec!["turns:h:5349?transport=tcp".into()],
                username: "u".into(),
                password: "p".into(),
            }],
            ..IceConfig::default()
        };
        assert!(fixed.has_turn());
    }
}
