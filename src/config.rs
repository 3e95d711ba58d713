//! How the configuration is read: one TOML file (`--config`) whose sections belong to the
//! subsystems that use them, layered as built-in defaults < file < `OPENKVS_*` environment <
//! command-line flags; an unknown key is an error.
//!
//! Owns [`ConfigError`] and the TOML reading every section goes through ([`parse`], [`read`]). It
//! imports no subsystem: each subsystem owns its section type (`[ingest]` is
//! `ingest::IngestConfig`, `[auth]` is `auth::AuthConfig`, …) and `app::config` assembles the
//! whole-server `Config` from them, so any subsystem may use this module without a cycle. Nothing
//! here opens sockets or databases, or reads any file but the one it is given.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

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

/// Parses a TOML document (`path` names it in errors).
pub fn parse<T: DeserializeOwned>(text: &str, path: &Path) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Parse { path: path.to_owned(), message: e.to_string() })
}

/// Reads and parses a TOML file.
pub fn read<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
    parse(&text, path)
}
