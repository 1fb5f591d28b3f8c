//! CORS: browsers from the configured origins may call every route.

use crate::helpers::spawn_gateway_with;

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
