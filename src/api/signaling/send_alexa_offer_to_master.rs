//! `POST /v1/send-alexa-offer-to-master`: relays an SDP offer to the channel's master as the
//! viewer `SenderClientId` and answers with the master's SDP answer, waiting at most the
//! channel's MessageTtlSeconds.

use std::time::Duration;

use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use super::resolve_channel;
use crate::api::AppState;
use crate::api::aws::{AwsError, AwsErrorCode, AwsJson, Operation, required};
use crate::auth::Caller;
use crate::signaling::{ConnectError, valid_client_id};

/// The operation this file serves.
pub const OPERATION: Operation = Operation::SendAlexaOfferToMaster;

/// Longest MessagePayload (botocore: 10,000 characters).
const MAX_PAYLOAD: usize = 10_000;

/// `SendAlexaOfferToMaster` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    #[serde(rename = "ChannelARN")]
    channel_arn: Option<String>,
    sender_client_id: Option<String>,
    message_payload: Option<String>,
}

/// Relays the offer and returns the answer.
pub async fn handle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AwsJson(input): AwsJson<Input>,
) -> Result<Json<Value>, AwsError> {
    let sender = required(input.sender_client_id, "senderClientId")?;
    if !valid_client_id(&sender) {
        return Err(AwsError::invalid_argument(
            "SenderClientId must be 1 to 256 characters of [a-zA-Z0-9_.-].",
        ));
    }
    let payload = required(input.message_payload, "messagePayload")?;
    if payload.is_empty() || payload.len() > MAX_PAYLOAD {
        return Err(AwsError::invalid_argument(format!(
            "1 validation error detected: Value at 'messagePayload' failed to satisfy constraint: Member must have length between 1 and {MAX_PAYLOAD}"
        )));
    }
    let channel = resolve_channel(
        &state,
        &caller,
        input.channel_arn.as_deref(),
        "channelARN",
        AwsErrorCode::NotAuthorizedException,
        OPERATION.name(),
    )
    .await?;
    let ttl = Duration::from_secs(u64::from(channel.message_ttl_seconds));
    match state.signaling.offer_to_master(channel.id, ttl, &sender, payload).await {
        Ok(Some(answer)) => Ok(Json(json!({ "Answer": answer }))),
        Ok(None) => Err(AwsError::new(
            AwsErrorCode::ResourceNotFoundException,
            "The master did not answer within the channel's MessageTtlSeconds.",
        )),
        Err(ConnectError::TooManyViewers(_)) => Err(AwsError::new(
            AwsErrorCode::ClientLimitExceededException,
            "The channel has its maximum number of viewers connected.",
        )),
    }
}
