//! How a stream is cut: parts of whole AAC frames, segments of whole parts,
//! and the playlist timing that follows from them.

use crate::configuration::HlsSettings;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Layout {
    pub sample_rate: u32,
    pub samples_per_frame: u32,
    pub frames_per_part: u32,
    pub parts_per_segment: u32,
    pub part_hold_back_parts: u32,
}

impl Layout {
    /// The configured durations rounded to whole frames and whole parts
    /// (at least one of each).
    pub fn new(hls: &HlsSettings, sample_rate: u32, samples_per_frame: u32) -> Self {
        let frame_seconds = f64::from(samples_per_frame) / f64::from(sample_rate);
        let frames_per_part = (hls.part_duration.as_secs_f64() / frame_seconds)
            .round()
            .max(1.0) as u32;
        let part_seconds = f64::from(frames_per_part) * frame_seconds;
        let parts_per_segment = (hls.segment_duration.as_secs_f64() / part_seconds)
            .round()
            .max(1.0) as u32;
        Self {
            sample_rate,
            samples_per_frame,
            frames_per_part,
            parts_per_segment,
            part_hold_back_parts: hls.part_hold_back_parts,
        }
    }

    /// Seconds of `frames` frames.
    pub fn seconds(&self, frames: u64) -> f64 {
        frames as f64 * f64::from(self.samples_per_frame) / f64::from(self.sample_rate)
    }

    /// EXT-X-PART-INF PART-TARGET: every part is this long, the last one of a
    /// run shorter.
    pub fn part_target(&self) -> f64 {
        self.seconds(u64::from(self.frames_per_part))
    }

    pub fn segment_seconds(&self) -> f64 {
        self.part_target() * f64::from(self.parts_per_segment)
    }

    /// EXT-X-TARGETDURATION: every segment's duration rounds to at most this.
    pub fn target_duration(&self) -> u64 {
        (self.segment_seconds().round() as u64).max(1)
    }

    /// PART-HOLD-BACK: how far behind the live edge a low-latency player starts.
    pub fn part_hold_back(&self) -> f64 {
        self.part_target() * f64::from(self.part_hold_back_parts)
    }

    /// RFC 8216bis 6.2.5.2: how many parts past the last one a blocking
    /// request may ask for (3 / PART-TARGET, or 3 for parts of a second or more).
    pub fn advance_part_limit(&self) -> u64 {
        let part_target = self.part_target();
        if part_target < 1.0 {
            (3.0 / part_target).floor() as u64
        } else {
            3
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn hls(part_ms: u64, segment_ms: u64) -> HlsSettings {
        HlsSettings {
            part_duration: Duration::from_millis(part_ms),
            segment_duration: Duration::from_millis(segment_ms),
            window_segments: 6,
            part_hold_back_parts: 3,
        }
    }

    #[test]
    fn defaults_cut_256_ms_parts_and_1024_ms_segments_at_48_khz() {
        let layout = Layout::new(&hls(250, 1000), 48_000, 1024);
        assert_eq!((layout.frames_per_part, layout.parts_per_segment), (12, 4));
        assert!((layout.part_target() - 0.256).abs() < 1e-9);
        assert!((layout.segment_seconds() - 1.024).abs() < 1e-9);
        assert_eq!(layout.target_duration(), 1);
        assert!((layout.part_hold_back() - 0.768).abs() < 1e-9);
        assert_eq!(layout.advance_part_limit(), 11);
    }

    #[test]
    fn long_parts_allow_three_ahead_and_tiny_settings_keep_one_frame() {
        let layout = Layout::new(&hls(1000, 2000), 48_000, 1024);
        assert_eq!((layout.frames_per_part, layout.parts_per_segment), (47, 2));
        assert_eq!(layout.target_duration(), 2);
        assert_eq!(layout.advance_part_limit(), 3);
        let tiny = Layout::new(&hls(1, 1), 48_000, 1024);
        assert_eq!((tiny.frames_per_part, tiny.parts_per_segment), (1, 1));
    }
}
