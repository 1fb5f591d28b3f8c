use reqwest::{Response, StatusCode};
use serde_json::Value;

/// Asserts an `application/problem+json` answer with `status` and `code`, and
/// returns its body for further checks.
pub async fn expect_problem(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.expect("a JSON problem body");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status.as_u16());
    body
}

/// Metrics are served on their own listener only: `api`'s `/metrics` is a
/// 404 problem, and the metrics listener answers `method api_path` (a route
/// of the API) with a 404 problem too.
pub async fn assert_metrics_apart(
    api: &str,
    metrics: &str,
    method: reqwest::Method,
    api_path: &str,
) {
    let http = reqwest::Client::new();
    let on_api = http.get(format!("{api}/metrics")).send().await.unwrap();
    expect_problem(on_api, StatusCode::NOT_FOUND, "not_found").await;
    let on_metrics = http
        .request(method, format!("{metrics}{api_path}"))
        .send()
        .await
        .unwrap();
    expect_problem(on_metrics, StatusCode::NOT_FOUND, "not_found").await;
}

/// The sum of the Prometheus samples of `metric` on `address`/metrics whose
/// labels include every `labels` pair (0 when there are none yet).
/// `address` is where the metrics are served: a service's metrics listener
/// (`metrics_port()`), or the edge's `metrics_address()`.
pub async fn metric(address: &str, metric: &str, labels: &[(&str, &str)]) -> f64 {
    sample(&scrape(address).await, metric, labels)
}

/// The Prometheus text of `address`/metrics, to read several samples of one moment.
pub async fn scrape(address: &str) -> String {
    reqwest::get(format!("{address}/metrics"))
        .await
        .expect("metrics answer")
        .text()
        .await
        .expect("metrics text")
}

/// The sum of the samples of `metric` in scraped `text` whose labels include
/// every `labels` pair (0 when there are none).
pub fn sample(text: &str, metric: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| {
            let name = line.split(['{', ' ']).next().unwrap_or_default();
            name == metric
                && labels
                    .iter()
                    .all(|(key, value)| line.contains(&format!("{key}=\"{value}\"")))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
