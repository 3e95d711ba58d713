//! `POST /createStream`: validates the input like the botocore model and creates an ACTIVE stream
//! in the caller's region (AWS creates asynchronously via CREATING; producers poll for ACTIVE, so
//! creating directly as ACTIVE is compatible). `KmsKeyId` (key id, key ARN, alias or alias ARN)
//! must name a key of the keyring (`InvalidArgumentException` otherwise); the archive generates the
//! stream's data key under it (design/0018-encryption-at-rest.md).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, AwsErrorCode, Call, OperationInput, Valid};
use crate::api::streams::authorize_stream;
use crate::archive::{CreateStreamError, IndexError, NewStream, STREAM_NAME_CONSTRAINT};
use crate::model::{
    AccountId, DataRetention, DeviceName, MediaType, ResourceArn, StorageTier, StreamName, TagSet,
    ValidationError, VersionToken, check_enum, check_len, required,
};

/// `CreateStreamInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateStreamInput {
    device_name: Option<String>,
    stream_name: Option<String>,
    media_type: Option<String>,
    kms_key_id: Option<String>,
    data_retention_in_hours: Option<i64>,
    tags: Option<BTreeMap<String, String>>,
    stream_storage_configuration: Option<StreamStorageConfigurationInput>,
}

/// `StreamStorageConfiguration` as CreateStream and UpdateStreamStorageConfiguration take it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamStorageConfigurationInput {
    /// `HOT` or `WARM`.
    pub default_storage_tier: Option<String>,
}

impl StreamStorageConfigurationInput {
    /// Validates the tier.
    pub fn tier(&self) -> Result<StorageTier, ValidationError> {
        let member = "streamStorageConfiguration.defaultStorageTier";
        let tier =
            check_enum(member, required(self.default_storage_tier.as_deref(), member)?, &["HOT", "WARM"])?;
        Ok(StorageTier::parse(tier).expect("an enum value"))
    }
}

/// A validated CreateStream request.
#[derive(Debug)]
pub struct CreateStreamRequest {
    name: StreamName,
    device_name: Option<String>,
    media_type: Option<String>,
    kms_key_id: Option<String>,
    retention: DataRetention,
    tags: TagSet,
    storage_tier: StorageTier,
}

impl OperationInput for CreateStreamInput {
    type Valid = CreateStreamRequest;

    fn validate(self) -> Result<CreateStreamRequest, AwsError> {
        let name = StreamName::parse(required(self.stream_name.as_deref(), "streamName")?)?;
        let device_name =
            self.device_name.as_deref().map(DeviceName::parse).transpose()?.map(DeviceName::into_string);
        let media_type =
            self.media_type.as_deref().map(MediaType::parse).transpose()?.map(MediaType::into_string);
        if let Some(k) = &self.kms_key_id {
            check_len("kmsKeyId", k, 1, 2048)?;
        }
        let retention = DataRetention::from_hours(self.data_retention_in_hours.unwrap_or(0))?;
        let tags = TagSet::parse(self.tags.iter().flatten().map(|(k, v)| (k.as_str(), v.as_str())), false)?;
        let storage_tier = match &self.stream_storage_configuration {
            Some(c) => c.tier()?,
            None => StorageTier::Hot,
        };
        Ok(CreateStreamRequest {
            name,
            device_name,
            media_type,
            kms_key_id: self.kms_key_id,
            retention,
            tags,
            storage_tier,
        })
    }
}

/// `CreateStreamOutput`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateStreamOutput {
    #[serde(rename = "StreamARN")]
    stream_arn: String,
}

/// Creates the stream.
pub async fn handle(
    call: Call,
    Valid(req): Valid<CreateStreamInput>,
) -> Result<CreateStreamOutput, AwsError> {
    let state = &call.state;
    authorize_stream(&call.caller, call.operation, &req.name)?;
    let account = AccountId::parse(&state.settings.account_id)?;
    let arn = ResourceArn::stream(&call.caller.region, &account, &req.name, state.clock.now_millis());
    let new = NewStream {
        arn,
        device_name: req.device_name,
        media_type: req.media_type,
        kms_key_id: req.kms_key_id,
        data_key: None,
        retention: req.retention,
        storage_tier: req.storage_tier,
        version: VersionToken::generate(),
        tags: req.tags,
    };
    let name = req.name;
    let stream = state.archive.create_stream(new).await.map_err(|e| match e {
        CreateStreamError::Index(IndexError::Conflict { constraint })
            if constraint == STREAM_NAME_CONSTRAINT =>
        {
            AwsError::new(AwsErrorCode::ResourceInUseException, format!("The stream {name} already exists."))
        }
        other => other.into(),
    })?;
    Ok(CreateStreamOutput { stream_arn: stream.arn.to_string() })
}
