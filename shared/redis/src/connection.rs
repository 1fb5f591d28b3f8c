use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, RedisError};
use std::time::Duration;
use tokio::sync::OnceCell;

#[derive(Debug, thiserror::Error)]
#[error("invalid Redis URL: {0}")]
pub struct RedisSettingsError(#[from] RedisError);

/// Connects on first use, so a service starts (and reports itself not ready)
/// while Redis is still down; afterwards the manager reconnects on its own.
#[derive(Clone)]
pub struct RedisConnector {
    client: Client,
    manager: std::sync::Arc<OnceCell<ConnectionManager>>,
    timeout: Duration,
}

impl RedisConnector {
    pub fn new(url: &str, timeout: Duration) -> Result<Self, RedisSettingsError> {
        Ok(Self {
            client: Client::open(url)?,
            manager: Default::default(),
            timeout,
        })
    }

    pub async fn connection(&self) -> Result<ConnectionManager, RedisError> {
        let manager = self
            .manager
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.timeout))
                    .set_response_timeout(Some(self.timeout))
                    .set_number_of_retries(2);
                ConnectionManager::new_with_config(self.client.clone(), config).await
            })
            .await?;
        Ok(manager.clone())
    }

    pub async fn ping(&self) -> Result<(), RedisError> {
        let mut connection = self.connection().await?;
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await?;
        Ok(())
    }
}
