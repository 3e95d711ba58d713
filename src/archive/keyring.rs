//! The keyring of master keys (`[encryption]`, design/0018-encryption-at-rest.md): their
//! configuration, loading them from files or environment variables (or, with none configured,
//! from the key `openkvs serve` generates in its data directory on first start), and which one a
//! CreateStream `KmsKeyId` selects.
//!
//! `KmsKeyId` forms (those AWS KMS accepts) map to keyring ids like this: a key id (`X`) and a
//! key ARN (`arn:aws:kms:REGION:ACCOUNT:key/X`) name the key whose id is `X`; an alias name
//! (`alias/A`) and an alias ARN (`arn:aws:kms:REGION:ACCOUNT:alias/A`) name the key that lists
//! `A` among its `aliases`; `alias/aws/kinesisvideo` (the AWS-managed KVS key, what DescribeStream
//! reports for a stream created without `KmsKeyId`) names the default key. The ARN's partition,
//! region and account are not checked: one keyring serves every region of the server.
//!
//! Reads only the key files and variables it is configured with (and writes the generated key
//! once); never logs key material.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use serde::Deserialize;

use super::sealing::{KEY_LEN, MasterKey};

/// The keyring id of the key generated in the data directory when none is configured.
pub const GENERATED_KEY_ID: &str = "default";

/// The file, in the data directory, of the generated key.
pub const GENERATED_KEY_FILE: &str = "master.key";

/// The alias of the AWS-managed key KVS uses when CreateStream names none.
pub const AWS_MANAGED_ALIAS: &str = "aws/kinesisvideo";

/// `[encryption]`: the master keys that wrap every stream's data key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct EncryptionConfig {
    /// The keyring id of the key that wraps the data keys of streams created without `KmsKeyId`
    /// (and of streams created before encryption at rest). Absent: the only configured key, or
    /// the generated one when none is configured.
    pub default_key: Option<String>,
    /// The master keys, by keyring id. Empty: `openkvs serve` uses (generating it on first
    /// start) `DATA_DIR/master.key`, id `default`.
    pub keys: BTreeMap<String, MasterKeyConfig>,
}

/// `[encryption.keys.ID]`: where one master key comes from (exactly one of `file`, `env`).
#[derive(Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct MasterKeyConfig {
    /// A file holding the key: 32 raw bytes, or 64 hex digits, or base64 of 32 bytes.
    pub file: Option<PathBuf>,
    /// The name of an environment variable holding the key (hex or base64).
    pub env: Option<String>,
    /// KMS alias names (`alias/NAME` or `NAME`) that also select this key.
    pub aliases: Vec<String>,
}

impl std::fmt::Debug for MasterKeyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKeyConfig")
            .field("file", &self.file)
            .field("env", &self.env)
            .field("aliases", &self.aliases)
            .finish()
    }
}

/// A keyring id or alias: what a KMS key id may be made of (no `:`, so ARNs stay unambiguous).
fn valid_name(s: &str, slash: bool) -> bool {
    !s.is_empty()
        && s.len() <= 256
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || (slash && b == b'/'))
}

fn alias_name(alias: &str) -> &str {
    alias.strip_prefix("alias/").unwrap_or(alias)
}

impl EncryptionConfig {
    /// Checks ids, aliases, sources and the default key.
    pub fn validate(&self) -> Result<(), String> {
        let mut aliases = HashMap::new();
        for (id, key) in &self.keys {
            if !valid_name(id, false) {
                return Err(format!(
                    "encryption.keys: key id {id:?} must be 1..256 letters, digits, '-' or '_'"
                ));
            }
            if key.file.is_some() == key.env.is_some() {
                return Err(format!("encryption.keys.{id}: give exactly one of file and env"));
            }
            for alias in &key.aliases {
                let name = alias_name(alias);
                if !valid_name(name, true) || name.starts_with("aws/") {
                    return Err(format!(
                        "encryption.keys.{id}: alias {alias:?} must be letters, digits, '/', '-' or '_', not under aws/"
                    ));
                }
                if let Some(other) = aliases.insert(name.to_owned(), id.as_str()) {
                    return Err(format!("encryption.keys: alias {alias:?} names both {other} and {id}"));
                }
            }
        }
        match (&self.default_key, self.keys.len()) {
            (Some(d), 0) if d != GENERATED_KEY_ID => Err(format!(
                "encryption.default_key = {d:?} but no [encryption.keys] are configured (the generated key's id is \"{GENERATED_KEY_ID}\")"
            )),
            (Some(d), n) if n > 0 && !self.keys.contains_key(d) => {
                Err(format!("encryption.default_key = {d:?} is not one of [encryption.keys]"))
            }
            (None, n) if n > 1 => {
                Err("encryption.default_key must name one of the keys when several are configured".into())
            }
            _ => Ok(()),
        }
    }
}

