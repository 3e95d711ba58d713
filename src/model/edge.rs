//! The KVS Edge Agent's configuration of one stream (`EdgeConfig` of StartEdgeConfigurationUpdate)
//! and the state the server keeps about it (`SyncStatus`, the last recorder/uploader status), plus
//! Secrets Manager ARNs and names.
//!
//! The structs carry the botocore member names (PascalCase) so the same value is the request
//! member, the stored document and the response member; every member is optional on the type and
//! [`EdgeConfig::validate`] enforces the model's required members, patterns, enums and ranges with
//! AWS's "1 validation error detected" wording (member paths in camelCase, as AWS writes them).
//! Nothing here knows HTTP, storage or clocks.

use serde::{Deserialize, Serialize};

use super::ValidationError;
use super::schedule::CronSchedule;

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// Splits `arn:PARTITION:SERVICE:REGION:ACCOUNT:REST` when every part has the ARN syntax the
/// models' patterns ask for (`[a-z\d-]+`, `[a-z0-9-]+`, `[0-9]+`).
fn split_arn<'a>(value: &'a str, service: &str) -> Option<(&'a str, &'a str, &'a str, &'a str)> {
    let mut p = value.splitn(6, ':');
    let (Some("arn"), Some(partition), Some(svc), Some(region), Some(account), Some(rest)) =
        (p.next(), p.next(), p.next(), p.next(), p.next(), p.next())
    else {
        return None;
    };
    let lower = |s: &str| {
        !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    (svc == service
        && lower(partition)
        && lower(region)
        && !account.is_empty()
        && account.bytes().all(|b| b.is_ascii_digit()))
    .then_some((partition, region, account, rest))
}

/// `HubDeviceArn`: `arn:[a-z\d-]+:iot:[a-z0-9-]+:[0-9]+:thing/[a-zA-Z0-9_.-]+`, 1..=1024.
pub fn validate_hub_device_arn(value: &str, member: &str) -> Result<(), ValidationError> {
    let ok = value.len() <= 1024
        && split_arn(value, "iot")
            .and_then(|(_, _, _, rest)| rest.strip_prefix("thing/"))
            .is_some_and(|name| !name.is_empty() && name.chars().all(is_name_char));
    if ok {
        Ok(())
    } else {
        Err(ValidationError::pattern(member, "arn:[a-z\\d-]+:iot:[a-z0-9-]+:[0-9]+:thing/[a-zA-Z0-9_.-]+"))
    }
}

/// The thing name at the end of a (valid) `HubDeviceArn`.
pub fn hub_thing_name(arn: &str) -> &str {
    arn.rsplit_once("thing/").map_or(arn, |(_, name)| name)
}

/// A Secrets Manager secret ARN as `MediaUriSecretArn` takes it:
/// `arn:[a-z\d-]+:secretsmanager:[a-z0-9-]+:[0-9]+:secret:[a-zA-Z0-9_.-]+`, 20..=2048 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SecretArn {
    /// The whole ARN.
    pub arn: String,
    /// The region part.
    pub region: String,
    /// The account part.
    pub account: String,
    /// The resource after `secret:` (the name, plus AWS's `-XXXXXX` suffix when there is one).
    pub resource: String,
}

impl SecretArn {
    /// Validates a `MediaUriSecretArn`.
    pub fn parse_member(value: &str, member: &str) -> Result<Self, ValidationError> {
        let parsed = (value.len() >= 20 && value.len() <= 2048)
            .then(|| split_arn(value, "secretsmanager"))
            .flatten()
            .and_then(|(_, region, account, rest)| {
                let name = rest.strip_prefix("secret:")?;
                (!name.is_empty() && name.chars().all(is_name_char)).then(|| SecretArn {
                    arn: value.to_owned(),
                    region: region.to_owned(),
                    account: account.to_owned(),
                    resource: name.to_owned(),
                })
            });
        parsed.ok_or_else(|| {
            ValidationError::pattern(
                member,
                "arn:[a-z\\d-]+:secretsmanager:[a-z0-9-]+:[0-9]+:secret:[a-zA-Z0-9_.-]+",
            )
        })
    }

