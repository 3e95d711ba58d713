//! Typed configuration: built-in defaults < config file (`--config`) < `OPENKVS_*` environment <
//! command-line flags.
//!
//! Owns the [`Config`] struct (every key documented; unknown keys are an error), loading the TOML
//! file and applying overrides, and the startup safety checks (the development key on a non-loopback
//! address). It must not open sockets, files other than the config file, or databases.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The development access key id shipped in `config/openkvs.toml`.
pub const DEV_ACCESS_KEY_ID: &str = "openkvs";
/// The development secret shipped in `config/openkvs.toml`.
pub const DEV_SECRET_ACCESS_KEY: &str = "openkvs-secret";

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The config file is not valid TOML for [`Config`].
    #[error("invalid config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A value is out of range or inconsistent with another.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// How requests are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// SigV4 signatures are verified against `[[auth.keys]]` (the default).
    #[default]
    Keys,
    /// Any well-formed SigV4 signature is accepted, whatever the key (local tests, like LocalStack).
    Open,
}

impl AuthMode {
    /// The name used in logs and the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::Keys => "keys",
            AuthMode::Open => "open",
        }
    }
}

/// One access key and what it may do.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// The access key id (`AWS_ACCESS_KEY_ID` on the client).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// Operations the key may call (e.g. `["PutMedia", "DescribeStream"]`); absent = all.
    #[serde(default)]
    pub operations: Option<Vec<String>>,
    /// Stream-name globs the key may touch (`*` and `?` wildcards, e.g. `["cam-*"]`); absent = all.
    /// The same globs apply to signaling-channel names.
    #[serde(default)]
    pub streams: Option<Vec<String>>,
}

/// `[auth]`: authentication settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// `keys` (verify signatures) or `open` (accept any well-formed signature).
    pub mode: AuthMode,
    /// Allowed clock skew between a request's `X-Amz-Date` and the server, seconds (AWS: 900).
    pub max_skew_secs: i64,
    /// Access keys.
    pub keys: Vec<KeyConfig>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            mode: AuthMode::Keys,
            max_skew_secs: 900,
            keys: vec![KeyConfig {
                access_key_id: DEV_ACCESS_KEY_ID.to_owned(),
                secret_access_key: DEV_SECRET_ACCESS_KEY.to_owned(),
                operations: None,
                streams: None,
            }],
        }
    }
}

/// `[tls]`: an HTTPS listener.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain.
    pub cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: Option<PathBuf>,
    /// Address of the HTTPS listener. Absent: `listen` itself serves HTTPS (no plain HTTP).
    pub listen: Option<SocketAddr>,
}

/// The whole server configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Plain-HTTP listen address (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Directory for the SQLite index and the fragment store.
    pub data_dir: PathBuf,
    /// Index database URL: `postgres://…` or `sqlite://…`; absent = SQLite in `data_dir`.
    pub database_url: Option<String>,
    /// Base URL returned by GetDataEndpoint (scheme://host[:port], no path). Absent = derived from
    /// the listener the request arrived on.
    pub public_url: Option<String>,
    /// The 12-digit account id used in ARNs.
    pub account_id: String,
    /// Allow the development key on a non-loopback listener.
    pub allow_dev_keys: bool,
    /// An HTTP/1 connection that has not sent a complete request head within this many seconds is
    /// closed (slow-loris and idle-connect protection; it applies to every request head on a
    /// keep-alive connection, not to bodies). 0 disables the timeout.
    pub header_read_timeout_secs: u64,
    /// HTTPS listener.
    pub tls: TlsConfig,
    /// Authentication.
    pub auth: AuthConfig,
    /// PutMedia ingest limits and behaviour.
    pub ingest: crate::ingest::IngestConfig,
    /// GetMedia, HLS/DASH and GetClip settings.
    pub playback: crate::playback::PlaybackConfig,
    /// WebRTC signaling limits and ICE servers.
    pub signaling: crate::signaling::SignalingConfig,
    /// Analysis workers, built-in analyzers and event notifications.
    pub workers: crate::workers::WorkersConfig,
    /// Prometheus metrics listener.
    pub metrics: crate::metrics::MetricsConfig,
    /// The retention janitor.
    pub retention: crate::retention::RetentionConfig,
    /// Server-side WebRTC media (WHEP live view, storage sessions).
    pub webrtc: crate::webrtc::WebRtcConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:4567".parse().expect("static address"),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            public_url: None,
            account_id: "000000000000".to_owned(),
            allow_dev_keys: false,
            header_read_timeout_secs: 30,
            tls: TlsConfig::default(),
            auth: AuthConfig::default(),
            ingest: crate::ingest::IngestConfig::default(),
            playback: crate::playback::PlaybackConfig::default(),
            workers: crate::workers::WorkersConfig::default(),
            signaling: crate::signaling::SignalingConfig::default(),
            metrics: crate::metrics::MetricsConfig::default(),
            retention: crate::retention::RetentionConfig::default(),
            webrtc: crate::webrtc::WebRtcConfig::default(),
        }
    }
}

