//! `POST /putMedia`: validates the PutMedia headers (errors here are ordinary HTTP + AWS errors; the
//! input's members are bound to `x-amzn-*` headers and its `Payload` is the streaming body),
//! then answers 200 at once and streams newline-separated JSON ACKs while the request body is still
//! arriving; from then on errors are ACKs with an `ErrorId`.
//!
//! ACK lines are flat objects with exactly the keys the producer SDK's parser knows: `EventType`,
//! `FragmentTimecode` (a bare integer: the Cluster Timecode as sent), `FragmentNumber` (a string)
//! and, for errors, `ErrorId` (a bare integer) plus the informational `ErrorCode`.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, header};
use futures_util::{Stream, StreamExt};
use http_body::Body as _;
use serde::Deserialize;

use crate::api::aws::{AwsError, AwsErrorCode, Call, OperationInput, PayloadOutput, Valid};
use crate::api::streams::StreamRef;
use crate::archive::IndexError;
use crate::cluster::ClaimError;
use crate::ingest::session::{parse_timecode_type, run};
use crate::ingest::{Ack, AckKind, SessionParams};
use crate::media::fragment::TimecodeType;

/// `PutMediaInput`: the members (serde names as in the KVS API reference) are read from their
/// headers; the JSON form exists for the input checks of the fuzz targets.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutMediaInput {
    /// `x-amzn-stream-name`.
    stream_name: Option<String>,
    /// `x-amzn-stream-arn`.
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    /// `x-amzn-fragment-timecode-type`.
    fragment_timecode_type: Option<String>,
    /// `x-amzn-producer-start-timestamp`.
    producer_start_timestamp: Option<String>,
    /// The body: the Matroska stream.
    #[serde(skip)]
    payload: Option<Body>,
    /// Whether the client sent `Expect: 100-continue`.
    #[serde(skip)]
    expects_continue: bool,
}

fn header_str(headers: &HeaderMap, name: &str) -> Result<Option<String>, AwsError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.trim().to_owned()))
            .map_err(|_| AwsError::invalid_argument(format!("The {name} header is not valid text."))),
    }
}

/// A validated PutMedia request.
#[derive(Debug)]
pub struct PutMediaRequest {
    stream: StreamRef,
    timecode_type: TimecodeType,
    producer_start_timestamp: Option<String>,
    payload: Body,
    expects_continue: bool,
}

impl OperationInput for PutMediaInput {
    type Valid = PutMediaRequest;

    async fn from_request(req: Request) -> Result<Self, AwsError> {
        let headers = req.headers();
        let input = PutMediaInput {
            stream_name: header_str(headers, "x-amzn-stream-name")?,
            stream_arn: header_str(headers, "x-amzn-stream-arn")?,
            fragment_timecode_type: header_str(headers, "x-amzn-fragment-timecode-type")?,
            producer_start_timestamp: header_str(headers, "x-amzn-producer-start-timestamp")?,
            // libcurl (the C producer) sends `Expect: 100-continue`.
            expects_continue: headers
                .get(header::EXPECT)
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue")),
            payload: None,
        };
        Ok(PutMediaInput { payload: Some(req.into_body()), ..input })
    }

    fn validate(self) -> Result<PutMediaRequest, AwsError> {
        let stream = StreamRef::from_input(self.stream_name.as_deref(), self.stream_arn.as_deref())?;
        let timecode_type = match self.fragment_timecode_type.as_deref() {
            Some(v) => parse_timecode_type(v).ok_or_else(|| {
                AwsError::invalid_argument("x-amzn-fragment-timecode-type must be ABSOLUTE or RELATIVE.")
            })?,
            None => {
                return Err(AwsError::invalid_argument(
                    "The x-amzn-fragment-timecode-type header is required.",
                ));
            }
        };
        Ok(PutMediaRequest {
            stream,
            timecode_type,
            producer_start_timestamp: self.producer_start_timestamp,
            payload: self.payload.unwrap_or_else(Body::empty),
            expects_continue: self.expects_continue,
        })
    }
}

