//! The KVS signaling WebSocket as the WebRTC SDKs open it: URLs presigned with `aws-sigv4` (GET on
//! `/`, service kinesisvideo, query-string signature) and JSON text frames.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

/// The WSS endpoint a GetSignalingChannelEndpoint call answers for `arn` in `role` (single master).
pub async fn wss_endpoint(
    kvs: &aws_sdk_kinesisvideo::Client,
    arn: &str,
    role: aws_sdk_kinesisvideo::types::ChannelRole,
) -> String {
    use aws_sdk_kinesisvideo::types::{ChannelProtocol, SingleMasterChannelEndpointConfiguration};
    let eps = kvs
        .get_signaling_channel_endpoint()
        .channel_arn(arn)
        .single_master_channel_endpoint_configuration(
            SingleMasterChannelEndpointConfiguration::builder()
                .protocols(ChannelProtocol::Wss)
                .role(role)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .resource_endpoint_list
        .unwrap();
    eps[0].resource_endpoint.clone().unwrap()
}

/// A signaling WebSocket.
pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A presigned signaling URL, as the SDKs build it (GET on `/`, service kinesisvideo).
pub fn presign(
    endpoint: &str,
    arn: &str,
    client_id: Option<&str>,
    secret: &str,
    time: SystemTime,
    expires: u64,
) -> String {
    presign_as(endpoint, arn, client_id, "openkvs", secret, time, expires)
}

pub fn presign_as(
    endpoint: &str,
    arn: &str,
    client_id: Option<&str>,
    key: &str,
    secret: &str,
    time: SystemTime,
    expires: u64,
) -> String {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign};
    use aws_sigv4::sign::v4;
    let enc =
        |s: &str| percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string();
    let mut url = format!("{}/?X-Amz-ChannelARN={}", endpoint.trim_end_matches('/'), enc(arn));
    if let Some(c) = client_id {
        url.push_str(&format!("&X-Amz-ClientId={}", enc(c)));
    }
    let identity = Credentials::new(key, secret, None, None, "test").into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(expires));
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("kinesisvideo")
        .time(time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let host = url.split("://").nth(1).unwrap().split('/').next().unwrap().to_owned();
    let signable =
        SignableRequest::new("GET", &url, [("host", host.as_str())].into_iter(), SignableBody::Bytes(&[]))
            .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    for (k, v) in instructions.params() {
        url.push_str(&format!("&{}={}", k, enc(v)));
    }
    url
}

pub async fn connect(endpoint: &str, arn: &str, client_id: Option<&str>) -> Ws {
    let url = presign(endpoint, arn, client_id, "openkvs-secret", SystemTime::now(), 300);
    tokio_tungstenite::connect_async(url).await.expect("signaling connection").0
}

pub async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

/// The next JSON text message (skipping pings), within 5 s.
pub async fn recv(ws: &mut Ws) -> Value {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a message")
            .unwrap()
            .unwrap();
        if let Message::Text(t) = m {
            return serde_json::from_str(&t).unwrap();
        }
    }
}

/// Whether nothing arrives within 300 ms.
pub async fn quiet(ws: &mut Ws) -> bool {
    loop {
        match tokio::time::timeout(Duration::from_millis(300), ws.next()).await {
            Err(_) => return true,
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            Ok(_) => return false,
        }
    }
}
