//! The gateway on its own: it validates before forwarding, and turns an
//! unreachable backend into a clear problem instead of a hang or a 500.

use crate::helpers::{
    creator_of_v1, spawn_gateway, spawn_gateway_with, spawn_gateway_without_backends,
};
use gateway::configuration;
use reqwest::StatusCode;
use serde_json::Value;
use std::net::TcpListener;
use vibes_testkit::audio::sine_pcm;
use vibes_testkit::http::expect_problem;
use vibes_testkit::tokens::{creator_bearer, participant_bearer};
use vibes_web::Listeners;

#[tokio::test]
async fn health_reports_each_unreachable_part() {
    let address = spawn_gateway_without_backends().await.address;
    let response = reqwest::get(format!("{address}/health")).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let health: Value = response.json().await.unwrap();
    assert_eq!(health["status"], "down");
    assert_eq!(health["parts"]["gateway"]["status"], "up");
    for part in ["session_registry", "media_engine"] {
        assert_eq!(health["parts"][part]["status"], "down", "{health}");
        assert!(health["parts"][part]["detail"]
            .as_str()
            .unwrap()
            .contains("unreachable"));
    }
    assert_eq!(health["parts"]["ingest"]["status"], "down", "{health}");
    assert!(health["parts"]["ingest"]["detail"]
        .as_str()
        .unwrap()
        .contains("no live ingest pod"));
}