/// `PutMediaOutput`: the stream of ACK lines (`application/json`, one object per line).
pub type PutMediaOutput = PayloadOutput;

/// Starts a PutMedia session.
pub async fn handle(call: Call, Valid(req): Valid<PutMediaInput>) -> Result<PutMediaOutput, AwsError> {
    let state = &call.state;
    let stream = call.stream(&req.stream).await?;
    let slot = state.ingest.register(stream.id).map_err(|_| connection_limit())?;
    // Cluster mode: this node becomes the stream's writer under a new epoch, unless another
    // node's session holds it (refused like a second session on one node).
    let lease = match &state.cluster {
        Some(cluster) => Some(cluster.claim_writer(stream.id).await.map_err(|e| match e {
            ClaimError::HeldElsewhere { .. } => connection_limit(),
            ClaimError::Index(IndexError::NotFound) => AwsError::stream_not_found(),
            ClaimError::Index(e) => AwsError::internal(format!("claiming the stream's writer epoch: {e}")),
        })?),
        None => None,
    };
    let params = SessionParams {
        stream,
        timecode_type: req.timecode_type,
        producer_start_timestamp: req.producer_start_timestamp,
        remote: call.remote,
        writer_epoch: lease.as_ref().map(|l| l.epoch()),
    };
    // hyper answers `100 Continue` when the body is first polled, but only before the response
    // head goes out: so wait for the first body bytes (bounded by the idle timeout) before
    // answering 200.
    let mut body = PayloadChunks { first: None, body: req.payload };
    if req.expects_continue {
        body.first =
            tokio::time::timeout(state.ingest.config().idle_timeout(), body.next()).await.ok().flatten();
    }
    let acks = run(state.ingest.clone(), slot, params, Box::pin(body));
    // The response body holds the writer lease: it is released when the last ACK went out.
    let lines = futures_util::stream::unfold((acks, lease), |(mut rx, lease)| async move {
        rx.recv().await.map(|ack| (Ok::<Bytes, std::convert::Infallible>(ack_line(&ack)), (rx, lease)))
    });
    Ok(PayloadOutput {
        content_type: "application/json",
        content_length: None,
        payload: Body::from_stream(lines),
    })
}

/// The request body as the session reads it: one item per data frame (one per HTTP chunk, which
/// producers send per media frame, ~30 a second), polled straight from the body without stream
/// adapters in between (each adapter is one more poll per frame); trailers are skipped. `first`:
/// the chunk read before answering `100 Continue`, handed out first (an error read then is
/// handed out as the first item too, and the session reports it).
struct PayloadChunks {
    first: Option<Result<Bytes, String>>,
    body: Body,
}

impl Stream for PayloadChunks {
    type Item = Result<Bytes, String>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(first) = this.first.take() {
            return Poll::Ready(Some(first));
        }
        loop {
            match ready!(Pin::new(&mut this.body).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        return Poll::Ready(Some(Ok(data)));
                    }
                }
                Some(Err(e)) => return Poll::Ready(Some(Err(e.to_string()))),
                None => return Poll::Ready(None),
            }
        }
    }
}

/// A second PutMedia on a stream, on this node or anywhere in the cluster: refused, as AWS does
/// today (design/0020-cluster.md).
fn connection_limit() -> AwsError {
    AwsError::new(
        AwsErrorCode::ConnectionLimitExceededException,
        "The stream already has a PutMedia connection; only one is allowed at a time.",
    )
}

