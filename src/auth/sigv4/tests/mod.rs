//! Tests of the SigV4 verifier against independent signers: AWS's published signing test suite
//! (`aws_suite`), the official `aws-sigv4` signer as aws-sdk-rust and the WebRTC SDKs use it (`sdk`),
//! a PutMedia request signed like the KVS C producer with the signature computed in Python
//! (`c_producer`), rejections (`negative`) and random input (`garbage`).
//!
//! Test-only code; it holds the shared fixtures (an owned request, a key table) and nothing the
//! production code may depend on.

mod aws_suite;
mod c_producer;
mod garbage;
mod negative;
mod sdk;

use super::{CredentialLookup, RequestParts, SecretKey};

/// A fixed key table.
pub(super) struct Keys(pub Vec<(&'static str, &'static str)>);

impl CredentialLookup for Keys {
    fn secret_for(&self, access_key_id: &str) -> Option<SecretKey> {
        self.0.iter().find(|(id, _)| *id == access_key_id).map(|(_, s)| SecretKey::new(*s))
    }
}

/// A request owning its parts, so tests can mutate it before borrowing [`RequestParts`].
#[derive(Debug, Clone)]
pub(super) struct OwnedRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl OwnedRequest {
    pub fn new(method: &str, target: &str, headers: &[(&str, &str)]) -> Self {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            headers: headers.iter().map(|(n, v)| ((*n).to_owned(), v.as_bytes().to_vec())).collect(),
            body: Vec::new(),
        }
    }

    /// Parses the suite's `*-signed-request.txt`: request line, `Name:value` headers (a line starting
    /// with whitespace continues the previous value, obs-fold replaced by one space as RFC 9112
    /// allows), a blank line, the body.
    pub fn parse_http(text: &str) -> Self {
        let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
        let mut lines = head.lines();
        let request_line = lines.next().expect("request line");
        let (method, rest) = request_line.split_once(' ').expect("method");
        // One published case omits the protocol version.
        let target = rest.strip_suffix(" HTTP/1.1").unwrap_or(rest);
        let mut req = Self::new(method, target, &[]);
        for line in lines {
            if line.starts_with([' ', '\t']) {
                let last = req.headers.last_mut().expect("continuation after a header");
                last.1.push(b' ');
                last.1.extend_from_slice(line.trim_start().as_bytes());
            } else {
                let (name, value) = line.split_once(':').expect("header line");
                req.headers.push((name.to_owned(), value.as_bytes().to_vec()));
            }
        }
        req.body = body.as_bytes().to_vec();
        req
    }

    pub fn header_refs(&self) -> Vec<(&str, &[u8])> {
        self.headers.iter().map(|(n, v)| (n.as_str(), v.as_slice())).collect()
    }

    pub fn parts<'a>(&'a self, refs: &'a [(&'a str, &'a [u8])]) -> RequestParts<'a> {
        RequestParts { method: &self.method, path: &self.path, query: &self.query, headers: refs }
    }

    /// Replaces the value of every header called `name` (case-insensitive); adds it when absent.
    pub fn set_header(&mut self, name: &str, value: &str) {
        let mut found = false;
        for (n, v) in &mut self.headers {
            if n.eq_ignore_ascii_case(name) {
                *v = value.as_bytes().to_vec();
                found = true;
            }
        }
        if !found {
            self.headers.push((name.to_owned(), value.as_bytes().to_vec()));
        }
    }

    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }
}
