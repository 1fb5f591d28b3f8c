use crate::helpers::{spawn_app, spawn_app_with, unique_vibe};
use reqwest::StatusCode;
use serde_json::Value;
use std::sync::atomic::Ordering;
use std::time::Duration;
use vibes_testkit::audio::{probe_audio, sine_pcm};
use vibes_testkit::http::{expect_problem, metric};
use vibes_testkit::{wait_until, wait_until_async};

const PCM: &str = "application/octet-stream";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunks_are_encoded_to_aac_and_end_flushes_them() {
    let app = spawn_app().await;
    let vibe = unique_vibe();
    for _ in 0..2 {
        let response = app.post_audio(vibe.as_str(), PCM, sine_pcm(1.5)).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["accepted_ms"], 1500);
    }
    let ended: Value = app.end(vibe.as_str()).await.json().await.unwrap();
    assert_eq!(ended["was_live"], true);
    assert!(app.streams.get(&vibe).is_none());

    let probed = probe_audio(&app.output_dir.path().join(vibe.as_str()));
    assert_eq!(
        (
            probed.codec.as_str(),
            probed.sample_rate_hz,
            probed.channels
        ),
        ("aac", 48_000, 2)
    );
    assert!(
        (probed.decoded_seconds - 3.0).abs() < 0.1,
        "all 3 s flushed: {probed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_encoder_is_restarted_and_the_stream_goes_on() {
    let app = spawn_app().await;
    let vibe = unique_vibe();
    app.post_audio(vibe.as_str(), PCM, sine_pcm(0.5)).await;
    let pipeline = app.streams.get(&vibe).expect("stream started");
    wait_until(Duration::from_secs(5), || pipeline.encoder_pid().is_some()).await;
    let first_pid = pipeline.encoder_pid().unwrap();

    // SAFETY: SIGKILL to the ffmpeg child this test's ingest started.
    unsafe { libc::kill(first_pid as libc::pid_t, libc::SIGKILL) };
    tokio::time::sleep(Duration::from_millis(100)).await;
    for _ in 0..3 {
        let response = app.post_audio(vibe.as_str(), PCM, sine_pcm(0.5)).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    wait_until(Duration::from_secs(10), || {
        pipeline.stats().chunks_played.load(Ordering::Relaxed) == 4
    })
    .await;
    assert_eq!(pipeline.stats().encoder_starts.load(Ordering::Relaxed), 2);
    assert_ne!(pipeline.encoder_pid(), Some(first_pid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_encoder_fills_the_buffer_and_the_creator_gets_429() {
    let app = spawn_app_with(|settings| settings.buffer.max_queued_chunks = 2).await;
    let vibe = unique_vibe();
    app.post_audio(vibe.as_str(), PCM, sine_pcm(0.1)).await;
    let pipeline = app.streams.get(&vibe).expect("stream started");
    let paused = PausedEncoder::pause(&pipeline).await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let response = app.post_audio(vibe.as_str(), PCM, sine_pcm(2.0)).await;
        statuses.push(response.status());
    }
    use StatusCode as S;
    assert_eq!(
        statuses,
        [
            S::ACCEPTED,
            S::ACCEPTED,
            S::TOO_MANY_REQUESTS,
            S::TOO_MANY_REQUESTS
        ]
    );
    let refused = app.post_audio(vibe.as_str(), PCM, sine_pcm(2.0)).await;
    assert_eq!(refused.headers()["retry-after"], "1");
    expect_problem(refused, StatusCode::TOO_MANY_REQUESTS, "buffer_full").await;
    paused.resume();

    wait_until(Duration::from_secs(10), || {
        pipeline.stats().chunks_played.load(Ordering::Relaxed) == 3
    })
    .await;
    assert_eq!(
        pipeline.stats().encoder_starts.load(Ordering::Relaxed),
        1,
        "no chunk was lost to a restart"
    );
}

#[tokio::test]
async fn a_creator_may_queue_only_so_much_audio_ahead() {
    let app =
        spawn_app_with(|settings| settings.buffer.max_queued = Duration::from_millis(1500)).await;
    let vibe = unique_vibe();
    app.post_audio(vibe.as_str(), PCM, sine_pcm(1.0)).await;
    let pipeline = app.streams.get(&vibe).expect("stream started");
    // The first chunk is playing, so the queue behind it is empty.
    wait_until(Duration::from_secs(5), || pipeline.queued_chunks() == 0).await;

    let queued = app.post_audio(vibe.as_str(), PCM, sine_pcm(1.0)).await;
    assert_eq!(queued.status(), StatusCode::ACCEPTED);
    let refused = app.post_audio(vibe.as_str(), PCM, sine_pcm(1.0)).await;
    expect_problem(refused, StatusCode::TOO_MANY_REQUESTS, "buffer_full").await;
    // What still fits is accepted.
    let small = app.post_audio(vibe.as_str(), PCM, sine_pcm(0.4)).await;
    assert_eq!(small.status(), StatusCode::ACCEPTED);
    assert_eq!(pipeline.stats().chunks_accepted.load(Ordering::Relaxed), 3);
}

#[tokio::test]
async fn audio_that_waited_beyond_the_latency_cap_is_dropped_and_counted() {
    let app =
        spawn_app_with(|settings| settings.buffer.max_added_latency = Duration::from_secs(1)).await;
    let vibe = unique_vibe();
    app.post_audio(vibe.as_str(), PCM, sine_pcm(0.1)).await;
    let pipeline = app.streams.get(&vibe).expect("stream started");
    let paused = PausedEncoder::pause(&pipeline).await;
    for _ in 0..3 {
        let response = app.post_audio(vibe.as_str(), PCM, sine_pcm(0.5)).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    // Stuck longer than the cap: all three are too late once it resumes.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    paused.resume();
    let dropped = || pipeline.stats().late_dropped_bytes.load(Ordering::Relaxed);
    wait_until(Duration::from_secs(5), || {
        dropped() == 3 * sine_pcm(0.5).len() as u64
    })
    .await;
    assert_eq!(pipeline.stats().chunks_played.load(Ordering::Relaxed), 1);
    let counted = metric(
        &app.metrics_address,
        "vibes_ingest_late_audio_dropped_ms_total",
        &[],
    )
    .await;
    assert!(counted >= 1500.0, "dropped ms counted: {counted}");

    // Audio sent now plays as usual.
    app.post_audio(vibe.as_str(), PCM, sine_pcm(0.5)).await;
    wait_until(Duration::from_secs(5), || {
        pipeline.stats().chunks_played.load(Ordering::Relaxed) == 2
    })
    .await;
}

#[tokio::test]
async fn bad_chunks_are_refused_without_starting_a_stream() {
    let app = spawn_app().await;
    let vibe = unique_vibe();
    let cases = [
        (
            "bad!id",
            PCM,
            sine_pcm(0.1),
            StatusCode::BAD_REQUEST,
            "invalid_vibe_id",
        ),
        (
            vibe.as_str(),
            PCM,
            vec![0; 6],
            StatusCode::BAD_REQUEST,
            "partial_frame",
        ),
        (
            vibe.as_str(),
            PCM,
            vec![],
            StatusCode::BAD_REQUEST,
            "empty_body",
        ),
        (
            vibe.as_str(),
            "audio/wav",
            sine_pcm(0.1),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_content_type",
        ),
        (
            vibe.as_str(),
            PCM,
            sine_pcm(6.0),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
    ];
    for (id, content_type, body, status, code) in cases {
        expect_problem(app.post_audio(id, content_type, body).await, status, code).await;
    }
    assert_eq!(app.streams.count(), 0);
}

#[tokio::test]
async fn without_the_registry_no_audio_is_accepted() {
    let app =
        spawn_app_with(|settings| settings.registry.url = "http://127.0.0.1:9".to_owned()).await;
    let response = app
        .post_audio(unique_vibe().as_str(), PCM, sine_pcm(0.1))
        .await;
    expect_problem(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "registry_unavailable",
    )
    .await;
    assert_eq!(app.streams.count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_the_registry_lost_is_registered_again_by_its_next_chunk() {
    let app =
        spawn_app_with(|settings| settings.registry.reregister_interval = Duration::ZERO).await;
    let vibe = unique_vibe();
    app.post_audio(vibe.as_str(), PCM, sine_pcm(0.2)).await;
    assert!(app.registry_lists(vibe.as_str()).await);

    // As if Redis restarted without persistence: the registry forgets the stream.
    let url = format!("{}/internal/streams/{vibe}", app.registry_url);
    app.http.delete(url).send().await.unwrap();
    assert!(!app.registry_lists(vibe.as_str()).await);

    let response = app.post_audio(vibe.as_str(), PCM, sine_pcm(0.2)).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    wait_until_async(
        Duration::from_secs(3),
        "the next chunk registers the stream again",
        || app.registry_lists(vibe.as_str()),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbered_chunks_are_accepted_once_and_retries_add_no_audio() {
    let app = spawn_app().await;
    let vibe = unique_vibe();
    let post = |seq: &str| {
        app.http
            .post(format!("{}/stream/{vibe}/audio", app.address))
            .header("content-type", PCM)
            .header("x-chunk-seq", seq.to_owned())
            .body(sine_pcm(0.5))
            .send()
    };
    let first = post("1").await.unwrap();
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let first: Value = first.json().await.unwrap();
    assert_eq!(
        (first["seq"].as_u64(), first["duplicate"].as_bool()),
        (Some(1), Some(false))
    );

    let retry = post("1").await.unwrap();
    assert_eq!(retry.status(), StatusCode::OK);
    let retry: Value = retry.json().await.unwrap();
    assert_eq!(retry["duplicate"], true);
    assert_eq!(
        retry["queued_chunks"], first["queued_chunks"],
        "the first answer, repeated"
    );

    let stale = expect_problem(
        post("0").await.unwrap(),
        StatusCode::CONFLICT,
        "stale_chunk_seq",
    )
    .await;
    assert_eq!(stale["last_seq"], 1);
    expect_problem(
        post("one").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_chunk_seq",
    )
    .await;
    assert_eq!(
        post("5").await.unwrap().status(),
        StatusCode::ACCEPTED,
        "a gap is accepted"
    );

    app.end(vibe.as_str()).await;
    let probed = probe_audio(&app.output_dir.path().join(vibe.as_str()));
    assert!(
        (probed.decoded_seconds - 1.0).abs() < 0.1,
        "two half-second chunks, nothing twice: {probed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_chunks_leave_silence_so_the_stream_keeps_wall_clock_time() {
    let app = spawn_app().await;
    let vibe = unique_vibe();
    let started = std::time::Instant::now();
    app.post_audio(vibe.as_str(), PCM, sine_pcm(2.0)).await;
    // The creator is 3 s late with the next chunk.
    tokio::time::sleep(Duration::from_secs(5)).await;
    app.post_audio(vibe.as_str(), PCM, sine_pcm(2.0)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    app.end(vibe.as_str()).await;
    let wall_clock = started.elapsed().as_secs_f64();

    let probed = probe_audio(&app.output_dir.path().join(vibe.as_str()));
    assert!(
        (probed.decoded_seconds - wall_clock).abs() <= 0.5,
        "recorded {:.2} s over {wall_clock:.2} s of wall clock",
        probed.decoded_seconds
    );
    assert!(
        probed.decoded_seconds >= 6.5,
        "2 s of audio, 3 s of silence, 2 s of audio"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_without_audio_for_the_idle_time_ends_by_itself() {
    let app = spawn_app_with(|settings| settings.stream.idle_end = Duration::from_secs(1)).await;
    let vibe = unique_vibe();
    app.post_audio(vibe.as_str(), PCM, sine_pcm(0.2)).await;
    assert!(app.registry_lists(vibe.as_str()).await);
    wait_until(Duration::from_secs(5), || app.streams.count() == 0).await;
    wait_until_async(
        Duration::from_secs(3),
        "the registry forgets the idle stream",
        || async { !app.registry_lists(vibe.as_str()).await },
    )
    .await;
    let probed = probe_audio(&app.output_dir.path().join(vibe.as_str()));
    assert!(
        probed.decoded_seconds >= 1.1,
        "the audio and the idle second were played: {probed:?}"
    );

    // The next chunk starts the stream afresh.
    let response = app.post_audio(vibe.as_str(), PCM, sine_pcm(0.2)).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(app.streams.count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_accepted_chunks_and_active_streams() {
    let app = spawn_app().await;
    let accepted_before = metric(
        &app.metrics_address,
        "vibes_ingest_chunks_accepted_total",
        &[],
    )
    .await;
    let queued_before = metric(
        &app.metrics_address,
        "vibes_ingest_queued_audio_seconds_count",
        &[],
    )
    .await;
    let claims_before = metric(
        &app.metrics_address,
        "vibes_ingest_ownership_claims_total",
        &[],
    )
    .await;
    let vibe = unique_vibe();
    app.post_audio(vibe.as_str(), PCM, sine_pcm(0.2)).await;
    app.post_audio(vibe.as_str(), PCM, sine_pcm(0.2)).await;
    let accepted_after = metric(
        &app.metrics_address,
        "vibes_ingest_chunks_accepted_total",
        &[],
    )
    .await;
    assert!(
        accepted_after >= accepted_before + 2.0,
        "{accepted_before} → {accepted_after}"
    );
    let queued_after = metric(
        &app.metrics_address,
        "vibes_ingest_queued_audio_seconds_count",
        &[],
    )
    .await;
    assert!(
        queued_after >= queued_before + 2.0,
        "buffer fill observed per chunk"
    );
    let claims_after = metric(
        &app.metrics_address,
        "vibes_ingest_ownership_claims_total",
        &[],
    )
    .await;
    assert!(claims_after > claims_before, "the stream was claimed");
    // Once the two chunks have played, filler silence follows.
    wait_until_async(Duration::from_secs(5), "silence counted", || async {
        metric(&app.metrics_address, "vibes_ingest_silence_ms_total", &[]).await > 0.0
    })
    .await;
    assert!(metric(&app.metrics_address, "vibes_ingest_streams_active", &[]).await >= 1.0);
    assert!(
        metric(
            &app.metrics_address,
            "vibes_ingest_encoder_starts_total",
            &[]
        )
        .await
            >= 1.0
    );
    app.end(vibe.as_str()).await;
    // Metrics only on their own listener; it serves nothing else (no DELETE).
    vibes_testkit::http::assert_metrics_apart(
        &app.address,
        &app.metrics_address,
        reqwest::Method::DELETE,
        &format!("/stream/{vibe}"),
    )
    .await;
}

#[tokio::test]
async fn without_redis_no_stream_is_claimed_and_readiness_says_why() {
    let app = spawn_app_with(|settings| {
        settings.ownership.redis_url = "redis://127.0.0.1:9/".to_owned();
        settings.ownership.redis_timeout = Duration::from_millis(200);
    })
    .await;
    let vibe = unique_vibe();
    let refused = app.post_audio(vibe.as_str(), PCM, sine_pcm(0.5)).await;
    assert_eq!(refused.headers()["retry-after"], "1");
    expect_problem(
        refused,
        StatusCode::SERVICE_UNAVAILABLE,
        "ownership_unavailable",
    )
    .await;
    assert!(app.streams.get(&vibe).is_none(), "nothing started");
    assert!(
        !app.registry_lists(vibe.as_str()).await,
        "nothing registered"
    );

    let ready = reqwest::get(format!("{}/health/ready", app.address))
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let report: Value = ready.json().await.unwrap();
    assert_eq!(report["parts"]["ingest_pool"]["status"], "down", "{report}");
    assert!(report["parts"]["ingest_pool"]["detail"]
        .as_str()
        .unwrap()
        .contains("heartbeat"));
}

#[tokio::test]
async fn a_ready_pod_reports_its_pool_heartbeat() {
    let app = spawn_app().await;
    let report = || async {
        let ready = reqwest::get(format!("{}/health/ready", app.address))
            .await
            .unwrap();
        ready.json::<Value>().await.unwrap()
    };
    wait_until_async(Duration::from_secs(5), "the pool heartbeat", || async {
        report().await["parts"]["ingest_pool"]["status"] == "up"
    })
    .await;
}

/// A stream's ffmpeg stopped with SIGSTOP, once the pipe to it is full (the
/// pacer writes silence until it is): from then on nothing more is played.
struct PausedEncoder(libc::pid_t);

impl PausedEncoder {
    async fn pause(pipeline: &ingest::pipeline::StreamPipeline) -> Self {
        wait_until(Duration::from_secs(5), || pipeline.encoder_pid().is_some()).await;
        let pid = pipeline.encoder_pid().unwrap() as libc::pid_t;
        // SAFETY: a signal to the ffmpeg child this test's ingest started.
        unsafe { libc::kill(pid, libc::SIGSTOP) };
        let silence = || pipeline.stats().silence_bytes.load(Ordering::Relaxed);
        loop {
            let before = silence();
            tokio::time::sleep(Duration::from_millis(300)).await;
            if silence() == before {
                return Self(pid);
            }
        }
    }

    fn resume(&self) {
        // SAFETY: as in `pause`.
        unsafe { libc::kill(self.0, libc::SIGCONT) };
    }
}
