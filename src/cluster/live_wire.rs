//! The bytes of one live event on a NATS subject (design/0021-cluster-feeds.md): a version byte,
//! the publishing node's id, the event's sequence number on its subject (a receiver that sees one
//! missing knows events were lost), then the event ([`LiveEvent`]) in a fixed little-endian layout.
//! Frames carry their bytes as they are (no copy into another container).
//!
//! Pure encoding and decoding: no I/O, no NATS. A message it cannot read is `None` (logged and
//! skipped by the caller), never a panic.

use bytes::{BufMut, Bytes, BytesMut};

use crate::ingest::LiveEvent;
use crate::media::mkv::Frame;
use crate::model::FragmentNumber;

const VERSION: u8 = 1;
const STARTED: u8 = 1;
const FRAME: u8 = 2;
const ENDED: u8 = 3;
const PERSISTED: u8 = 4;
const DELETED: u8 = 5;

const KEY: u8 = 1;
const INVISIBLE: u8 = 2;
const DISCARDABLE: u8 = 4;
const HAS_DURATION: u8 = 8;

/// Encodes `event` as published by node `origin` with sequence number `seq`.
pub fn encode(origin: &str, seq: u64, event: &LiveEvent) -> Bytes {
    let extra = match event {
        LiveEvent::Frame { frame, .. } => frame.data.len(),
        LiveEvent::FragmentStarted { header, .. } => header.len(),
        _ => 0,
    };
    let mut b = BytesMut::with_capacity(64 + origin.len() + extra);
    b.put_u8(VERSION);
    put_short(&mut b, origin.as_bytes());
    b.put_u64_le(seq);
    match event {
        LiveEvent::FragmentStarted { number, cluster_timecode, producer_ts_ms, server_ts_ms, header } => {
            b.put_u8(STARTED);
            put_short(&mut b, number.as_str().as_bytes());
            b.put_u64_le(*cluster_timecode);
            b.put_i64_le(*producer_ts_ms);
            b.put_i64_le(*server_ts_ms);
            b.put_slice(header);
        }
        LiveEvent::Frame { number, frame } => {
            b.put_u8(FRAME);
            put_short(&mut b, number.as_str().as_bytes());
            b.put_u64_le(frame.track);
            b.put_i16_le(frame.timecode_rel);
            let flags = [
                (frame.keyframe, KEY),
                (frame.invisible, INVISIBLE),
                (frame.discardable, DISCARDABLE),
                (frame.duration.is_some(), HAS_DURATION),
            ]
            .iter()
            .filter(|(set, _)| *set)
            .fold(0, |acc, (_, bit)| acc | bit);
            b.put_u8(flags);
            b.put_u64_le(frame.duration.unwrap_or(0));
            b.put_u8(frame.lace_index);
            b.put_slice(&frame.data);
        }
        LiveEvent::FragmentEnded { number, complete } => {
            b.put_u8(ENDED);
            put_short(&mut b, number.as_str().as_bytes());
            b.put_u8(u8::from(*complete));
        }
        LiveEvent::FragmentPersisted { number } => {
            b.put_u8(PERSISTED);
            put_short(&mut b, number.as_str().as_bytes());
        }
        LiveEvent::StreamDeleted => b.put_u8(DELETED),
        // A gap is what a receiver concludes, never sent.
        LiveEvent::Gap => b.put_u8(0),
    }
    b.freeze()
}

/// A decoded message.
#[derive(Debug)]
pub struct Decoded {
    /// The publishing node's id.
    pub origin: String,
    /// The event's sequence number on its subject.
    pub seq: u64,
    /// The event.
    pub event: LiveEvent,
}