/// One ACK event as the producer SDK parses it.
/// One ACK line, written directly (no serializer): a constant prefix per event type, then the
/// bare integers and the fragment number (decimal digits, never escaped). Three lines per fragment
/// at every bitrate, so this is a per-fragment cost worth keeping small. The field order and form
/// are exactly what a JSON serializer of the flat object would produce (the unit test pins it).
pub fn ack_line(ack: &Ack) -> Bytes {
    use std::io::Write;
    let (prefix, error): (&[u8], _) = match ack.kind {
        AckKind::Buffering => (b"{\"EventType\":\"BUFFERING\"", None),
        AckKind::Received => (b"{\"EventType\":\"RECEIVED\"", None),
        AckKind::Persisted => (b"{\"EventType\":\"PERSISTED\"", None),
        AckKind::Error(id) => (b"{\"EventType\":\"ERROR\"", Some(id)),
        AckKind::Idle => (b"{\"EventType\":\"IDLE\"", None),
    };
    let mut line = Vec::with_capacity(128);
    line.extend_from_slice(prefix);
    if let Some(tc) = ack.fragment_timecode {
        let _ = write!(line, ",\"FragmentTimecode\":{tc}");
    }
    if let Some(n) = &ack.fragment_number {
        line.extend_from_slice(b",\"FragmentNumber\":\"");
        line.extend_from_slice(n.as_str().as_bytes());
        line.push(b'"');
    }
    if let Some(e) = error {
        let _ = write!(line, ",\"ErrorId\":{},\"ErrorCode\":\"{}\"", e.id(), e.name());
    }
    line.extend_from_slice(b"}\n");
    Bytes::from(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::error_id::ErrorId;
    use crate::model::FragmentNumber;

    #[test]
    fn ack_lines_are_flat_with_bare_integers() {
        let n = FragmentNumber::from_ordinal(7);
        let ack = Ack {
            kind: AckKind::Persisted,
            fragment_timecode: Some(1663277247152),
            fragment_number: Some(n),
        };
        let line = String::from_utf8(ack_line(&ack).to_vec()).unwrap();
        assert!(line.starts_with(
            "{\"EventType\":\"PERSISTED\",\"FragmentTimecode\":1663277247152,\"FragmentNumber\":\"9134"
        ));
        assert!(line.ends_with("}\n"));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert!(v["FragmentNumber"].is_string());
        let err = Ack {
            kind: AckKind::Error(ErrorId::InvalidMkvData),
            fragment_timecode: None,
            fragment_number: None,
        };
        assert_eq!(
            ack_line(&err),
            "{\"EventType\":\"ERROR\",\"ErrorId\":4006,\"ErrorCode\":\"INVALID_MKV_DATA\"}\n"
        );
        assert_eq!(
            ack_line(&Ack { kind: AckKind::Idle, fragment_timecode: None, fragment_number: None }),
            "{\"EventType\":\"IDLE\"}\n"
        );
    }

    #[test]
    fn every_ack_kind_is_one_json_object_with_the_fields_it_has() {
        let n = FragmentNumber::from_ordinal(123_456);
        let kinds = [
            AckKind::Buffering,
            AckKind::Received,
            AckKind::Persisted,
            AckKind::Error(ErrorId::FragmentArchivalError),
            AckKind::Idle,
        ];
        for kind in kinds {
            for (tc, num) in [(Some(u64::MAX), Some(n.clone())), (Some(0), None), (None, Some(n.clone()))] {
                let ack = Ack { kind: kind.clone(), fragment_timecode: tc, fragment_number: num.clone() };
                let line = ack_line(&ack);
                assert_eq!(line.iter().filter(|b| **b == b'\n').count(), 1);
                let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
                let o = v.as_object().unwrap();
                assert_eq!(o.get("FragmentTimecode").and_then(|t| t.as_u64()), tc);
                assert_eq!(
                    o.get("FragmentNumber").and_then(|t| t.as_str()),
                    num.as_ref().map(|n| n.as_str())
                );
                if let AckKind::Error(e) = kind {
                    assert_eq!(o["EventType"], "ERROR");
                    assert_eq!(o["ErrorId"].as_u64(), Some(u64::from(e.id())));
                    assert_eq!(o["ErrorCode"], e.name());
                } else {
                    assert!(!o.contains_key("ErrorId") && !o.contains_key("ErrorCode"));
                }
            }
        }
    }
}
