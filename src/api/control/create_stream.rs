//! `POST /createStream`: validates the input like the botocore model and creates an ACTIVE stream
//! in the caller's region (AWS creates asynchronously via CREATING; producers poll for ACTIVE, so
//! creating directly as ACTIVE is compatible).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::AppState;
use crate::api::aws::{AwsError, AwsErrorCode, AwsJson, Operation, required};
use crate::api::streams::authorize_stream;
use crate::archive::{IndexError, NewStream, STREAM_NAME_CONSTRAINT};
use crate::auth::Caller;
use crate::model::{
    AccountId, DataRetention, DeviceName, MediaType, ResourceArn, StorageTier, StreamName, TagSet,
    VersionToken, check_len,
};

/// The operation this file serves.
pub const OPERATION: Operation = Operation::CreateStream;

/// `CreateStream` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    device_name: Option<String>,
    stream_name: Option<String>,
    media_type: Option<String>,
    kms_key_id: Option<String>,
    data_retention_in_hours: Option<i64>,
    tags: Option<BTreeMap<String, String>>,
    stream_storage_configuration: Option<StorageConfigInput>,
}

/// `StreamStorageConfiguration`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StorageConfigInput {
    /// `HOT` or `WARM`.
    pub default_storage_tier: Option<String>,
}

impl StorageConfigInput {
    /// Validates the tier.
    pub fn tier(&self) -> Result<StorageTier, AwsError> {
        let t =
            required(self.default_storage_tier.as_deref(), "streamStorageConfiguration.defaultStorageTier")?;
        StorageTier::parse(t).ok_or_else(|| {
            AwsError::invalid_argument(
                "1 validation error detected: Value at 'defaultStorageTier' failed to satisfy constraint: Member must satisfy enum value set: [HOT, WARM]",
            )
        })
    }
}

/// Creates the stream.
pub async fn handle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AwsJson(input): AwsJson<Input>,
) -> Result<Json<Value>, AwsError> {
    let name = StreamName::parse(required(input.stream_name.as_deref(), "streamName")?)?;
    let device_name =
        input.device_name.as_deref().map(DeviceName::parse).transpose()?.map(DeviceName::into_string);
    let media_type =
        input.media_type.as_deref().map(MediaType::parse).transpose()?.map(MediaType::into_string);
    if let Some(k) = &input.kms_key_id {
        check_len("kmsKeyId", k, 1, 2048)?;
    }
    let retention = DataRetention::from_hours(input.data_retention_in_hours.unwrap_or(0))?;
    let tags = TagSet::parse(input.tags.iter().flatten().map(|(k, v)| (k.as_str(), v.as_str())), false)?;
    let storage_tier = match &input.stream_storage_configuration {
        Some(c) => c.tier()?,
        None => StorageTier::Hot,
    };
    authorize_stream(&caller, OPERATION, &name)?;
    let account = AccountId::parse(&state.settings.account_id)?;
    let arn = ResourceArn::stream(&caller.region, &account, &name, state.clock.now_millis());
    let new = NewStream {
        arn,
        device_name,
        media_type,
        kms_key_id: input.kms_key_id,
        retention,
        storage_tier,
        version: VersionToken::generate(),
        tags,
    };
    let stream = state.archive.create_stream(new).await.map_err(|e| match e {
        IndexError::Conflict { constraint } if constraint == STREAM_NAME_CONSTRAINT => {
            AwsError::new(AwsErrorCode::ResourceInUseException, format!("The stream {name} already exists."))
        }
        other => other.into(),
    })?;
    Ok(Json(json!({ "StreamARN": stream.arn.to_string() })))
}
