//! The one `NextToken` codec of every paged operation (ListStreams, ListSignalingChannels,
//! ListFragments, GetImages, ListAnalyzerEvents).
//!
//! A token is a page position of whatever shape the operation needs (a serde struct), written as
//! standard base64 of its JSON: opaque to clients, within every model's `NextToken` pattern
//! (`[a-zA-Z0-9+/]+={0,2}`), and self-checking on the way back (a token that does not decode to
//! the operation's position shape is refused). What a position means, and whether it belongs to
//! the request it comes back with, is the operation's business.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::AwsError;

/// Longest token accepted (the largest model limit, ListFragments' and GetImages' 4096).
pub const MAX_TOKEN_LEN: usize = 4096;

/// Encodes a page position.
pub fn encode<T: Serialize>(position: &T) -> String {
    STANDARD.encode(serde_json::to_vec(position).expect("page positions serialise"))
}

/// Decodes a token made by [`encode`] into the position shape `T`; anything else is
/// `InvalidArgumentException` "The NextToken is not valid."
pub fn decode<T: DeserializeOwned>(token: &str) -> Result<T, AwsError> {
    let bad = || AwsError::invalid_argument("The NextToken is not valid.");
    if token.len() > MAX_TOKEN_LEN {
        return Err(bad());
    }
    let raw = STANDARD.decode(token).map_err(|_| bad())?;
    serde_json::from_slice(&raw).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Position {
        after: String,
    }

    #[test]
    fn tokens_round_trip_and_reject_garbage() {
        let p = Position { after: "cam-1".into() };
        let token = encode(&p);
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b)));
        assert_eq!(decode::<Position>(&token).unwrap(), p);
        assert!(decode::<Position>("!!!").is_err());
        assert!(decode::<Position>(&STANDARD.encode("cam-1")).is_err());
        assert!(decode::<Position>(&STANDARD.encode("{\"other\":1}")).is_err());
        assert!(decode::<Position>(&"A".repeat(MAX_TOKEN_LEN + 4)).is_err());
    }
}
