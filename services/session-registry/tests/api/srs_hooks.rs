//! SRS's http_hooks: a player is allowed only with HTTP 200 and body `0`.

use crate::helpers::{spawn_app, spawn_app_with, unique_vibe, TestApp};
use reqwest::{Response, StatusCode};
use serde_json::json;

async fn hook(app: &TestApp, action: &str, vibe: &str, client_id: &str, param: &str) -> Response {
    let body = json!({
        "server_id": "vid-test", "action": action, "client_id": client_id, "ip": "127.0.0.1",
        "vhost": "__defaultVhost__", "app": "live", "stream": vibe, "param": param,
    });
    app.http
        .post(format!("{}/internal/engine-hooks/srs", app.address))
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn on_play_allows_a_seated_participant_and_refuses_anything_else() {
    let app = spawn_app().await;
    let vibe = unique_vibe();
    app.register(&vibe).await;
    let flv = app.join_for_playback(&vibe, "player").await;
    let token = flv.split('/').nth(2).unwrap();

    let allowed = hook(&app, "on_play", &vibe, "c1", &format!("?token={token}")).await;
    assert_eq!(allowed.status(), StatusCode::OK);
    assert_eq!(allowed.text().await.unwrap(), "0");

    for param in [
        "",
        "?token=forged.1.AAAAAAAAAAAAAAAAAAAAAA",
        &format!("?token={}", token.replacen("player", "other", 1)),
    ] {
        let refused = hook(&app, "on_play", &vibe, "c2", param).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{param}");
        assert_ne!(refused.text().await.unwrap(), "0");
    }

    app.leave(&vibe, "player").await;
    let after_leave = hook(&app, "on_play", &vibe, "c3", &format!("?token={token}")).await;
    assert_eq!(after_leave.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_publish_marks_the_stream_live_and_an_unpublish_does_not_end_it() {
    let app = spawn_app().await;
    let vibe = unique_vibe();
    let published = hook(&app, "on_publish", &vibe, "publisher", "").await;
    assert_eq!(published.text().await.unwrap(), "0");
    let listed = |active: serde_json::Value| {
        active["streams"]
            .as_array()
            .unwrap()
            .iter()
            .any(|stream| stream["vibe_id"] == vibe.as_str())
    };
    assert!(listed(app.active().await));
    hook(&app, "on_unpublish", &vibe, "publisher", "").await;
    assert!(
        listed(app.active().await),
        "an encoder restart must not end the stream"
    );
}

#[tokio::test]
async fn stop_publish_and_unpublish_are_acknowledged() {
    let app = spawn_app().await;
    let vibe = unique_vibe();
    app.register(&vibe).await;
    for action in ["on_stop", "on_publish", "on_unpublish"] {
        let response = hook(&app, action, &vibe, "c1", "").await;
        assert_eq!(response.status(), StatusCode::OK, "{action}");
        assert_eq!(response.text().await.unwrap(), "0");
    }
    let bad_stream = hook(&app, "on_play", "../etc", "c1", "").await;
    assert_eq!(bad_stream.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn on_play_allows_the_edge_relay_by_its_key_without_taking_a_seat() {
    // `openssl rand -hex 32`: the registry refuses guessable keys.
    const RELAY_KEY: &str = "cf0524658853b428bb2f0cd72a22f1ea1233c71b7f4d75242532af53cdad4a9c";
    let app = spawn_app_with(|settings| {
        settings.playback.edge_relay_key = RELAY_KEY.to_owned().into();
    })
    .await;
    let vibe = unique_vibe();
    app.register(&vibe).await;

    let relay = hook(
        &app,
        "on_play",
        &vibe,
        "relay-1",
        &format!("?relay={RELAY_KEY}"),
    )
    .await;
    assert_eq!(relay.status(), StatusCode::OK);
    assert_eq!(relay.text().await.unwrap(), "0");
    assert_eq!(
        app.participant_count(&vibe).await,
        0,
        "a relay holds no seat"
    );

    for param in [
        format!("?relay={}", &RELAY_KEY[1..]),
        "?relay=".to_owned(),
        format!("?relay=x{RELAY_KEY}"),
    ] {
        let refused = hook(&app, "on_play", &vibe, "relay-2", &param).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{param}");
        assert_ne!(refused.text().await.unwrap(), "0");
    }
}

#[tokio::test]
async fn without_a_configured_key_no_player_passes_for_a_relay() {
    let app = spawn_app().await;
    let vibe = unique_vibe();
    app.register(&vibe).await;
    let refused = hook(&app, "on_play", &vibe, "relay-1", "?relay=anything-at-all").await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
}
