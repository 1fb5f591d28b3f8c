use crate::helpers::{expect_problem, spawn_app, spawn_app_with, unique_vibe, TOKEN_SECRET};
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::Value;
use std::time::Duration;
use vibes_domain::{ParticipantId, VibeId};
use vibes_tokens::PlaybackTokens;

#[tokio::test]
async fn a_joined_participant_may_play_flv_playlist_and_segments() {
    let app = spawn_app().await;
    let vibe = unique_vibe();
    app.register(&vibe).await;
    let flv = app.join_for_playback(&vibe, "listener-1").await;
    let token_prefix = flv.strip_suffix(&format!("/{vibe}.flv")).unwrap();

    for path in [
        flv.clone(),
        format!("{token_prefix}/{vibe}/{vibe}.m3u8"),
        format!("{token_prefix}/{vibe}/7.ts"),
    ] {
        let response = app.playback_auth(&path).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{path}");
    }
}

#[tokio::test]
async fn missing_forged_expired_or_misplaced_tokens_are_401() {
    let app = spawn_app().await;
    let vibe = unique_vibe();
    app.register(&vibe).await;
    let flv = app.join_for_playback(&vibe, "listener-1").await;
    let other = unique_vibe();
    app.register(&other).await;

    let tokens = PlaybackTokens::new(
        SecretString::from(TOKEN_SECRET.to_owned()),
        Duration::from_secs(60),
    )
    .unwrap();
    let vibe_id = VibeId::parse(&vibe).unwrap();
    let expired = tokens.mint_with_expiry(
        &vibe_id,
        &ParticipantId::parse("listener-1").unwrap(),
        1_000,
    );
    let forged = flv.replace("listener-1.", "listener-2.");
    let cases = [
        format!("/live/{vibe}.flv"),
        forged,
        format!("/live/{expired}/{vibe}.flv"),
        flv.replace(&format!("/{vibe}.flv"), &format!("/{other}.flv")),
        String::new(),
    ];
    for path in cases {
        let problem = expect_problem(
            app.playback_auth(&path).await,
            StatusCode::UNAUTHORIZED,
            "playback_token_invalid",
        )
        .await;
        assert!(problem["detail"].is_string(), "{path}: {problem}");
    }
}

#[tokio::test]
async fn after_leave_or_end_the_token_is_403() {
    let app = spawn_app().await;
    let vibe = unique_vibe();
    app.register(&vibe).await;
    let flv = app.join_for_playback(&vibe, "leaver").await;
    app.leave(&vibe, "leaver").await;
    expect_problem(
        app.playback_auth(&flv).await,
        StatusCode::FORBIDDEN,
        "participant_left",
    )
    .await;

    let stays = app.join_for_playback(&vibe, "stays").await;
    app.end(&vibe).await;
    expect_problem(
        app.playback_auth(&stays).await,
        StatusCode::FORBIDDEN,
        "stream_not_live",
    )
    .await;
}

#[tokio::test]
async fn a_token_recreates_a_lost_seat_only_while_there_is_room() {
    let app = spawn_app_with(|settings| {
        settings.participants.max_per_stream = 1;
        settings.participants.lease = Duration::from_secs(1);
    })
    .await;
    let vibe = unique_vibe();
    app.register(&vibe).await;
    let first = app.join_for_playback(&vibe, "first").await;
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let second = app.join_for_playback(&vibe, "second").await;

    expect_problem(
        app.playback_auth(&first).await,
        StatusCode::FORBIDDEN,
        "stream_full",
    )
    .await;
    assert_eq!(
        app.playback_auth(&second).await.status(),
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn media_requests_renew_the_lease_and_silence_lets_it_expire() {
    let app = spawn_app_with(|settings| settings.participants.lease = Duration::from_secs(2)).await;
    let vibe = unique_vibe();
    app.register(&vibe).await;
    let renewing = app.join_for_playback(&vibe, "renewing").await;
    app.join_for_playback(&vibe, "silent").await;

    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            app.playback_auth(&renewing).await.status(),
            StatusCode::NO_CONTENT
        );
    }
    let count = app.participant_count(&vibe).await;
    assert_eq!(count, 1, "only the renewing participant is left after 3 s");
    let body: Value = app.leave(&vibe, "silent").await.json().await.unwrap();
    assert_eq!(
        body["left"], false,
        "the silent participant's lease had already ended"
    );
}

#[tokio::test]
async fn while_redis_is_down_a_genuine_token_plays_and_nothing_else_does() {
    let stopped = vibes_testkit::redis_server::start_redis();
    let url = stopped.url.clone();
    drop(stopped.process);
    let app = spawn_app_with(|settings| settings.redis.url = url).await;
    let vibe = unique_vibe();
    let tokens = PlaybackTokens::new(
        SecretString::from(TOKEN_SECRET.to_owned()),
        Duration::from_secs(60),
    )
    .unwrap();
    let genuine = tokens.mint(
        &VibeId::parse(&vibe).unwrap(),
        &ParticipantId::parse("seated-before").unwrap(),
        std::time::SystemTime::now(),
    );

    // The HMAC proves a join admitted it: it plays although no seat can be read.
    let flv = format!("/live/{genuine}/{vibe}.flv");
    assert_eq!(
        app.playback_auth(&flv).await.status(),
        StatusCode::NO_CONTENT
    );
    // Forged, or another stream's: refused as ever; and no new joins.
    let forged = flv.replace("seated-before.", "someone-else.");
    let elsewhere = format!("/live/{genuine}/{}.flv", unique_vibe());
    for refused in [forged, elsewhere] {
        expect_problem(
            app.playback_auth(&refused).await,
            StatusCode::UNAUTHORIZED,
            "playback_token_invalid",
        )
        .await;
    }
    expect_problem(
        app.join(&vibe, Some("newcomer")).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "registry_unavailable",
    )
    .await;
}

#[tokio::test]
async fn after_redis_lost_the_stream_its_listeners_play_on_until_the_grace_ends() {
    let app = spawn_app_with(|settings| {
        settings.participants.unconfirmed_grace = Duration::from_millis(1_500)
    })
    .await;
    let vibe = unique_vibe();
    app.register(&vibe).await;
    let flv = app.join_for_playback(&vibe, "listener").await;
    let token = flv.split('/').nth(2).unwrap().to_owned();

    // What an empty restart leaves of the stream: nothing at all.
    let client = redis::Client::open(vibes_testkit::redis_server::redis_url()).unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    let vibe_id = VibeId::parse(&vibe).unwrap();
    let _: () = redis::pipe()
        .del(session_registry::redis::keys::stream_record(&vibe_id))
        .del(session_registry::redis::keys::participant_leases(&vibe_id))
        .srem(session_registry::redis::keys::LIVE_STREAMS, &vibe)
        .query_async(&mut redis)
        .await
        .unwrap();

    assert_eq!(
        app.playback_auth(&flv).await.status(),
        StatusCode::NO_CONTENT
    );
    let seats = app.renew_seats(&vibe, &[&token]).await;
    assert_eq!(seats.text().await.unwrap(), "", "nobody is cut meanwhile");
    tokio::time::sleep(Duration::from_millis(1_700)).await;
    expect_problem(
        app.playback_auth(&flv).await,
        StatusCode::FORBIDDEN,
        "stream_not_live",
    )
    .await;
}
