//! `GET /stream-api/openapi.json`: every public route, each served; checked
//! in as generated (`docs/openapi.json`), its error responses the catalogue's.

use crate::helpers::spawn_gateway_without_backends;
use reqwest::StatusCode;
use serde_json::Value;
use vibes_problem::Code;

#[test]
fn the_checked_in_document_is_the_one_the_gateway_serves() {
    let rendered = gateway::routes::openapi::document();
    let path = vibes_testkit::repo_root().join(gateway::routes::openapi::CHECKED_IN);
    if std::env::var_os("VIBES_UPDATE_GENERATED").is_some() {
        std::fs::write(&path, rendered).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == rendered,
        "{} is not what the gateway serves; regenerate with \
         VIBES_UPDATE_GENERATED=1 cargo test -p gateway --test api openapi",
        gateway::routes::openapi::CHECKED_IN
    );
}

#[test]
fn every_problem_response_names_catalogued_codes_of_its_status() {
    let document: Value = serde_json::from_str(gateway::routes::openapi::document()).unwrap();
    let codes = &document["components"]["schemas"]["Problem"]["properties"]["code"]["enum"];
    assert_eq!(codes.as_array().unwrap().len(), Code::ALL.len());
    let mut problem_responses = 0;
    for (path, operations) in document["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            for (status, response) in operation["responses"].as_object().unwrap() {
                let Some(examples) =
                    response["content"]["application/problem+json"]["examples"].as_object()
                else {
                    continue;
                };
                problem_responses += 1;
                for name in examples.keys() {
                    let code = Code::parse(name).unwrap_or_else(|| panic!("{name}"));
                    assert_eq!(
                        code.status().as_str(),
                        status,
                        "{method} {path}: {name} is not a {status}"
                    );
                }
            }
        }
    }
    assert!(problem_responses >= 20, "{problem_responses}");
    let join = &document["paths"]["/stream/{vibe_id}/join"]["post"]["responses"];
    assert!(
        join["409"]["content"]["application/problem+json"]["examples"]["stream_full"].is_object()
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
