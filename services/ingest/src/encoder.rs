//! The ffmpeg child that turns one stream's PCM into AAC and publishes it over
//! RTMP. This module owns the process: spawn, feed, stop, kill.

use crate::configuration::EncoderSettings;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use vibes_domain::audio::{CHANNELS, FFMPEG_SAMPLE_FORMAT, SAMPLE_RATE_HZ};
use vibes_domain::VibeId;

pub struct Encoder {
    child: Child,
    stdin: ChildStdin,
}

impl Encoder {
    pub fn spawn(settings: &EncoderSettings, vibe: &VibeId) -> std::io::Result<Self> {
        let destination = format!("{}/{vibe}", settings.rtmp_base_url.trim_end_matches('/'));
        let mut child = Command::new(&settings.ffmpeg)
            .args(ffmpeg_arguments(&settings.aac_bitrate, &destination))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child.stdin.take().expect("stdin is piped");
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(fold_into_log(vibe.clone(), stderr));
        }
        tracing::info!(vibe_id = %vibe, pid = child.id(), %destination, "encoder started");
        Ok(Self { child, stdin })
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
        match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(status) => status,
            Err(_) => {
                self.child.kill().await?;
                self.child.wait().await
            }
        }
    }

    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Raw s16le stereo 48 kHz on stdin → AAC-LC 128 kb/s 48 kHz stereo in FLV over RTMP.
/// Packets are flushed as soon as they are muxed: latency matters more than
/// the few extra syscalls.
pub fn ffmpeg_arguments(bitrate: &str, destination: &str) -> Vec<String> {
    let rate = SAMPLE_RATE_HZ.to_string();
    let channels = CHANNELS.to_string();
    [
        "-hide_banner",
        "-loglevel",
        "warning",
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
        "-ac",
        &channels,
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

async fn fold_into_log(vibe: VibeId, stderr: tokio::process::ChildStderr) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::warn!(vibe_id = %vibe, ffmpeg = %line, "encoder says");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_describe_the_creator_format_and_the_aac_output() {
        let arguments = ffmpeg_arguments("128k", "rtmp://engine/live/v1").join(" ");
        assert!(
            arguments.contains("-f s16le -ar 48000 -ac 2 -i pipe:0"),
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
}
