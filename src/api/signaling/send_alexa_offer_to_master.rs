//! `POST /v1/send-alexa-offer-to-master`: relays an SDP offer to the channel's master as the
//! viewer `SenderClientId` and answers with the master's SDP answer, waiting at most the
//! channel's MessageTtlSeconds.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, AwsErrorCode, Call, OperationInput, Valid};
use crate::api::channels::{ChannelRef, resolve_signaling_channel};
use crate::model::{ValidationError, required};
use crate::signaling::{ConnectError, valid_client_id};

/// Longest MessagePayload (botocore: 10,000 characters).
const MAX_PAYLOAD: usize = 10_000;

/// `SendAlexaOfferToMasterRequest`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendAlexaOfferToMasterInput {
    #[serde(rename = "ChannelARN")]
    channel_arn: Option<String>,
    sender_client_id: Option<String>,
    message_payload: Option<String>,
}

/// A validated SendAlexaOfferToMaster request.
#[derive(Debug)]
pub struct SendAlexaOfferToMasterRequest {
    channel: ChannelRef,
    sender: String,
    payload: String,
}

impl OperationInput for SendAlexaOfferToMasterInput {
    type Valid = SendAlexaOfferToMasterRequest;

    fn validate(self) -> Result<SendAlexaOfferToMasterRequest, AwsError> {
        let sender = required(self.sender_client_id, "senderClientId")?;
        if !valid_client_id(&sender) {
            return Err(AwsError::invalid_argument(
                "SenderClientId must be 1 to 256 characters of [a-zA-Z0-9_.-].",
            ));
        }
        let payload = required(self.message_payload, "messagePayload")?;
        if payload.is_empty() || payload.len() > MAX_PAYLOAD {
            return Err(ValidationError::length("messagePayload", 1, MAX_PAYLOAD).into());
        }
        let channel = ChannelRef::signaling_arn(self.channel_arn.as_deref(), "channelARN")?;
        Ok(SendAlexaOfferToMasterRequest { channel, sender, payload })
    }
}

/// `SendAlexaOfferToMasterResponse`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendAlexaOfferToMasterOutput {
    answer: String,
}

/// Relays the offer and returns the answer.
pub async fn handle(
    call: Call,
    Valid(req): Valid<SendAlexaOfferToMasterInput>,
) -> Result<SendAlexaOfferToMasterOutput, AwsError> {
    let state = &call.state;
    let denied = AwsErrorCode::NotAuthorizedException;
    let channel =
        resolve_signaling_channel(state, &call.caller, &req.channel, denied, call.operation.name()).await?;
    let ttl = Duration::from_secs(u64::from(channel.message_ttl_seconds));
    match state.signaling.offer_to_master(channel.id, ttl, &req.sender, req.payload).await {
        Ok(Some(answer)) => Ok(SendAlexaOfferToMasterOutput { answer }),
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
