//! `secretsmanager.DeleteSecret`: schedules the deletion after `RecoveryWindowInDays` (7..=30,
//! default 30), or at once with `ForceDeleteWithoutRecovery`. From the call on the secret is
//! unusable (GetSecretValue and the edge agent get an error; DescribeSecret shows `DeletedDate`);
//! after the window it is gone and its name free. RestoreSecret is not offered.

use serde::{Deserialize, Serialize};

use super::{invalid_parameter, live_secret};
use crate::api::AppState;
use crate::api::aws::{AwsError, EpochSeconds, required};
use crate::auth::Caller;

/// `DeleteSecretRequest`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    secret_id: Option<String>,
    recovery_window_in_days: Option<i64>,
    force_delete_without_recovery: Option<bool>,
}

/// `DeleteSecretResponse`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    deletion_date: EpochSeconds,
}

/// Schedules (or performs) the deletion.
pub async fn handle(state: &AppState, caller: &Caller, input: Input) -> Result<Output, AwsError> {
    let id = required(input.secret_id, "secretId")?;
    let force = input.force_delete_without_recovery.unwrap_or(false);
    if force && input.recovery_window_in_days.is_some() {
        return Err(invalid_parameter(
            "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
        ));
    }
    let days = input.recovery_window_in_days.unwrap_or(30);
    if !(7..=30).contains(&days) {
        return Err(invalid_parameter(
            "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).",
        ));
    }
    let record = live_secret(state, caller, &id).await?;
    let now = state.clock.now_millis();
    let purge = if force { now } else { now + days * 86_400_000 };
    state.edge.schedule_secret_deletion(&record.arn, now, purge).await?;
    if force {
        state.edge.purge_secrets(now).await?;
    }
    Ok(Output { arn: record.arn, name: record.name, deletion_date: EpochSeconds(purge) })
}
