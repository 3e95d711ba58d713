//! One keep-alive HTTP/1.1 connection to an endpoint, for the clients that make many small signed
//! calls: the read-side benches (`bench getmedia`, `bench hls`, `bench whep`: GetMedia,
//! GetHLSStreamingSessionURL, GetWHEPStreamingSessionURL, and unsigned GETs, POSTs and DELETEs of
//! session resources authorized by their SessionToken or URL) and the edge agent of `openkvs edge` (ListEdgeAgentConfigurations,
//! GetDataEndpoint, its status reports, and secretsmanager's GetSecretValue in AWS JSON 1.1).
//!
//! Owns the hyper client connection of one client: opened through [`crate::outbound`]
//! on first use, reused for every following request, reopened after it closes. Knows nothing of
//! what the bodies contain.

use std::time::SystemTime;

use aws_sdk_kinesisvideo::config::Credentials;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, Response, Uri};
use hyper_util::rt::TokioIo;

use crate::outbound::{self as transport, ConnectError};
use crate::producer::sign::{SignError, sign_json_post};

/// User-Agent of the bench requests.
const USER_AGENT: &str = concat!("openkvs-bench/", env!("CARGO_PKG_VERSION"));

/// A request failed.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The URL cannot be used (or names another host than the connection's).
    #[error("unusable URL {0}")]
    Url(String),
    /// Connecting failed.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// Signing failed.
    #[error(transparent)]
    Sign(#[from] SignError),
    /// The HTTP exchange failed.
    #[error("HTTP: {0}")]
    Http(String),
    /// The server answered with an error status.
    #[error("HTTP {status}: {body}")]
    Status {
        /// Status code.
        status: u16,
        /// The start of the body (the AWS error JSON).
        body: String,
    },
}

/// A keep-alive connection to one `scheme://host:port`.
pub struct DataConnection {
    /// `scheme://authority` every request goes to.
    origin: String,
    authority: String,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl DataConnection {
    /// A connection (not yet opened) to the origin of `url`.
    pub fn new(url: &str) -> Result<Self, DataError> {
        let uri: Uri = url.parse().map_err(|_| DataError::Url(url.to_owned()))?;
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return Err(DataError::Url(url.to_owned()));
        };
        Ok(DataConnection {
            origin: format!("{scheme}://{authority}"),
            authority: authority.as_str().to_owned(),
            sender: None,
        })
    }

