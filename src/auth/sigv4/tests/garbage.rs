//! Property-style robustness: random and mutated `Authorization` headers, query strings, paths and
//! header values never make the parsers or the verifier panic, and never verify by accident.
//!
//! Test-only; a fixed-seed xorshift generator keeps runs reproducible without extra dependencies.

use super::super::{
    AmzDate, CanonicalOptions, EMPTY_PAYLOAD_SHA256, PayloadHash, RequestParts, SignedHeaders, Verifier,
    VerifierMode, canonical_request, parse_authorization_header, parse_presigned_query,
};
use super::Keys;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n.max(1) as u64)).unwrap_or(0)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Pieces that hit the parsers' branches far more often than uniform bytes would.
const PIECES: &[&str] = &[
    "AWS4-HMAC-SHA256",
    " ",
    "  ",
    ",",
    ", ",
    "=",
    "/",
    ";",
    "&",
    "%",
    "%2F",
    "%zz",
    "%E1%88%B4",
    "+",
    "Credential=",
    "SignedHeaders=",
    "Signature=",
    "AKID",
    "20150830",
    "20150830T123600Z",
    "us-west-2",
    "kinesisvideo",
    "aws4_request",
    "host",
    "x-amz-date",
    "X-Amz-Algorithm=",
    "X-Amz-Credential=",
    "X-Amz-Date=",
    "X-Amz-Expires=",
    "X-Amz-SignedHeaders=",
    "X-Amz-Signature=",
    "X-Amz-Security-Token=",
    "604800",
    "0",
    "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    "..",
    ".",
    "\u{1234}",
    "é",
    "\t",
    "\0",
    "\u{7f}",
    "\u{10FFFF}",
];

fn garbage(rng: &mut Rng) -> String {
    let n = rng.below(24);
    (0..n).map(|_| rng.pick(PIECES)).collect()
}

/// Deletes, duplicates or replaces a random char range of `s`.
fn mutate(rng: &mut Rng, s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = chars.clone();
    for _ in 0..=rng.below(3) {
        let len = out.len();
        let at = rng.below(len + 1);
        let span = rng.below(8).min(len - at.min(len));
        match rng.below(3) {
            0 => {
                out.drain(at..at + span);
            }
            1 => {
                let copy: Vec<char> = out[at..at + span].to_vec();
                out.splice(at..at, copy);
            }
            _ => {
                let piece: Vec<char> = rng.pick(PIECES).chars().collect();
                out.splice(at..at + span, piece);
            }
        }
    }
    out.into_iter().collect()
}

const VALID_AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/kinesisvideo/aws4_request, \
    SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
const VALID_QUERY: &str = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2F\
    kinesisvideo%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host\
    &X-Amz-Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

#[test]
fn random_input_never_panics_or_verifies() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let keys = Keys(vec![("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")]);
    let now = AmzDate::parse_iso8601_basic("20150830T123600Z").map(|d| d.unix_secs()).unwrap_or_default();
    let enforce = Verifier::new(VerifierMode::Enforce, 900);
    let open = Verifier::new(VerifierMode::Open, 900);
    let mut open_accepted = 0usize;
    for i in 0..20_000 {
        let auth = match i % 3 {
            0 => garbage(&mut rng),
            _ => mutate(&mut rng, VALID_AUTH),
        };
        let query = match i % 4 {
            0 => garbage(&mut rng),
            1 => mutate(&mut rng, VALID_QUERY),
            _ => String::new(),
        };
        let path = if i % 5 == 0 { mutate(&mut rng, "/a/./b/../%41c//") } else { "/".to_owned() };
        let date =
            if i % 7 == 0 { mutate(&mut rng, "20150830T123600Z") } else { "20150830T123600Z".to_owned() };
        let _ = parse_authorization_header(&auth);
        let _ = parse_presigned_query(&query);
        let _ = AmzDate::parse_iso8601_basic(&date);
        let _ = AmzDate::parse_rfc1123(&date);
        if let Ok(signed) = SignedHeaders::parse(&garbage(&mut rng)) {
            let headers: [(&str, &[u8]); 1] = [("host", b" a  b ")];
            let parts = RequestParts { method: "GET", path: &path, query: &query, headers: &headers };
            let _ = canonical_request(&parts, &signed, PayloadHash::Unsigned, CanonicalOptions::STANDARD);
        }

        let mut headers: Vec<(&str, &[u8])> =
            vec![("host", b"example.amazonaws.com"), ("x-amz-date", date.as_bytes())];
        if i % 4 != 1 {
            headers.push(("Authorization", auth.as_bytes()));
        }
        let parts = RequestParts { method: "GET", path: &path, query: &query, headers: &headers };
        let payload = PayloadHash::Sha256Hex(EMPTY_PAYLOAD_SHA256);
        if let Ok(id) = enforce.verify(&parts, payload, now, &keys) {
            panic!("garbage verified: auth={auth:?} query={query:?} path={path:?} -> {id:?}");
        }
        if open.verify(&parts, payload, now, &keys).is_ok() {
            open_accepted += 1;
        }
        let raw: Vec<u8> = (0..rng.below(40)).map(|_| (rng.next() & 0xff) as u8).collect();
        let headers: [(&str, &[u8]); 3] =
            [("authorization", &raw), ("x-amz-date", &raw), ("x-amz-security-token", &raw)];
        let parts = RequestParts { method: "GET", path: "/", query: "", headers: &headers };
        assert!(enforce.verify(&parts, payload, now, &keys).is_err());
    }
    // The mutations keep some inputs well-formed, so open mode does accept some of them.
    assert!(open_accepted > 0);
}
