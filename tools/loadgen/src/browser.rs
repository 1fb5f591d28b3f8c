//! A listener in a real browser: `browser/hls-ear.mjs` (node, playwright-core
//! and Debian's headless Chromium) opens the edge's listen page, joins with
//! "HLS only" (the page's hls.js with the web player's own `HLS_CONFIG`) and
//! taps the `<audio>` element with Web Audio. It prints every click onset it
//! hears as a JSON line at once; this side reads them as they come, turns
//! their wall-clock times into [`Instant`]s and numbers the clicks by their
//! distance in the stream's media time.

use crate::click::{self, ClickMatcher, ClickTrack, HandOvers};
use crate::percentiles::Percentiles;
use serde::Serialize;
use serde_json::Value;
use std::error::Error;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin};
use tokio::sync::watch;
use tokio::time::{timeout, Instant};

/// How long the script may take to print its summary and exit once told to stop.
const STOP_WAIT: Duration = Duration::from_secs(20);
/// Page errors kept for the report.
const PAGE_ERRORS_KEPT: usize = 5;

/// Where the browser listener's pieces are.
#[derive(Debug, Clone)]
pub struct Settings {
    pub node: String,
    pub script: PathBuf,
    /// Holds `node_modules/playwright-core` (`scripts/bundle-web` installs it).
    pub web_dir: PathBuf,
    pub chromium: String,
}

/// One moment on two clocks, to turn the browser's epoch milliseconds
/// (`performance.timeOrigin + performance.now()`, the same machine's wall
/// clock) into this process's [`Instant`]s.
#[derive(Debug, Clone, Copy)]
pub struct WallClock {
    instant: Instant,
    epoch_ms: f64,
}

impl WallClock {
    pub fn now() -> Self {
        let epoch_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |since| since.as_secs_f64() * 1000.0);
        Self {
            instant: Instant::now(),
            epoch_ms,
        }
    }

    pub fn instant_at(&self, epoch_ms: f64) -> Instant {
        let offset = Duration::from_secs_f64((epoch_ms - self.epoch_ms).abs() / 1000.0);
        if epoch_ms >= self.epoch_ms {
            self.instant + offset
        } else {
            self.instant.checked_sub(offset).unwrap_or(self.instant)
        }
    }
}

/// What the script reported so far.
#[derive(Debug, Default)]
pub struct Hearing {
    /// Browser and player facts from its "ready" line.
    pub ready: Option<Value>,
    pub joined: Option<Instant>,
    pub playing: Option<Instant>,
    /// (media time s, when it reached the Web Audio graph), in order heard.
    pub onsets: Vec<(f64, Instant)>,
    /// `waiting` events after playback began: the element ran dry.
    pub waiting: u64,
    /// Time between those and the next `playing`, summed.
    pub stalled_ms: f64,
    pub page_errors: Vec<String>,
    pub page_error_count: u64,
    pub summary: Option<Value>,
    pub failure: Option<String>,
    /// Lines that were not JSON the script should print.
    pub garbled_lines: u64,
}

impl Hearing {
    fn take_line(&mut self, line: &str, clock: &WallClock) {
        let Ok(message) = serde_json::from_str::<Value>(line) else {
            self.garbled_lines += 1;
            return;
        };
        let at = || {
            message
                .get("epoch_ms")
                .and_then(Value::as_f64)
                .map(|epoch_ms| clock.instant_at(epoch_ms))
        };
        match message.get("event").and_then(Value::as_str) {
            Some("onset") => match (message.get("media_s").and_then(Value::as_f64), at()) {
                (Some(media_s), Some(heard)) => self.onsets.push((media_s, heard)),
                _ => self.garbled_lines += 1,
            },
            Some("ready") => self.ready = Some(message),
            Some("joined") => self.joined = at(),
            Some("playing") => self.playing = self.playing.or(at()),
            Some("waiting") => self.waiting += 1,
            Some("resumed") => {
                self.stalled_ms += message
                    .get("stalled_ms")
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0);
            }
            Some("page-error") => {
                self.page_error_count += 1;
                if self.page_errors.len() < PAGE_ERRORS_KEPT {
                    let text = message.get("message").and_then(Value::as_str);
                    self.page_errors.push(text.unwrap_or_default().to_owned());
                }
            }
            Some("summary") => self.summary = Some(message),
            Some("failed") => {
                let text = message.get("message").and_then(Value::as_str);
                self.failure = Some(text.unwrap_or("failed").to_owned());
            }
            _ => self.garbled_lines += 1,
        }
    }

    fn ready_text(&self, name: &str) -> Option<String> {
        let value = self.ready.as_ref()?.get(name)?;
        Some(match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        })
    }

    fn summary_text(&self, name: &str) -> Option<String> {
        let value = self.summary.as_ref()?.get(name)?;
        Some(match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        })
    }
}

