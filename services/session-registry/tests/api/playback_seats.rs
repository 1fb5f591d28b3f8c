use crate::helpers::{expect_problem, spawn_app_with, unique_vibe, TOKEN_SECRET};
use reqwest::StatusCode;
use secrecy::SecretString;
use std::time::Duration;
use vibes_domain::{ParticipantId, VibeId};
use vibes_tokens::PlaybackTokens;

/// The playback token in an FLV path `/live/<token>/<vibe>.flv`.
fn token_of(flv_path: &str) -> String {
    flv_path
        .split('/')
        .nth(2)
        .expect("a token segment")
        .to_owned()
}

/// The tokens the registry answered to cut, in its order.
async fn cut(response: reqwest::Response) -> Vec<String> {
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let body = response.text().await.unwrap();
    body.lines().map(str::to_owned).collect()
}

#[tokio::test]
async fn one_call_renews_every_seated_listener_and_names_exactly_the_ones_to_cut() {
    let app = spawn_app_with(|settings| settings.participants.lease = Duration::from_secs(2)).await;
    let vibe = unique_vibe();
    app.register(&vibe).await;
    let other = unique_vibe();
    app.register(&other).await;
    let mut seated = Vec::new();
    for participant in ["a", "b", "c"] {
        seated.push(token_of(&app.join_for_playback(&vibe, participant).await));
    }
    let leaver = token_of(&app.join_for_playback(&vibe, "leaver").await);
    app.leave(&vibe, "leaver").await;
    let elsewhere = token_of(&app.join_for_playback(&other, "elsewhere").await);
    let silent = token_of(&app.join_for_playback(&vibe, "silent").await);
    let expired = PlaybackTokens::new(
        SecretString::from(TOKEN_SECRET.to_owned()),
        Duration::from_secs(60),
    )
    .unwrap()
    .mint_with_expiry(
        &VibeId::parse(&vibe).unwrap(),
        &ParticipantId::parse("a").unwrap(),
        1_000,
    );
    let forged = seated[0].replacen("a.", "z.", 1);

    // A listener of "a" holds two connections (a reconnect overlap): both
    // stay. Everything that does not admit this stream is cut.
    let mut batch: Vec<&str> = seated.iter().map(String::as_str).collect();
    batch.push(&seated[0]);
    let refused = [
        leaver.as_str(),
        &elsewhere,
        &expired,
        &forged,
        "not-a-token",
    ];
    batch.extend(refused);
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let answer = cut(app.renew_seats(&vibe, &batch).await).await;
        assert_eq!(answer, refused, "the cut list, in the request's order");
    }
    // 3 s of batches every 0.5 s held the 2 s leases of a, b and c; the
    // silent participant was never in a batch and its lease ended.
    assert_eq!(app.participant_count(&vibe).await, 3);
    let silent_now = cut(app.renew_seats(&vibe, &[&silent]).await).await;
    assert_eq!(
        silent_now,
        Vec::<String>::new(),
        "a lapsed lease is taken back while there is room, as a media request does"
    );
}

#[tokio::test]
async fn a_full_or_ended_stream_cuts_the_listeners_without_a_seat() {
    let app = spawn_app_with(|settings| {
        settings.participants.max_per_stream = 1;
        // Room for a loaded machine between the batch and the count below.
        settings.participants.lease = Duration::from_secs(3);
    })
    .await;
    let vibe = unique_vibe();
    app.register(&vibe).await;
    let first = token_of(&app.join_for_playback(&vibe, "first").await);
    tokio::time::sleep(Duration::from_millis(3_200)).await;
    let second = token_of(&app.join_for_playback(&vibe, "second").await);

    // The cap holds in a batch as in a single check: the lapsed first seat
    // is not taken back while the second holds the only one.
    let answer = cut(app.renew_seats(&vibe, &[&first, &second]).await).await;
    assert_eq!(answer, std::slice::from_ref(&first));
    assert_eq!(app.participant_count(&vibe).await, 1);

    app.end(&vibe).await;
    let answer = cut(app.renew_seats(&vibe, &[&first, &second]).await).await;
    assert_eq!(answer, [first, second]);
}

#[tokio::test]
async fn a_malformed_seat_check_is_a_problem_and_renews_nothing() {
    let app = spawn_app_with(|settings| settings.participants.lease = Duration::from_secs(1)).await;
    let vibe = unique_vibe();
    app.register(&vibe).await;
    let token = token_of(&app.join_for_playback(&vibe, "listener").await);

    for stream in ["", "bad/stream", "..%2F"] {
        let problem = expect_problem(
            app.renew_seats(stream, &[&token]).await,
            StatusCode::BAD_REQUEST,
            "invalid_seat_check",
        )
        .await;
        assert!(problem["detail"]
            .as_str()
            .unwrap()
            .contains("X-Playback-Stream"));
    }
    let too_many = vec![token.as_str(); 2001];
    let problem = expect_problem(
        app.renew_seats(&vibe, &too_many).await,
        StatusCode::BAD_REQUEST,
        "invalid_seat_check",
    )
    .await;
    assert!(problem["detail"].as_str().unwrap().contains("2001 tokens"));

    // None of them renewed the 1 s lease.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(app.participant_count(&vibe).await, 0);
}
