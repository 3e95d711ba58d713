//! Authentication and authorization, free of HTTP types.
//!
//! - [`sigv4`]: pure AWS Signature Version 4 verification (header and presigned-query forms).
//! - [`keys`]: the `[auth]` configuration section ([`AuthConfig`]), the configured access keys
//!   ([`keys::KeyStore`], the credential lookup the verifier uses) and their per-key policies
//!   (allowed operations, stream-name globs).
//! - [`session_token`]: HMAC-sealed tokens of HLS/DASH session URLs.
//! - [`console_session`]: the web console's sign-in sessions (in memory, clock passed in).
//!
//! The API layer turns an HTTP request into [`sigv4::RequestParts`], calls the verifier and maps the
//! outcome to AWS error codes; nothing here reads sockets or clocks.

pub mod console_session;
pub mod keys;
pub mod session_token;
pub mod sigv4;

pub use keys::{
    AuthConfig, AuthMode, Caller, DEV_ACCESS_KEY_ID, DEV_SECRET_ACCESS_KEY, KeyConfig, KeyPolicy, KeyStore,
};