/// The running script.
pub struct BrowserEar {
    child: Child,
    stdin: Option<ChildStdin>,
    pub hearing: Arc<Mutex<Hearing>>,
    playing: watch::Receiver<bool>,
    reading: tokio::task::JoinHandle<()>,
}

impl BrowserEar {
    /// Starts the script: it opens `{edge_url}/listen.html` and joins `vibe`
    /// with `token` (a participant token, without "Bearer ").
    pub fn start(
        settings: &Settings,
        edge_url: &str,
        vibe: &str,
        token: &str,
        deadline: Duration,
    ) -> Result<Self, Box<dyn Error>> {
        let mut child = tokio::process::Command::new(&settings.node)
            .arg(&settings.script)
            .env("EAR_BASE_URL", edge_url)
            .env("EAR_VIBE", vibe)
            .env("EAR_TOKEN", token)
            .env("EAR_WEB_DIR", &settings.web_dir)
            .env("EAR_CHROMIUM", &settings.chromium)
            .env("EAR_DEADLINE_S", deadline.as_secs().max(1).to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| format!("{} {}: {error}", settings.node, settings.script.display()))?;
        let stdout = child.stdout.take().ok_or("the script's stdout")?;
        let stdin = child.stdin.take();
        let hearing = Arc::new(Mutex::new(Hearing::default()));
        let (playing_tx, playing) = watch::channel(false);
        let clock = WallClock::now();
        let reading = tokio::spawn({
            let hearing = hearing.clone();
            async move {
                let mut lines = BufReader::new(stdout).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let mut hearing = hearing.lock().expect("hearing");
                    hearing.take_line(&line, &clock);
                    if hearing.playing.is_some() || hearing.failure.is_some() {
                        playing_tx.send_replace(true);
                    }
                }
                // The script ended: nobody waits for playback any longer.
                playing_tx.send_replace(true);
            }
        });
        Ok(Self {
            child,
            stdin,
            hearing,
            playing,
            reading,
        })
    }

    /// Waits up to `limit` for the page to play; the reason if it does not.
    pub async fn wait_playing(&mut self, limit: Duration) -> Result<(), String> {
        let waited = timeout(limit, self.playing.wait_for(|playing| *playing)).await;
        let hearing = self.hearing.lock().expect("hearing");
        if hearing.playing.is_some() {
            return Ok(());
        }
        if let Some(failure) = &hearing.failure {
            return Err(format!(
                "the browser script failed: {}",
                first_line(failure)
            ));
        }
        if waited.is_err() {
            return Err(format!(
                "the page did not play within {} s (page errors: {})",
                limit.as_secs(),
                hearing.page_errors.join(" | ")
            ));
        }
        Err("the browser script ended before the page played".to_owned())
    }

    pub fn onsets_heard(&self) -> usize {
        self.hearing.lock().expect("hearing").onsets.len()
    }

    /// Tells the script to stop, waits for its summary, and ends it.
    pub async fn stop(mut self) -> Arc<Mutex<Hearing>> {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(b"stop\n").await;
            drop(stdin);
        }
        if timeout(STOP_WAIT, self.child.wait()).await.is_err() {
            let _ = self.child.kill().await;
        }
        let _ = timeout(Duration::from_secs(2), &mut self.reading).await;
        self.hearing
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// The browser row of the `hls` report.
#[derive(Debug, Serialize)]
pub struct BrowserReport {
    pub path: String,
    /// Why there are no numbers, when there are none.
    pub not_measured: Option<String>,
    pub clicks_sent: u64,
    pub clicks_heard: u64,
    /// Heard before it was sent, or never sent: numbering went wrong.
    pub clicks_mismatched: u64,
    pub clicks_within_goal: u64,
    /// Onsets heard before the first click was handed over (left out).
    pub onsets_before_the_track: u64,
    /// POST → heard in the page's Web Audio graph.
    pub latency: Option<Percentiles>,
    /// Join clicked → the `<audio>` element's time advancing.
    pub join_to_playing_ms: Option<f64>,
    pub waiting_events: u64,
    pub stalled_ms: f64,
    pub page_errors: u64,
    pub page_error_examples: Vec<String>,
    pub transport_shown: Option<String>,
    /// The page's own "Delay behind live" (hls.js's estimate) at the end.
    pub delay_shown: Option<String>,
    pub hls_config: Option<String>,
    pub hls_js_version: Option<String>,
    pub user_agent: Option<String>,
    pub audio_sample_rate: Option<String>,
}