/// Values given on the command line or in `OPENKVS_*` variables; `None` = not given.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen` / `OPENKVS_LISTEN`
    pub listen: Option<SocketAddr>,
    /// `--data-dir` / `OPENKVS_DATA_DIR`
    pub data_dir: Option<PathBuf>,
    /// `--database-url` / `OPENKVS_DATABASE_URL` / `DATABASE_URL`
    pub database_url: Option<String>,
    /// `--public-url` / `OPENKVS_PUBLIC_URL`
    pub public_url: Option<String>,
    /// `--account-id` / `OPENKVS_ACCOUNT_ID`
    pub account_id: Option<String>,
    /// `--allow-dev-keys` / `OPENKVS_ALLOW_DEV_KEYS`
    pub allow_dev_keys: bool,
    /// `--tls-cert` / `OPENKVS_TLS_CERT`
    pub tls_cert: Option<PathBuf>,
    /// `--tls-key` / `OPENKVS_TLS_KEY`
    pub tls_key: Option<PathBuf>,
    /// `--tls-listen` / `OPENKVS_TLS_LISTEN`
    pub tls_listen: Option<SocketAddr>,
    /// `--auth-mode` / `OPENKVS_AUTH_MODE`
    pub auth_mode: Option<AuthMode>,
    /// `--metrics-listen` / `OPENKVS_METRICS_LISTEN`
    pub metrics_listen: Option<SocketAddr>,
}

