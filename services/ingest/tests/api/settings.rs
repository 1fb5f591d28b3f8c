//! Settings ingest refuses to start with; each refusal names the setting.

use ingest::configuration::{self, Settings};
use ingest::startup::Ingest;
use std::time::Duration;
use vibes_testkit::service::build_error;

async fn refusal(customize: impl FnOnce(&mut Settings)) -> String {
    let mut settings = configuration::load().expect("settings");
    customize(&mut settings);
    build_error::<Ingest>(settings).await
}

#[tokio::test]
async fn the_build_fails_naming_the_setting() {
    let error = refusal(|settings| {
        settings.ownership.heartbeat_ttl = settings.ownership.heartbeat_interval;
    })
    .await;
    assert!(
        error.starts_with("ownership.heartbeat_ttl must be longer"),
        "{error}"
    );
    let error = refusal(|settings| settings.buffer.max_queued = Duration::ZERO).await;
    assert_eq!(error, "buffer.max_queued must be longer than 0s");
    let error = refusal(|settings| settings.encoder.rtmp_base_url = "rtmp:/live".to_owned()).await;
    assert!(
        error.starts_with("encoder.rtmp_base_url \"rtmp:/live\""),
        "{error}"
    );
}

#[test]
fn durations_are_written_with_their_unit() {
    let settings = configuration::load().expect("settings");
    assert_eq!(
        settings.ownership.heartbeat_interval,
        Duration::from_millis(500)
    );
    assert_eq!(settings.stream.idle_end, Duration::from_secs(30));
    assert_eq!(
        settings.encoder.restart_backoff.first(),
        Some(&Duration::from_millis(100))
    );
}
