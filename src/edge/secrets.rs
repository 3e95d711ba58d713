//! Secrets a self-hosted operator gives the agent without a secret store: the `[edge.secrets]`
//! table of the configuration file (ARN → value) and `OPENKVS_EDGE_SECRET_<NAME>` environment
//! variables, where `<NAME>` is the secret name at the end of the ARN with `-` and `.` written as
//! `_` (`arn:…:secret:cam-1` ← `OPENKVS_EDGE_SECRET_cam_1`). These win over secrets stored with
//! CreateSecret. Values are never logged; [`StaticSecrets`]'s `Debug` shows ARNs only.

use std::collections::BTreeMap;

use crate::model::SecretArn;

/// Prefix of the environment variables holding secrets.
pub const ENV_PREFIX: &str = "OPENKVS_EDGE_SECRET_";

/// Secrets from configuration and environment.
#[derive(Clone, Default)]
pub struct StaticSecrets {
    by_arn: BTreeMap<String, String>,
    by_env_name: BTreeMap<String, String>,
}

impl std::fmt::Debug for StaticSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticSecrets")
            .field("arns", &self.by_arn.keys().collect::<Vec<_>>())
            .field("env_names", &self.by_env_name.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The secret name of an ARN as an environment variable suffix.
fn env_name(resource: &str) -> String {
    resource.chars().map(|c| if c == '-' || c == '.' { '_' } else { c }).collect()
}

impl StaticSecrets {
    /// From the `[edge.secrets]` table and the process environment.
    pub fn load(table: &BTreeMap<String, String>) -> Self {
        Self::from_parts(table, std::env::vars())
    }

    /// From a table and `(name, value)` environment pairs.
    pub fn from_parts(
        table: &BTreeMap<String, String>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Self {
        let by_env_name = env
            .into_iter()
            .filter_map(|(k, v)| k.strip_prefix(ENV_PREFIX).map(|n| (n.to_owned(), v)))
            .collect();
        StaticSecrets { by_arn: table.clone(), by_env_name }
    }

    /// The value for `arn`, if configured.
    pub fn get(&self, arn: &str) -> Option<&str> {
        if let Some(v) = self.by_arn.get(arn) {
            return Some(v);
        }
        let parsed = SecretArn::parse_member(arn, "secretId").ok()?;
        self.by_env_name.get(&env_name(&parsed.resource)).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_and_environment() {
        let mut table = BTreeMap::new();
        table.insert("arn:aws:secretsmanager:us-east-1:1:secret:a".to_owned(), "rtsp://a".to_owned());
        let s = StaticSecrets::from_parts(
            &table,
            [
                ("OPENKVS_EDGE_SECRET_cam_1".to_owned(), "rtsp://u:p@b".to_owned()),
                ("OTHER".into(), "x".into()),
            ],
        );
        assert_eq!(s.get("arn:aws:secretsmanager:us-east-1:1:secret:a"), Some("rtsp://a"));
        assert_eq!(s.get("arn:aws:secretsmanager:eu-west-1:2:secret:cam-1"), Some("rtsp://u:p@b"));
        assert_eq!(s.get("arn:aws:secretsmanager:eu-west-1:2:secret:cam-2"), None);
        assert!(!format!("{s:?}").contains("u:p"));
    }
}