    /// The ARN of secret `name` (openkvs adds no random suffix: names are unique per region and
    /// account, so the ARN is stable and predictable).
    pub fn for_name(region: &str, account: &str, name: &str) -> String {
        format!("arn:aws:secretsmanager:{region}:{account}:secret:{name}")
    }
}

/// A Secrets Manager secret name: 1..=512 characters of `[a-zA-Z0-9/_+=.@-]` (AWS's documented
/// set). openkvs also refuses `/` (a name must fit the `MediaUriSecretArn` pattern to be usable by
/// an edge configuration) only where an ARN is built from it: see [`SecretArn::parse_member`].
pub fn validate_secret_name(value: &str, member: &str) -> Result<(), ValidationError> {
    let n = value.chars().count();
    if !(1..=512).contains(&n) {
        return Err(ValidationError::new(format!(
            "1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must have length between 1 and 512"
        )));
    }
    if !value.chars().all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c)) {
        return Err(ValidationError::new(
            "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!",
        ));
    }
    Ok(())
}

/// `ScheduleConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleConfig {
    /// `ScheduleExpression`: a Quartz cron expression, 11..=100 characters without newline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_expression: Option<String>,
    /// `DurationInSeconds`: 60..=3600.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_in_seconds: Option<i64>,
}

impl ScheduleConfig {
    fn validate(&self, member: &str) -> Result<(), ValidationError> {
        let expr_member = format!("{member}.scheduleExpression");
        let expr = self.schedule_expression.as_deref().ok_or_else(|| ValidationError::null(&expr_member))?;
        let n = expr.chars().count();
        if !(11..=100).contains(&n) || expr.contains('\n') {
            return Err(ValidationError::pattern(&expr_member, "[^\\n]{11,100}"));
        }
        CronSchedule::parse(expr)?;
        let duration_member = format!("{member}.durationInSeconds");
        let duration = self.duration_in_seconds.ok_or_else(|| ValidationError::null(&duration_member))?;
        super::check_range(&duration_member, duration, 60, 3600).map(drop)
    }

    /// The parsed schedule and its duration (only on a validated value).
    pub fn window(&self) -> Option<(CronSchedule, i64)> {
        let schedule = CronSchedule::parse(self.schedule_expression.as_deref()?).ok()?;
        Some((schedule, self.duration_in_seconds?))
    }
}

/// `MediaSourceConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct MediaSourceConfig {
    /// `MediaUriSecretArn`: the secret whose value is the camera URI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_uri_secret_arn: Option<String>,
    /// `MediaUriType`: `RTSP_URI` | `FILE_URI`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_uri_type: Option<String>,
}

/// `RecorderConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct RecorderConfig {
    /// `MediaSourceConfig` (required).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_source_config: Option<MediaSourceConfig>,
    /// `ScheduleConfig`: when to record; absent = always.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_config: Option<ScheduleConfig>,
}

/// `UploaderConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct UploaderConfig {
    /// `ScheduleConfig` (required): when to upload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_config: Option<ScheduleConfig>,
}

/// `LocalSizeConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct LocalSizeConfig {
    /// `MaxLocalMediaSizeInMB`: 64..=2000000.
    #[serde(rename = "MaxLocalMediaSizeInMB", skip_serializing_if = "Option::is_none")]
    pub max_local_media_size_in_mb: Option<i64>,
    /// `StrategyOnFullSize`: `DELETE_OLDEST_MEDIA` | `DENY_NEW_MEDIA`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy_on_full_size: Option<String>,
}

/// `DeletionConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct DeletionConfig {
    /// `EdgeRetentionInHours`: 1..=720.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edge_retention_in_hours: Option<i64>,
    /// `LocalSizeConfig`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_size_config: Option<LocalSizeConfig>,
    /// `DeleteAfterUpload`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_after_upload: Option<bool>,
}

/// What the agent does when its local buffer is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FullBufferStrategy {
    /// `DELETE_OLDEST_MEDIA`.
    DeleteOldest,
    /// `DENY_NEW_MEDIA`.
    DenyNew,
}