/// Decodes a message.
pub fn decode(msg: &Bytes) -> Option<Decoded> {
    let mut r = Reader { buf: msg, at: 0 };
    if r.u8()? != VERSION {
        return None;
    }
    let origin = String::from_utf8(r.short()?.to_vec()).ok()?;
    let seq = r.u64()?;
    let kind = r.u8()?;
    if kind == DELETED {
        return Some(Decoded { origin, seq, event: LiveEvent::StreamDeleted });
    }
    let number = FragmentNumber::parse(std::str::from_utf8(r.short()?).ok()?)?;
    let event = match kind {
        STARTED => LiveEvent::FragmentStarted {
            number,
            cluster_timecode: r.u64()?,
            producer_ts_ms: r.u64()? as i64,
            server_ts_ms: r.u64()? as i64,
            header: r.rest(),
        },
        FRAME => {
            let track = r.u64()?;
            let timecode_rel = r.take(2).map(|s| i16::from_le_bytes([s[0], s[1]]))?;
            let flags = r.u8()?;
            let duration = r.u64()?;
            let lace_index = r.u8()?;
            LiveEvent::Frame {
                number,
                frame: Frame {
                    track,
                    timecode_rel,
                    keyframe: flags & KEY != 0,
                    invisible: flags & INVISIBLE != 0,
                    discardable: flags & DISCARDABLE != 0,
                    duration: (flags & HAS_DURATION != 0).then_some(duration),
                    lace_index,
                    data: r.rest(),
                },
            }
        }
        ENDED => LiveEvent::FragmentEnded { number, complete: r.u8()? != 0 },
        PERSISTED => LiveEvent::FragmentPersisted { number },
        _ => return None,
    };
    Some(Decoded { origin, seq, event })
}

fn put_short(b: &mut BytesMut, s: &[u8]) {
    let n = s.len().min(255);
    b.put_u8(n as u8);
    b.put_slice(&s[..n]);
}

struct Reader<'a> {
    buf: &'a Bytes,
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let s = self.buf.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|s| s[0])
    }

    fn u64(&mut self) -> Option<u64> {
        self.take(8).map(|s| u64::from_le_bytes(s.try_into().unwrap_or_default()))
    }

    fn short(&mut self) -> Option<&[u8]> {
        let n = usize::from(self.u8()?);
        self.take(n)
    }

    /// The rest of the message, sharing its bytes.
    fn rest(&mut self) -> Bytes {
        let rest = self.buf.slice(self.at..);
        self.at = self.buf.len();
        rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(n: &str) -> FragmentNumber {
        FragmentNumber::parse(n).unwrap()
    }

    #[test]
    fn every_event_survives_the_round_trip() {
        let frame = Frame {
            track: 2,
            timecode_rel: -7,
            keyframe: true,
            invisible: false,
            discardable: true,
            duration: Some(40),
            lace_index: 3,
            data: Bytes::from_static(b"\x00\x00\x00\x01frame"),
        };
        let events = [
            LiveEvent::FragmentStarted {
                number: number("91343852333181432392682062622220590765191907586"),
                cluster_timecode: 1_700_000_000_000,
                producer_ts_ms: 1_700_000_000_000,
                server_ts_ms: 1_700_000_000_123,
                header: Bytes::from_static(b"\x1a\x45\xdf\xa3header"),
            },
            LiveEvent::Frame { number: number("12"), frame: frame.clone() },
            LiveEvent::Frame { number: number("12"), frame: Frame { duration: None, ..frame } },
            LiveEvent::FragmentEnded { number: number("12"), complete: true },
            LiveEvent::FragmentEnded { number: number("13"), complete: false },
            LiveEvent::FragmentPersisted { number: number("12") },
            LiveEvent::StreamDeleted,
        ];
        for (seq, event) in events.into_iter().enumerate() {
            let back = decode(&encode("node-1", seq as u64, &event)).unwrap();
            assert_eq!((back.origin.as_str(), back.seq), ("node-1", seq as u64));
            assert_eq!(format!("{:?}", back.event), format!("{event:?}"));
        }
    }

    #[test]
    fn truncated_or_foreign_messages_are_refused() {
        let bytes = encode("n", 9, &LiveEvent::FragmentEnded { number: number("5"), complete: true });
        for n in 0..bytes.len() {
            assert!(decode(&bytes.slice(..n)).is_none(), "prefix of {n} bytes decoded");
        }
        assert!(decode(&Bytes::from_static(b"\x02\x01n\0\0\0\0\0\0\0\0\x04\x011")).is_none());
        assert!(decode(&Bytes::from_static(b"\x01\x01n\0\0\0\0\0\0\0\0\x09\x011")).is_none());
        assert!(decode(&Bytes::from_static(b"\x01\x01n\0\0\0\0\0\0\0\0\x04\x011")).is_some());
    }
}