impl Config {
    /// Parses a TOML document.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse { path: path.to_owned(), message: e.to_string() })
    }

    /// Loads the file (if any), applies overrides and validates.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> Result<Self, ConfigError> {
        let mut cfg = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
                Self::from_toml(&text, path)?
            }
            None => Self::default(),
        };
        cfg.apply(overrides);
        cfg.validate()?;
        Ok(cfg)
    }

    /// Applies overrides on top of this configuration.
    pub fn apply(&mut self, o: Overrides) {
        if let Some(v) = o.listen {
            self.listen = v;
        }
        if let Some(v) = o.data_dir {
            self.data_dir = v;
        }
        if let Some(v) = o.database_url {
            self.database_url = Some(v);
        }
        if let Some(v) = o.public_url {
            self.public_url = Some(v);
        }
        if let Some(v) = o.account_id {
            self.account_id = v;
        }
        if o.allow_dev_keys {
            self.allow_dev_keys = true;
        }
        if let Some(v) = o.tls_cert {
            self.tls.cert = Some(v);
        }
        if let Some(v) = o.tls_key {
            self.tls.key = Some(v);
        }
        if let Some(v) = o.tls_listen {
            self.tls.listen = Some(v);
        }
        if let Some(v) = o.auth_mode {
            self.auth.mode = v;
        }
        if let Some(v) = o.metrics_listen {
            self.metrics.listen = Some(v);
        }
    }

    /// Checks ranges and combinations, including the development-key rule.
    pub fn validate(&self) -> Result<(), ConfigError> {
        crate::model::AccountId::parse(&self.account_id).map_err(|e| ConfigError::Invalid(e.to_string()))?;
        if self.tls.cert.is_some() != self.tls.key.is_some() {
            return Err(ConfigError::Invalid("tls.cert and tls.key must be given together".into()));
        }
        if self.tls.listen.is_some() && self.tls.cert.is_none() {
            return Err(ConfigError::Invalid("tls.listen needs tls.cert and tls.key".into()));
        }
        if let Some(url) = &self.public_url {
            let ok = (url.starts_with("http://") || url.starts_with("https://"))
                && !url.trim_end_matches('/').contains(['?', '#'])
                && url.splitn(4, '/').nth(3).is_none_or(str::is_empty);
            if !ok {
                return Err(ConfigError::Invalid(format!(
                    "public_url must be scheme://host[:port] without a path, got {url}"
                )));
            }
        }
        if self.retention.interval_secs == 0 {
            return Err(ConfigError::Invalid("retention.interval_secs must be at least 1".into()));
        }
        if !(1..=86_400).contains(&self.auth.max_skew_secs) {
            return Err(ConfigError::Invalid("auth.max_skew_secs must be 1..=86400".into()));
        }
        let mut ids = std::collections::HashSet::new();
        for k in &self.auth.keys {
            if k.access_key_id.is_empty() || k.secret_access_key.is_empty() {
                return Err(ConfigError::Invalid("auth.keys entries need an id and a secret".into()));
            }
            if !ids.insert(k.access_key_id.as_str()) {
                return Err(ConfigError::Invalid(format!("duplicate access key id {}", k.access_key_id)));
            }
        }
        if self.auth.mode == AuthMode::Keys && self.auth.keys.is_empty() {
            return Err(ConfigError::Invalid("auth.mode = \"keys\" needs at least one [[auth.keys]]".into()));
        }
        if self.has_dev_key() && !self.allow_dev_keys {
            let exposed: Vec<String> = self
                .listen_addrs()
                .into_iter()
                .filter(|a| !a.ip().is_loopback())
                .map(|a| a.to_string())
                .collect();
            if !exposed.is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "refusing to serve the development key ({DEV_ACCESS_KEY_ID}) on non-loopback address {}; \
                     configure your own [[auth.keys]] or pass --allow-dev-keys",
                    exposed.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// Whether the development key is configured.
    pub fn has_dev_key(&self) -> bool {
        self.auth
            .keys
            .iter()
            .any(|k| k.access_key_id == DEV_ACCESS_KEY_ID && k.secret_access_key == DEV_SECRET_ACCESS_KEY)
    }

    /// Every address the server will listen on.
    pub fn listen_addrs(&self) -> Vec<SocketAddr> {
        let mut v = vec![self.listen];
        if let Some(a) = self.tls.listen {
            v.push(a);
        }
        v
    }

    /// The index URL in effect: `database_url`, else SQLite in `data_dir`.
    pub fn effective_database_url(&self) -> String {
        match &self.database_url {
            Some(u) if !u.is_empty() => u.clone(),
            _ => format!("sqlite://{}", self.data_dir.join("index.db").display()),
        }
    }

    /// Whether the main `listen` address serves HTTPS (TLS configured without a separate address).
    pub fn listen_is_tls(&self) -> bool {
        self.tls.cert.is_some() && self.tls.listen.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_config_file_equals_the_defaults() {
        let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config/openkvs.toml"));
        let text = std::fs::read_to_string(path).unwrap();
        assert_eq!(Config::from_toml(&text, path).unwrap(), Config::default());
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err =
            Config::from_toml("listen = \"127.0.0.1:1\"\nlisten_typo = 1\n", Path::new("x")).unwrap_err();
        assert!(err.to_string().contains("listen_typo"), "{err}");
    }

    #[test]
    fn dev_key_refused_on_public_address() {
        let mut cfg = Config { listen: "0.0.0.0:4567".parse().unwrap(), ..Config::default() };
        assert!(cfg.validate().unwrap_err().to_string().contains("development key"));
        cfg.allow_dev_keys = true;
        cfg.validate().unwrap();
        let own = Config {
            listen: "0.0.0.0:4567".parse().unwrap(),
            auth: AuthConfig {
                keys: vec![KeyConfig {
                    access_key_id: "AKIDPROD".into(),
                    secret_access_key: "s3cr3t".into(),
                    operations: None,
                    streams: None,
                }],
                ..AuthConfig::default()
            },
            ..Config::default()
        };
        own.validate().unwrap();
    }

    #[test]
    fn overrides_win_over_the_file() {
        let mut cfg = Config::from_toml("listen = \"127.0.0.1:1000\"\n", Path::new("x")).unwrap();
        cfg.apply(Overrides { listen: Some("127.0.0.1:2000".parse().unwrap()), ..Overrides::default() });
        assert_eq!(cfg.listen.port(), 2000);
        assert_eq!(cfg.effective_database_url(), "sqlite://./data/index.db");
    }

    #[test]
    fn public_url_must_not_have_a_path() {
        let bad = Config { public_url: Some("http://h:1/x".into()), ..Config::default() };
        assert!(bad.validate().is_err());
        let good = Config { public_url: Some("https://kvs.example.com".into()), ..Config::default() };
        good.validate().unwrap();
    }
}