/// `EdgeConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct EdgeConfig {
    /// `HubDeviceArn` (required): the IoT thing the Edge Agent runs as.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hub_device_arn: Option<String>,
    /// `RecorderConfig` (required).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorder_config: Option<RecorderConfig>,
    /// `UploaderConfig`: absent = upload live.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uploader_config: Option<UploaderConfig>,
    /// `DeletionConfig`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_config: Option<DeletionConfig>,
}

/// Default local buffer size when `MaxLocalMediaSizeInMB` is absent (the AWS Edge Agent's
/// documentation names no default; 1 GiB keeps a day of a 100 kbit/s camera or 1.5 h at
/// 1.5 Mbit/s).
pub const DEFAULT_MAX_LOCAL_MEDIA_MB: i64 = 1024;

impl EdgeConfig {
    /// Checks every member like the botocore model (member paths under `edgeConfig`).
    pub fn validate(&self) -> Result<(), ValidationError> {
        let hub =
            self.hub_device_arn.as_deref().ok_or_else(|| ValidationError::null("edgeConfig.hubDeviceArn"))?;
        validate_hub_device_arn(hub, "edgeConfig.hubDeviceArn")?;
        let recorder = self
            .recorder_config
            .as_ref()
            .ok_or_else(|| ValidationError::null("edgeConfig.recorderConfig"))?;
        let source = recorder
            .media_source_config
            .as_ref()
            .ok_or_else(|| ValidationError::null("edgeConfig.recorderConfig.mediaSourceConfig"))?;
        let arn_member = "edgeConfig.recorderConfig.mediaSourceConfig.mediaUriSecretArn";
        SecretArn::parse_member(
            source.media_uri_secret_arn.as_deref().ok_or_else(|| ValidationError::null(arn_member))?,
            arn_member,
        )?;
        let type_member = "edgeConfig.recorderConfig.mediaSourceConfig.mediaUriType";
        let uri_type = source.media_uri_type.as_deref().ok_or_else(|| ValidationError::null(type_member))?;
        if !matches!(uri_type, "RTSP_URI" | "FILE_URI") {
            return Err(ValidationError::enum_value(type_member, uri_type, &["RTSP_URI", "FILE_URI"]));
        }
        if let Some(s) = &recorder.schedule_config {
            s.validate("edgeConfig.recorderConfig.scheduleConfig")?;
        }
        if let Some(u) = &self.uploader_config {
            let s = u
                .schedule_config
                .as_ref()
                .ok_or_else(|| ValidationError::null("edgeConfig.uploaderConfig.scheduleConfig"))?;
            s.validate("edgeConfig.uploaderConfig.scheduleConfig")?;
        }
        if let Some(d) = &self.deletion_config {
            if let Some(h) = d.edge_retention_in_hours {
                super::check_range("edgeConfig.deletionConfig.edgeRetentionInHours", h, 1, 720)?;
            }
            if let Some(l) = &d.local_size_config {
                if let Some(mb) = l.max_local_media_size_in_mb {
                    super::check_range(
                        "edgeConfig.deletionConfig.localSizeConfig.maxLocalMediaSizeInMB",
                        mb,
                        64,
                        2_000_000,
                    )?;
                }
                if let Some(s) = l.strategy_on_full_size.as_deref()
                    && !matches!(s, "DELETE_OLDEST_MEDIA" | "DENY_NEW_MEDIA")
                {
                    return Err(ValidationError::enum_value(
                        "edgeConfig.deletionConfig.localSizeConfig.strategyOnFullSize",
                        s,
                        &["DELETE_OLDEST_MEDIA", "DENY_NEW_MEDIA"],
                    ));
                }
            }
        }
        Ok(())
    }

    /// The hub ARN (empty on an unvalidated value without one).
    pub fn hub(&self) -> &str {
        self.hub_device_arn.as_deref().unwrap_or("")
    }

    /// The secret holding the camera URI.
    pub fn media_uri_secret_arn(&self) -> &str {
        self.media_source().and_then(|m| m.media_uri_secret_arn.as_deref()).unwrap_or("")
    }

