//! `secretsmanager.DeleteSecret`: schedules the deletion after `RecoveryWindowInDays` (7..=30,
//! default 30), or at once with `ForceDeleteWithoutRecovery`. From the call on the secret is
//! unusable (GetSecretValue and the edge agent get an error; DescribeSecret shows `DeletedDate`);
//! after the window it is gone and its name free. RestoreSecret is not offered.

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, Call, EpochSeconds, Json11, OperationInput, Valid};
use crate::api::secret_inputs::{invalid_parameter, live_secret, secret_id};

/// `DeleteSecretRequest`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteSecretInput {
    secret_id: Option<String>,
    recovery_window_in_days: Option<i64>,
    force_delete_without_recovery: Option<bool>,
}

/// A validated DeleteSecret: the secret and its recovery window (`None`: delete now).
#[derive(Debug)]
pub struct Deletion {
    id: String,
    window_days: Option<i64>,
}

impl OperationInput for DeleteSecretInput {
    type Valid = Deletion;

    fn validate(self) -> Result<Deletion, AwsError> {
        let id = secret_id(self.secret_id)?;
        let force = self.force_delete_without_recovery.unwrap_or(false);
        if force && self.recovery_window_in_days.is_some() {
            return Err(invalid_parameter(
                "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
            ));
        }
        let days = self.recovery_window_in_days.unwrap_or(30);
        if !(7..=30).contains(&days) {
            return Err(invalid_parameter(
                "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).",
            ));
        }
        Ok(Deletion { id, window_days: (!force).then_some(days) })
    }
}

/// `DeleteSecretResponse`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteSecretOutput {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    deletion_date: EpochSeconds,
}

/// Schedules (or performs) the deletion.
pub async fn handle(
    call: Call,
    Valid(deletion): Valid<DeleteSecretInput>,
) -> Result<Json11<DeleteSecretOutput>, AwsError> {
    let record = live_secret(&call, &deletion.id).await?;
    let state = &call.state;
    let now = state.clock.now_millis();
    let purge = deletion.window_days.map_or(now, |days| now + days * 86_400_000);
    state.archive.schedule_secret_deletion(&record.arn, now, purge).await?;
    if deletion.window_days.is_none() {
        state.archive.purge_secrets(now).await?;
    }
    Ok(Json11(DeleteSecretOutput { arn: record.arn, name: record.name, deletion_date: EpochSeconds(purge) }))
}
