//! Each stream's data keys, unwrapped and cached ([`StreamKeys`]): the key new fragments of a
//! stream are sealed with, the key an older fragment names, and a new stream's first key
//! (design/0018-encryption-at-rest.md).
//!
//! A stream's first data key is generated with the stream ([`StreamKeys::first_key`], stored in
//! CreateStream's transaction). A stream created before encryption at rest gets one at its first
//! write, under the default master key; two writers racing to create it agree on the stored one
//! (the index keeps the first insert). Unwrapped keys are cached for the process's life (a data
//! key never changes once stored; DeleteStream forgets them). A key whose master key is not in
//! the keyring, or does not open it, is [`KeyUnavailable`]: never a substitute key, never plaintext.
//!
//! Index reads only, through the archive's index; no store I/O.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::index::{Index, IndexError, NewDataKey, WrappedDataKey};
use super::keyring::{Keyring, UnknownKmsKey};
use super::sealing::{DataKey, WrapContext};
use crate::model::ResourceArn;

/// Why a stream's data key cannot be used: its fragments can be neither read nor written (the
/// bytes stay as they are; configuring the master key again makes them usable).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyUnavailable {
    /// The master key that wraps the data key is not in the keyring.
    #[error(
        "stream {stream_id}: its data key is wrapped by master key {master_key_id:?}, which is not in the keyring ([encryption.keys])"
    )]
    NotInKeyring {
        /// The stream.
        stream_id: i64,
        /// The missing keyring id.
        master_key_id: String,
    },
    /// The keyring's key under that id does not open the wrapped data key (other key material
    /// under the same id, or an altered row).
    #[error(
        "stream {stream_id}: master key {master_key_id:?} of the keyring does not open its data key (other key material under that id?)"
    )]
    WrongKey {
        /// The stream.
        stream_id: i64,
        /// The keyring id.
        master_key_id: String,
    },
    /// A fragment names a data key version the stream does not have.
    #[error("stream {stream_id} has no data key version {version}")]
    NoSuchVersion {
        /// The stream.
        stream_id: i64,
        /// The version named.
        version: u32,
    },
}

