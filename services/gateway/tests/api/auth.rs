//! Creator and participant tokens: issuer, audience and issue time are
//! required and checked, lifetimes are bounded, and a rotated-out key still
//! verifies its tokens. A token the gateway accepts gets as far as the
//! (unreachable) registry: 503 `registry_unavailable`.

use crate::helpers::{spawn_gateway_with, TestGateway};
use gateway::configuration::Settings;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;
use vibes_testkit::http::expect_problem;
use vibes_testkit::tokens::{
    bearer_with_claims, participant_bearer, participant_claims, unix_now, AUTH_KID, AUTH_SECRET,
};
use vibes_tokens::{Claims, JwtKeys, Role, SigningKey};

/// A key for the rotation test (`openssl rand -base64 48`).
const NEW_SECRET: &str = "yxEoGn+rCYZ/xQG1WNfjI5ydxpymVC1lgXeBf3Kkyb/lpelvtehZLS14wdlyNcv/";

/// Rate limits off: these tests count tokens, not budgets.
async fn gateway(customize: impl FnOnce(&mut Settings)) -> TestGateway {
    spawn_gateway_with(|settings| {
        settings.rate_limits.enabled = false;
        customize(settings);
    })
    .await
}

async fn join(gateway: &TestGateway, authorization: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/stream/v1/join", gateway.address))
        .header("authorization", authorization)
        .send()
        .await
        .unwrap()
}

async fn accepted(gateway: &TestGateway, authorization: &str) {
    let response = join(gateway, authorization).await;
    expect_problem(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "registry_unavailable",
    )
    .await;
}

/// Refused as `401 token_invalid` with this `reason`; returns the problem.
async fn refused(gateway: &TestGateway, authorization: &str, reason: &str) -> Value {
    let response = join(gateway, authorization).await;
    let problem = expect_problem(response, StatusCode::UNAUTHORIZED, "token_invalid").await;
    assert_eq!(problem["reason"], reason, "{problem}");
    problem
}

fn without(claim: &str) -> String {
    let mut claims = participant_claims("alice");
    claims.as_object_mut().unwrap().remove(claim);
    bearer_with_claims(&claims)
}

fn with(claim: &str, value: Value) -> String {
    let mut claims = participant_claims("alice");
    claims[claim] = value;
    bearer_with_claims(&claims)
}

/// A token issued at `iat` expiring at `exp`.
fn living(iat: u64, exp: u64) -> String {
    let mut claims = participant_claims("alice");
    claims["iat"] = json!(iat);
    claims["exp"] = json!(exp);
    bearer_with_claims(&claims)
}

#[tokio::test]
async fn tokens_without_audience_issuer_or_issue_time_are_refused() {
    let gateway = gateway(|_| {}).await;
    accepted(&gateway, &bearer_with_claims(&participant_claims("alice"))).await;
    for claim in ["aud", "iss", "iat"] {
        let problem = refused(&gateway, &without(claim), "claim_missing").await;
        assert_eq!(problem["claim"], claim, "{problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(claim),
            "{problem}"
        );
    }
}

#[tokio::test]
async fn tokens_for_another_audience_or_from_another_issuer_are_refused() {
    let gateway = gateway(|_| {}).await;
    let problem = refused(
        &gateway,
        &with("aud", json!("another-service")),
        "wrong_audience",
    )
    .await;
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("vibesflow-streaming"));
    refused(
        &gateway,
        &with("iss", json!("someone-else")),
        "wrong_issuer",
    )
    .await;
    // An audience list naming this service is fine (RFC 7519).
    accepted(
        &gateway,
        &with("aud", json!(["another-service", "vibesflow-streaming"])),
    )
    .await;
}

#[tokio::test]
async fn the_expected_audience_and_issuer_are_settings() {
    let gateway = gateway(|settings| {
        settings.auth.audience = "streaming-staging".to_owned();
        settings.auth.issuer = "app-staging".to_owned();
    })
    .await;
    // Minted for the defaults: refused here (the issuer is checked first).
    refused(&gateway, &participant_bearer("alice"), "wrong_issuer").await;
    let mut claims = participant_claims("alice");
    claims["iss"] = json!("app-staging");
    refused(&gateway, &bearer_with_claims(&claims), "wrong_audience").await;
    claims["aud"] = json!("streaming-staging");
    accepted(&gateway, &bearer_with_claims(&claims)).await;
}

#[tokio::test]
async fn tokens_living_longer_than_the_maximum_are_refused() {
    let gateway =
        gateway(|settings| settings.auth.max_lifetime = Duration::from_secs(2 * 3600)).await;
    let now = unix_now();
    accepted(&gateway, &living(now, now + 2 * 3600)).await;
    let problem = refused(
        &gateway,
        &living(now, now + 2 * 3600 + 1),
        "lifetime_too_long",
    )
    .await;
    assert!(
        problem["detail"].as_str().unwrap().contains("7200"),
        "{problem}"
    );
    // A later `iat` cannot make a long-lived token look short.
    let later = now + 30 * 24 * 3600;
    refused(&gateway, &living(later, later + 60), "issued_in_future").await;
}

#[tokio::test]
async fn the_default_maximum_lifetime_is_a_day() {
    let gateway = gateway(|_| {}).await;
    let now = unix_now();
    accepted(&gateway, &living(now, now + 24 * 3600)).await;
    refused(
        &gateway,
        &living(now, now + 24 * 3600 + 1),
        "lifetime_too_long",
    )
    .await;
}

#[tokio::test]
async fn tokens_of_the_previous_key_stay_valid_during_a_rotation() {
    let gateway = gateway(|settings| {
        settings.auth.kid = "k2".to_owned();
        settings.auth.secret = NEW_SECRET.to_owned().into();
        settings.auth.previous_kid = AUTH_KID.to_owned();
        settings.auth.previous_secret = AUTH_SECRET.to_owned().into();
    })
    .await;
    // Signed with the previous key (`kid` k1): still valid.
    accepted(&gateway, &participant_bearer("alice")).await;
    // Signed with the new key.
    let new_keys = JwtKeys::new(vec![SigningKey {
        kid: "k2".to_owned(),
        secret: NEW_SECRET.to_owned().into(),
    }])
    .unwrap();
    let claims = Claims {
        sub: "alice".to_owned(),
        role: Role::Participant,
        vibe: None,
        exp: unix_now() + 600,
    };
    accepted(&gateway, &format!("Bearer {}", new_keys.mint(&claims))).await;
    // The previous key under the new key's id does not verify.
    let mislabelled = JwtKeys::new(vec![SigningKey {
        kid: "k2".to_owned(),
        secret: AUTH_SECRET.to_owned().into(),
    }])
    .unwrap();
    refused(
        &gateway,
        &format!("Bearer {}", mislabelled.mint(&claims)),
        "unverifiable",
    )
    .await;

    // Once the rotation is over, the previous key's tokens are refused.
    let after = spawn_gateway_with(|settings| {
        settings.rate_limits.enabled = false;
        settings.auth.kid = "k2".to_owned();
        settings.auth.secret = NEW_SECRET.to_owned().into();
    })
    .await;
    refused(&after, &participant_bearer("alice"), "unverifiable").await;
}
