//! The ffmpeg child that turns one stream's PCM into AAC and publishes it over
//! RTMP. This module owns the process: spawn, feed, stop, kill — and tells
//! on-call about its life: each ffmpeg process is one `encoder` span from
//! spawn to exit (a root span: a process outlives any request, and a
//! request's trace should not stay open for hours), its stderr lines are log
//! events inside that span at the level ffmpeg gave them, and every exit is
//! counted by how it ended (`vibes_ingest_encoder_exits_total{exit}`).

mod stderr;

use crate::configuration::EncoderSettings;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, ChildStdin, Command};
use tracing::{field, Instrument, Span};
use vibes_domain::api::PartHealth;
use vibes_domain::audio::{CHANNELS, FFMPEG_SAMPLE_FORMAT, SAMPLE_RATE_HZ};
use vibes_domain::VibeId;

pub struct Encoder {
    child: Child,
    stdin: ChildStdin,
    life: ProcessLife,
}

impl Encoder {
    pub fn spawn(settings: &EncoderSettings, vibe: &VibeId) -> std::io::Result<Self> {
        let destination = format!("{}/{vibe}", settings.rtmp_base_url.trim_end_matches('/'));
        let span = tracing::info_span!(
            parent: None,
            "encoder",
            vibe_id = %vibe,
            pid = field::Empty,
            exit = field::Empty,
            exit_status = field::Empty,
            lifetime_ms = field::Empty,
            otel.status_code = field::Empty,
            otel.status_description = field::Empty,
        );
        span.follows_from(Span::current());
        let spawned = Command::new(&settings.ffmpeg)
            .args(ffmpeg_arguments(&settings.aac_bitrate, &destination))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(error) => {
                metrics::counter!("vibes_ingest_encoder_start_failures_total").increment(1);
                span.record("otel.status_code", "ERROR");
                span.record(
                    "otel.status_description",
                    format!("{} could not start: {error}", settings.ffmpeg),
                );
                return Err(error);
            }
        };
        let stdin = child.stdin.take().expect("stdin is piped");
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(stderr::fold_into_log(stderr).instrument(span.clone()));
        }
        let pid = child.id();
        span.record("pid", pid);
        span.in_scope(|| tracing::info!(pid, %destination, "encoder started"));
        Ok(Self {
            child,
            stdin,
            life: ProcessLife {
                span,
                started: Instant::now(),
                ended: false,
            },
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    pub async fn write(&mut self, pcm: &[u8]) -> std::io::Result<()> {
        self.stdin.write_all(pcm).await
    }

    /// Closes stdin so ffmpeg encodes what it has, sends it, and exits.
    /// Kills it if it has not exited within `grace`.
    pub async fn finish(mut self, grace: Duration) -> std::io::Result<ExitStatus> {
        self.stdin.shutdown().await.ok();
        drop(self.stdin);
        let status = match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(status) => status?,
            Err(_) => {
                self.child.kill().await?;
                let status = self.child.wait().await?;
                self.life.end(Exit::TimedOut, Some(status));
                return Ok(status);
            }
        };
        let exit = match status.success() {
            true => Exit::Finished,
            false => Exit::Failed,
        };
        self.life.end(exit, Some(status));
        Ok(status)
    }

    /// For an encoder that failed (a write to it broke): ends it for good.
    /// ffmpeg has usually exited by itself already, and its status says
    /// how; otherwise it is killed.
    pub async fn kill(mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            self.life.end(Exit::Failed, Some(status));
            return;
        }
        let _ = self.child.kill().await;
        let status = self.child.wait().await.ok();
        self.life.end(Exit::Killed, status);
    }
}

/// How an ffmpeg process ended.
#[derive(Debug, Clone, Copy)]
enum Exit {
    /// It exited with status 0 after its input was closed.
    Finished,
    /// It exited by itself while still being fed, or with an error status.
    Failed,
    /// It did not exit within the grace time after its input was closed.
    TimedOut,
    /// It still ran when it was given up on, and was killed.
    Killed,
    /// Its owner dropped it without finishing or killing it.
    Dropped,
}

impl Exit {
    fn label(self) -> &'static str {
        match self {
            Self::Finished => "finished",
            Self::Failed => "failed",
            Self::TimedOut => "timed_out",
            Self::Killed => "killed",
            Self::Dropped => "dropped",
        }
    }
}