/// Why a data key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// See [`KeyUnavailable`].
    #[error(transparent)]
    Unavailable(#[from] KeyUnavailable),
    /// The index failed (or the stream is gone: `IndexError::NotFound`).
    #[error(transparent)]
    Index(#[from] IndexError),
}

/// The data key cache over the keyring.
#[derive(Debug)]
pub struct StreamKeys {
    keyring: Keyring,
    /// (stream, version) → unwrapped key.
    keys: Mutex<HashMap<(i64, u32), Arc<DataKey>>>,
    /// stream → the version new fragments are sealed with.
    current: Mutex<HashMap<i64, u32>>,
    /// Serialises first-write key creation in this process.
    creating: tokio::sync::Mutex<()>,
}

impl StreamKeys {
    /// A cache over `keyring`.
    pub fn new(keyring: Keyring) -> Self {
        Self {
            keyring,
            keys: Mutex::new(HashMap::new()),
            current: Mutex::new(HashMap::new()),
            creating: tokio::sync::Mutex::new(()),
        }
    }

    /// The keyring, described for the startup log line (ids only, never key material).
    pub fn describe(&self) -> String {
        let keyring = &self.keyring;
        match keyring.generated_key_file() {
            Some(file) => format!("AES-256-GCM, master key generated in {}", file.display()),
            None => format!(
                "AES-256-GCM, keyring of {} master keys (default {:?})",
                keyring.key_count(),
                keyring.default_id()
            ),
        }
    }

    /// Generates a new stream's first data key under the master key `kms_key_id` selects (see
    /// `keyring` for the forms), wrapped and bound to the stream's ARN.
    pub fn first_key(
        &self,
        kms_key_id: Option<&str>,
        arn: &ResourceArn,
    ) -> Result<NewDataKey, UnknownKmsKey> {
        let id = self.keyring.resolve(kms_key_id)?;
        let master = self.keyring.get(id).ok_or_else(|| UnknownKmsKey(id.to_owned()))?;
        let arn = arn.to_string();
        let (_, wrapped) =
            master.new_data_key(WrapContext { stream_arn: &arn, version: 1, master_key_id: id });
        Ok(NewDataKey { master_key_id: id.to_owned(), wrapped })
    }

    fn cached(&self, stream_id: i64, version: u32) -> Option<Arc<DataKey>> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner()).get(&(stream_id, version)).cloned()
    }

    /// Unwraps a stored key (bound to the stream's ARN) and caches it.
    async fn unwrap(&self, index: &dyn Index, stored: &WrappedDataKey) -> Result<Arc<DataKey>, KeyError> {
        let (stream_id, master_key_id) = (stored.stream_id, stored.master_key_id.clone());
        let master = self.keyring.get(&master_key_id).ok_or_else(|| KeyUnavailable::NotInKeyring {
            stream_id,
            master_key_id: master_key_id.clone(),
        })?;
        let arn = index.stream_by_id(stream_id).await?.arn.to_string();
        let context =
            WrapContext { stream_arn: &arn, version: stored.version, master_key_id: &master_key_id };
        let key = master
            .open_data_key(&stored.wrapped, context)
            .map_err(|_| KeyUnavailable::WrongKey { stream_id, master_key_id })?;
        let key = Arc::new(key);
        self.keys.lock().unwrap_or_else(|p| p.into_inner()).insert((stream_id, stored.version), key.clone());
        Ok(key)
    }

    /// The key that sealed the stream's fragments of key version `version`.
    pub async fn version(
        &self,
        index: &dyn Index,
        stream_id: i64,
        version: u32,
    ) -> Result<Arc<DataKey>, KeyError> {
        if let Some(key) = self.cached(stream_id, version) {
            return Ok(key);
        }
        let stored = index
            .data_key(stream_id, version)
            .await?
            .ok_or(KeyUnavailable::NoSuchVersion { stream_id, version })?;
        self.unwrap(index, &stored).await
    }

    /// The key new fragments of the stream are sealed with; generated (under the default master
    /// key) and stored if the stream has none yet.
    pub async fn current(
        &self,
        index: &dyn Index,
        stream_id: i64,
        now_ms: i64,
    ) -> Result<Arc<DataKey>, KeyError> {
        let known = self.current.lock().unwrap_or_else(|p| p.into_inner()).get(&stream_id).copied();
        if let Some(key) = known.and_then(|v| self.cached(stream_id, v)) {
            return Ok(key);
        }
        let stored = match index.current_data_key(stream_id).await? {
            Some(stored) => stored,
            None => self.create(index, stream_id, now_ms).await?,
        };
        let key = match self.cached(stream_id, stored.version) {
            Some(key) => key,
            None => self.unwrap(index, &stored).await?,
        };
        self.current.lock().unwrap_or_else(|p| p.into_inner()).insert(stream_id, stored.version);
        Ok(key)
    }

    /// A first data key for a stream that has none (created before encryption at rest).
    async fn create(
        &self,
        index: &dyn Index,
        stream_id: i64,
        now_ms: i64,
    ) -> Result<WrappedDataKey, KeyError> {
        let _one_at_a_time = self.creating.lock().await;
        if let Some(stored) = index.current_data_key(stream_id).await? {
            return Ok(stored);
        }
        let stream = index.stream_by_id(stream_id).await?;
        let master_key_id = self.keyring.default_id().to_owned();
        let master = self.keyring.get(&master_key_id).ok_or_else(|| KeyUnavailable::NotInKeyring {
            stream_id,
            master_key_id: master_key_id.clone(),
        })?;
        let arn = stream.arn.to_string();
        let (_, wrapped) =
            master.new_data_key(WrapContext { stream_arn: &arn, version: 1, master_key_id: &master_key_id });
        let new = WrappedDataKey { stream_id, version: 1, master_key_id, wrapped, created_at_ms: now_ms };
        if index.insert_data_key(&new).await? {
            tracing::info!("stream {stream_id} ({}): generated its first data key", stream.name);
            return Ok(new);
        }
        // Another server won the race: use the stored one.
        index.current_data_key(stream_id).await?.ok_or(KeyError::Index(IndexError::NotFound))
    }

    /// Forgets a deleted stream's keys.
    pub fn forget(&self, stream_id: i64) {
        self.keys.lock().unwrap_or_else(|p| p.into_inner()).retain(|(id, _), _| *id != stream_id);
        self.current.lock().unwrap_or_else(|p| p.into_inner()).remove(&stream_id);
    }
}
