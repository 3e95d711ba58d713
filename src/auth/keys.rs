//! Configured access keys and what each may do.
//!
//! [`KeyStore`] holds the `[[auth.keys]]` entries (secrets wrapped so they never print) and answers
//! the verifier's one question: the secret for an access key id. [`KeyPolicy`] restricts a key to
//! named operations and to stream and signaling-channel names matching globs (`*`, `?`; one set of
//! globs for both). [`Caller`] is the verified identity of one request. Nothing here does I/O.

use std::collections::HashMap;
use std::sync::Arc;

use super::sigv4::{CredentialLookup, SecretKey};
use crate::config::{AuthMode, KeyConfig};
use crate::model::Region;

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
            Some(globs) => globs.iter().any(|g| glob_match(g.as_bytes(), name.as_bytes())),
        }
    }

    /// Whether the key is limited to some streams (listings must then be filtered).
    pub fn is_stream_restricted(&self) -> bool {
        self.streams.is_some()
    }
}

/// Matches `*` (any run) and `?` (one byte) wildcards; iterative, linear in practice.
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&c| c == b'*')
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
        assert!(glob_match(b"cam-*", b"cam-1"));
        assert!(glob_match(b"cam-*", b"cam-"));
        assert!(!glob_match(b"cam-*", b"door-1"));
        assert!(glob_match(b"*", b""));
        assert!(glob_match(b"c?m-*-x", b"cam-12-x"));
        assert!(!glob_match(b"c?m", b"cam-1"));
        assert!(glob_match(b"*a*b*", b"xxaxxbxx"));
        assert!(!glob_match(b"*a*b", b"xxaxxbxx"));
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
