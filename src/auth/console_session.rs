//! Web-console sign-in sessions, kept in memory.
//!
//! [`ConsoleSessions`] maps an opaque [`SessionToken`] (256 random bits, hex) to the access key that
//! signed in and the region it works in. A session ends [`SessionLimits::absolute_ms`] after sign-in,
//! or earlier after [`SessionLimits::idle_ms`] without use; at most [`SessionLimits::max_sessions`]
//! are kept (the least recently used one is dropped first). Tokens are stored only as SHA-256
//! digests, so a lookup's timing says nothing about the token and a memory dump holds no usable
//! token. Failed sign-ins are counted per minute so secrets cannot be guessed at network speed.
//!
//! Pure bookkeeping: the caller passes the time (epoch ms) and checks the secret (see
//! [`super::KeyStore::accepts_console_secret`]); nothing here knows HTTP, cookies or the clock.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Mutex;

use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::model::Region;

/// How long sessions live and how many there may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// A session ends this long after sign-in, whatever its use (ms).
    pub absolute_ms: i64,
    /// A session ends after this long without a request (ms).
    pub idle_ms: i64,
    /// Sessions kept at once; signing in beyond it ends the least recently used one.
    pub max_sessions: usize,
    /// Failed sign-ins accepted per rolling minute (all keys together); more are refused unchecked.
    pub max_failed_sign_ins_per_minute: usize,
}

impl Default for SessionLimits {
    fn default() -> Self {
        Self {
            absolute_ms: 12 * 3_600_000,
            idle_ms: 3_600_000,
            max_sessions: 1_000,
            max_failed_sign_ins_per_minute: 30,
        }
    }
}

/// The secret a browser holds for its session (the cookie value): 64 lowercase hex digits.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    /// The token text, for the cookie only.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn random() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(hex::encode(bytes))
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(***)")
    }
}

/// Who a session belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    /// The access key that signed in; its policy applies to every request of the session.
    pub access_key_id: String,
    /// The region the console works in (streams live per region).
    pub region: Region,
    /// Sign-in time, epoch ms.
    pub created_at_ms: i64,
    /// Time of the last request, epoch ms.
    pub last_used_ms: i64,
}

impl ConsoleSession {
    /// When the session ends if it is not used again (epoch ms).
    pub fn expires_at_ms(&self, limits: &SessionLimits) -> i64 {
        (self.created_at_ms + limits.absolute_ms).min(self.last_used_ms + limits.idle_ms)
    }

    fn is_live(&self, limits: &SessionLimits, now_ms: i64) -> bool {
        now_ms < self.expires_at_ms(limits)
    }
}

type Digest32 = [u8; 32];

fn digest(token: &str) -> Digest32 {
    Sha256::digest(token.as_bytes()).into()
}