/// The span of one ffmpeg process; records how the process ended, once.
struct ProcessLife {
    span: Span,
    started: Instant,
    ended: bool,
}

impl ProcessLife {
    fn end(&mut self, exit: Exit, status: Option<ExitStatus>) {
        self.ended = true;
        metrics::counter!("vibes_ingest_encoder_exits_total", "exit" => exit.label()).increment(1);
        let lifetime_ms = self.started.elapsed().as_millis() as u64;
        let status = status.map_or_else(|| "unknown".to_owned(), |status| status.to_string());
        let span = &self.span;
        span.record("exit", exit.label());
        span.record("exit_status", status.as_str());
        span.record("lifetime_ms", lifetime_ms);
        let _entered = span.enter();
        match exit {
            Exit::Finished => {
                tracing::info!(exit = exit.label(), %status, lifetime_ms, "encoder exited")
            }
            _ => {
                span.record("otel.status_code", "ERROR");
                span.record(
                    "otel.status_description",
                    format!("ffmpeg {}: {status}", exit.label()),
                );
                tracing::warn!(exit = exit.label(), %status, lifetime_ms, "encoder exited")
            }
        }
    }
}

impl Drop for ProcessLife {
    fn drop(&mut self) {
        if !self.ended {
            self.end(Exit::Dropped, None);
        }
    }
}

/// ffmpeg's name for the creators' channel layout.
const INPUT_LAYOUT: &str = "stereo";
const _: () = assert!(CHANNELS == 2, "INPUT_LAYOUT names a stereo layout");

/// Raw s16le stereo 48 kHz on stdin → AAC-LC 128 kb/s 48 kHz stereo in FLV over RTMP.
/// Packets are flushed as soon as they are muxed: latency matters more than
/// the few extra syscalls.
pub fn ffmpeg_arguments(bitrate: &str, destination: &str) -> Vec<String> {
    let rate = SAMPLE_RATE_HZ.to_string();
    let channels = CHANNELS.to_string();
    [
        "-hide_banner",
        // Levels on every line, so they map onto ours (see `stderr`).
        "-loglevel",
        stderr::LOGLEVEL,
        "-nostats",
        // The input format is known: do not read ahead to analyse it, which
        // at real-time pace would delay the first packet by about a second.
        "-probesize",
        "32",
        "-analyzeduration",
        "0",
        "-fflags",
        "nobuffer",
        "-f",
        FFMPEG_SAMPLE_FORMAT,
        "-ar",
        &rate,
        // Naming the layout (not just 2 channels) spares a warning per start.
        "-ch_layout",
        INPUT_LAYOUT,
        "-i",
        "pipe:0",
        "-c:a",
        "aac",
        "-profile:a",
        "aac_low",
        "-b:a",
        bitrate,
        "-ar",
        &rate,
        "-ac",
        &channels,
        "-flush_packets",
        "1",
        "-f",
        "flv",
        destination,
    ]
    .iter()
    .map(|argument| argument.to_string())
    .collect()
}

/// Whether the configured ffmpeg runs at all (part of readiness); checked
/// once at start.
pub struct EncoderCheck(PartHealth);

impl EncoderCheck {
    pub async fn run(settings: &EncoderSettings) -> Self {
        let outcome = Command::new(&settings.ffmpeg)
            .arg("-version")
            .output()
            .await;
        Self(match outcome {
            Ok(output) if output.status.success() => PartHealth::up(),
            Ok(output) => PartHealth::down(format!(
                "{} -version exited with {}",
                settings.ffmpeg, output.status
            )),
            Err(error) => PartHealth::down(format!("{} cannot run: {error}", settings.ffmpeg)),
        })
    }

