//! What the Redis script tests share.

use redis::aio::ConnectionManager;
use std::time::Duration;
use vibes_redis::RedisConnector;

/// A connection to the test Redis.
pub async fn connection() -> ConnectionManager {
    RedisConnector::new(
        &vibes_testkit::redis_server::redis_url(),
        Duration::from_secs(2),
    )
    .unwrap()
    .connection()
    .await
    .expect("Redis is reachable")
}