/// Why the keyring could not be loaded (the server does not start).
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// A key file could not be read.
    #[error("master key {id}: cannot read {path}: {source}")]
    Read {
        /// The keyring id.
        id: String,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A key's variable is not set.
    #[error("master key {id}: environment variable {var} is not set")]
    MissingVariable {
        /// The keyring id.
        id: String,
        /// The variable.
        var: String,
    },
    /// A key is not 32 bytes in one of the accepted encodings.
    #[error("master key {id}: {what} is not a 32-byte key (32 raw bytes, 64 hex digits or base64)")]
    Malformed {
        /// The keyring id.
        id: String,
        /// Where it came from.
        what: String,
    },
    /// The generated key is gone but data keys wrapped by it exist.
    #[error(
        "{path} is missing but {count} stream data keys are wrapped by it: restore the file (or give it as \
         [encryption.keys.{GENERATED_KEY_ID}]); refusing to generate a new key, which could never open them. To \
         start without it, configure [encryption.keys]: those streams then stay unreadable"
    )]
    GeneratedKeyLost {
        /// The file.
        path: PathBuf,
        /// Data keys that need it.
        count: u64,
    },
    /// The generated key could not be written.
    #[error("cannot write the generated master key {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// A `KmsKeyId` that names no key of the keyring.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("KmsKeyId {0:?} names no key in the keyring")]
pub struct UnknownKmsKey(pub String);

/// The loaded master keys.
#[derive(Debug)]
pub struct Keyring {
    keys: HashMap<String, Arc<MasterKey>>,
    aliases: HashMap<String, String>,
    default_id: String,
    /// Where the generated key lives, when the keyring is that one key.
    generated: Option<PathBuf>,
}

/// Decodes key material: 32 raw bytes, or (trimmed) 64 hex digits, or base64 of 32 bytes.
fn decode_key(raw: &[u8]) -> Option<[u8; KEY_LEN]> {
    if let Ok(k) = <[u8; KEY_LEN]>::try_from(raw) {
        return Some(k);
    }
    let text = std::str::from_utf8(raw).ok()?.trim();
    let bytes = if text.len() == 2 * KEY_LEN && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(text).ok()?
    } else {
        base64::engine::general_purpose::STANDARD.decode(text).ok()?
    };
    <[u8; KEY_LEN]>::try_from(bytes.as_slice()).ok()
}

/// Reads a key file, warning when others than its owner may read it.
fn read_key_file(id: &str, path: &Path) -> Result<[u8; KEY_LEN], KeyringError> {
    let raw = std::fs::read(path).map_err(|source| KeyringError::Read {
        id: id.to_owned(),
        path: path.to_owned(),
        source,
    })?;
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                "master key file {} is readable by others than its owner (mode {:o}); chmod 600 it",
                path.display(),
                meta.permissions().mode() & 0o777
            );
        }
    }
    decode_key(&raw)
        .ok_or_else(|| KeyringError::Malformed { id: id.to_owned(), what: path.display().to_string() })
}

/// Writes a new random key to `path` (mode 0600, created exclusively, synced with its directory).
fn generate_key_file(path: &Path) -> Result<[u8; KEY_LEN], KeyringError> {
    use std::os::unix::fs::OpenOptionsExt;
    let err = |source| KeyringError::Write { path: path.to_owned(), source };
    let key = MasterKey::generate_bytes();
    let mut file =
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(err)?;
    file.write_all(format!("{}\n", hex::encode(key)).as_bytes()).map_err(err)?;
    file.sync_all().map_err(err)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(err)?;
    }
    Ok(key)
}

