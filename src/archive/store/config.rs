//! `[store]`: which fragment store the archive opens (the local segment directory, the default, or
//! an S3-compatible bucket), the S3 connection settings, and where each store keeps the WARM tier
//! (`[store.local] warm_dir`; `[store.s3] warm_bucket`, `warm_prefix`, `warm_storage_class`).
//! Pure data with serde defaults; opening the store is `archive::open`'s job, and the `OPENKVS_*`
//! overrides are applied by `app::config`.

use std::path::PathBuf;

use serde::Deserialize;

/// Which fragment store holds the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// Per-stream segment files under `DATA_DIR/fragments` (design/0002-fragment-store.md).
    #[default]
    Local,
    /// An object per commit batch per stream in an S3-compatible bucket
    /// (design/0017-object-store.md).
    S3,
}

impl std::str::FromStr for StoreKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "local" => Ok(Self::Local),
            "s3" => Ok(Self::S3),
            other => Err(format!("unknown store kind {other:?} (expected \"local\" or \"s3\")")),
        }
    }
}

/// `[store]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `"local"` (default) or `"s3"`.
    pub kind: StoreKind,
    /// The local store's settings (used when `kind = "local"`).
    pub local: LocalConfig,
    /// The S3 settings (used when `kind = "s3"`).
    pub s3: S3Config,
}

/// `[store.local]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct LocalConfig {
    /// Where WARM-tier streams' segments go (e.g. a larger, slower disk). Absent:
    /// `DATA_DIR/fragments-warm`.
    pub warm_dir: Option<PathBuf>,
}

/// `[store.s3]`: an S3-compatible bucket. Credentials not given here come from the standard AWS
/// environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, web identity,
/// the ECS/EKS container endpoints, instance metadata).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Config {
    /// The bucket (it must exist).
    pub bucket: String,
    /// Key prefix every object of this server starts with (`""`: the bucket's root).
    pub prefix: String,
    /// Endpoint URL for S3-compatible servers (`http://127.0.0.1:8333` for SeaweedFS); absent: AWS
    /// S3 in `region`. An `http://` endpoint is allowed (plain HTTP) and uses path-style requests.
    pub endpoint: Option<String>,
    /// The region requests are signed for.
    pub region: String,
    /// Access key id (absent: the AWS environment chain).
    pub access_key_id: Option<String>,
    /// Secret access key (with `access_key_id`).
    pub secret_access_key: Option<String>,
    /// Seconds one S3 request may take before it fails (and is retried within `retry_secs`).
    pub request_timeout_secs: u64,
    /// Seconds a failing request is retried before the fragments it carries fail (ERROR 5001).
    pub retry_secs: u64,
    /// Most PUTs in flight at once (one per stream of a commit batch).
    pub max_concurrent_puts: usize,
    /// The bucket of WARM-tier objects (absent: `bucket`).
    pub warm_bucket: Option<String>,
    /// The key prefix of WARM-tier objects (absent: `PREFIX/warm`, or `warm` without a prefix).
    pub warm_prefix: Option<String>,
    /// The S3 storage class WARM-tier objects are PUT with (`""`: none, the bucket's default).
    pub warm_storage_class: String,
}

impl Default for S3Config {
    fn default() -> Self {
        Self {
            bucket: String::new(),
            prefix: String::new(),
            endpoint: None,
            region: "us-east-1".to_owned(),
            access_key_id: None,
            secret_access_key: None,
            request_timeout_secs: 10,
            retry_secs: 5,
            max_concurrent_puts: 64,
            warm_bucket: None,
            warm_prefix: None,
            warm_storage_class: "STANDARD_IA".to_owned(),
        }
    }
}

impl S3Config {
    /// The bucket WARM-tier objects go to.
    pub fn warm_bucket(&self) -> &str {
        self.warm_bucket.as_deref().filter(|b| !b.is_empty()).unwrap_or(&self.bucket)
    }

    /// The key prefix WARM-tier objects go under (no leading or trailing `/`).
    pub fn warm_prefix(&self) -> String {
        match &self.warm_prefix {
            Some(p) => p.trim_matches('/').to_owned(),
            None => {
                let hot = self.prefix.trim_matches('/');
                if hot.is_empty() { "warm".to_owned() } else { format!("{hot}/warm") }
            }
        }
    }
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &self.secret_access_key.as_ref().map(|_| "<redacted>"))
            .field("request_timeout_secs", &self.request_timeout_secs)
            .field("retry_secs", &self.retry_secs)
            .field("max_concurrent_puts", &self.max_concurrent_puts)
            .field("warm_bucket", &self.warm_bucket)
            .field("warm_prefix", &self.warm_prefix)
            .field("warm_storage_class", &self.warm_storage_class)
            .finish()
    }
}

impl StoreConfig {
    /// Checks the combination of keys.
    pub fn validate(&self) -> Result<(), String> {
        if self.kind != StoreKind::S3 {
            return Ok(());
        }
        let s3 = &self.s3;
        if s3.bucket.len() < 3 {
            return Err(
                "store.s3.bucket must name a bucket (at least 3 characters) when store.kind = \"s3\"".into(),
            );
        }
        if s3.access_key_id.is_some() != s3.secret_access_key.is_some() {
            return Err("store.s3.access_key_id and store.s3.secret_access_key must be given together".into());
        }
        if let Some(e) = &s3.endpoint
            && !(e.starts_with("http://") || e.starts_with("https://"))
        {
            return Err(format!("store.s3.endpoint must be an http:// or https:// URL, got {e}"));
        }
        if s3.request_timeout_secs == 0 || s3.max_concurrent_puts == 0 {
            return Err("store.s3.request_timeout_secs and max_concurrent_puts must be at least 1".into());
        }
        if s3.warm_bucket().len() < 3 {
            return Err("store.s3.warm_bucket must name a bucket (at least 3 characters)".into());
        }
        if s3.warm_bucket() == s3.bucket && s3.warm_prefix() == s3.prefix.trim_matches('/') {
            return Err(
                "store.s3.warm_bucket and warm_prefix must differ from bucket and prefix: the WARM tier needs a \
                 place of its own"
                    .into(),
            );
        }
        Ok(())
    }
}
