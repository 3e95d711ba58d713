//! Configured access keys and what each may do.
//!
//! Owns the `[auth]` configuration section ([`AuthConfig`], [`AuthMode`], [`KeyConfig`] and the
//! development key shipped in `config/openkvs.toml`).
//! [`KeyStore`] holds the `[[auth.keys]]` entries (secrets wrapped so they never print) and answers
//! the verifier's one question: the secret for an access key id. [`KeyPolicy`] restricts a key to
//! named operations and to stream and signaling-channel names matching globs (`*`, `?`; one set of
//! globs for both). [`Caller`] is the verified identity of one request. Nothing here does I/O.

use std::collections::HashMap;
use std::sync::Arc;

use super::sigv4::{CredentialLookup, SecretKey};
use crate::model::Region;
use crate::model::glob_match;

/// The development access key id shipped in `config/openkvs.toml`.
pub const DEV_ACCESS_KEY_ID: &str = "openkvs";
/// The development secret shipped in `config/openkvs.toml`.
pub const DEV_SECRET_ACCESS_KEY: &str = "openkvs-secret";

/// How requests are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// SigV4 signatures are verified against `[[auth.keys]]` (the default).
    #[default]
    Keys,
    /// Any well-formed SigV4 signature is accepted, whatever the key (local tests, like LocalStack).
    Open,
}

impl AuthMode {
    /// The name used in logs and the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::Keys => "keys",
            AuthMode::Open => "open",
        }
    }
}

/// One access key and what it may do.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// The access key id (`AWS_ACCESS_KEY_ID` on the client).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// Operations the key may call (e.g. `["PutMedia", "DescribeStream"]`); absent = all.
    #[serde(default)]
    pub operations: Option<Vec<String>>,
    /// Stream-name globs the key may touch (`*` and `?` wildcards, e.g. `["cam-*"]`); absent = all.
    /// The same globs apply to signaling-channel names.
    #[serde(default)]
    pub streams: Option<Vec<String>>,
}

/// `[auth]`: authentication settings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// `keys` (verify signatures) or `open` (accept any well-formed signature).
    pub mode: AuthMode,
    /// Allowed clock skew between a request's `X-Amz-Date` and the server, seconds (AWS: 900).
    pub max_skew_secs: i64,
    /// Access keys.
    pub keys: Vec<KeyConfig>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            mode: AuthMode::Keys,
            max_skew_secs: 900,
            keys: vec![KeyConfig {
                access_key_id: DEV_ACCESS_KEY_ID.to_owned(),
                secret_access_key: DEV_SECRET_ACCESS_KEY.to_owned(),
                operations: None,
                streams: None,
            }],
        }
    }
}

/// What one key may do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPolicy {
    /// Allowed operation names; `None` = all.
    pub operations: Option<Vec<String>>,
    /// Allowed stream-name globs; `None` = all.
    pub streams: Option<Vec<String>>,
}

impl KeyPolicy {
    /// A policy that allows everything (used in open mode).
    pub fn allow_all() -> Self {
        Self::default()
    }

    /// Whether the key may call `operation` at all.
    pub fn allows_operation(&self, operation: &str) -> bool {
        match &self.operations {
            None => true,
            Some(ops) => ops.iter().any(|o| o == "*" || o.eq_ignore_ascii_case(operation)),
        }
    }

    /// Whether the key may touch the stream (or channel) named `name`.
    pub fn allows_stream(&self, name: &str) -> bool {
        match &self.streams {
            None => true,
            Some(globs) => globs.iter().any(|g| glob_match(g, name)),
        }
    }

    /// Whether the key is limited to some streams (listings must then be filtered).
    pub fn is_stream_restricted(&self) -> bool {
        self.streams.is_some()
    }
}

#[derive(Debug)]
struct KeyEntry {
    secret: SecretKey,
    policy: Arc<KeyPolicy>,
}

/// The configured access keys.
#[derive(Debug)]
pub struct KeyStore {
    mode: AuthMode,
    keys: HashMap<String, KeyEntry>,
    open_policy: Arc<KeyPolicy>,
}

