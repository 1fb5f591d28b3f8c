//! The OpenAPI document is checked in as generated (`docs/openapi.json`),
//! and its error responses are the catalogue's.

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