fn well_formed(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[derive(Debug, Default)]
struct Inner {
    sessions: HashMap<Digest32, ConsoleSession>,
    failed_sign_ins: VecDeque<i64>,
}

/// The live console sessions.
#[derive(Debug)]
pub struct ConsoleSessions {
    limits: SessionLimits,
    inner: Mutex<Inner>,
}

impl ConsoleSessions {
    /// An empty store with these limits.
    pub fn new(limits: SessionLimits) -> Self {
        Self { limits, inner: Mutex::new(Inner::default()) }
    }

    /// The limits in force.
    pub fn limits(&self) -> &SessionLimits {
        &self.limits
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts a session for a key whose secret the caller has checked.
    pub fn create(&self, access_key_id: &str, region: Region, now_ms: i64) -> SessionToken {
        let token = SessionToken::random();
        let mut inner = self.lock();
        let limits = self.limits;
        inner.sessions.retain(|_, s| s.is_live(&limits, now_ms));
        while inner.sessions.len() >= limits.max_sessions.max(1) {
            let oldest = inner.sessions.iter().min_by_key(|(_, s)| s.last_used_ms).map(|(k, _)| *k);
            match oldest {
                Some(k) => inner.sessions.remove(&k),
                None => break,
            };
        }
        inner.sessions.insert(
            digest(token.as_str()),
            ConsoleSession {
                access_key_id: access_key_id.to_owned(),
                region,
                created_at_ms: now_ms,
                last_used_ms: now_ms,
            },
        );
        token
    }

    /// The session of `token` if it is live, marking it used now; an expired one is removed.
    pub fn resume(&self, token: &str, now_ms: i64) -> Option<ConsoleSession> {
        self.lookup(token, now_ms, true)
    }

    /// The session of `token` if it is live, without counting this as use.
    pub fn peek(&self, token: &str, now_ms: i64) -> Option<ConsoleSession> {
        self.lookup(token, now_ms, false)
    }

    fn lookup(&self, token: &str, now_ms: i64, touch: bool) -> Option<ConsoleSession> {
        if !well_formed(token) {
            return None;
        }
        let key = digest(token);
        let mut inner = self.lock();
        let session = inner.sessions.get_mut(&key)?;
        if !session.is_live(&self.limits, now_ms) {
            inner.sessions.remove(&key);
            return None;
        }
        if touch {
            session.last_used_ms = session.last_used_ms.max(now_ms);
        }
        Some(session.clone())
    }

    /// Ends the session of `token` (sign-out); whether there was one.
    pub fn end(&self, token: &str) -> bool {
        well_formed(token) && self.lock().sessions.remove(&digest(token)).is_some()
    }

    /// Sessions currently held (live or not yet swept).
    pub fn len(&self) -> usize {
        self.lock().sessions.len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a sign-in may be checked now (fewer failures than the limit in the last minute).
    pub fn sign_in_allowed(&self, now_ms: i64) -> bool {
        let mut inner = self.lock();
        while inner.failed_sign_ins.front().is_some_and(|&t| t <= now_ms - 60_000) {
            inner.failed_sign_ins.pop_front();
        }
        inner.failed_sign_ins.len() < self.limits.max_failed_sign_ins_per_minute
    }

    /// Records a failed sign-in.
    pub fn note_failed_sign_in(&self, now_ms: i64) {
        let mut inner = self.lock();
        inner.failed_sign_ins.push_back(now_ms);
        let cap = self.limits.max_failed_sign_ins_per_minute + 1;
        while inner.failed_sign_ins.len() > cap {
            inner.failed_sign_ins.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_800_000_000_000;

    fn region() -> Region {
        Region::parse("us-east-1").unwrap()
    }

    fn store() -> ConsoleSessions {
        ConsoleSessions::new(SessionLimits::default())
    }

    #[test]
    fn console_session_tokens_are_256_random_bits_and_never_printed() {
        let s = store();
        let a = s.create("openkvs", region(), T0);
        let b = s.create("openkvs", region(), T0);
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 64);
        assert!(well_formed(a.as_str()));
        assert_eq!(format!("{a:?}"), "SessionToken(***)");
        let got = s.resume(a.as_str(), T0 + 1).unwrap();
        assert_eq!(got.access_key_id, "openkvs");
        assert_eq!(got.region, region());
    }

    #[test]
    fn console_session_unknown_or_malformed_tokens_find_nothing() {
        let s = store();
        s.create("openkvs", region(), T0);
        assert!(s.resume(&"0".repeat(64), T0).is_none());
        assert!(s.resume("short", T0).is_none());
        assert!(s.resume(&"G".repeat(64), T0).is_none());
        assert!(!s.end("nope"));
    }

    #[test]
    fn console_session_idle_expiry_slides_with_use() {
        let s = store();
        let idle = s.limits().idle_ms;
        let t = s.create("k", region(), T0);
        // Used just before the idle limit: lives on for another idle period.
        assert!(s.resume(t.as_str(), T0 + idle - 1).is_some());
        assert!(s.resume(t.as_str(), T0 + 2 * idle - 2).is_some());
        // Unused for the idle period: gone, and stays gone.
        assert!(s.resume(t.as_str(), T0 + 3 * idle - 1).is_none());
        assert!(s.resume(t.as_str(), T0 + 2 * idle).is_none());
        assert!(s.is_empty());
    }

    #[test]
    fn console_session_peek_does_not_extend_it() {
        let s = store();
        let idle = s.limits().idle_ms;
        let t = s.create("k", region(), T0);
        assert!(s.peek(t.as_str(), T0 + idle - 1).is_some());
        assert!(s.peek(t.as_str(), T0 + idle).is_none());
    }

    #[test]
    fn console_session_absolute_expiry_despite_use() {
        let s = store();
        let lim = *s.limits();
        let t = s.create("k", region(), T0);
        let mut now = T0;
        while now + lim.idle_ms / 2 < T0 + lim.absolute_ms {
            now += lim.idle_ms / 2;
            assert!(s.resume(t.as_str(), now).is_some(), "alive at +{} ms", now - T0);
        }
        let session = s.peek(t.as_str(), now).unwrap();
        assert_eq!(session.expires_at_ms(&lim), T0 + lim.absolute_ms);
        assert!(s.resume(t.as_str(), T0 + lim.absolute_ms).is_none());
    }

    #[test]
    fn console_session_sign_out_ends_only_that_session() {
        let s = store();
        let a = s.create("k", region(), T0);
        let b = s.create("k", region(), T0);
        assert!(s.end(a.as_str()));
        assert!(!s.end(a.as_str()));
        assert!(s.resume(a.as_str(), T0).is_none());
        assert!(s.resume(b.as_str(), T0).is_some());
    }

    #[test]
    fn console_session_count_is_bounded_least_recently_used_first() {
        let s = ConsoleSessions::new(SessionLimits { max_sessions: 3, ..SessionLimits::default() });
        let a = s.create("a", region(), T0);
        let b = s.create("b", region(), T0 + 1);
        let c = s.create("c", region(), T0 + 2);
        s.resume(a.as_str(), T0 + 3).unwrap();
        let d = s.create("d", region(), T0 + 4);
        assert_eq!(s.len(), 3);
        assert!(s.peek(b.as_str(), T0 + 5).is_none(), "b was the least recently used");
        for t in [&a, &c, &d] {
            assert!(s.peek(t.as_str(), T0 + 5).is_some());
        }
    }

    #[test]
    fn console_session_failed_sign_ins_are_rate_limited_per_minute() {
        let s = ConsoleSessions::new(SessionLimits {
            max_failed_sign_ins_per_minute: 3,
            ..SessionLimits::default()
        });
        for i in 0..3 {
            assert!(s.sign_in_allowed(T0 + i));
            s.note_failed_sign_in(T0 + i);
        }
        assert!(!s.sign_in_allowed(T0 + 10));
        assert!(!s.sign_in_allowed(T0 + 59_999));
        assert!(s.sign_in_allowed(T0 + 60_001), "the first failure left the window");
    }
}
