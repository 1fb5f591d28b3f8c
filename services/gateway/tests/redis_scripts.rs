//! The gateway's rate-limit script against a real Redis.

use gateway::redis::scripts::RateLimitScript;
use std::time::Duration;
use vibes_domain::ParticipantId;
use vibes_testkit::redis_server::connection;

#[tokio::test]
async fn the_rate_limit_allows_the_burst_then_spaces_requests_by_the_rate() {
    let mut redis = connection().await;
    let limit = RateLimitScript::default();
    let key = format!("vibes:rl:test:{}", ParticipantId::generate());
    for expected_remaining in (0..3).rev() {
        let decision = limit.check(&mut redis, &key, 10.0, 3).await.unwrap();
        assert!(decision.allowed);
        assert_eq!(decision.remaining, expected_remaining);
    }
    let refused = limit.check(&mut redis, &key, 10.0, 3).await.unwrap();
    assert!(!refused.allowed);
    assert!(
        refused.retry_after > Duration::ZERO && refused.retry_after <= Duration::from_millis(100)
    );
    tokio::time::sleep(refused.retry_after + Duration::from_millis(5)).await;
    assert!(
        limit
            .check(&mut redis, &key, 10.0, 3)
            .await
            .unwrap()
            .allowed,
        "one more after the interval"
    );
    let other = format!("{key}-other");
    assert!(
        limit
            .check(&mut redis, &other, 10.0, 3)
            .await
            .unwrap()
            .allowed,
        "clients are independent"
    );
}
