//! The whole server's configuration: the top-level keys (listeners, data directory, index URL,
//! account) and `[tls]`, which this layer owns, plus every subsystem's own section type, assembled
//! into one [`Config`] (every key documented in docs/CONFIGURATION.md; unknown keys are an error);
//! the command-line/environment [`Overrides`] and the startup safety checks (the development key
//! on a non-loopback address).
//!
//! Reading goes through `crate::config` (which imports no subsystem); this module may import them
//! all, as `app` does. It must not open sockets, databases or files other than the config file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::auth::{AuthConfig, AuthMode, DEV_ACCESS_KEY_ID, DEV_SECRET_ACCESS_KEY};
use crate::config::ConfigError;

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
    /// The edge recorder inside `serve`, and camera secrets.
    pub edge: crate::edge::EdgeSettings,
    /// Server-side WebRTC media (WHEP live view, storage sessions).
    pub webrtc: crate::webrtc::WebRtcConfig,
    /// openkvs's own TURN relay (GetIceServerConfig's TURN server unless others are configured).
    pub turn: crate::turn_relay::TurnConfig,
    /// Where fragment bytes are kept (local segment files or an S3 bucket).
    pub store: crate::archive::StoreConfig,
    /// Where `s3://` image destinations are written (the S3 endpoint and the upload queue).
    pub destinations: crate::workers::delivery::DestinationsConfig,
    /// The master keys that wrap the streams' data keys (encryption at rest).
    pub encryption: crate::archive::EncryptionConfig,
    /// Several nodes on one Postgres, S3 bucket and NATS server (cluster mode when `nats_url` is set).
    pub cluster: crate::cluster::ClusterConfig,
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
            edge: crate::edge::EdgeSettings::default(),
            webrtc: crate::webrtc::WebRtcConfig::default(),
            turn: crate::turn_relay::TurnConfig::default(),
            store: crate::archive::StoreConfig::default(),
            destinations: crate::workers::delivery::DestinationsConfig::default(),
            encryption: crate::archive::EncryptionConfig::default(),
            cluster: crate::cluster::ClusterConfig::default(),
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
    /// `--store-kind` / `OPENKVS_STORE_KIND`
    pub store_kind: Option<crate::archive::StoreKind>,
    /// `--s3-bucket` / `OPENKVS_S3_BUCKET`
    pub s3_bucket: Option<String>,
    /// `--s3-prefix` / `OPENKVS_S3_PREFIX`
    pub s3_prefix: Option<String>,
    /// `--s3-endpoint` / `OPENKVS_S3_ENDPOINT`
    pub s3_endpoint: Option<String>,
    /// `--s3-region` / `OPENKVS_S3_REGION`
    pub s3_region: Option<String>,
    /// `--cluster-nats-url` / `OPENKVS_CLUSTER_NATS_URL`
    pub cluster_nats_url: Option<String>,
    /// `--cluster-node-id` / `OPENKVS_CLUSTER_NODE_ID`
    pub cluster_node_id: Option<String>,
    /// `--cluster-advertise-url` / `OPENKVS_CLUSTER_ADVERTISE_URL`
    pub cluster_advertise_url: Option<String>,
}

