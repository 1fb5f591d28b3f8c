//! A click track for latency: digital silence with a short tone burst every
//! `spacing`, and the listener's side that finds those bursts again in
//! decoded audio and tells which click each one was.
//!
//! A click is recognised by position in the decoded audio, not by order of
//! arrival: the distance from the previous click says how many clicks lie
//! between, so a burst the decoder missed cannot shift every later match.
//! Ingest may insert up to 20 ms of silence wherever a creator's chunk came
//! late; that is far below half the spacing, so it cannot either.

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use vibes_domain::audio::BYTES_PER_SECOND;

pub const FRAMES_PER_SECOND: u64 = 48_000;
const BYTES_PER_FRAME: usize = 4;
/// 2 ms of a 3 kHz tone at half scale: short enough to place precisely, loud
/// and bright enough to survive AAC at any bitrate.
const BURST_FRAMES: u64 = 96;
const BURST_HZ: f64 = 3_000.0;
const BURST_AMPLITUDE: f64 = 0.5;
/// A decoded sample louder than this is a click (AAC decodes digital silence
/// to exact or near zeros; a burst decodes to ~0.5).
const THRESHOLD: f32 = 0.05;

pub fn frames(duration: Duration) -> u64 {
    (duration.as_secs_f64() * FRAMES_PER_SECOND as f64).round() as u64
}

pub fn duration_of(frames: u64) -> Duration {
    Duration::from_secs_f64(frames as f64 / FRAMES_PER_SECOND as f64)
}

/// The scenarios' track: a click every 200 ms, the first 100 ms in. Both are
/// multiples of ingest's 20 ms slice, so a click starts a slice on every path;
/// ingest's up to 20 ms of inserted silence is far below half the spacing.
pub const SPACING: Duration = Duration::from_millis(200);
pub const PHASE: Duration = Duration::from_millis(100);

/// The scenarios' track for `seconds` of clicks.
pub fn track_over(seconds: u64) -> ClickTrack {
    ClickTrack::new(PHASE, SPACING, seconds * 1000 / SPACING.as_millis() as u64)
}

/// Test support: the click track, then a second of silence, written to
/// the stdin of `ffmpeg` (given its arguments); it must end well.
#[cfg(test)]
pub fn encode_with_ffmpeg(track: &ClickTrack, ffmpeg: &mut std::process::Command) {
    use std::io::Write;
    let mut ffmpeg = ffmpeg
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("ffmpeg runs");
    let pcm = track.render(0, track.length_frames() + FRAMES_PER_SECOND);
    ffmpeg
        .stdin
        .take()
        .expect("stdin")
        .write_all(&pcm)
        .expect("PCM written");
    assert!(ffmpeg.wait().expect("ffmpeg ends").success());
}

#[derive(Debug, Clone, Copy)]
pub struct ClickTrack {
    phase: u64,
    spacing: u64,
    count: u64,
}

impl ClickTrack {
    /// `count` clicks, the first `phase` into the track, then one every `spacing`.
    pub fn new(phase: Duration, spacing: Duration, count: u64) -> Self {
        let spacing = frames(spacing);
        assert!(spacing > 2 * BURST_FRAMES, "clicks must not touch");
        Self {
            phase: frames(phase),
            spacing,
            count,
        }
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn spacing_frames(&self) -> u64 {
        self.spacing
    }

    /// Track frames the whole track spans (up to the end of its last click's spacing).
    pub fn length_frames(&self) -> u64 {
        self.phase + self.count * self.spacing
    }

    /// s16le stereo PCM of track frames `[start, start + length)`.
    pub fn render(&self, start: u64, length: u64) -> Vec<u8> {
        let mut pcm = vec![0u8; length as usize * BYTES_PER_FRAME];
        for (index, frame) in (start..start + length).enumerate() {
            let Some(offset) = self.burst_offset(frame) else {
                continue;
            };
            // Half a sample into the wave: no sample of the burst is a zero crossing.
            let phase =
                std::f64::consts::TAU * BURST_HZ * (offset as f64 + 0.5) / FRAMES_PER_SECOND as f64;
            let sample = (phase.sin() * BURST_AMPLITUDE * f64::from(i16::MAX)) as i16;
            let at = index * BYTES_PER_FRAME;
            pcm[at..at + 2].copy_from_slice(&sample.to_le_bytes());
            pcm[at + 2..at + 4].copy_from_slice(&sample.to_le_bytes());
        }
        pcm
    }

    /// Clicks that begin within `[start, start + length)`: (click index, frames after `start`).
    pub fn clicks_in(&self, start: u64, length: u64) -> Vec<(u64, u64)> {
        (0..self.count)
            .map(|index| (index, self.phase + index * self.spacing))
            .filter(|(_, at)| (start..start + length).contains(at))
            .map(|(index, at)| (index, at - start))
            .collect()
    }

    fn burst_offset(&self, frame: u64) -> Option<u64> {
        let since_first = frame.checked_sub(self.phase)?;
        let (index, offset) = (since_first / self.spacing, since_first % self.spacing);
        (index < self.count && offset < BURST_FRAMES).then_some(offset)
    }
}

/// When each click of a track was handed over at the source (none yet: not sent).
#[derive(Clone)]
pub struct HandOvers {
    track: ClickTrack,
    at: Arc<Mutex<Vec<Option<Instant>>>>,
}

impl HandOvers {
    pub fn new(track: ClickTrack) -> Self {
        Self {
            track,
            at: Arc::new(Mutex::new(vec![None; track.count() as usize])),
        }
    }

