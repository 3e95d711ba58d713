//! Reading the PutMedia ACK stream: flat JSON objects (`EventType`, `FragmentTimecode`,
//! `FragmentNumber`, `ErrorId`, `ErrorCode`), newline-separated, arriving in whatever pieces the
//! connection delivers.
//!
//! Owns the client's view of the ACK wire format. Like the KVS producer's parser it skips bytes up
//! to `{` and takes an object to the next `}` (ACKs are flat), so it also copes with objects sent
//! back to back without newlines. It does no I/O.

use serde_json::Value;

/// An ACK's `EventType`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckEvent {
    /// The fragment's first bytes arrived.
    Buffering,
    /// The whole fragment arrived.
    Received,
    /// The fragment is durable.
    Persisted,
    /// A fragment or the session failed.
    Error,
    /// The session is alive, no data is arriving.
    Idle,
    /// Anything else (kept for the report).
    Other(String),
}

/// One parsed ACK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedAck {
    /// `EventType`.
    pub event: AckEvent,
    /// `FragmentTimecode`: the Cluster Timecode as sent.
    pub fragment_timecode: Option<u64>,
    /// `FragmentNumber`.
    pub fragment_number: Option<String>,
    /// `ErrorId` (ERROR only).
    pub error_id: Option<u64>,
    /// `ErrorCode` (ERROR only, informational).
    pub error_code: Option<String>,
}

/// Largest ACK object kept while waiting for its `}`; the KVS producer's limit is 1024 bytes.
const MAX_ACK_LEN: usize = 64 * 1024;

/// Incremental ACK parser: [`AckParser::push`] bytes, get the complete ACKs back.
#[derive(Debug, Default)]
pub struct AckParser {
    buf: Vec<u8>,
    /// Objects that were not valid ACK JSON (counted, not fatal).
    pub unparsed: u64,
}

impl AckParser {
    /// Appends bytes and returns every ACK completed by them, in order.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<ParsedAck> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        let mut consumed = 0;
        loop {
            let rest = self.buf.get(consumed..).unwrap_or(&[]);
            let Some(start) = rest.iter().position(|&b| b == b'{') else {
                consumed = self.buf.len();
                break;
            };
            let Some(len) = rest.get(start..).and_then(|r| r.iter().position(|&b| b == b'}')) else {
                consumed += start;
                break;
            };
            let object = rest.get(start..=start + len).unwrap_or(&[]);
            match parse_ack(object) {
                Some(ack) => out.push(ack),
                None => self.unparsed += 1,
            }
            consumed += start + len + 1;
        }
        self.buf.drain(..consumed.min(self.buf.len()));
        if self.buf.len() > MAX_ACK_LEN {
            self.buf.clear();
            self.unparsed += 1;
        }
        out
    }
}

/// Parses one flat ACK object.
pub fn parse_ack(object: &[u8]) -> Option<ParsedAck> {
    let v: Value = serde_json::from_slice(object).ok()?;
    let event = match v.get("EventType")?.as_str()? {
        "BUFFERING" => AckEvent::Buffering,
        "RECEIVED" => AckEvent::Received,
        "PERSISTED" => AckEvent::Persisted,
        "ERROR" => AckEvent::Error,
        "IDLE" => AckEvent::Idle,
        other => AckEvent::Other(other.to_owned()),
    };
    let number = |key: &str| v.get(key).and_then(|x| x.as_u64().or_else(|| x.as_str()?.parse().ok()));
    Some(ParsedAck {
        event,
        fragment_timecode: number("FragmentTimecode"),
        fragment_number: v.get("FragmentNumber").and_then(|x| match x {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }),
        error_id: number("ErrorId"),
        error_code: v.get("ErrorCode").and_then(Value::as_str).map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_anywhere() {
        let stream = concat!(
            "{\"EventType\":\"BUFFERING\",\"FragmentTimecode\":1700000000000,\"FragmentNumber\":\"9134\"}\n",
            "{\"EventType\":\"IDLE\"}\n",
            "{\"EventType\":\"ERROR\",\"FragmentTimecode\":1700000002000,\"FragmentNumber\":\"9135\",",
            "\"ErrorId\":4004,\"ErrorCode\":\"FRAGMENT_TIMECODE_NOT_MONOTONIC\"}",
            "{\"EventType\":\"PERSISTED\",\"FragmentTimecode\":1700000000000,\"FragmentNumber\":\"9134\"}\n",
        )
        .as_bytes();
        for piece in [1, 2, 7, 50, stream.len()] {
            let mut p = AckParser::default();
            let acks: Vec<ParsedAck> = stream.chunks(piece).flat_map(|c| p.push(c)).collect();
            assert_eq!(acks.len(), 4, "piece {piece}");
            assert_eq!(acks[0].event, AckEvent::Buffering);
            assert_eq!(acks[0].fragment_timecode, Some(1_700_000_000_000));
            assert_eq!(acks[0].fragment_number.as_deref(), Some("9134"));
            assert_eq!(acks[1].event, AckEvent::Idle);
            assert_eq!(acks[2].error_id, Some(4004));
            assert_eq!(acks[2].error_code.as_deref(), Some("FRAGMENT_TIMECODE_NOT_MONOTONIC"));
            assert_eq!(acks[3].event, AckEvent::Persisted);
            assert_eq!(p.unparsed, 0);
        }
    }

    #[test]
    fn garbage_is_counted_not_fatal() {
        let mut p = AckParser::default();
        let acks = p.push(b"noise {not json} {\"EventType\":\"RECEIVED\",\"FragmentTimecode\":5}");
        assert_eq!(acks.len(), 1);
        assert_eq!(acks[0].event, AckEvent::Received);
        assert_eq!(p.unparsed, 1);
    }
}
