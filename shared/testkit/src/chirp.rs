//! Audio that says where in the stream it is: a slow chirp whose frequency
//! is 200 Hz + 100 Hz per second of stream, so each 50 ms of decoded audio
//! tells which moment of what the creator sent it carries (to ~10 ms, AAC
//! and all). Tests measure gaps, repeats and latency with it.

use std::path::Path;
use std::process::Command;
use vibes_domain::audio::{BYTES_PER_SECOND, SAMPLE_RATE_HZ};

const START_HZ: f64 = 200.0;
const HZ_PER_SECOND: f64 = 100.0;
const WINDOW_SAMPLES: usize = 2_400;
/// The length of audio each measured moment stands for.
pub const WINDOW_SECONDS: f64 = 0.05;

/// `seconds` of the chirp from second `start` on (phase-continuous across
/// calls), s16le stereo 48 kHz, the format creators send.
pub fn chirp_pcm(start: usize, seconds: usize) -> Vec<u8> {
    let rate = f64::from(SAMPLE_RATE_HZ);
    let mut pcm = Vec::with_capacity(seconds * BYTES_PER_SECOND);
    for frame in start * SAMPLE_RATE_HZ as usize..(start + seconds) * SAMPLE_RATE_HZ as usize {
        let t = frame as f64 / rate;
        let phase = 2.0 * std::f64::consts::PI * (START_HZ * t + HZ_PER_SECOND * t * t / 2.0);
        let sample = (phase.sin() * 0.4 * f64::from(i16::MAX)) as i16;
        pcm.extend_from_slice(&sample.to_le_bytes());
        pcm.extend_from_slice(&sample.to_le_bytes());
    }
    pcm
}

/// The stream moment (seconds of chirp) at the start of each 50 ms of the
/// decoded media file that carries the chirp, in playing order.
pub fn stream_moments(media: &Path) -> Vec<f64> {
    let decoded = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(media)
        .args(["-vn", "-f", "s16le", "-ac", "1", "-ar", "48000", "-"])
        .output()
        .expect("ffmpeg runs");
    let samples: Vec<f64> = decoded
        .stdout
        .chunks_exact(2)
        .map(|pair| f64::from(i16::from_le_bytes([pair[0], pair[1]])))
        .collect();
    let moments: Vec<f64> = samples
        .chunks_exact(WINDOW_SAMPLES)
        .filter_map(window_frequency)
        // The frequency a window measures is its middle's.
        .map(|hz| (hz - START_HZ) / HZ_PER_SECOND - WINDOW_SECONDS / 2.0)
        .collect();
    // A window cut by the start or end of a file (or an encoder's first
    // frame) measures nonsense; a real one continues a neighbour.
    let continues = |a: f64, b: f64| ((b - a) - WINDOW_SECONDS).abs() < 0.02;
    (0..moments.len())
        .filter(|&i| {
            (i > 0 && continues(moments[i - 1], moments[i]))
                || (i + 1 < moments.len() && continues(moments[i], moments[i + 1]))
        })
        .map(|i| moments[i])
        .collect()
}

/// Frequency of a tone from its rising zero crossings, interpolated between
/// samples; `None` for silence or too few crossings.
fn window_frequency(window: &[f64]) -> Option<f64> {
    let rms = (window.iter().map(|x| x * x).sum::<f64>() / window.len() as f64).sqrt();
    if rms < 2_000.0 {
        return None;
    }
    let crossings: Vec<f64> = window
        .windows(2)
        .enumerate()
        .filter(|(_, pair)| pair[0] < 0.0 && pair[1] >= 0.0)
        .map(|(index, pair)| index as f64 + pair[0] / (pair[0] - pair[1]))
        .collect();
    if crossings.len() < 4 {
        return None;
    }
    let span = crossings[crossings.len() - 1] - crossings[0];
    Some((crossings.len() - 1) as f64 * f64::from(SAMPLE_RATE_HZ) / span)
}
