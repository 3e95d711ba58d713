//! `POST /putMedia`: validates the PutMedia headers (errors here are ordinary HTTP + AWS errors),
//! then answers 200 at once and streams newline-separated JSON ACKs while the request body is still
//! arriving; from then on errors are ACKs with an `ErrorId`.
//!
//! ACK lines are flat objects with exactly the keys the producer SDK's parser knows: `EventType`,
//! `FragmentTimecode` (a bare integer: the Cluster Timecode as sent), `FragmentNumber` (a string)
//! and, for errors, `ErrorId` (a bare integer) plus the informational `ErrorCode`.

use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use futures_util::StreamExt;

use crate::api::aws::{AwsError, AwsErrorCode, Operation};
use crate::api::streams::{StreamRef, resolve};
use crate::api::{AppState, RemoteAddr};
use crate::auth::Caller;
use crate::ingest::session::{body_stream, parse_timecode_type, run};
use crate::ingest::{Ack, AckKind, SessionParams};

/// The operation this file serves.
pub const OPERATION: Operation = Operation::PutMedia;

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, AwsError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.trim()))
            .map_err(|_| AwsError::invalid_argument(format!("The {name} header is not valid text."))),
    }
}

/// Starts a PutMedia session.
pub async fn handle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    req: Request,
) -> Result<Response, AwsError> {
    let headers = req.headers();
    let stream_ref = StreamRef::from_pair(
        header_str(headers, "x-amzn-stream-name")?,
        header_str(headers, "x-amzn-stream-arn")?,
        AwsErrorCode::InvalidArgumentException,
    )?;
    let timecode_type = match header_str(headers, "x-amzn-fragment-timecode-type")? {
        Some(v) => parse_timecode_type(v).ok_or_else(|| {
            AwsError::invalid_argument("x-amzn-fragment-timecode-type must be ABSOLUTE or RELATIVE.")
        })?,
        None => {
            return Err(AwsError::invalid_argument("The x-amzn-fragment-timecode-type header is required."));
        }
    };
    let producer_start = header_str(headers, "x-amzn-producer-start-timestamp")?.map(str::to_owned);
    let stream = resolve(&state, &caller, OPERATION, &stream_ref).await?;
    let slot = state.ingest.register(stream.id).map_err(|_| {
        AwsError::new(
            AwsErrorCode::ConnectionLimitExceededException,
            "The stream already has a PutMedia connection; only one is allowed at a time.",
        )
    })?;
    let remote = req.extensions().get::<RemoteAddr>().map(|r| r.0);
    let params = SessionParams { stream, timecode_type, producer_start_timestamp: producer_start, remote };
    // libcurl (the C producer) sends `Expect: 100-continue`. hyper answers `100 Continue` when the
    // body is first polled, but only before the response head goes out: so wait for the first body
    // bytes (bounded by the idle timeout) before answering 200.
    let expects_continue =
        req.headers().get(header::EXPECT).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let mut data = req.into_body().into_data_stream();
    let first = if expects_continue {
        tokio::time::timeout(state.ingest.config().idle_timeout(), data.next()).await.ok().flatten()
    } else {
        None
    };
    let body = body_stream(futures_util::stream::iter(first).chain(data));
    let acks = run(state.ingest.clone(), slot, params, body);
    let lines = futures_util::stream::unfold(acks, |mut rx| async move {
        rx.recv().await.map(|ack| (Ok::<Bytes, std::convert::Infallible>(ack_line(&ack)), rx))
    });
    let mut resp = Response::new(Body::from_stream(lines));
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(resp)
}

/// One ACK as the line the producer SDK parses.
pub fn ack_line(ack: &Ack) -> Bytes {
    let kind = match &ack.kind {
        AckKind::Buffering => "BUFFERING",
        AckKind::Received => "RECEIVED",
        AckKind::Persisted => "PERSISTED",
        AckKind::Error { .. } => "ERROR",
        AckKind::Idle => "IDLE",
    };
    let mut line = format!("{{\"EventType\":\"{kind}\"");
    if let Some(tc) = ack.fragment_timecode {
        line.push_str(&format!(",\"FragmentTimecode\":{tc}"));
    }
    if let Some(n) = &ack.fragment_number {
        line.push_str(&format!(",\"FragmentNumber\":\"{n}\""));
    }
    if let AckKind::Error { error_id, error_code } = &ack.kind {
        line.push_str(&format!(",\"ErrorId\":{error_id},\"ErrorCode\":\"{error_code}\""));
    }
    line.push_str("}\n");
    Bytes::from(line)
}

#[cfg(test)]
mod tests {
    use super::*;
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
            kind: AckKind::Error { error_id: 4006, error_code: "INVALID_MKV_DATA" },
            fragment_timecode: None,
            fragment_number: None,
        };
        let v: serde_json::Value = serde_json::from_slice(&ack_line(&err)).unwrap();
        assert_eq!(v["ErrorId"], 4006);
        assert_eq!(
            ack_line(&Ack { kind: AckKind::Idle, fragment_timecode: None, fragment_number: None }),
            "{\"EventType\":\"IDLE\"}\n"
        );
    }
}