    pub fn track(&self) -> &ClickTrack {
        &self.track
    }

    /// Track frames `[start, start + frames)` were handed over at `handed_over`.
    pub fn record(&self, start: u64, frames: u64, handed_over: Instant) {
        let mut at = self.at.lock().expect("hand-over log");
        for (index, offset) in self.track.clicks_in(start, frames) {
            at[index as usize] = Some(handed_over + duration_of(offset));
        }
    }

    pub fn of(&self, index: u64) -> Option<Instant> {
        let at = self.at.lock().expect("hand-over log");
        at.get(index as usize).copied().flatten()
    }

    pub fn sent(&self) -> u64 {
        let at = self.at.lock().expect("hand-over log");
        at.iter().filter(|at| at.is_some()).count() as u64
    }

    /// For readers' `(click, noted, playable)` moments: the time from each
    /// click's hand-over to `playable` and to `noted` (0 if before it), for
    /// the clicks that were handed over before they were playable; and how
    /// many were not (never sent, or playable before sent: matching went wrong).
    pub fn since_hand_over(&self, moments: &[(u64, Instant, Instant)]) -> SinceHandOver {
        let mut since = SinceHandOver::default();
        for (click, noted, playable) in moments {
            match self.of(*click) {
                Some(sent) if *playable >= sent => {
                    since.playable.push(*playable - sent);
                    since.noted.push(noted.saturating_duration_since(sent));
                }
                _ => since.mismatched += 1,
            }
        }
        since
    }
}

/// See [`HandOvers::since_hand_over`].
#[derive(Default)]
pub struct SinceHandOver {
    pub playable: Vec<Duration>,
    pub noted: Vec<Duration>,
    pub mismatched: u64,
}

/// Finds click onsets in decoded audio, as frame positions counted from the
/// first sample it was given.
pub struct ClickDetector {
    position: u64,
    refractory: u64,
    quiet_until: u64,
}

impl ClickDetector {
    /// After an onset, the next `refractory` of audio belongs to the same click.
    pub fn new(refractory: Duration) -> Self {
        Self {
            position: 0,
            refractory: frames(refractory),
            quiet_until: 0,
        }
    }

    /// Interleaved samples of `channels` channels; returns the onsets among them.
    pub fn feed(&mut self, samples: &[f32], channels: usize) -> Vec<u64> {
        let mut onsets = Vec::new();
        for frame in samples.chunks(channels.max(1)) {
            let loud = frame.iter().any(|sample| sample.abs() > THRESHOLD);
            if loud && self.position >= self.quiet_until {
                onsets.push(self.position);
                self.quiet_until = self.position + self.refractory;
            }
            self.position += 1;
        }
        onsets
    }

    /// Audio that will never be fed (a segment that could not be fetched)
    /// still counts towards the positions of later onsets.
    pub fn skip(&mut self, frames: u64) {
        self.position += frames;
    }
}

/// Numbers detected clicks: the first one heard is click 0, each later one
/// is as many clicks on as its distance from the previous one says.
pub struct ClickMatcher {
    spacing: u64,
    last: Option<(u64, u64)>,
}

impl ClickMatcher {
    pub fn new(track: &ClickTrack) -> Self {
        Self {
            spacing: track.spacing_frames(),
            last: None,
        }
    }

    pub fn index_of(&mut self, onset: u64) -> u64 {
        let index = match self.last {
            None => 0,
            Some((index, position)) => {
                let distance = onset.saturating_sub(position);
                let steps = (distance + self.spacing / 2) / self.spacing;
                index + steps.max(1)
            }
        };
        self.last = Some((index, onset));
        index
    }
}

/// Bytes of PCM (s16le stereo) for a number of frames.
pub fn pcm_bytes(frames: u64) -> usize {
    frames as usize * BYTES_PER_FRAME
}

/// Frames in `duration`, as a whole number of 20 ms slices (what ingest writes).
pub fn slice_aligned(duration: Duration) -> Duration {
    let slices = (duration.as_secs_f64() * 50.0).round().max(1.0);
    Duration::from_secs_f64(slices / 50.0)
}

const _: () = assert!(BYTES_PER_SECOND == FRAMES_PER_SECOND as usize * BYTES_PER_FRAME);

#[cfg(test)]
mod tests {
    use super::*;

