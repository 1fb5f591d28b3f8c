use std::path::Path;
use std::process::Command;
use vibes_domain::audio::{BYTES_PER_SECOND, SAMPLE_RATE_HZ};

/// `seconds` of a 440 Hz sine, s16le stereo 48 kHz, the format creators send.
pub fn sine_pcm(seconds: f64) -> Vec<u8> {
    let frames = (seconds * f64::from(SAMPLE_RATE_HZ)) as usize;
    let mut pcm = Vec::with_capacity(frames * 4);
    for frame in 0..frames {
        let phase = 2.0 * std::f64::consts::PI * 440.0 * frame as f64 / f64::from(SAMPLE_RATE_HZ);
        let sample = ((phase.sin() * 0.4) * f64::from(i16::MAX)) as i16;
        pcm.extend_from_slice(&sample.to_le_bytes());
        pcm.extend_from_slice(&sample.to_le_bytes());
    }
    pcm
}

/// What ffprobe says about the first audio stream of a media file.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbedAudio {
    pub codec: String,
    pub profile: String,
    pub sample_rate_hz: u32,
    pub channels: u32,
    /// Seconds of audio that decode without error (ffmpeg decodes the whole file).
    pub decoded_seconds: f64,
}

pub fn probe_audio(path: &Path) -> ProbedAudio {
    let output = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "a:0",
            "-show_streams",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    assert!(
        output.status.success(),
        "ffprobe failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("ffprobe JSON");
    let stream = &json["streams"][0];
    let text = |key: &str| stream[key].as_str().unwrap_or_default().to_owned();
    ProbedAudio {
        codec: text("codec_name"),
        profile: text("profile"),
        sample_rate_hz: text("sample_rate").parse().unwrap_or(0),
        channels: stream["channels"].as_u64().unwrap_or(0) as u32,
        decoded_seconds: decoded_seconds(path),
    }
}

/// Decodes the file to raw PCM and measures it: the honest duration of a live
/// capture, whose container carries no duration.
fn decoded_seconds(path: &Path) -> f64 {
    let output = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-vn", "-f", "s16le", "-ac", "2", "-ar", "48000", "-"])
        .output()
        .expect("ffmpeg runs");
    output.stdout.len() as f64 / BYTES_PER_SECOND as f64
}
