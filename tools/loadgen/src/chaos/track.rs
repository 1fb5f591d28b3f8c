//! A click track whose clicks say which they are.
//!
//! The latency scenario numbers clicks by their distance from the previous
//! one, which needs one unbroken stream of audio. Under faults a listener
//! reconnects, the engine restarts, another pod republishes: distances
//! across those breaks mean nothing. So each click here is a 30 ms chord of
//! two tones (one of 8 low, one of 16 high frequencies: 128 symbols, like a
//! telephone's DTMF), and click `i` carries symbol `i mod 128`. A listener
//! hearing symbol `s` at time `t` heard the latest click `i ≡ s (mod 128)`
//! that was handed over before `t` (see `analysis::Handovers::identify`);
//! 128 clicks span 25.6 s, far more than any latency the stack may add.

use std::time::Duration;

pub const FRAMES_PER_SECOND: u64 = 48_000;
/// A creator's chunk, as Lyria sends them.
pub const CHUNK: Duration = Duration::from_secs(2);
pub const SPACING: Duration = Duration::from_millis(200);
/// The first click of a chunk, after its start. Clicks never straddle a
/// chunk's end, where ingest may insert silence for a late chunk.
const PHASE: Duration = Duration::from_millis(100);
pub const CLICKS_PER_CHUNK: u64 = 10;
pub const SYMBOLS: u64 = 128;
const LOW_HZ: [f64; 8] = [700.0, 900.0, 1100.0, 1300.0, 1500.0, 1700.0, 1900.0, 2100.0];
const HIGH_BASE_HZ: f64 = 2500.0;
const HIGH_STEP_HZ: f64 = 200.0;
const HIGHS: u64 = 16;
/// 30 ms of chord, with 1 ms ramps so the encoder sees no hard edge.
const TONE_FRAMES: usize = 1440;
const RAMP_FRAMES: usize = 48;
/// Per tone: the chord peaks at half scale.
const AMPLITUDE: f64 = 0.25;
/// A decoded sample louder than this starts a click (AAC decodes digital
/// silence to near zeros).
const THRESHOLD: f32 = 0.05;
/// The symbol is read from 20 ms starting 5 ms after the onset: clear of
/// the ramp and of any pre-echo the encoder smears before it.
const SKIP: usize = 240;
const WINDOW: usize = 960;
/// After an onset, this much audio belongs to the same click.
const REFRACTORY: u64 = 4_800;

const BYTES_PER_FRAME: usize = 4;

const _: () = assert!(LOW_HZ.len() as u64 * HIGHS == SYMBOLS);
const _: () = assert!(SKIP + WINDOW < TONE_FRAMES);

fn frames_of(duration: Duration) -> usize {
    (duration.as_millis() as u64 * FRAMES_PER_SECOND / 1000) as usize
}

/// Where click `k` (0–9) of a chunk lies after the chunk's start.
pub fn click_offset(k: u64) -> Duration {
    PHASE + SPACING * k as u32
}

fn tones(symbol: u64) -> (f64, f64) {
    let low = LOW_HZ[(symbol % LOW_HZ.len() as u64) as usize];
    let high = HIGH_BASE_HZ + HIGH_STEP_HZ * (symbol / LOW_HZ.len() as u64 % HIGHS) as f64;
    (low, high)
}

/// Chunk `seq` as s16le stereo PCM: clicks `10·seq … 10·seq + 9` in silence.
pub fn render_chunk(seq: u64) -> Vec<u8> {
    let mut pcm = vec![0u8; frames_of(CHUNK) * BYTES_PER_FRAME];
    for k in 0..CLICKS_PER_CHUNK {
        let (low, high) = tones((seq * CLICKS_PER_CHUNK + k) % SYMBOLS);
        let start = frames_of(click_offset(k));
        for n in 0..TONE_FRAMES {
            let t = n as f64 / FRAMES_PER_SECOND as f64;
            let ramp = (n.min(TONE_FRAMES - 1 - n) as f64 / RAMP_FRAMES as f64).min(1.0);
            let value = AMPLITUDE
                * ramp
                * ((std::f64::consts::TAU * low * t).sin()
                    + (std::f64::consts::TAU * high * t).sin());
            let sample = (value * f64::from(i16::MAX)) as i16;
            let at = (start + n) * BYTES_PER_FRAME;
            pcm[at..at + 2].copy_from_slice(&sample.to_le_bytes());
            pcm[at + 2..at + 4].copy_from_slice(&sample.to_le_bytes());
        }
    }
    pcm
}

/// Reads the symbols of the clicks in decoded audio, fed in pieces.
#[derive(Default)]
pub struct SymbolEar {
    position: u64,
    quiet_until: u64,
    capture: Option<Vec<f32>>,
}

impl SymbolEar {
    /// Interleaved samples of `channels` channels; the symbols completed in them.
    pub fn feed(&mut self, samples: &[f32], channels: usize) -> Vec<u64> {
        let mut symbols = Vec::new();
        for frame in samples.chunks(channels.max(1)) {
            let value = frame[0];
            match &mut self.capture {
                Some(capture) => {
                    capture.push(value);
                    if capture.len() == SKIP + WINDOW {
                        symbols.push(read_symbol(&capture[SKIP..]));
                        self.capture = None;
                    }
                }
                None if value.abs() > THRESHOLD && self.position >= self.quiet_until => {
                    let mut capture = Vec::with_capacity(SKIP + WINDOW);
                    capture.push(value);
                    self.capture = Some(capture);
                    self.quiet_until = self.position + REFRACTORY;
                }
                None => {}
            }
            self.position += 1;
        }
        symbols
    }

