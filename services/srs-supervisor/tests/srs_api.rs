//! SRS's API through the supervisor, over real SRS: every answer parses as
//! SRS's own response types (from the `srs-client` crate) and says what SRS
//! really has, here one audio-only stream published by ffmpeg.

mod support;

use serde_json::Value;
use srs_client::{SrsClientResp, SrsClientRespData};
use std::process::{Command, Stdio};
use std::time::Duration;
use vibes_testkit::process::TestProcess;

/// `path`'s answer as an operator (with the operators' key) or the public.
async fn answer(address: &str, path: &str, as_operator: bool) -> Value {
    let mut request = reqwest::Client::new().get(format!("{address}{path}"));
    if as_operator {
        request = request.bearer_auth(support::OPERATOR_TOKEN);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], 0, "{path}: {body}");
    body
}

/// `path`'s whole answer, as an operator sees it, in SRS's own types.
async fn get(address: &str, path: &str) -> SrsClientResp {
    let body = answer(address, path, true).await;
    serde_json::from_value(body.clone())
        .unwrap_or_else(|error| panic!("{path} is not SRS-shaped ({error}): {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_summaries_streams_and_clients_answer_in_srs_shape() {
    let work_dir = tempfile::tempdir().unwrap();
    let settings = support::settings(&work_dir);
    let running = support::start_running(work_dir, settings).await;
    let (address, supervisor, rtmp_port) = (
        running.address.clone(),
        running.supervisor.clone(),
        running.rtmp_port,
    );
    // The metrics listener serves /metrics only: monitoring reaches no stats.
    let on_metrics = reqwest::get(format!("{}/api/v1/clients/", running.metrics_address))
        .await
        .unwrap();
    vibes_testkit::http::expect_problem(on_metrics, reqwest::StatusCode::NOT_FOUND, "not_found")
        .await;

    let mut ffmpeg = Command::new("ffmpeg");
    ffmpeg
        .args([
            "-v",
            "error",
            "-re",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=30",
        ])
        .args(["-c:a", "aac", "-ar", "48000", "-ac", "2", "-f", "flv"])
        .arg(format!("rtmp://127.0.0.1:{rtmp_port}/live/t1"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _publisher = TestProcess::spawn("ffmpeg", ffmpeg);

    let SrsClientRespData::Version { data: version } = get(&address, "/api/v1/versions").await.data
    else {
        panic!("versions carries data.version");
    };
    assert_eq!(
        version.version,
        format!("{}.{}.{}", version.major, version.minor, version.revision)
    );
    // The public (no key, or a wrong one) sees no pid, memory, load or
    // exact build.
    for path in ["/api/v1/versions", "/api/v1/summaries", "/api/v1/streams"] {
        let public = answer(&address, path, false).await;
        assert!(public.get("pid").is_none(), "{path}: {public}");
        let text = public.to_string();
        for hidden in ["mem_kbyte", "load_1m", "\"version\"", "\"minor\"", "argv"] {
            assert!(!text.contains(hidden), "{path} shows {hidden}: {public}");
        }
    }
    let wrong_key = reqwest::Client::new()
        .get(format!("{address}/api/v1/versions"))
        .bearer_auth("not-the-operators-key")
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        wrong_key["data"],
        serde_json::json!({ "major": version.major })
    );

    let summaries = answer(&address, "/api/v1/summaries", true).await;
    assert!(matches!(
        get(&address, "/api/v1/summaries").await.data,
        SrsClientRespData::Summaries { .. }
    ));
    assert_eq!(summaries["data"]["ok"], true);
    assert_eq!(
        summaries["data"]["self"]["pid"],
        supervisor.status().pid.unwrap()
    );
    assert!(summaries["data"]["self"]["mem_kbyte"].as_u64().unwrap() > 0);
    // Host paths stay inside: the edge serves this answer publicly.
    let process = summaries["data"]["self"].as_object().unwrap();
    assert!(
        !process.contains_key("argv") && !process.contains_key("cwd"),
        "{summaries}"
    );

    let mut streams = Vec::new();
    for _ in 0..50 {
        let SrsClientRespData::Streams { streams: listed } =
            get(&address, "/api/v1/streams").await.data
        else {
            panic!("streams carries a streams list");
        };
        if listed.iter().any(|stream| {
            stream
                .audio
                .as_ref()
                .is_some_and(|audio| audio.sample_rate > 0)
        }) {
            streams = listed;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stream = streams
        .iter()
        .find(|stream| stream.name == "t1")
        .expect("the published stream is listed");
    let audio = stream.audio.as_ref().expect("audio described");
    // SRS reports the FLV tag header's rate field, whose highest value is
    // 44.1 kHz; the AAC inside is 48 kHz (the e2e tests decode it).
    assert_eq!(
        (audio.codec.as_str(), audio.sample_rate, audio.channel),
        ("AAC", 44_100, 2)
    );
    assert!(stream.publish.active);
    assert_eq!(stream.url, "/live/t1");
    assert!(stream.tc_url.is_empty(), "SRS's RTMP address stays inside");

    let SrsClientRespData::Clients { clients } = get(&address, "/api/v1/clients").await.data else {
        panic!("clients carries a clients list");
    };
    let publisher = clients
        .iter()
        .find(|client| client.publish)
        .expect("the publisher is a client");
    assert_eq!(
        (publisher.name.as_str(), publisher.r#type.as_str()),
        ("t1", "fmle-publish")
    );

    // Read-only: kicking is SRS's own API's job (the registry calls it).
    let kick = reqwest::Client::new()
        .delete(format!("{address}/api/v1/clients/{}", publisher.id))
        .send()
        .await
        .unwrap();
    assert!(
        kick.status() == 404 || kick.status() == 405,
        "{}",
        kick.status()
    );
    let SrsClientRespData::Clients { clients } = get(&address, "/api/v1/clients").await.data else {
        panic!("clients carries a clients list");
    };
    assert!(
        clients.iter().any(|client| client.id == publisher.id),
        "the publisher is still connected"
    );
}