impl BrowserReport {
    pub fn not_measured(path: String, hand_overs: &HandOvers, why: String) -> Self {
        Self::of(
            path,
            &Hearing::default(),
            hand_overs,
            Some(why),
            Duration::ZERO,
        )
    }

    pub fn of(
        path: String,
        hearing: &Hearing,
        hand_overs: &HandOvers,
        not_measured: Option<String>,
        goal: Duration,
    ) -> Self {
        let track = *hand_overs.track();
        let first_sent = hand_overs.of(0);
        let (numbered, before) = number_clicks(&track, &hearing.onsets, first_sent);
        let mut latencies = Vec::new();
        let mut mismatched = 0;
        for (click, heard) in &numbered {
            match hand_overs.of(*click) {
                Some(sent) if *heard >= sent => latencies.push(*heard - sent),
                _ => mismatched += 1,
            }
        }
        let not_measured = not_measured.or_else(|| {
            hearing
                .failure
                .as_ref()
                .map(|failure| format!("the browser script failed: {}", first_line(failure)))
        });
        Self {
            path,
            not_measured,
            clicks_sent: hand_overs.sent(),
            clicks_heard: numbered.len() as u64,
            clicks_mismatched: mismatched,
            clicks_within_goal: latencies.iter().filter(|latency| **latency <= goal).count() as u64,
            onsets_before_the_track: before,
            latency: (!latencies.is_empty()).then(|| Percentiles::of(latencies)),
            join_to_playing_ms: hearing
                .joined
                .zip(hearing.playing)
                .map(|(joined, playing)| {
                    playing.saturating_duration_since(joined).as_secs_f64() * 1e3
                }),
            waiting_events: hearing.waiting,
            stalled_ms: hearing.stalled_ms,
            page_errors: hearing.page_error_count,
            page_error_examples: hearing.page_errors.clone(),
            transport_shown: hearing.summary_text("transport"),
            delay_shown: hearing.summary_text("delay_shown"),
            hls_config: hearing.ready_text("hls_config"),
            hls_js_version: hearing.ready_text("hls_js_version"),
            user_agent: hearing.ready_text("user_agent"),
            audio_sample_rate: hearing.ready_text("sample_rate"),
        }
    }

    pub fn p50_ms(&self) -> Option<f64> {
        self.latency.as_ref().map(|latency| latency.p50_ms)
    }

    /// `liveSyncDurationCount` from the player's settings (hls.js's default is 3).
    pub fn live_sync_duration_count(&self) -> f64 {
        self.hls_config
            .as_deref()
            .and_then(|config| {
                let (_, after) = config.split_once("liveSyncDurationCount:")?;
                let number: String = after
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.')
                    .collect();
                number.parse().ok()
            })
            .unwrap_or(3.0)
    }
}