    /// `RTSP_URI` or `FILE_URI`.
    pub fn media_uri_type(&self) -> &str {
        self.media_source().and_then(|m| m.media_uri_type.as_deref()).unwrap_or("RTSP_URI")
    }

    fn media_source(&self) -> Option<&MediaSourceConfig> {
        self.recorder_config.as_ref()?.media_source_config.as_ref()
    }

    /// When to record (`None` = always).
    pub fn recorder_schedule(&self) -> Option<(CronSchedule, i64)> {
        self.recorder_config.as_ref()?.schedule_config.as_ref()?.window()
    }

    /// When to upload (`None` = live).
    pub fn uploader_schedule(&self) -> Option<(CronSchedule, i64)> {
        self.uploader_config.as_ref()?.schedule_config.as_ref()?.window()
    }

    /// The local buffer's bound in bytes.
    pub fn max_local_bytes(&self) -> u64 {
        let mb = self
            .deletion_config
            .as_ref()
            .and_then(|d| d.local_size_config.as_ref())
            .and_then(|l| l.max_local_media_size_in_mb)
            .unwrap_or(DEFAULT_MAX_LOCAL_MEDIA_MB);
        u64::try_from(mb).unwrap_or(0).saturating_mul(1024 * 1024)
    }

    /// What to do when the buffer is full (AWS's default: delete the oldest media).
    pub fn full_buffer_strategy(&self) -> FullBufferStrategy {
        match self
            .deletion_config
            .as_ref()
            .and_then(|d| d.local_size_config.as_ref())
            .and_then(|l| l.strategy_on_full_size.as_deref())
        {
            Some("DENY_NEW_MEDIA") => FullBufferStrategy::DenyNew,
            _ => FullBufferStrategy::DeleteOldest,
        }
    }

    /// How long recorded media may stay on the edge, in hours (`None` = until the size bound).
    pub fn edge_retention_hours(&self) -> Option<i64> {
        self.deletion_config.as_ref()?.edge_retention_in_hours
    }

    /// Whether media is deleted from the edge once uploaded (default true: the buffer holds what
    /// is still to be uploaded).
    pub fn delete_after_upload(&self) -> bool {
        self.deletion_config.as_ref().and_then(|d| d.delete_after_upload).unwrap_or(true)
    }
}

/// `SyncStatus`: where a configuration is between the API and the Edge Agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncStatus {
    /// Stored; no agent has picked it up yet.
    Syncing,
    /// An agent picked it up and is applying it.
    Acknowledged,
    /// The agent runs it.
    InSync,
    /// The agent could not apply it, or none acknowledged it in time.
    SyncFailed,
    /// DeleteEdgeConfiguration was called; the agent has not stopped yet.
    Deleting,
    /// The agent could not delete it.
    DeleteFailed,
    /// The agent is stopping the jobs and deleting the local media.
    DeletingAcknowledged,
}

impl SyncStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncStatus::Syncing => "SYNCING",
            SyncStatus::Acknowledged => "ACKNOWLEDGED",
            SyncStatus::InSync => "IN_SYNC",
            SyncStatus::SyncFailed => "SYNC_FAILED",
            SyncStatus::Deleting => "DELETING",
            SyncStatus::DeleteFailed => "DELETE_FAILED",
            SyncStatus::DeletingAcknowledged => "DELETING_ACKNOWLEDGED",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "SYNCING" => SyncStatus::Syncing,
            "ACKNOWLEDGED" => SyncStatus::Acknowledged,
            "IN_SYNC" => SyncStatus::InSync,
            "SYNC_FAILED" => SyncStatus::SyncFailed,
            "DELETING" => SyncStatus::Deleting,
            "DELETE_FAILED" => SyncStatus::DeleteFailed,
            "DELETING_ACKNOWLEDGED" => SyncStatus::DeletingAcknowledged,
            _ => return None,
        })
    }

    /// Whether StartEdgeConfigurationUpdate must wait (AWS: "ResourceInUseException" while the
    /// previous update or a deletion is in progress).
    pub fn is_in_progress(self) -> bool {
        matches!(
            self,
            SyncStatus::Syncing
                | SyncStatus::Acknowledged
                | SyncStatus::Deleting
                | SyncStatus::DeletingAcknowledged
        )
    }

    /// Whether the configuration is on its way out.
    pub fn is_deleting(self) -> bool {
        matches!(self, SyncStatus::Deleting | SyncStatus::DeletingAcknowledged | SyncStatus::DeleteFailed)
    }
}

