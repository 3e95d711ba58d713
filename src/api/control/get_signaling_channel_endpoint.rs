//! `POST /getSignalingChannelEndpoint`: where a channel's signaling is served, one
//! `{Protocol, ResourceEndpoint}` per requested protocol (all three when none is given). This
//! server serves signaling itself, so every endpoint is its own base URL (scheme://host[:port], no
//! path: the WebSocket is `GET /`; the port is left out when it is the scheme's default, as in
//! AWS's endpoints, which the KVS WebRTC C SDK requires):
//!
//! 1. `public_url` when configured (`http`→`ws`, `https`→`wss` for WSS);
//! 2. else the HTTPS listener when TLS is configured: `wss://HOST:TLSPORT` for WSS and
//!    `https://HOST:TLSPORT` for HTTPS and WEBRTC (the WebRTC JS SDK refuses a non-`wss` channel
//!    endpoint);
//! 3. else the listener the request came in on (`ws://` / `http://`).
//!
//! HOST is the listener's own IP, or the host the client sent when the listener is a wildcard
//! address (as GetDataEndpoint does). `Role` does not change the answer.

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, Call, OperationInput, Valid};
use crate::api::channels::ChannelRef;
use crate::api::{ApiSettings, ListenerInfo, without_default_port};
use crate::model::{ValidationError, check_enum, required};

/// Every `ChannelProtocol` of the model, in the order they are answered when none is requested.
pub const PROTOCOLS: &[&str] = &["WSS", "HTTPS", "WEBRTC"];

/// Every `ChannelRole` of the model.
pub const ROLES: &[&str] = &["MASTER", "VIEWER"];

/// `GetSignalingChannelEndpointInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetSignalingChannelEndpointInput {
    #[serde(rename = "ChannelARN")]
    channel_arn: Option<String>,
    single_master_channel_endpoint_configuration: Option<EndpointConfiguration>,
}

/// `SingleMasterChannelEndpointConfiguration`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointConfiguration {
    protocols: Option<Vec<String>>,
    role: Option<String>,
}

/// Validates the configuration and returns the protocols to answer, in request order, each once.
fn requested_protocols(config: Option<&EndpointConfiguration>) -> Result<Vec<&'static str>, ValidationError> {
    let Some(config) = config else { return Ok(PROTOCOLS.to_vec()) };
    if let Some(role) = &config.role {
        check_enum("singleMasterChannelEndpointConfiguration.role", role, ROLES)?;
    }
    let Some(protocols) = &config.protocols else { return Ok(PROTOCOLS.to_vec()) };
    let member = "singleMasterChannelEndpointConfiguration.protocols";
    if protocols.is_empty() || protocols.len() > 5 {
        return Err(ValidationError::length(member, 1, 5));
    }
    let mut out: Vec<&'static str> = Vec::with_capacity(protocols.len());
    for p in protocols {
        let known = check_enum(member, p, PROTOCOLS)?;
        if !out.contains(&known) {
            out.push(known);
        }
    }
    Ok(out)
}

impl OperationInput for GetSignalingChannelEndpointInput {
    /// The channel and the protocols to answer.
    type Valid = (ChannelRef, Vec<&'static str>);

    fn validate(self) -> Result<Self::Valid, AwsError> {
        let channel = ChannelRef::from_arn(required(self.channel_arn.as_deref(), "channelARN")?)?;
        let protocols = requested_protocols(self.single_master_channel_endpoint_configuration.as_ref())?;
        Ok((channel, protocols))
    }
}

/// `GetSignalingChannelEndpointOutput`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetSignalingChannelEndpointOutput {
    resource_endpoint_list: Vec<ResourceEndpointListItem>,
}

/// `ResourceEndpointListItem`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct ResourceEndpointListItem {
    protocol: &'static str,
    resource_endpoint: String,
}

