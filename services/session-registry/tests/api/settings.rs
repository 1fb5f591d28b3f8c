//! Keys the registry refuses to start with: values of compose/.env.example,
//! placeholders and guessable keys. The refusal names the setting.

use session_registry::configuration::{self, Settings};
use session_registry::startup::Registry;

async fn build_error(customize: impl FnOnce(&mut Settings)) -> String {
    let mut settings = configuration::load().expect("settings");
    settings.redis.url = vibes_testkit::redis_server::redis_url();
    settings.playback.token_secret = vibes_testkit::tokens::PLAYBACK_TOKEN_SECRET
        .to_owned()
        .into();
    customize(&mut settings);
    vibes_testkit::service::build_error::<Registry>(settings).await
}

#[tokio::test]
async fn the_build_fails_naming_a_placeholder_token_secret() {
    let placeholder = vibes_config::secrets::env_example_values()
        .find(|value| value.starts_with("change-me-to-a-random"))
        .expect("the example's playback secret");
    assert_eq!(
        build_error(|settings| settings.playback.token_secret = placeholder.to_owned().into())
            .await,
        "playback.token_secret is a placeholder from compose/.env.example; \
         generate one with `openssl rand -base64 48`"
    );
    assert_eq!(
        build_error(|settings| settings.playback.token_secret = String::new().into()).await,
        "playback.token_secret is not set; generate one with `openssl rand -base64 48`"
    );
    // Long, and nothing like a key: a sequence and a repeated pattern.
    let guessable = format!("{}{}", "abcdefghijklmnopqrstuvwxyz", "xy".repeat(20));
    let error = build_error(|settings| settings.playback.token_secret = guessable.into()).await;
    assert!(
        error.starts_with("playback.token_secret is too easy to guess"),
        "{error}"
    );
}

#[tokio::test]
async fn the_build_fails_naming_a_weak_edge_relay_key() {
    let placeholder = vibes_config::secrets::env_example_values()
        .find(|value| value.contains("openssl-rand-hex"))
        .expect("the example's relay key");
    assert_eq!(
        build_error(|settings| settings.playback.edge_relay_key = placeholder.to_owned().into())
            .await,
        "playback.edge_relay_key is a placeholder from compose/.env.example; \
         generate one with `openssl rand -hex 32`"
    );
    let error = build_error(|settings| {
        settings.playback.edge_relay_key = "0123456789abcdef0123456789abcdef".to_owned().into();
    })
    .await;
    assert!(
        error.starts_with("playback.edge_relay_key is too easy to guess"),
        "{error}"
    );
}