    /// The audio that follows is not continuous with what came before (a
    /// new connection, a segment skipped): a half-read click is dropped.
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

/// The strongest low and the strongest high tone of a window.
fn read_symbol(window: &[f32]) -> u64 {
    let length = window.len() as f64;
    let windowed: Vec<f64> = window
        .iter()
        .enumerate()
        .map(|(n, sample)| {
            let hann = 0.5 - 0.5 * (std::f64::consts::TAU * n as f64 / length).cos();
            f64::from(*sample) * hann
        })
        .collect();
    let strongest = |frequencies: &mut dyn Iterator<Item = f64>| {
        frequencies
            .enumerate()
            .map(|(index, hz)| (index as u64, goertzel(&windowed, hz)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map_or(0, |(index, _)| index)
    };
    let low = strongest(&mut LOW_HZ.iter().copied());
    let high = strongest(&mut (0..HIGHS).map(|k| HIGH_BASE_HZ + HIGH_STEP_HZ * k as f64));
    high * LOW_HZ.len() as u64 + low
}

/// Power of one frequency in `samples` (Goertzel).
fn goertzel(samples: &[f64], hz: f64) -> f64 {
    let coefficient = 2.0 * (std::f64::consts::TAU * hz / FRAMES_PER_SECOND as f64).cos();
    let (mut previous, mut before) = (0.0, 0.0);
    for sample in samples {
        let current = sample + coefficient * previous - before;
        before = previous;
        previous = current;
    }
    previous * previous + before * before - coefficient * previous * before
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples_of(pcm: &[u8]) -> Vec<f32> {
        pcm.chunks(2)
            .map(|pair| f32::from(i16::from_le_bytes([pair[0], pair[1]])) / 32768.0)
            .collect()
    }

    #[test]
    fn every_symbol_has_its_own_pair_of_tones() {
        let pairs: std::collections::HashSet<(u64, u64)> = (0..SYMBOLS)
            .map(|symbol| {
                let (low, high) = tones(symbol);
                (low as u64, high as u64)
            })
            .collect();
        assert_eq!(pairs.len(), SYMBOLS as usize);
        assert_eq!(tones(0), (700.0, 2500.0));
        assert_eq!(tones(127), (2100.0, 5500.0));
    }

    #[test]
    fn the_ear_reads_each_click_of_a_chunk_fed_in_pieces() {
        let mut ear = SymbolEar::default();
        let mut symbols = Vec::new();
        for seq in [0, 12, 13] {
            let samples = samples_of(&render_chunk(seq));
            for piece in samples.chunks(2 * 1024) {
                symbols.extend(ear.feed(piece, 2));
            }
        }
        let expected: Vec<u64> = [0u64, 12, 13]
            .iter()
            .flat_map(|seq| (0..10).map(move |k| (seq * 10 + k) % SYMBOLS))
            .collect();
        assert_eq!(symbols, expected);
    }

    #[test]
    fn a_click_cut_off_by_a_reset_is_not_read_and_silence_reads_nothing() {
        let mut ear = SymbolEar::default();
        let samples = samples_of(&render_chunk(3));
        // Up to 10 ms into the first click (at 100 ms), then a new connection.
        assert!(ear.feed(&samples[..2 * 5_280], 2).is_empty());
        ear.reset();
        assert!(ear.feed(&vec![0.0; 96_000], 2).is_empty());
        let rest = ear.feed(&samples[2 * 9_600..], 2);
        assert_eq!(rest, (31..40).collect::<Vec<u64>>());
    }

    /// Through ffmpeg with ingest's own arguments (AAC 128k) and back
    /// through the decoder the listeners use.
    #[test]
    fn symbols_survive_the_encoder_and_the_decoder() {
        use crate::aac::Decoder;
        use std::io::Write;
        use std::process::{Command, Stdio};
        use vibes_flv::{AacPacket, FlvReader};

        let folder = std::env::temp_dir().join(format!("loadgen-chaos-{}", std::process::id()));
        std::fs::create_dir_all(&folder).expect("temp folder");
        let file = folder.join("symbols.flv");
        let mut ffmpeg = Command::new("ffmpeg")
            .arg("-y")
            .args(::ingest::encoder::ffmpeg_arguments(
                "128k",
                file.to_str().expect("utf-8 path"),
            ))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ffmpeg runs");
        let mut stdin = ffmpeg.stdin.take().expect("stdin");
        for seq in 0..14 {
            stdin.write_all(&render_chunk(seq)).expect("PCM written");
        }
        stdin.write_all(&vec![0u8; 192_000]).expect("tail written");
        drop(stdin);
        assert!(ffmpeg.wait().expect("ffmpeg ends").success());
        let flv = std::fs::read(&file).expect("FLV written");
        let _ = std::fs::remove_dir_all(&folder);

        let mut reader = FlvReader::default();
        reader.push(&flv);
        let (mut decoder, mut ear, mut symbols) = (None, SymbolEar::default(), Vec::new());
        while let Some(tag) = reader.next_tag().expect("valid FLV") {
            match tag.aac() {
                Some(AacPacket::SequenceHeader(config)) => {
                    decoder = Some(Decoder::new(&config).expect("AAC-LC config"));
                }
                Some(AacPacket::Frame(frame)) => {
                    let decoder = decoder.as_mut().expect("sequence header first");
                    let channels = decoder.channels();
                    let samples = decoder.decode(&frame).expect("frame decodes");
                    symbols.extend(ear.feed(samples, channels));
                }
                None => {}
            }
        }
        let expected: Vec<u64> = (0..140).map(|click| click % SYMBOLS).collect();
        assert_eq!(symbols, expected);
    }
}