/// Numbers heard onsets as clicks by their distance in media time (a missed
/// click or a skip in playback does not shift the rest); onsets heard before
/// the first click was even handed over are left out. Returns (click, heard)
/// and how many were left out.
fn number_clicks(
    track: &ClickTrack,
    onsets: &[(f64, Instant)],
    first_sent: Option<Instant>,
) -> (Vec<(u64, Instant)>, u64) {
    let Some(first_sent) = first_sent else {
        return (Vec::new(), onsets.len() as u64);
    };
    let mut matcher = ClickMatcher::new(track);
    let mut numbered = Vec::new();
    let mut before = 0;
    for (media_s, heard) in onsets {
        if *heard < first_sent {
            before += 1;
            continue;
        }
        let position = click::frames(Duration::from_secs_f64(media_s.max(0.0)));
        numbered.push((matcher.index_of(position), *heard));
    }
    (numbered, before)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::click::{PHASE, SPACING};

    #[test]
    fn epoch_milliseconds_become_instants_either_side_of_the_reference() {
        let clock = WallClock::now();
        let later = clock.instant_at(clock.epoch_ms + 1500.0);
        assert_eq!(later - clock.instant, Duration::from_millis(1500));
        let earlier = clock.instant_at(clock.epoch_ms - 250.0);
        assert_eq!(clock.instant - earlier, Duration::from_millis(250));
    }

    #[test]
    fn the_scripts_lines_fill_the_hearing() {
        let clock = WallClock::now();
        let mut hearing = Hearing::default();
        let at = |ms: f64| clock.epoch_ms + ms;
        for line in [
            r#"{"event":"ready","hls_config":"{ liveSyncDurationCount: 2 }","sample_rate":44100}"#
                .to_owned(),
            format!(r#"{{"event":"joined","epoch_ms":{}}}"#, at(0.0)),
            format!(
                r#"{{"event":"playing","epoch_ms":{},"media_s":1.0}}"#,
                at(900.0)
            ),
            format!(
                r#"{{"event":"onset","epoch_ms":{},"media_s":4.1}}"#,
                at(5000.0)
            ),
            format!(
                r#"{{"event":"waiting","epoch_ms":{},"media_s":5.0}}"#,
                at(6000.0)
            ),
            format!(
                r#"{{"event":"resumed","epoch_ms":{},"stalled_ms":412.5}}"#,
                at(6412.5)
            ),
            r#"{"event":"page-error","message":"boom"}"#.to_owned(),
            "not json".to_owned(),
            r#"{"event":"summary","transport":"HLS (hls.js)","delay_shown":"4.1 s"}"#.to_owned(),
        ] {
            hearing.take_line(&line, &clock);
        }
        assert_eq!(hearing.onsets.len(), 1);
        assert_eq!(hearing.onsets[0].0, 4.1);
        assert_eq!(
            hearing.playing.unwrap() - hearing.joined.unwrap(),
            Duration::from_millis(900)
        );
        assert_eq!(hearing.waiting, 1);
        assert_eq!(hearing.stalled_ms, 412.5);
        assert_eq!(hearing.page_errors, vec!["boom".to_owned()]);
        assert_eq!(hearing.garbled_lines, 1);
        assert_eq!(
            hearing.summary_text("delay_shown").as_deref(),
            Some("4.1 s")
        );
        assert_eq!(hearing.ready_text("sample_rate").as_deref(), Some("44100"));
    }

    #[test]
    fn clicks_are_numbered_by_media_time_and_timed_from_their_hand_over() {
        let track = ClickTrack::new(PHASE, SPACING, 10);
        let hand_overs = HandOvers::new(track);
        let posted = Instant::now();
        hand_overs.record(0, click::frames(Duration::from_secs(2)), posted);
        let mut hearing = Hearing::default();
        // A glitch before the track, then clicks 0, 1 and 4 (2 and 3 were
        // skipped), media time 7.3 s for click 0, heard 5 s after each was sent.
        hearing
            .onsets
            .push((3.0, posted - Duration::from_millis(10)));
        for (click, media_s) in [(0u64, 7.3), (1, 7.5), (4, 8.1)] {
            let sent = hand_overs.of(click).unwrap();
            hearing
                .onsets
                .push((media_s, sent + Duration::from_secs(5)));
        }
        hearing.ready = Some(serde_json::json!({
            "hls_config": "{\n  liveSyncDurationCount: 2,\n  enableWorker: true,\n}"
        }));
        let report = BrowserReport::of(
            "browser".to_owned(),
            &hearing,
            &hand_overs,
            None,
            Duration::from_secs(6),
        );
        assert_eq!(report.onsets_before_the_track, 1);
        assert_eq!(report.clicks_heard, 3);
        assert_eq!(report.clicks_mismatched, 0);
        assert_eq!(report.clicks_within_goal, 3);
        let latency = report.latency.as_ref().unwrap();
        assert!((latency.p50_ms - 5000.0).abs() < 1.0, "{latency:?}");
        assert!((latency.max_ms - 5000.0).abs() < 1.0, "{latency:?}");
        assert_eq!(report.live_sync_duration_count(), 2.0);
        assert!(report.not_measured.is_none());
    }

    #[test]
    fn a_report_without_a_browser_says_why() {
        let hand_overs = HandOvers::new(ClickTrack::new(PHASE, SPACING, 3));
        let report = BrowserReport::not_measured(
            "browser".to_owned(),
            &hand_overs,
            "no chromium".to_owned(),
        );
        assert_eq!(report.not_measured.as_deref(), Some("no chromium"));
        assert!(report.latency.is_none());
        assert_eq!(report.live_sync_duration_count(), 3.0);
    }
}