    pub fn health(&self) -> PartHealth {
        self.0.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_describe_the_creator_format_and_the_aac_output() {
        let arguments = ffmpeg_arguments("128k", "rtmp://engine/live/v1").join(" ");
        assert!(
            arguments.contains("-f s16le -ar 48000 -ch_layout stereo -i pipe:0"),
            "{arguments}"
        );
        assert!(
            arguments.contains("-probesize 32 -analyzeduration 0"),
            "{arguments}"
        );
        assert!(
            arguments.contains("-c:a aac -profile:a aac_low -b:a 128k"),
            "{arguments}"
        );
        assert!(
            arguments.ends_with("-f flv rtmp://engine/live/v1"),
            "{arguments}"
        );
    }

    fn settings(rtmp_base_url: String) -> EncoderSettings {
        EncoderSettings {
            ffmpeg: "ffmpeg".to_owned(),
            rtmp_base_url,
            aac_bitrate: "128k".to_owned(),
            restart_backoff: vec![Duration::from_millis(100)],
        }
    }

    /// Starts an encoder for `vibe` with the process's logs and spans captured.
    fn start(settings: &EncoderSettings, vibe: &str) -> (VibeId, Encoder) {
        vibes_telemetry::captured();
        let vibe = VibeId::parse(vibe).unwrap();
        let encoder = Encoder::spawn(settings, &vibe).unwrap();
        (vibe, encoder)
    }

    /// The log lines and the `encoder` span of `vibe`'s ffmpeg, once it ended
    /// (after closing its stderr too).
    async fn observed(vibe: &VibeId) -> (Vec<serde_json::Value>, vibes_telemetry::CapturedSpan) {
        let (logs, spans) = vibes_telemetry::captured();
        let deadline = Instant::now() + Duration::from_secs(10);
        let span = loop {
            let ended = spans
                .named("encoder")
                .into_iter()
                .find(|span| span.attribute("vibe_id") == Some(vibe.as_str()));
            if let Some(span) = ended {
                break span;
            }
            assert!(Instant::now() < deadline, "the encoder span never ended");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let lines = logs
            .lines()
            .into_iter()
            .filter(|line| line["span"]["vibe_id"] == vibe.as_str())
            .collect();
        (lines, span)
    }

    #[tokio::test]
    async fn an_encoder_that_cannot_reach_the_engine_fails_and_its_errors_are_logged_in_its_span() {
        let unreachable = vibes_testkit::free_port();
        let settings = settings(format!("rtmp://127.0.0.1:{unreachable}/live"));
        let (vibe, mut encoder) = start(&settings, "encoder-unreachable");
        let deadline = Instant::now() + Duration::from_secs(10);
        // ffmpeg gives up on the connection and exits; writes then break.
        while encoder.write(&[0; 19_200]).await.is_ok() {
            assert!(Instant::now() < deadline, "ffmpeg kept running");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        encoder.kill().await;
        let (logs, span) = observed(&vibe).await;

        assert_eq!(span.attribute("exit"), Some("failed"));
        assert_eq!(span.parent_span_id, "0000000000000000", "a root span");
        assert!(span.error.is_some(), "{span:?}");
        let refused = logs
            .iter()
            .find(|line| {
                line["fields"]["message"]
                    .as_str()
                    .is_some_and(|text| text.contains("Connection refused"))
            })
            .expect("ffmpeg's connection error is in the log");
        assert_eq!(refused["level"], "ERROR", "{refused}");
        assert_eq!(refused["fields"]["origin"], "ffmpeg");
        assert_eq!(refused["trace_id"], span.trace_id.as_str());
        assert_eq!(refused["span_id"], span.span_id.as_str());
        assert!(
            span.events
                .iter()
                .any(|(name, _)| name.contains("Connection refused")),
            "the error is an event of the encoder span: {:?}",
            span.events
        );
    }

    #[tokio::test]
    async fn an_encoder_whose_input_ends_finishes_and_ffmpegs_chatter_stays_at_debug() {
        let output = tempfile::tempdir().unwrap();
        let settings = settings(format!("file:{}", output.path().display()));
        let (vibe, mut encoder) = start(&settings, "encoder-finishing");
        encoder.write(&[0; 96_000]).await.unwrap();
        let status = encoder.finish(Duration::from_secs(10)).await.unwrap();
        assert!(status.success());
        let (logs, span) = observed(&vibe).await;

        assert_eq!(span.attribute("exit"), Some("finished"));
        assert_eq!(span.error, None);
        let from_ffmpeg: Vec<_> = logs
            .iter()
            .filter(|line| line["fields"]["origin"] == "ffmpeg")
            .collect();
        assert!(
            from_ffmpeg
                .iter()
                .any(|line| line["level"] == "DEBUG"
                    && line["fields"]["message"] == "Stream mapping:"),
            "{from_ffmpeg:?}"
        );
        assert!(
            from_ffmpeg.iter().all(|line| line["level"] == "DEBUG"),
            "a clean run warns about nothing: {from_ffmpeg:?}"
        );
    }
}
