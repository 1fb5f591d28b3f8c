//! The packager against the real engine (SRS, run by srs-supervisor on free
//! ports) with ffmpeg publishing AAC into it the way ingest does.

use hls_packager::configuration::{self, Settings};
use hls_packager::streams::Streams;
use reqwest::StatusCode;
use srs_supervisor::engine::{EngineState, EngineSupervisor};
use srs_supervisor::startup::Supervisor;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tempfile::TempDir;
use vibes_testkit::process::TestProcess;
use vibes_testkit::service::spawn;

pub struct Engine {
    pub supervisor: Arc<EngineSupervisor>,
    pub rtmp_port: u16,
    pub http_port: u16,
    _work_dir: TempDir,
}

/// SRS through srs-supervisor (child mode, no hooks), running.
pub async fn start_engine() -> Engine {
    vibes_testkit::init_test_logging();
    let work_dir = tempfile::tempdir().unwrap();
    let mut settings = srs_supervisor::configuration::load().unwrap();
    let engine = &mut settings.engine;
    engine.binary = vibes_testkit::engine_binary();
    engine.work_dir = work_dir.path().to_path_buf();
    engine.hooks_url = String::new();
    [engine.rtmp_port, engine.http_port, engine.api_port] = vibes_testkit::free_ports();
    let (rtmp_port, http_port) = (engine.rtmp_port, engine.http_port);
    settings.registry.url = String::new();
    let supervisor = spawn::<Supervisor>(settings).await.service.engine.clone();
    let deadline = Instant::now() + Duration::from_secs(20);
    while supervisor.status().state != EngineState::Running {
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(
                work_dir
                    .path()
                    .join(srs_supervisor::engine::srs_config::LOG_FILE),
            )
            .unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            panic!(
                "the engine is not running after 20 s: {:?}\nSRS log (last lines first):\n{}",
                supervisor.status(),
                tail.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Engine {
        supervisor,
        rtmp_port,
        http_port,
        _work_dir: work_dir,
    }
}

impl Engine {
    /// ffmpeg publishing `seconds` of a sine as AAC-LC 48 kHz stereo, in real time.
    pub fn publish(&self, vibe: &str, seconds: u32) -> TestProcess {
        let mut ffmpeg = Command::new("ffmpeg");
        ffmpeg
            .args(["-v", "error", "-re", "-f", "lavfi", "-i"])
            .arg(format!("sine=frequency=440:duration={seconds}"))
            .args(["-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2"])
            .args(["-f", "flv"])
            .arg(format!("rtmp://127.0.0.1:{}/live/{vibe}", self.rtmp_port))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        TestProcess::spawn("ffmpeg", ffmpeg)
    }
}

pub struct Packager {
    pub address: String,
    pub metrics_address: String,
    pub streams: Arc<Streams>,
    pub http: reqwest::Client,
}

/// The packager's settings for `engine`, with the test edge's relay key.
pub fn settings(engine: &Engine) -> Settings {
    let mut settings = configuration::load().expect("defaults load");
    settings.engine.flv_base_url = format!("http://127.0.0.1:{}", engine.http_port);
    settings.engine.relay_key = vibes_testkit::edge::EDGE_RELAY_KEY.to_owned().into();
    settings
}

pub async fn spawn_packager(settings: Settings) -> Packager {
    let packager = spawn::<hls_packager::startup::Packager>(settings).await;
    Packager {
        address: packager.address,
        metrics_address: packager.metrics_address,
        streams: packager.service.streams.clone(),
        http: reqwest::Client::new(),
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub content_type: String,
    pub body: bytes::Bytes,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn problem_code(&self) -> String {
        assert_eq!(
            self.content_type,
            "application/problem+json",
            "{}",
            self.text()
        );
        let problem: serde_json::Value = serde_json::from_slice(&self.body).unwrap();
        problem["code"].as_str().unwrap().to_owned()
    }
}

impl Packager {
    pub fn url(&self, vibe: &str, file: &str) -> String {
        format!("{}/live/{vibe}/{file}", self.address)
    }

    pub async fn get(&self, vibe: &str, file: &str) -> Reply {
        let response = self.http.get(self.url(vibe, file)).send().await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|value| value.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = response.bytes().await.unwrap();
        Reply {
            status,
            content_type,
            body,
        }
    }

    /// The low-latency playlist once it lists at least `segments` whole segments.
    pub async fn playlist_with(&self, vibe: &str, segments: usize) -> String {
        let what = format!("{segments} segments");
        let limit = Duration::from_secs(30);
        self.playlist_until(vibe, limit, &what, |playlist| {
            playlist.segments.len() >= segments
        })
        .await
        .1
    }

    /// Polls the low-latency playlist until `condition` holds on it.
    pub async fn playlist_until(
        &self,
        vibe: &str,
        limit: Duration,
        what: &str,
        condition: impl Fn(&Playlist) -> bool,
    ) -> (Playlist, String) {
        let deadline = Instant::now() + limit;
        loop {
            let reply = self.get(vibe, "index.ll.m3u8").await;
            let text = reply.text();
            if reply.status == StatusCode::OK {
                let playlist = Playlist::parse(&text);
                if condition(&playlist) {
                    return (playlist, text);
                }
            }
            assert!(
                Instant::now() < deadline,
                "no playlist with {what} within {limit:?}: {} {text}",
                reply.status
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// A media playlist, read as a player reads it.
#[derive(Debug, Default)]
pub struct Playlist {
    pub media_sequence: u64,
    pub discontinuity_sequence: u64,
    pub part_target: Option<f64>,
    pub part_hold_back: Option<f64>,
    pub target_duration: u64,
    /// (duration, uri, msn, discontinuity before it, EXT-X-MAP uri in force)
    pub segments: Vec<ListedSegment>,
    /// (duration, uri) of every EXT-X-PART, in order.
    pub parts: Vec<(f64, String)>,
    pub preload_hint: Option<String>,
    pub ended: bool,
}

#[derive(Debug, Clone)]
pub struct ListedSegment {
    pub duration: f64,
    pub uri: String,
    pub msn: u64,
    pub discontinuity: bool,
    pub map: String,
    /// The parts listed for this segment.
    pub parts: Vec<String>,
}

fn attribute(line: &str, name: &str) -> Option<String> {
    line.split(',')
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
        .map(|value| value.trim_matches('"').to_owned())
}

impl Playlist {
    pub fn parse(text: &str) -> Self {
        let mut playlist = Playlist::default();
        let (mut duration, mut discontinuity, mut map) = (0.0, false, String::new());
        let mut parts_of_segment = Vec::new();
        for line in text.lines() {
            if let Some(value) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
                playlist.media_sequence = value.parse().unwrap();
            } else if let Some(value) = line.strip_prefix("#EXT-X-DISCONTINUITY-SEQUENCE:") {
                playlist.discontinuity_sequence = value.parse().unwrap();
            } else if let Some(value) = line.strip_prefix("#EXT-X-TARGETDURATION:") {
                playlist.target_duration = value.parse().unwrap();
            } else if let Some(value) = line.strip_prefix("#EXT-X-PART-INF:") {
                playlist.part_target = attribute(value, "PART-TARGET").map(|v| v.parse().unwrap());
            } else if let Some(value) = line.strip_prefix("#EXT-X-SERVER-CONTROL:") {
                playlist.part_hold_back =
                    attribute(value, "PART-HOLD-BACK").map(|v| v.parse().unwrap());
            } else if let Some(value) = line.strip_prefix("#EXT-X-MAP:") {
                map = attribute(value, "URI").unwrap();
            } else if line == "#EXT-X-DISCONTINUITY" {
                discontinuity = true;
            } else if let Some(value) = line.strip_prefix("#EXT-X-PART:") {
                let uri = attribute(value, "URI").unwrap();
                let part_duration = attribute(value, "DURATION").unwrap().parse().unwrap();
                playlist.parts.push((part_duration, uri.clone()));
                parts_of_segment.push(uri);
            } else if let Some(value) = line.strip_prefix("#EXT-X-PRELOAD-HINT:") {
                playlist.preload_hint = attribute(value, "URI");
            } else if let Some(value) = line.strip_prefix("#EXTINF:") {
                duration = value.trim_end_matches(',').parse().unwrap();
            } else if line == "#EXT-X-ENDLIST" {
                playlist.ended = true;
            } else if !line.starts_with('#') && !line.is_empty() {
                let msn = playlist.media_sequence + playlist.segments.len() as u64;
                playlist.segments.push(ListedSegment {
                    duration,
                    uri: line.to_owned(),
                    msn,
                    discontinuity: std::mem::take(&mut discontinuity),
                    map: map.clone(),
                    parts: std::mem::take(&mut parts_of_segment),
                });
            }
        }
        playlist
    }

    /// The msn of the segment in progress and how many of its parts are listed.
    pub fn next_part(&self) -> (u64, u64) {
        let open_msn = self.media_sequence + self.segments.len() as u64;
        let open_parts = self
            .parts
            .iter()
            .filter(|(_, uri)| {
                uri.starts_with("part-") && uri.split('-').nth(2) == Some(&open_msn.to_string())
            })
            .count();
        (open_msn, open_parts as u64)
    }
}

/// Decodes `media` (one file) with ffmpeg and returns what ffprobe says of
/// it and what ffmpeg printed as errors.
pub fn decode(media: &std::path::Path) -> (vibes_testkit::audio::ProbedAudio, String) {
    let probed = vibes_testkit::audio::probe_audio(media);
    let decoded = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(media)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    (
        probed,
        String::from_utf8_lossy(&decoded.stderr).into_owned(),
    )
}