/// `RecorderStatus` / `UploaderStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    /// `SUCCESS`.
    Success,
    /// `USER_ERROR`: the configuration or the camera's credentials are wrong.
    UserError,
    /// `SYSTEM_ERROR`: the camera or the server cannot be reached, or something broke.
    SystemError,
}

impl JobStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Success => "SUCCESS",
            JobStatus::UserError => "USER_ERROR",
            JobStatus::SystemError => "SYSTEM_ERROR",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "SUCCESS" => JobStatus::Success,
            "USER_ERROR" => JobStatus::UserError,
            "SYSTEM_ERROR" => JobStatus::SystemError,
            _ => return None,
        })
    }
}

/// The last status an agent reported for one job (`LastRecorderStatus` / `LastUploaderStatus`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobReport {
    /// The status.
    pub status: JobStatus,
    /// `JobStatusDetails`: what happened, in words (never a secret).
    pub details: String,
    /// `LastCollectedTime`: when the agent observed it, epoch ms.
    pub collected_ms: i64,
    /// `LastUpdatedTime`: when the server stored it, epoch ms.
    pub updated_ms: i64,
}

/// A stream's stored edge configuration and what is known about its agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeConfigRecord {
    /// The stream's id.
    pub stream_id: i64,
    /// The stream's ARN.
    pub stream_arn: String,
    /// The stream's name.
    pub stream_name: String,
    /// The configuration as given.
    pub config: EdgeConfig,
    /// Where it is between the API and the agent.
    pub sync_status: SyncStatus,
    /// `FailedStatusDetails`.
    pub failed_details: Option<String>,
    /// First StartEdgeConfigurationUpdate, epoch ms.
    pub created_ms: i64,
    /// Last StartEdgeConfigurationUpdate or sync status change, epoch ms.
    pub updated_ms: i64,
    /// Increases with every StartEdgeConfigurationUpdate; agents report against it so a report
    /// about an older configuration never overwrites the state of a newer one.
    pub generation: i64,
    /// `LastRecorderStatus`.
    pub recorder: Option<JobReport>,
    /// `LastUploaderStatus`.
    pub uploader: Option<JobReport>,
}

/// How long a configuration may stay SYNCING before it reads as SYNC_FAILED (AWS: "The
/// connectivity of the stream's edge configuration and the Edge Agent will be retried for 15
/// minutes. After 15 minutes, the status will transition into the SYNC_FAILED state.").
pub const SYNC_TIMEOUT_MS: i64 = 15 * 60 * 1000;

impl EdgeConfigRecord {
    /// The sync status and failure details as of `now_ms` (SYNCING past [`SYNC_TIMEOUT_MS`] reads as
    /// SYNC_FAILED, DELETING as DELETE_FAILED).
    pub fn status_at(&self, now_ms: i64) -> (SyncStatus, Option<String>) {
        let stale = now_ms - self.updated_ms > SYNC_TIMEOUT_MS;
        if self.sync_status == SyncStatus::Syncing && stale {
            return (
                SyncStatus::SyncFailed,
                Some(
                    "No Edge Agent for this hub device acknowledged the configuration within 15 minutes."
                        .into(),
                ),
            );
        }
        if self.sync_status == SyncStatus::Deleting && stale {
            return (
                SyncStatus::DeleteFailed,
                Some("No Edge Agent for this hub device acknowledged the deletion within 15 minutes.".into()),
            );
        }
        (self.sync_status, self.failed_details.clone())
    }
}