    /// The open sender, connecting first if there is none or the last one closed.
    async fn sender(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, DataError> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            self.sender = None;
            let uri: Uri = self.origin.parse().map_err(|_| DataError::Url(self.origin.clone()))?;
            let io = transport::connect(&uri).await?;
            let (sender, conn) = hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(io))
                .await
                .map_err(|e| DataError::Http(e.to_string()))?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            self.sender = Some(sender);
        }
        let sender = self.sender.as_mut().ok_or_else(|| DataError::Http("no connection".to_owned()))?;
        if let Err(e) = sender.ready().await {
            self.sender = None;
            return Err(DataError::Http(e.to_string()));
        }
        self.sender.as_mut().ok_or_else(|| DataError::Http("no connection".to_owned()))
    }

    async fn send(&mut self, request: Request<Full<Bytes>>) -> Result<Response<Incoming>, DataError> {
        let sender = self.sender().await?;
        match sender.send_request(request).await {
            Ok(r) => Ok(r),
            Err(e) => {
                self.sender = None;
                Err(DataError::Http(e.to_string()))
            }
        }
    }

    /// The path and query of `url`, which must be on this connection's origin.
    fn path_of(&self, url: &str) -> Result<String, DataError> {
        let rest = url.strip_prefix(&self.origin).ok_or_else(|| DataError::Url(url.to_owned()))?;
        Ok(if rest.starts_with('/') { rest.to_owned() } else { format!("/{rest}") })
    }

    /// An unsigned request for `url` (on this connection's origin), with a body of the given
    /// content type if any: a session resource authorized by its URL. The response head.
    async fn unsigned(
        &mut self,
        method: Method,
        url: &str,
        body: Option<(&str, Bytes)>,
    ) -> Result<Response<Incoming>, DataError> {
        let path = self.path_of(url)?;
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.authority)
            .header("user-agent", USER_AGENT);
        let body = match body {
            Some((content_type, bytes)) => {
                request = request.header("content-type", content_type).header("content-length", bytes.len());
                bytes
            }
            None => Bytes::new(),
        };
        let request = request.body(Full::new(body)).map_err(|e| DataError::Http(e.to_string()))?;
        self.send(request).await
    }

    /// GET `url` (on this connection's origin); the response head, body not yet read.
    pub async fn get(&mut self, url: &str) -> Result<Response<Incoming>, DataError> {
        self.unsigned(Method::GET, url, None).await
    }

    /// An unsigned POST of `body` (`content_type`) to `url` (e.g. a WHEP offer); the response head.
    pub async fn post(
        &mut self,
        url: &str,
        content_type: &str,
        body: Bytes,
    ) -> Result<Response<Incoming>, DataError> {
        self.unsigned(Method::POST, url, Some((content_type, body))).await
    }

    /// An unsigned DELETE of `url` (e.g. a WHEP session resource); the response head.
    pub async fn delete(&mut self, url: &str) -> Result<Response<Incoming>, DataError> {
        self.unsigned(Method::DELETE, url, None).await
    }

    /// A SigV4-signed POST of a JSON `body` to `path`; the response head, body not yet read.
    pub async fn post_json(
        &mut self,
        path: &str,
        body: Vec<u8>,
        credentials: &Credentials,
        region: &str,
    ) -> Result<Response<Incoming>, DataError> {
        let url = format!("{}{path}", self.origin);
        let length = body.len().to_string();
        let headers: [(&str, &str); 4] = [
            ("host", &self.authority),
            ("user-agent", USER_AGENT),
            ("content-type", "application/json"),
            ("content-length", &length),
        ];
        let auth = sign_json_post(&url, &headers, &body, credentials, region, SystemTime::now())?;
        let mut request = Request::post(path);
        for (k, v) in headers.iter().copied().chain(auth.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
            request = request.header(k, v);
        }
        let request =
            request.body(Full::new(Bytes::from(body))).map_err(|e| DataError::Http(e.to_string()))?;
        self.send(request).await
    }
}

impl DataConnection {
    /// A SigV4-signed `POST /` in the AWS JSON 1.1 protocol: `X-Amz-Target: {target}` (e.g.
    /// `secretsmanager.GetSecretValue`), signed for `service`; the response head, body not read.
    pub async fn post_json_target(
        &mut self,
        service: &str,
        target: &str,
        body: Vec<u8>,
        credentials: &Credentials,
        region: &str,
    ) -> Result<Response<Incoming>, DataError> {
        let url = format!("{}/", self.origin);
        let length = body.len().to_string();
        let headers: [(&str, &str); 5] = [
            ("host", &self.authority),
            ("user-agent", USER_AGENT),
            ("content-type", "application/x-amz-json-1.1"),
            ("content-length", &length),
            ("x-amz-target", target),
        ];
        let auth = super::sign::sign_json_post_for(
            service,
            &url,
            &headers,
            &body,
            credentials,
            region,
            SystemTime::now(),
        )?;
        let mut request = Request::post("/");
        for (k, v) in headers.iter().copied().chain(auth.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
            request = request.header(k, v);
        }
        let request =
            request.body(Full::new(Bytes::from(body))).map_err(|e| DataError::Http(e.to_string()))?;
        self.send(request).await
    }
}

/// The whole body of a `200 OK` response; any other status is [`DataError::Status`].
pub async fn read_ok(response: Response<Incoming>) -> Result<Bytes, DataError> {
    let status = response.status();
    let body = response.into_body().collect().await.map_err(|e| DataError::Http(e.to_string()))?.to_bytes();
    if status != hyper::StatusCode::OK {
        return Err(DataError::Status {
            status: status.as_u16(),
            body: String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned(),
        });
    }
    Ok(body)
}
