//! CORS for browsers: players (hls.js, dash.js, Safari) fetch session resources from another
//! origin, and browser SDKs call the JSON APIs. Every response gets
//! `Access-Control-Allow-Origin: *` and exposes the AWS response headers; an `OPTIONS` preflight is
//! answered here, before authentication (browsers never sign preflights).
//!
//! Owns only these headers; it must not look at credentials or bodies.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

const ALLOW_HEADERS: &str = "authorization, content-type, x-amz-date, x-amz-security-token, x-amz-user-agent, \
     x-amz-content-sha256, x-amzn-fragment-timecode-type, x-amzn-producer-start-timestamp, x-amzn-stream-name, \
     x-amzn-stream-arn, amz-sdk-invocation-id, amz-sdk-request, range, if-match";
const EXPOSE_HEADERS: &str = "x-amzn-requestid, x-amzn-errortype, x-amzn-errormessage, x-amz-id-2, content-length, content-type, \
     location, link, etag";

/// The CORS middleware (outermost layer).
pub async fn cors(req: Request, next: Next) -> Response {
    let mut resp = if req.method() == Method::OPTIONS {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NO_CONTENT;
        let h = r.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, HEAD, POST, PATCH, DELETE, OPTIONS"),
        );
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(ALLOW_HEADERS));
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
        r
    } else {
        next.run(req).await
    };
    let h = resp.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSE_HEADERS));
    resp
}