impl Config {
    /// Parses a TOML document.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, ConfigError> {
        crate::config::parse(text, path)
    }

    /// Loads the file (if any), applies overrides and validates.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> Result<Self, ConfigError> {
        let mut cfg = match file {
            Some(path) => crate::config::read(path)?,
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
        if let Some(v) = o.store_kind {
            self.store.kind = v;
        }
        if let Some(v) = o.s3_bucket {
            self.store.s3.bucket = v;
        }
        if let Some(v) = o.s3_prefix {
            self.store.s3.prefix = v;
        }
        if let Some(v) = o.s3_endpoint {
            self.store.s3.endpoint = Some(v);
        }
        if let Some(v) = o.s3_region {
            self.store.s3.region = v;
        }
        if let Some(v) = o.cluster_nats_url {
            self.cluster.nats_url = Some(v);
        }
        if let Some(v) = o.cluster_node_id {
            self.cluster.node_id = Some(v);
        }
        if let Some(v) = o.cluster_advertise_url {
            self.cluster.advertise_url = Some(v);
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
        self.store.validate().map_err(ConfigError::Invalid)?;
        self.destinations.validate().map_err(ConfigError::Invalid)?;
        self.encryption.validate().map_err(ConfigError::Invalid)?;
        self.turn.validate().map_err(ConfigError::Invalid)?;
        self.workers
            .detection
            .validate()
            .map_err(|e| ConfigError::Invalid(format!("workers.detection: {e}")))?;
        self.cluster.validate().map_err(ConfigError::Invalid)?;
        if self.cluster.enabled() {
            self.validate_cluster_dependencies()?;
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

    /// Cluster mode shares everything that matters between the nodes: the index must be Postgres,
    /// the fragments in S3, and the master keys configured (a generated key exists on one machine).
    fn validate_cluster_dependencies(&self) -> Result<(), ConfigError> {
        let url = self.effective_database_url();
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(ConfigError::Invalid(
                "cluster mode ([cluster] nats_url) needs the Postgres index: set database_url = \"postgres://…\", \
                 shared by every node"
                    .into(),
            ));
        }
        if self.store.kind != crate::archive::StoreKind::S3 {
            return Err(ConfigError::Invalid(
                "cluster mode ([cluster] nats_url) needs the fragments in S3: set [store] kind = \"s3\" with one \
                 bucket and prefix shared by every node"
                    .into(),
            ));
        }
        if self.encryption.keys.is_empty() {
            return Err(ConfigError::Invalid(
                "cluster mode ([cluster] nats_url) needs the same master keys on every node: configure \
                 [encryption.keys.ID] (a generated key would exist on one machine only)"
                    .into(),
            ));
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

    /// The local store's WARM-tier directory in effect: `store.local.warm_dir`, else
    /// `DATA_DIR/fragments-warm`.
    pub fn effective_warm_dir(&self) -> PathBuf {
        self.store.local.warm_dir.clone().unwrap_or_else(|| self.data_dir.join("fragments-warm"))
    }

    /// The index URL in effect: `database_url`, else SQLite in `data_dir`.
    pub fn effective_database_url(&self) -> String {
        match &self.database_url {
            Some(u) if !u.is_empty() => u.clone(),
            _ => format!("sqlite://{}", self.data_dir.join("index.db").display()),
        }
    }

    /// `[destinations.s3]` with the connection keys it leaves out taken from `[store.s3]` when the
    /// fragment store is S3 (one S3 server for fragments and images unless told otherwise).
    pub fn image_s3_destination(&self) -> crate::workers::delivery::S3DestinationConfig {
        let mut d = self.destinations.s3.clone();
        if self.store.kind != crate::archive::StoreKind::S3 {
            return d;
        }
        let store = &self.store.s3;
        if d.endpoint.is_none() {
            d.endpoint = store.endpoint.clone();
        }
        if d.region.is_none() {
            d.region = Some(store.region.clone());
        }
        if d.access_key_id.is_none() && d.secret_access_key.is_none() {
            d.access_key_id = store.access_key_id.clone();
            d.secret_access_key = store.secret_access_key.clone();
        }
        d
    }

    /// Whether the main `listen` address serves HTTPS (TLS configured without a separate address).
    pub fn listen_is_tls(&self) -> bool {
        self.tls.cert.is_some() && self.tls.listen.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::KeyConfig;

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
    fn image_destinations_use_the_store_s3_server_unless_told_otherwise() {
        let local = Config::default();
        assert_eq!(local.image_s3_destination(), local.destinations.s3, "local store: nothing to inherit");
        let text = "[store]\nkind = \"s3\"\n[store.s3]\nbucket = \"frags\"\nendpoint = \"http://127.0.0.1:8333\"\n\
                    region = \"eu-west-1\"\naccess_key_id = \"k\"\nsecret_access_key = \"s\"\n";
        let shared = Config::from_toml(text, Path::new("x")).unwrap();
        let d = shared.image_s3_destination();
        assert_eq!(d.endpoint.as_deref(), Some("http://127.0.0.1:8333"));
        assert_eq!(d.region.as_deref(), Some("eu-west-1"));
        assert_eq!((d.access_key_id.as_deref(), d.secret_access_key.as_deref()), (Some("k"), Some("s")));
        let own = format!(
            "{text}[destinations.s3]\nendpoint = \"https://s3.example.com\"\naccess_key_id = \"i\"\n\
             secret_access_key = \"t\"\n"
        );
        let d = Config::from_toml(&own, Path::new("x")).unwrap().image_s3_destination();
        assert_eq!(d.endpoint.as_deref(), Some("https://s3.example.com"));
        assert_eq!((d.access_key_id.as_deref(), d.secret_access_key.as_deref()), (Some("i"), Some("t")));
        let half = Config::from_toml("[destinations.s3]\naccess_key_id = \"i\"\n", Path::new("x")).unwrap();
        assert!(half.validate().is_err());
    }

    #[test]
    fn cluster_mode_needs_postgres_s3_and_shared_keys() {
        let mut cfg = Config::default();
        cfg.cluster.nats_url = Some("nats://127.0.0.1:4222".into());
        assert!(cfg.validate().unwrap_err().to_string().contains("Postgres"));
        cfg.database_url = Some("postgres://db/openkvs".into());
        assert!(cfg.validate().unwrap_err().to_string().contains("S3"));
        cfg.store.kind = crate::archive::StoreKind::S3;
        cfg.store.s3.bucket = "frags".into();
        assert!(cfg.validate().unwrap_err().to_string().contains("master keys"));
        cfg.encryption.keys.insert(
            "k".into(),
            crate::archive::MasterKeyConfig { env: Some("K".into()), ..Default::default() },
        );
        cfg.validate().unwrap();
        cfg.cluster.member_ttl_ms = cfg.cluster.heartbeat_interval_ms;
        assert!(cfg.validate().unwrap_err().to_string().contains("member_ttl_ms"));
        // Without nats_url the section is inert: a single node needs none of it.
        let single = Config { cluster: crate::cluster::ClusterConfig::default(), ..Config::default() };
        single.validate().unwrap();
    }

    #[test]
    fn public_url_must_not_have_a_path() {
        let bad = Config { public_url: Some("http://h:1/x".into()), ..Config::default() };
        assert!(bad.validate().is_err());
        let good = Config { public_url: Some("https://kvs.example.com".into()), ..Config::default() };
        good.validate().unwrap();
    }
}