    fn samples_of(pcm: &[u8]) -> Vec<f32> {
        pcm.chunks(2)
            .map(|pair| f32::from(i16::from_le_bytes([pair[0], pair[1]])) / 32768.0)
            .collect()
    }

    fn track() -> ClickTrack {
        ClickTrack::new(Duration::from_millis(100), Duration::from_millis(200), 5)
    }

    #[test]
    fn clicks_sit_at_their_places_in_otherwise_silent_pcm() {
        let track = track();
        let pcm = track.render(0, track.length_frames());
        assert_eq!(pcm.len(), pcm_bytes(track.length_frames()));
        let loud: Vec<usize> = samples_of(&pcm)
            .chunks(2)
            .enumerate()
            .filter(|(_, frame)| frame[0].abs() > 0.01)
            .map(|(index, _)| index)
            .collect();
        for click in 0..5u64 {
            let start = 4_800 + click as usize * 9_600;
            assert!(loud.contains(&start), "click {click} starts at {start}");
            assert!(
                !loud.contains(&(start - 1)),
                "click {click} starts at {start}"
            );
            assert!(!loud.contains(&(start + 96)), "click {click} lasts 2 ms");
        }
        assert_eq!(loud.len(), 5 * 96, "nothing else is loud");
    }

    #[test]
    fn rendering_in_pieces_gives_the_same_track() {
        let track = track();
        let whole = track.render(0, track.length_frames());
        let mut pieces = Vec::new();
        for start in (0..track.length_frames()).step_by(960) {
            pieces.extend(track.render(start, 960));
        }
        assert_eq!(pieces, whole);
    }

    #[test]
    fn clicks_in_a_block_are_found_with_their_offsets() {
        let track = track();
        assert_eq!(track.clicks_in(0, 4_800), vec![]);
        assert_eq!(track.clicks_in(0, 4_801), vec![(0, 4_800)]);
        assert_eq!(
            track.clicks_in(9_000, 20_000),
            vec![(1, 14_400 - 9_000), (2, 24_000 - 9_000)]
        );
        assert_eq!(track.clicks_in(40_000, 96_000), vec![(4, 43_200 - 40_000)]);
    }

    #[test]
    fn the_detector_reports_each_onset_once_with_its_position() {
        let track = track();
        let samples = samples_of(&track.render(0, track.length_frames()));
        let mut detector = ClickDetector::new(Duration::from_millis(100));
        // Fed in AAC-frame-sized pieces, positions continue across calls.
        let mut onsets = Vec::new();
        for piece in samples.chunks(2 * 1024) {
            onsets.extend(detector.feed(piece, 2));
        }
        assert_eq!(onsets, vec![4_800, 14_400, 24_000, 33_600, 43_200]);
    }

    #[test]
    fn silence_and_quiet_noise_are_not_clicks() {
        let mut detector = ClickDetector::new(Duration::from_millis(100));
        let quiet: Vec<f32> = (0..96_000).map(|n| ((n % 7) as f32 - 3.0) * 0.01).collect();
        assert!(detector.feed(&quiet, 2).is_empty());
    }

    #[test]
    fn the_matcher_numbers_clicks_by_distance_so_a_missed_one_does_not_shift_the_rest() {
        let track = track();
        let mut matcher = ClickMatcher::new(&track);
        // Click 2 was missed; 15 ms of silence was inserted before click 4.
        let onsets = [100, 9_700, 28_900, 39_220];
        let indices: Vec<u64> = onsets
            .iter()
            .map(|onset| matcher.index_of(*onset))
            .collect();
        assert_eq!(indices, vec![0, 1, 3, 4]);
    }

    #[test]
    fn slices_are_whole_20_ms_steps() {
        assert_eq!(
            slice_aligned(Duration::from_millis(2_009)),
            Duration::from_millis(2_000)
        );
        assert_eq!(
            slice_aligned(Duration::from_millis(1)),
            Duration::from_millis(20)
        );
    }

    #[test]
    fn hand_overs_place_each_click_at_its_offset_in_the_block() {
        let hand_overs = HandOvers::new(track());
        let posted = Instant::now();
        hand_overs.record(9_000, 20_000, posted);
        assert_eq!(hand_overs.sent(), 2);
        assert_eq!(hand_overs.of(0), None, "not handed over yet");
        assert_eq!(hand_overs.of(1), Some(posted + duration_of(5_400)));
        assert_eq!(hand_overs.of(2), Some(posted + duration_of(15_000)));
        assert_eq!(hand_overs.of(9), None, "beyond the track");
    }
}
