//! The signaling WebSocket: `GET /?X-Amz-ChannelARN=…[&X-Amz-ClientId=…]` plus presigned SigV4
//! query parameters, as the KVS WebRTC SDKs (C, JavaScript) open it on the channel's WSS endpoint.
//! Without `X-Amz-ClientId` the client is the MASTER (IAM action `ConnectAsMaster`), with it a
//! VIEWER (`ConnectAsViewer`); the authentication layer verifies the presigned URL under that
//! action before the upgrade reaches [`handle`].
//!
//! Owns the socket loop: text frames in → `signaling::Inbound` → the hub; the hub's messages out as
//! JSON text frames; a STATUS_RESPONSE for failed messages that carried a correlationId; a rate
//! limit per connection; server pings and an idle timeout; GO_AWAY then close when the session
//! reaches its maximum age, the server shuts down or a newer master replaces this one. Oversized
//! or malformed frames end or are refused for that connection only.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Request, State};
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use tokio::time::Instant;

use crate::api::AppState;
use crate::api::aws::{AwsError, AwsErrorCode};
use crate::api::channels::{ChannelRef, resolve_signaling_channel};
use crate::auth::Caller;
use crate::model::SignalingChannel;
use crate::signaling::{Inbound, Outbound, Refusal, Role, valid_client_id};

/// One query parameter, percent-decoded.
fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode_str(k).decode_utf8().ok()? == name)
            .then(|| percent_decode_str(v).decode_utf8().ok().map(|v| v.into_owned()))
            .flatten()
    })
}

/// The role a signaling WebSocket request asks for: VIEWER with a valid `X-Amz-ClientId`, MASTER
/// without one. Read by the authentication layer, which verifies the presigned URL under the
/// role's IAM action ([`role_action`]) and hands the role to [`handle`].
pub fn requested_role(query: &str) -> Result<Role, AwsError> {
    match query_param(query, "X-Amz-ClientId") {
        Some(id) if valid_client_id(&id) => Ok(Role::Viewer(id)),
        Some(_) => {
            Err(AwsError::invalid_argument("X-Amz-ClientId must be 1 to 256 characters of [a-zA-Z0-9_.-]."))
        }
        None => Ok(Role::Master),
    }
}

/// The IAM action a key's policy must allow for a role: `ConnectAsMaster` or `ConnectAsViewer`.
pub fn role_action(role: &Role) -> &'static str {
    match role {
        Role::Master => "ConnectAsMaster",
        Role::Viewer(_) => "ConnectAsViewer",
    }
}

/// Upgrades an authenticated request (caller and role from the authentication layer) to a
/// signaling connection on the channel its `X-Amz-ChannelARN` names.
pub async fn handle(State(state): State<AppState>, req: Request) -> Response {
    let (mut parts, _body) = req.into_parts();
    let (Some(caller), Some(role)) =
        (parts.extensions.get::<Caller>().cloned(), parts.extensions.get::<Role>().cloned())
    else {
        return AwsError::internal("the signaling WebSocket was reached without authentication")
            .into_response();
    };
    let query = parts.uri.query().unwrap_or("").to_owned();
    let Some(channel_arn) = query_param(&query, "X-Amz-ChannelARN") else {
        return AwsError::new(AwsErrorCode::UnknownOperationException, "Unknown operation.").into_response();
    };
    let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    let found = match ChannelRef::signaling_arn(Some(&channel_arn), "X-Amz-ChannelARN") {
        Ok(channel) => {
            let denied = AwsErrorCode::AccessDeniedException;
            resolve_signaling_channel(&state, &caller, &channel, denied, role_action(&role)).await
        }
        Err(e) => Err(e),
    };
    let channel = match found {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let max = state.signaling.config().max_message_bytes;
    ws.max_message_size(max).max_frame_size(max).on_upgrade(move |socket| run(state, channel, role, socket))
}

/// Token bucket: `rate` per second, bursts of `2 × rate`.
struct RateLimit {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimit {
    fn new(rate: u32) -> Self {
        let rate = f64::from(rate.max(1));
        Self { rate, tokens: rate * 2.0, last: Instant::now() }
    }

    fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.rate * 2.0);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

async fn send(socket: &mut WebSocket, out: &Outbound) -> bool {
    socket.send(Message::Text(out.to_json().into())).await.is_ok()
}

async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    let _ = socket.send(Message::Close(Some(CloseFrame { code, reason: reason.to_owned().into() }))).await;
}

async fn run(state: AppState, channel: SignalingChannel, role: Role, mut socket: WebSocket) {
    let hub = state.signaling.clone();
    let cfg = hub.config().clone();
    let mut conn = match hub.connect_shared(channel.id, role.clone()).await {
        Ok(c) => c,
        Err(e) => {
            close(&mut socket, 1008, &e.to_string()).await;
            return;
        }
    };
    tracing::debug!(channel = %channel.name, ?role, "signaling connection open");
    let ttl = Duration::from_secs(u64::from(channel.message_ttl_seconds));
    let session_end = Instant::now() + Duration::from_secs(cfg.session_max_secs);
    let idle = Duration::from_secs(cfg.idle_timeout_secs);
    let mut ping = tokio::time::interval(Duration::from_secs(cfg.ping_interval_secs.max(1)));
    ping.tick().await;
    let mut last_seen = Instant::now();
    let mut limit = RateLimit::new(cfg.max_messages_per_second);
    loop {
        tokio::select! {
            frame = socket.recv() => {
                let msg = match frame {
                    Some(Ok(m)) => m,
                    _ => break,
                };
                last_seen = Instant::now();
                let refusal = match msg {
                    Message::Text(text) => {
                        if !limit.take() {
                            Inbound::parse(&text).err().or_else(|| {
                                let correlation_id = Inbound::parse(&text).ok().and_then(|m| m.correlation_id);
                                Some(Refusal {
                                    correlation_id,
                                    error_type: "ClientLimitExceededException",
                                    description: "Too many messages per second on this connection.".into(),
                                })
                            })
                        } else {
                            match Inbound::parse(&text) {
                                Ok(m) => hub.relay(channel.id, ttl, &role, m).err(),
                                Err(r) => Some(r),
                            }
                        }
                    }
                    Message::Close(_) => break,
                    Message::Binary(_) | Message::Ping(_) | Message::Pong(_) => None,
                };
                if let Some(status) = refusal.and_then(|r| r.status())
                    && !send(&mut socket, &status).await
                {
                    break;
                }
            }
            out = conn.inbox.recv() => {
                let Some(out) = out else {
                    // Replaced by a newer connection (GO_AWAY was queued before), or dropped by the hub.
                    close(&mut socket, 1000, "replaced").await;
                    break;
                };
                let go_away = out == Outbound::GoAway;
                if !send(&mut socket, &out).await {
                    break;
                }
                if go_away {
                    close(&mut socket, 1001, "going away").await;
                    break;
                }
            }
            _ = ping.tick() => {
                if last_seen.elapsed() > idle {
                    close(&mut socket, 1001, "idle").await;
                    break;
                }
                if socket.send(Message::Ping(Vec::new().into())).await.is_err() {
                    break;
                }
            }
            _ = tokio::time::sleep_until(session_end) => {
                let _ = send(&mut socket, &Outbound::GoAway).await;
                close(&mut socket, 1001, "session expired").await;
                break;
            }
        }
    }
    tracing::debug!(channel = %channel.name, ?role, "signaling connection closed");
}