/// The (WebSocket, HTTP) base URLs of this server for a request that arrived on `listener` with
/// `Host: host`.
fn base_urls(settings: &ApiSettings, listener: &ListenerInfo, host: Option<&str>) -> (String, String) {
    let http = match (&settings.public_url, &settings.tls_listener) {
        (Some(u), _) => without_default_port(u.trim_end_matches('/')),
        (None, Some(tls)) => tls.base_url(host),
        (None, None) => listener.base_url(host),
    };
    let ws = match http.split_once("://") {
        Some(("https", rest)) => format!("wss://{rest}"),
        Some((_, rest)) => format!("ws://{rest}"),
        None => format!("ws://{http}"),
    };
    (without_default_port(&ws), http)
}

/// Returns the channel's endpoints.
pub async fn handle(
    call: Call,
    Valid((channel, protocols)): Valid<GetSignalingChannelEndpointInput>,
) -> Result<GetSignalingChannelEndpointOutput, AwsError> {
    call.channel(&channel).await?;
    let (ws, http) = base_urls(&call.state.settings, call.listener()?, call.host());
    let resource_endpoint_list = protocols
        .into_iter()
        .map(|protocol| ResourceEndpointListItem {
            protocol,
            resource_endpoint: if protocol == "WSS" { ws.clone() } else { http.clone() },
        })
        .collect();
    Ok(GetSignalingChannelEndpointOutput { resource_endpoint_list })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(public_url: Option<&str>, tls: Option<&str>) -> ApiSettings {
        ApiSettings {
            account_id: "000000000000".into(),
            public_url: public_url.map(str::to_owned),
            tls_listener: tls.map(|a| ListenerInfo { scheme: "https", local_addr: a.parse().unwrap() }),
        }
    }

    #[test]
    fn endpoints_prefer_public_url_then_tls_then_the_listener() {
        let plain = ListenerInfo { scheme: "http", local_addr: "0.0.0.0:4567".parse().unwrap() };
        let host = Some("cam.example:4567");
        assert_eq!(
            base_urls(&settings(None, None), &plain, host),
            ("ws://cam.example:4567".into(), "http://cam.example:4567".into())
        );
        assert_eq!(
            base_urls(&settings(None, Some("0.0.0.0:4443")), &plain, host),
            ("wss://cam.example:4443".into(), "https://cam.example:4443".into())
        );
        assert_eq!(
            base_urls(&settings(None, Some("127.0.0.1:4443")), &plain, host),
            ("wss://127.0.0.1:4443".into(), "https://127.0.0.1:4443".into())
        );
        assert_eq!(
            base_urls(&settings(Some("https://kvs.example.com/"), Some("127.0.0.1:4443")), &plain, host),
            ("wss://kvs.example.com".into(), "https://kvs.example.com".into())
        );
        assert_eq!(
            base_urls(&settings(Some("http://10.0.0.5:80"), None), &plain, host),
            ("ws://10.0.0.5".into(), "http://10.0.0.5".into())
        );
        assert_eq!(
            base_urls(&settings(None, Some("127.0.0.1:443")), &plain, host),
            ("wss://127.0.0.1".into(), "https://127.0.0.1".into())
        );
        assert_eq!(
            base_urls(&settings(Some("https://kvs.example.com:443"), None), &plain, host),
            ("wss://kvs.example.com".into(), "https://kvs.example.com".into())
        );
    }

    #[test]
    fn protocols_default_to_all_and_are_deduplicated() {
        assert_eq!(requested_protocols(None).unwrap(), PROTOCOLS);
        let cfg = |p: &[&str], role: Option<&str>| EndpointConfiguration {
            protocols: Some(p.iter().map(|s| s.to_string()).collect()),
            role: role.map(str::to_owned),
        };
        assert_eq!(
            requested_protocols(Some(&cfg(&["HTTPS", "WSS", "HTTPS"], None))).unwrap(),
            ["HTTPS", "WSS"]
        );
        assert!(requested_protocols(Some(&cfg(&[], None))).is_err());
        assert!(requested_protocols(Some(&cfg(&["wss"], None))).is_err());
        assert!(requested_protocols(Some(&cfg(&["WSS"], Some("OWNER")))).is_err());
    }
}