impl KeyStore {
    /// Builds the store from configuration.
    pub fn new(mode: AuthMode, keys: &[KeyConfig]) -> Self {
        let keys = keys
            .iter()
            .map(|k| {
                (
                    k.access_key_id.clone(),
                    KeyEntry {
                        secret: SecretKey::new(k.secret_access_key.clone()),
                        policy: Arc::new(KeyPolicy {
                            operations: k.operations.clone(),
                            streams: k.streams.clone(),
                        }),
                    },
                )
            })
            .collect();
        Self { mode, keys, open_policy: Arc::new(KeyPolicy::allow_all()) }
    }

    /// The authentication mode.
    pub fn mode(&self) -> AuthMode {
        self.mode
    }

    /// Number of configured keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is configured.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The policy of a verified key (open mode: the key's policy if configured, else allow-all).
    pub fn policy_for(&self, access_key_id: &str) -> Arc<KeyPolicy> {
        match self.keys.get(access_key_id) {
            Some(e) => e.policy.clone(),
            None => self.open_policy.clone(),
        }
    }
}

impl KeyStore {
    /// Whether `secret` is the secret of `access_key_id`, for the web console's sign-in. Unknown
    /// keys and wrong secrets take the same time and give the same answer. In open mode any
    /// non-empty key id is accepted (as any well-formed signature is), unless it is a configured key
    /// and the secret is wrong.
    pub fn accepts_console_secret(&self, access_key_id: &str, secret: &str) -> bool {
        let placeholder = SecretKey::new("openkvs-console-unknown-key-placeholder");
        let entry = self.keys.get(access_key_id);
        let known = entry.is_some();
        // Hash and compare even for an unknown key, so both failures cost the same.
        let matches = entry.map_or(&placeholder, |e| &e.secret).matches(secret) && known;
        match self.mode {
            AuthMode::Keys => known && matches,
            AuthMode::Open => !access_key_id.is_empty() && (!known || matches),
        }
    }
}

impl CredentialLookup for KeyStore {
    fn secret_for(&self, access_key_id: &str) -> Option<SecretKey> {
        self.keys.get(access_key_id).map(|e| e.secret.clone())
    }
}

/// The verified identity behind one request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The access key id that signed the request.
    pub access_key_id: String,
    /// The region of the request's credential scope (streams live per region).
    pub region: Region,
    /// What the key may do.
    pub policy: Arc<KeyPolicy>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_shell_patterns() {
        assert!(glob_match("cam-*", "cam-1"));
        assert!(glob_match("cam-*", "cam-"));
        assert!(!glob_match("cam-*", "door-1"));
        assert!(glob_match("*", ""));
        assert!(glob_match("c?m-*-x", "cam-12-x"));
        assert!(!glob_match("c?m", "cam-1"));
        assert!(glob_match("*a*b*", "xxaxxbxx"));
        assert!(!glob_match("*a*b", "xxaxxbxx"));
    }

    #[test]
    fn console_secret_check_needs_the_right_pair() {
        let keys = [KeyConfig {
            access_key_id: "openkvs".into(),
            secret_access_key: "openkvs-secret".into(),
            operations: None,
            streams: None,
        }];
        let store = KeyStore::new(AuthMode::Keys, &keys);
        assert!(store.accepts_console_secret("openkvs", "openkvs-secret"));
        assert!(!store.accepts_console_secret("openkvs", "openkvs-secreT"));
        assert!(!store.accepts_console_secret("openkvs", ""));
        assert!(!store.accepts_console_secret("other", "openkvs-secret"));
        let open = KeyStore::new(AuthMode::Open, &keys);
        assert!(open.accepts_console_secret("anyone", "anything"));
        assert!(!open.accepts_console_secret("", "anything"));
        assert!(!open.accepts_console_secret("openkvs", "wrong"));
    }

    #[test]
    fn policies_restrict_operations_and_streams() {
        let p = KeyPolicy { operations: Some(vec!["PutMedia".into()]), streams: Some(vec!["cam-*".into()]) };
        assert!(p.allows_operation("PutMedia"));
        assert!(!p.allows_operation("DeleteStream"));
        assert!(p.allows_stream("cam-7"));
        assert!(!p.allows_stream("lobby"));
        assert!(KeyPolicy::allow_all().allows_stream("anything"));
    }
}
