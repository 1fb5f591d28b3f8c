use crate::helpers::{spawn_app_with, unique_vibe};
use serde_json::json;
use std::time::Duration;
use vibes_testkit::http::{metric, sample, scrape};
use vibes_testkit::wait_until_async;

#[tokio::test]
async fn participants_per_stream_are_counted_into_size_classes_without_stream_ids() {
    let app = spawn_app_with(|settings| {
        settings.metrics.stream_census_interval = Duration::from_millis(100)
    })
    .await;
    let vibe = unique_vibe();
    app.register(&vibe).await;
    let capped = app
        .http
        .put(format!(
            "{}/internal/streams/{vibe}/max-participants",
            app.address
        ))
        .json(&json!({ "max_participants": 3 }))
        .send()
        .await
        .unwrap();
    assert_eq!(capped.status(), 200);
    for listener in ["census-a", "census-b", "census-c"] {
        assert_eq!(app.join(&vibe, Some(listener)).await.status(), 200);
    }

    // The next census sees a full stream of three.
    let address = app.metrics_address.as_str();
    wait_until_async(
        Duration::from_secs(5),
        "the census counts the stream",
        || async {
            metric(address, "vibes_registry_largest_stream_participants", &[]).await >= 3.0
                && metric(address, "vibes_registry_streams_full", &[]).await >= 1.0
                && metric(address, "vibes_registry_streams_near_cap", &[]).await >= 1.0
        },
    )
    .await;
    // One scrape: every registry in this process publishes its own census.
    let text = scrape(address).await;
    let class = |bound| {
        sample(
            &text,
            "vibes_registry_streams_by_participants",
            &[("le", bound)],
        )
    };
    assert!(class("10") >= 1.0, "a stream of three is within le=10");
    assert!(
        class("1") <= class("10") && class("10") <= class("+Inf"),
        "classes are cumulative"
    );
    assert_eq!(
        class("+Inf"),
        sample(&text, "vibes_registry_live_streams", &[])
    );
    assert!(sample(&text, "vibes_registry_participants", &[]) >= 3.0);
    assert!(
        !text.contains(&vibe),
        "stream ids never become label values"
    );
}

#[tokio::test]
async fn refused_joins_are_counted_by_reason() {
    let app = spawn_app_with(|_| {}).await;
    let vibe = unique_vibe();
    app.register(&vibe).await;
    app.http
        .put(format!(
            "{}/internal/streams/{vibe}/max-participants",
            app.address
        ))
        .json(&json!({ "max_participants": 1 }))
        .send()
        .await
        .unwrap();
    let full = [("request", "join"), ("outcome", "full")];
    let before = metric(&app.metrics_address, "vibes_registry_seats_total", &full).await;
    app.join(&vibe, Some("first")).await;
    assert_eq!(app.join(&vibe, Some("second")).await.status(), 409);
    let after = metric(&app.metrics_address, "vibes_registry_seats_total", &full).await;
    assert!(after >= before + 1.0, "{before} → {after}");
}
