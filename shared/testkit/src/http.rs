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