impl Keyring {
    /// Loads the configured keys (reading variables through `env`), or the generated key in
    /// `data_dir` when none are configured, generating it when it does not exist yet — unless
    /// `in_use` (data keys per master key id, from the index) shows data keys wrapped by it.
    pub fn load(
        config: &EncryptionConfig,
        data_dir: &Path,
        in_use: &[(String, u64)],
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, KeyringError> {
        let mut keys = HashMap::new();
        let mut aliases = HashMap::new();
        let mut generated = None;
        if config.keys.is_empty() {
            let path = data_dir.join(GENERATED_KEY_FILE);
            let material = if path.exists() {
                read_key_file(GENERATED_KEY_ID, &path)?
            } else {
                let count = in_use.iter().find(|(id, _)| id == GENERATED_KEY_ID).map_or(0, |(_, n)| *n);
                if count > 0 {
                    return Err(KeyringError::GeneratedKeyLost { path, count });
                }
                let key = generate_key_file(&path)?;
                tracing::info!(
                    "generated the master key {} (mode 0600): back it up with the data, without it no \
                     fragment can be read (design/0018-encryption-at-rest.md)",
                    path.display()
                );
                key
            };
            let master = MasterKey::from_bytes(&material).expect("KEY_LEN bytes");
            keys.insert(GENERATED_KEY_ID.to_owned(), Arc::new(master));
            generated = Some(path);
        }
        for (id, source) in &config.keys {
            let material = match (&source.file, &source.env) {
                (Some(path), _) => read_key_file(id, path)?,
                (None, Some(var)) => {
                    let value = env(var)
                        .ok_or_else(|| KeyringError::MissingVariable { id: id.clone(), var: var.clone() })?;
                    decode_key(value.as_bytes())
                        .ok_or_else(|| KeyringError::Malformed { id: id.clone(), what: format!("${var}") })?
                }
                (None, None) => {
                    return Err(KeyringError::Malformed { id: id.clone(), what: "no file or env".into() });
                }
            };
            keys.insert(id.clone(), Arc::new(MasterKey::from_bytes(&material).expect("KEY_LEN bytes")));
            for alias in &source.aliases {
                aliases.insert(alias_name(alias).to_owned(), id.clone());
            }
        }
        let default_id = match (&config.default_key, config.keys.len()) {
            (Some(d), _) => d.clone(),
            (None, 1) => config.keys.keys().next().expect("one key").clone(),
            _ => GENERATED_KEY_ID.to_owned(),
        };
        let keyring = Self { keys, aliases, default_id, generated };
        for (id, count) in in_use {
            if !keyring.keys.contains_key(id) {
                tracing::error!(
                    "master key {id:?} wraps {count} stream data keys but is not in the keyring ([encryption.keys]): \
                     those streams' fragments can be neither read nor written until it is configured again"
                );
            }
        }
        Ok(keyring)
    }

    /// How many master keys it holds.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// The keyring id of the default key.
    pub fn default_id(&self) -> &str {
        &self.default_id
    }

    /// The generated key's file, when the keyring is that one key.
    pub fn generated_key_file(&self) -> Option<&Path> {
        self.generated.as_deref()
    }

    /// The master key with this keyring id.
    pub fn get(&self, id: &str) -> Option<&Arc<MasterKey>> {
        self.keys.get(id)
    }

    /// The keyring id a CreateStream `KmsKeyId` selects (`None`: the default key).
    pub fn resolve(&self, kms_key_id: Option<&str>) -> Result<&str, UnknownKmsKey> {
        let unknown = || UnknownKmsKey(kms_key_id.unwrap_or_default().to_owned());
        let Some(given) = kms_key_id else { return Ok(&self.default_id) };
        // arn:PARTITION:kms:REGION:ACCOUNT:RESOURCE
        let resource = match given.strip_prefix("arn:") {
            Some(rest) => {
                let fields: Vec<&str> = rest.splitn(5, ':').collect();
                match fields.as_slice() {
                    [_, "kms", _, _, resource] => *resource,
                    _ => return Err(unknown()),
                }
            }
            None => given,
        };
        let id = match (resource.strip_prefix("alias/"), resource.strip_prefix("key/")) {
            (Some(AWS_MANAGED_ALIAS), _) => self.default_id.as_str(),
            (Some(alias), _) => self.aliases.get(alias).map(String::as_str).ok_or_else(unknown)?,
            (None, Some(id)) if given.starts_with("arn:") => id,
            (None, _) if given.starts_with("arn:") => return Err(unknown()),
            (None, _) => resource,
        };
        self.keys.get_key_value(id).map(|(k, _)| k.as_str()).ok_or_else(unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex_key(byte: u8) -> String {
        hex::encode([byte; KEY_LEN])
    }

    fn config(entries: &[(&str, MasterKeyConfig)], default_key: Option<&str>) -> EncryptionConfig {
        EncryptionConfig {
            default_key: default_key.map(str::to_owned),
            keys: entries.iter().map(|(id, c)| ((*id).to_owned(), c.clone())).collect(),
        }
    }

    fn from_env(var: &str, aliases: &[&str]) -> MasterKeyConfig {
        MasterKeyConfig {
            env: Some(var.to_owned()),
            aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
            ..MasterKeyConfig::default()
        }
    }

    #[test]
    fn every_kms_key_id_form_maps_to_its_keyring_id() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cams.key");
        std::fs::write(&file, [3u8; KEY_LEN]).unwrap();
        let cfg = config(
            &[
                ("1234abcd-12ab-34cd-56ef-1234567890ab", from_env("K1", &["alias/lobby", "garage"])),
                ("cams", MasterKeyConfig { file: Some(file), ..MasterKeyConfig::default() }),
            ],
            Some("cams"),
        );
        cfg.validate().unwrap();
        let env = |v: &str| (v == "K1").then(|| hex_key(1));
        let ring = Keyring::load(&cfg, dir.path(), &[], env).unwrap();
        let uuid = "1234abcd-12ab-34cd-56ef-1234567890ab";
        for (given, id) in [
            (None, "cams"),
            (Some("cams"), "cams"),
            (Some(uuid), uuid),
            (Some("arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"), uuid),
            (Some("alias/lobby"), uuid),
            (Some("alias/garage"), uuid),
            (Some("arn:aws:kms:eu-west-1:111122223333:alias/lobby"), uuid),
            (Some("alias/aws/kinesisvideo"), "cams"),
            (Some("arn:aws:kms:us-east-1:000000000000:alias/aws/kinesisvideo"), "cams"),
        ] {
            assert_eq!(ring.resolve(given), Ok(id), "{given:?}");
        }
        for bad in [
            "nope",
            "alias/nope",
            "lobby",
            "arn:aws:kms:us-east-1:1:key/nope",
            "arn:aws:s3:::cams",
            "arn:aws:kms:us-east-1:1:cams",
            "key/cams",
        ] {
            assert_eq!(ring.resolve(Some(bad)), Err(UnknownKmsKey(bad.to_owned())), "{bad}");
        }
        assert!(!dir.path().join(GENERATED_KEY_FILE).exists(), "configured keys: nothing generated");
    }

    #[test]
    fn key_material_comes_as_raw_hex_or_base64_and_nothing_else() {
        assert_eq!(decode_key(&[9u8; KEY_LEN]), Some([9u8; KEY_LEN]));
        assert_eq!(decode_key(format!("{}\n", hex_key(0xab)).as_bytes()), Some([0xab; KEY_LEN]));
        let b64 = base64::engine::general_purpose::STANDARD.encode([5u8; KEY_LEN]);
        assert_eq!(decode_key(b64.as_bytes()), Some([5u8; KEY_LEN]));
        assert_eq!(decode_key(b"too short"), None);
        assert_eq!(decode_key(&hex_key(1).as_bytes()[..62]), None);
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(&[("a", from_env("A", &[]))], None);
        let err = Keyring::load(&cfg, dir.path(), &[], |_| Some("not a key".into())).unwrap_err();
        assert!(err.to_string().contains("$A is not a 32-byte key"), "{err}");
        let err = Keyring::load(&cfg, dir.path(), &[], |_| None).unwrap_err();
        assert!(err.to_string().contains("environment variable A is not set"), "{err}");
    }

    #[test]
    fn without_configured_keys_one_is_generated_once_and_never_replaced() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let empty = EncryptionConfig::default();
        empty.validate().unwrap();
        let first = Keyring::load(&empty, dir.path(), &[], |_| None).unwrap();
        let path = dir.path().join(GENERATED_KEY_FILE);
        assert_eq!(first.generated_key_file(), Some(path.as_path()));
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(first.resolve(None), Ok(GENERATED_KEY_ID));
        // The same key on the next start: a data key wrapped by the first opens with the second.
        let context =
            super::super::sealing::WrapContext { stream_arn: "a", version: 1, master_key_id: "default" };
        let (_, wrapped) = first.get(GENERATED_KEY_ID).unwrap().new_data_key(context);
        let in_use = [(GENERATED_KEY_ID.to_owned(), 1)];
        let second = Keyring::load(&empty, dir.path(), &in_use, |_| None).unwrap();
        second.get(GENERATED_KEY_ID).unwrap().open_data_key(&wrapped, context).unwrap();
        // Lost while data keys need it: refused, not silently replaced.
        std::fs::remove_file(&path).unwrap();
        let err = Keyring::load(&empty, dir.path(), &in_use, |_| None).unwrap_err();
        assert!(matches!(err, KeyringError::GeneratedKeyLost { count: 1, .. }), "{err}");
        assert!(!path.exists());
    }

    #[test]
    fn configurations_that_cannot_work_are_refused() {
        let both =
            MasterKeyConfig { file: Some("k".into()), env: Some("K".into()), ..MasterKeyConfig::default() };
        for (cfg, says) in [
            (config(&[("a", both)], None), "exactly one of file and env"),
            (config(&[("a:b", from_env("A", &[]))], None), "key id"),
            (config(&[("a", from_env("A", &["aws/kinesisvideo"]))], None), "not under aws/"),
            (
                config(&[("a", from_env("A", &["x"])), ("b", from_env("B", &["alias/x"]))], Some("a")),
                "names both",
            ),
            (config(&[("a", from_env("A", &[])), ("b", from_env("B", &[]))], None), "several"),
            (config(&[("a", from_env("A", &[]))], Some("b")), "not one of"),
            (config(&[], Some("main")), "no [encryption.keys]"),
        ] {
            let err = cfg.validate().unwrap_err();
            assert!(err.contains(says), "{err} should say {says}");
        }
    }
}
