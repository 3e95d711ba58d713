//! A lazily connected NATS client shared by event notifications and the JetStream fragment
//! publisher (`async-nats`). The first use connects; a failed connect is retried on the next use,
//! so a NATS server that starts after openkvs is picked up. No other I/O.

use bytes::Bytes;
use tokio::sync::Mutex;

/// Why a NATS operation failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NatsError(pub String);

/// A connection to one NATS server, made on first use.
#[derive(Debug)]
pub struct NatsLink {
    url: String,
    client: Mutex<Option<async_nats::Client>>,
}

impl NatsLink {
    /// A link to `url` (not connected yet).
    pub fn new(url: String) -> Self {
        Self { url, client: Mutex::new(None) }
    }

    /// The client, connecting if needed.
    pub async fn client(&self) -> Result<async_nats::Client, NatsError> {
        let mut guard = self.client.lock().await;
        if let Some(c) = guard.as_ref() {
            return Ok(c.clone());
        }
        let c = async_nats::ConnectOptions::new()
            .connection_timeout(std::time::Duration::from_secs(5))
            .connect(self.url.as_str())
            .await
            .map_err(|e| NatsError(format!("cannot connect to NATS at {}: {e}", self.url)))?;
        *guard = Some(c.clone());
        Ok(c)
    }

    /// Publishes a core NATS message (fire and forget, flushed).
    pub async fn publish(&self, subject: String, payload: Bytes) -> Result<(), NatsError> {
        let c = self.client().await?;
        c.publish(subject, payload).await.map_err(|e| NatsError(e.to_string()))?;
        c.flush().await.map_err(|e| NatsError(e.to_string()))
    }
}
