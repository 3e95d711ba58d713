//! Lingering close for request bodies a handler leaves unread.
//!
//! An early refusal (a 403 for a key without PutMedia, a 404 for an unknown stream) is answered
//! before the body is read. If the server then closed the connection with the producer's bytes
//! still unread in its socket, the kernel would answer them with a reset, and a client still
//! writing can see the reset before it reads the answer: the AWS error is lost. So every request
//! body goes through [`DrainOnDrop`]: dropped before its end, it hands the rest to a task that
//! reads and discards it, for at most [`DRAIN_BYTES`] or [`DRAIN_TIME`], while the answer is
//! written; only then is the connection closed. This is the "lingering close" of HTTP/1.1 servers
//! (RFC 9112 §9.6). It owns nothing else: it never answers, and never holds a body that was read
//! to its end.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::BodyExt;

/// The most a drain reads after its handler gave up the body.
pub const DRAIN_BYTES: u64 = 4 * 1024 * 1024;
/// The longest a drain reads after its handler gave up the body.
pub const DRAIN_TIME: Duration = Duration::from_secs(2);

/// A request body that, dropped unread, drains the rest in the background (bounded).
pub struct DrainOnDrop {
    inner: Option<Body>,
    ended: bool,
}

impl DrainOnDrop {
    /// Wraps a request body.
    pub fn wrap(body: Body) -> Body {
        if body.is_end_stream() {
            return body;
        }
        Body::new(DrainOnDrop { inner: Some(body), ended: false })
    }
}

impl HttpBody for DrainOnDrop {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else { return Poll::Ready(None) };
        let polled = Pin::new(inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            this.ended = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.inner.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.as_ref().map(|b| b.size_hint()).unwrap_or_default()
    }
}

impl Drop for DrainOnDrop {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        let Some(body) = self.inner.take() else { return };
        if body.is_end_stream() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        runtime.spawn(drain(body));
    }
}

/// Reads and discards what is left of a body, within the bounds.
async fn drain(mut body: Body) {
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        let mut read = 0u64;
        while read < DRAIN_BYTES {
            match body.frame().await {
                Some(Ok(frame)) => read += frame.data_ref().map_or(0, |d| d.len() as u64),
                Some(Err(_)) | None => break,
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_body_read_to_its_end_is_not_drained_again() {
        let mut body = DrainOnDrop::wrap(Body::from("abc"));
        let got = (&mut body).collect().await.unwrap().to_bytes();
        assert_eq!(got, "abc");
        assert!(body.is_end_stream());
    }

    #[tokio::test]
    async fn a_dropped_body_is_drained_within_the_bounds() {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(4);
        let stream = tokio_stream_of(rx);
        let body = DrainOnDrop::wrap(Body::new(http_body_util::StreamBody::new(stream)));
        drop(body);
        // The drain keeps the receiving side open: sends succeed until the byte bound is reached.
        let chunk = Bytes::from(vec![0u8; 1024 * 1024]);
        let mut sent = 0u64;
        while tx.send(Ok(Frame::data(chunk.clone()))).await.is_ok() {
            sent += chunk.len() as u64;
            assert!(sent <= DRAIN_BYTES + 8 * 1024 * 1024, "the drain never stopped");
        }
        assert!(sent >= DRAIN_BYTES, "stopped after {sent} bytes");
    }

    fn tokio_stream_of(
        mut rx: tokio::sync::mpsc::Receiver<Result<Frame<Bytes>, std::io::Error>>,
    ) -> impl futures_util::Stream<Item = Result<Frame<Bytes>, std::io::Error>> + Send {
        futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
    }
}