#[tokio::test]
async fn valid_audio_for_an_unreachable_ingest_is_a_503_problem() {
    let address = spawn_gateway_without_backends().await.address;
    let response = creator_of_v1()
        .post(format!("{address}/stream/v1/audio"))
        .header("content-type", "application/octet-stream")
        .body(sine_pcm(0.1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["retry-after"], "1");
    expect_problem(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "ingest_unavailable",
    )
    .await;
}

#[tokio::test]
async fn bad_audio_is_refused_before_any_backend_is_asked() {
    let address = spawn_gateway_without_backends().await.address;
    let client = creator_of_v1();
    let cases: [(&str, &str, Vec<u8>, StatusCode, &str); 4] = [
        (
            "a%20b",
            "application/octet-stream",
            sine_pcm(0.1),
            StatusCode::BAD_REQUEST,
            "invalid_vibe_id",
        ),
        (
            "v1",
            "application/octet-stream",
            vec![1, 2, 3],
            StatusCode::BAD_REQUEST,
            "partial_frame",
        ),
        (
            "v1",
            "text/plain",
            sine_pcm(0.1),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_content_type",
        ),
        (
            "v1",
            "application/octet-stream",
            vec![0; 1024 * 1024 + 4],
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
    ];
    for (vibe, content_type, body, status, code) in cases {
        let response = client
            .post(format!("{address}/stream/{vibe}/audio"))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        expect_problem(response, status, code).await;
    }
}

#[tokio::test]
async fn join_with_a_bad_id_and_unknown_routes_are_problems() {
    let address = spawn_gateway_without_backends().await.address;
    let client = reqwest::Client::new();
    let join = client
        .post(format!("{address}/stream/{}/join", "x".repeat(65)))
        .send()
        .await
        .unwrap();
    expect_problem(join, StatusCode::BAD_REQUEST, "invalid_vibe_id").await;
    let unknown = client
        .get(format!("{address}/stream/v1/whatever"))
        .send()
        .await
        .unwrap();
    expect_problem(unknown, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn a_bad_chunk_number_is_refused_and_lyria_json_passes_validation() {
    let address = spawn_gateway_without_backends().await.address;
    let client = creator_of_v1();
    let url = format!("{address}/stream/v1/audio");
    let bad_seq = client
        .post(&url)
        .header("content-type", "application/octet-stream")
        .header("x-chunk-seq", "-3")
        .body(sine_pcm(0.1))
        .send()
        .await
        .unwrap();
    expect_problem(bad_seq, StatusCode::BAD_REQUEST, "invalid_chunk_seq").await;

    // Valid Lyria JSON gets as far as the (unreachable) ingest.
    let lyria = r#"{"serverContent":{"audioChunks":[{"data":"AAAAAAAAAAA=","mimeType":"audio/l16;rate=48000;channels=2"}]}}"#;
    let forwarded = client
        .post(&url)
        .header("content-type", "application/json")
        .header("x-chunk-seq", "7")
        .body(lyria)
        .send()
        .await
        .unwrap();
    expect_problem(
        forwarded,
        StatusCode::SERVICE_UNAVAILABLE,
        "ingest_unavailable",
    )
    .await;
}

#[tokio::test]
async fn joins_need_a_participant_token_naming_the_caller() {
    let address = spawn_gateway_without_backends().await.address;
    let client = reqwest::Client::new();
    let url = format!("{address}/stream/v1/join");
    let anonymous = client.post(&url).send().await.unwrap();
    expect_problem(anonymous, StatusCode::UNAUTHORIZED, "token_missing").await;
    let as_creator = client
        .post(&url)
        .header("authorization", creator_bearer("v1"))
        .send()
        .await
        .unwrap();
    expect_problem(as_creator, StatusCode::FORBIDDEN, "wrong_role").await;
    let someone_else = client
        .post(&url)
        .header("authorization", participant_bearer("alice"))
        .json(&serde_json::json!({ "participant_id": "mallory" }))
        .send()
        .await
        .unwrap();
    expect_problem(someone_else, StatusCode::FORBIDDEN, "wrong_participant").await;
    // A valid token gets as far as the (unreachable) registry.
    let alice = client
        .post(&url)
        .header("authorization", participant_bearer("alice"))
        .send()
        .await
        .unwrap();
    expect_problem(
        alice,
        StatusCode::SERVICE_UNAVAILABLE,
        "registry_unavailable",
    )
    .await;
}

#[tokio::test]
async fn anonymous_joins_pass_only_where_configured() {
    let address = spawn_gateway(true).await.address;
    let client = reqwest::Client::new();
    let join = client
        .post(format!("{address}/stream/v1/join"))
        .send()
        .await
        .unwrap();
    expect_problem(
        join,
        StatusCode::SERVICE_UNAVAILABLE,
        "registry_unavailable",
    )
    .await;
    let leave_without_id = client
        .post(format!("{address}/stream/v1/leave"))
        .send()
        .await
        .unwrap();
    expect_problem(leave_without_id, StatusCode::BAD_REQUEST, "invalid_json").await;
}

#[tokio::test]
async fn ending_a_stream_needs_its_creator() {
    let address = spawn_gateway_without_backends().await.address;
    let client = reqwest::Client::new();
    let url = format!("{address}/stream/v1");
    let anonymous = client.delete(&url).send().await.unwrap();
    expect_problem(anonymous, StatusCode::UNAUTHORIZED, "token_missing").await;
    let other_stream = client
        .delete(&url)
        .header("authorization", creator_bearer("v2"))
        .send()
        .await
        .unwrap();
    expect_problem(other_stream, StatusCode::FORBIDDEN, "wrong_vibe").await;
    let creator = creator_of_v1().delete(&url).send().await.unwrap();
    expect_problem(
        creator,
        StatusCode::SERVICE_UNAVAILABLE,
        "ingest_unavailable",
    )
    .await;
}

#[tokio::test]
async fn two_gateways_share_one_rate_limit_budget_per_client() {
    let tight = |settings: &mut configuration::Settings| {
        // Slow enough that no request is refunded while the others wait
        // (each retries the dead registry for ~0.75 s).
        settings.rate_limits.reads = configuration::Budget {
            per_second: 0.1,
            burst: 3,
        };
    };
    let gateways = [
        spawn_gateway_with(tight).await.address,
        spawn_gateway_with(tight).await.address,
    ];
    let client = reqwest::Client::new();
    let client_ip = format!(
        "10.1.{}.{}",
        std::process::id() % 250,
        std::process::id() % 199
    );
    let listing = |gateway: &str, ip: &str| {
        client
            .get(format!("{gateway}/streams/active"))
            .header("x-real-ip", ip.to_owned())
            .send()
    };

    for (index, remaining) in [2, 1, 0].into_iter().enumerate() {
        let response = listing(&gateways[index % 2], &client_ip).await.unwrap();
        assert_ne!(
            response.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "request {index} is within the burst"
        );
        assert_eq!(response.headers()["ratelimit-limit"], "3");
        assert_eq!(
            response.headers()["ratelimit-remaining"],
            remaining.to_string()
        );
    }
    let refused = listing(&gateways[1], &client_ip).await.unwrap();
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=10).contains(&retry_after),
        "about one emission interval: {retry_after}"
    );
    assert_eq!(refused.headers()["ratelimit-remaining"], "0");
    expect_problem(refused, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;

    let other_client = listing(&gateways[0], &format!("{client_ip}0"))
        .await
        .unwrap();
    assert_ne!(
        other_client.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "another client has its own budget"
    );
}

#[tokio::test]
async fn browsers_from_configured_origins_may_call_the_api() {
    let address = spawn_gateway_with(|settings| {
        settings.cors.allowed_origins =
            "https://player.example, https://creator.example".to_owned();
    })
    .await
    .address;
    let client = reqwest::Client::new();
    for (method, path) in [
        ("POST", "/stream/v1/audio"),
        ("POST", "/stream/v1/join"),
        ("GET", "/streams/active"),
        ("DELETE", "/stream/v1"),
    ] {
        let preflight = client
            .request(reqwest::Method::OPTIONS, format!("{address}{path}"))
            .header("origin", "https://player.example")
            .header("access-control-request-method", method)
            .header(
                "access-control-request-headers",
                "authorization, content-type, x-chunk-seq",
            )
            .send()
            .await
            .unwrap();
        assert!(
            preflight.status().is_success(),
            "{method} {path}: {}",
            preflight.status()
        );
        let headers = preflight.headers();
        assert_eq!(
            headers["access-control-allow-origin"],
            "https://player.example"
        );
        let allowed = headers["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase();
        assert!(
            allowed.contains("authorization") && allowed.contains("x-chunk-seq"),
            "{allowed}"
        );
    }

    let foreign = client
        .request(
            reqwest::Method::OPTIONS,
            format!("{address}/streams/active"),
        )
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(foreign
        .headers()
        .get("access-control-allow-origin")
        .is_none());

    let listing = client
        .get(format!("{address}/streams/active"))
        .header("origin", "https://creator.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        listing.headers()["access-control-allow-origin"],
        "https://creator.example"
    );
    let exposed = listing.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        exposed.contains("ratelimit-remaining") && exposed.contains("retry-after"),
        "{exposed}"
    );
}

#[tokio::test]
async fn the_openapi_document_lists_every_public_route_and_each_is_served() {
    let address = spawn_gateway_without_backends().await.address;
    let response = reqwest::get(format!("{address}/stream-api/openapi.json"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let document: Value = response.json().await.unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));

    let mut operations: Vec<(String, String)> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, methods)| {
            methods
                .as_object()
                .unwrap()
                .keys()
                .map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect();
    operations.sort();
    let expected = [
        ("DELETE", "/stream/{vibe_id}"),
        ("GET", "/health"),
        ("GET", "/streams/active"),
        ("POST", "/stream/{vibe_id}/audio"),
        ("POST", "/stream/{vibe_id}/join"),
        ("POST", "/stream/{vibe_id}/leave"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(method, path)| (method.to_string(), path.to_string()))
        .collect();
    assert_eq!(operations, expected);

    // Every documented operation is a route here (no 404/405), and its
    // errors are the documented problem type.
    let client = reqwest::Client::new();
    for (method, path) in &operations {
        let url = format!("{address}{}", path.replace("{vibe_id}", "v1"));
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let status = client
            .request(method.clone(), &url)
            .send()
            .await
            .unwrap()
            .status();
        assert!(
            ![StatusCode::NOT_FOUND, StatusCode::METHOD_NOT_ALLOWED].contains(&status),
            "{method} {path} is not served: {status}"
        );
    }
    let audio = &document["paths"]["/stream/{vibe_id}/audio"]["post"];
    let content = audio["requestBody"]["content"].as_object().unwrap();
    assert!(content.contains_key("application/octet-stream"));
    assert!(content.contains_key("application/json"));
    assert!(audio["responses"]["429"]["content"]
        .as_object()
        .unwrap()
        .contains_key("application/problem+json"));
    assert!(document["components"]["schemas"]["AudioAccepted"].is_object());
}

#[tokio::test]
async fn a_registry_that_comes_up_a_moment_later_still_answers_the_request() {
    let registry_port = vibes_testkit::free_port();
    let address = spawn_gateway_with(|settings| {
        settings.upstreams.registry_url = format!("http://127.0.0.1:{registry_port}");
    })
    .await
    .address;
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        let mut settings = session_registry::configuration::load().unwrap();
        settings.redis.url = vibes_testkit::redis_server::redis_url();
        settings.playback.token_secret = vibes_testkit::tokens::PLAYBACK_TOKEN_SECRET
            .to_owned()
            .into();
        let listeners = Listeners {
            api: TcpListener::bind(("127.0.0.1", registry_port)).unwrap(),
            metrics: TcpListener::bind("127.0.0.1:0").unwrap(),
        };
        let registry = session_registry::startup::Application::build_on(listeners, settings)
            .await
            .unwrap();
        registry.run_until_stopped().await.unwrap();
    });
    let response = reqwest::get(format!("{address}/streams/active"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let active: Value = response.json().await.unwrap();
    assert!(active["streams"].is_array(), "{active}");
}

#[tokio::test]
async fn an_unreachable_backend_is_told_by_its_code_not_its_address() {
    let address = spawn_gateway(true).await.address;
    let requests = [
        (
            reqwest::Client::new().post(format!("{address}/stream/v1/join")),
            "registry_unavailable",
        ),
        (
            creator_of_v1()
                .post(format!("{address}/stream/v1/audio"))
                .header("content-type", "application/octet-stream")
                .body(sine_pcm(0.1)),
            "ingest_unavailable",
        ),
    ];
    // The test's backends sit at 127.0.0.1:9.
    for (request, code) in requests {
        let response = request.send().await.unwrap();
        let problem = expect_problem(response, StatusCode::SERVICE_UNAVAILABLE, code).await;
        assert!(problem.get("detail").is_none(), "{problem}");
        assert!(!problem.to_string().contains("127.0.0.1"), "{problem}");
    }
    let health = reqwest::get(format!("{address}/health")).await.unwrap();
    let health = health.text().await.unwrap();
    assert!(!health.contains("127.0.0.1"), "{health}");
}