/// A stored secret's metadata (never its value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRecord {
    /// `ARN`.
    pub arn: String,
    /// `Name`.
    pub name: String,
    /// `Description`.
    pub description: Option<String>,
    /// `KmsKeyId` as given (openkvs does not encrypt with it; see design/0015-edge-agent.md).
    pub kms_key_id: Option<String>,
    /// The current version (`AWSCURRENT`).
    pub version_id: String,
    /// `CreatedDate`, epoch ms.
    pub created_ms: i64,
    /// `LastChangedDate`, epoch ms.
    pub changed_ms: i64,
    /// `DeletedDate`: when DeleteSecret scheduled the deletion, epoch ms.
    pub deleted_ms: Option<i64>,
    /// When the deletion takes effect, epoch ms.
    pub purge_ms: Option<i64>,
}

/// A secret's value (`SecretString` or `SecretBinary`). `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretValue {
    /// `SecretString`.
    Text(String),
    /// `SecretBinary`.
    Binary(Vec<u8>),
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretValue::Text(s) => {
                write!(f, "SecretValue::Text(<{} characters redacted>)", s.chars().count())
            }
            SecretValue::Binary(b) => write!(f, "SecretValue::Binary(<{} bytes redacted>)", b.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> EdgeConfig {
        serde_json::from_value(serde_json::json!({
            "HubDeviceArn": "arn:aws:iot:us-west-2:123456789012:thing/openkvs",
            "RecorderConfig": {"MediaSourceConfig": {
                "MediaUriSecretArn": "arn:aws:secretsmanager:us-west-2:123456789012:secret:cam1",
                "MediaUriType": "RTSP_URI"}},
            "DeletionConfig": {"LocalSizeConfig": {"MaxLocalMediaSizeInMB": 64, "StrategyOnFullSize": "DENY_NEW_MEDIA"}}
        }))
        .unwrap()
    }

    #[test]
    fn valid_config_round_trips_with_botocore_names() {
        let c = valid();
        c.validate().unwrap();
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["DeletionConfig"]["LocalSizeConfig"]["MaxLocalMediaSizeInMB"], 64);
        assert_eq!(c.full_buffer_strategy(), FullBufferStrategy::DenyNew);
        assert_eq!(c.max_local_bytes(), 64 << 20);
        assert_eq!(hub_thing_name(c.hub()), "openkvs");
    }

    #[test]
    fn errors_name_the_member() {
        let mut c = valid();
        c.hub_device_arn = None;
        assert!(c.validate().unwrap_err().0.contains("Value null at 'edgeConfig.hubDeviceArn'"));
        let mut c = valid();
        c.hub_device_arn = Some("arn:aws:iot:us-west-2:1:thingy/x".into());
        assert!(c.validate().unwrap_err().0.contains("regular expression pattern"));
        let mut c = valid();
        c.uploader_config = Some(UploaderConfig {
            schedule_config: Some(ScheduleConfig {
                schedule_expression: Some("0 0 * * * ?".into()),
                duration_in_seconds: Some(30),
            }),
        });
        let e = c.validate().unwrap_err().0;
        assert!(e.contains("'30' at 'edgeConfig.uploaderConfig.scheduleConfig.durationInSeconds'"), "{e}");
        let mut c = valid();
        c.recorder_config.as_mut().unwrap().media_source_config.as_mut().unwrap().media_uri_type =
            Some("HTTP".into());
        assert!(c.validate().unwrap_err().0.contains("enum value set: [RTSP_URI, FILE_URI]"));
    }

    #[test]
    fn secret_arns_and_debug_redaction() {
        let a = SecretArn::parse_member("arn:aws:secretsmanager:eu-west-1:123456789012:secret:cam-1", "m")
            .unwrap();
        assert_eq!((a.region.as_str(), a.resource.as_str()), ("eu-west-1", "cam-1"));
        assert!(SecretArn::parse_member("arn:aws:secretsmanager:eu-west-1:1:secret:a/b", "m").is_err());
        let v = SecretValue::Text("rtsp://u:p@cam".into());
        assert!(!format!("{v:?}").contains("u:p"));
    }
}
