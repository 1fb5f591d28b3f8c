//! The one PCM format creators send: headerless s16le, 48 kHz, stereo.

use std::time::Duration;

pub const SAMPLE_RATE_HZ: u32 = 48_000;
pub const CHANNELS: u32 = 2;
pub const BYTES_PER_SAMPLE: u32 = 2;
/// One frame is one sample for each channel.
pub const FRAME_BYTES: usize = (CHANNELS * BYTES_PER_SAMPLE) as usize;
pub const BYTES_PER_SECOND: usize = FRAME_BYTES * SAMPLE_RATE_HZ as usize;
/// Largest raw PCM body we accept in one request (≈ 5.46 s of audio).
pub const MAX_RAW_BODY_BYTES: usize = 1024 * 1024;
/// The `ffmpeg -f` name of the format.
pub const FFMPEG_SAMPLE_FORMAT: &str = "s16le";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PcmError {
    #[error("the body is empty; send at least one {FRAME_BYTES}-byte frame")]
    Empty,
    #[error("{0} bytes is not a whole number of {FRAME_BYTES}-byte frames (s16le stereo)")]
    PartialFrame(usize),
    #[error("{0} bytes is over the {MAX_RAW_BODY_BYTES}-byte limit")]
    TooLarge(usize),
}

/// Checks that `byte_len` bytes form whole frames within the size limit.
pub fn validate_pcm_len(byte_len: usize) -> Result<(), PcmError> {
    if byte_len == 0 {
        return Err(PcmError::Empty);
    }
    if byte_len > MAX_RAW_BODY_BYTES {
        return Err(PcmError::TooLarge(byte_len));
    }
    if !byte_len.is_multiple_of(FRAME_BYTES) {
        return Err(PcmError::PartialFrame(byte_len));
    }
    Ok(())
}

/// How much audio `byte_len` bytes of PCM hold.
pub fn pcm_duration(byte_len: usize) -> Duration {
    let frames = (byte_len / FRAME_BYTES) as u64;
    Duration::from_micros(frames * 1_000_000 / u64::from(SAMPLE_RATE_HZ))
}

/// Bytes of PCM (whole frames) that play for `duration`.
pub fn pcm_len(duration: Duration) -> usize {
    duration.as_millis() as usize * (SAMPLE_RATE_HZ as usize / 1000) * FRAME_BYTES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcm_len_is_the_inverse_of_pcm_duration() {
        assert_eq!(pcm_len(Duration::from_secs(1)), BYTES_PER_SECOND);
        let duration = Duration::from_millis(1_250);
        assert_eq!(pcm_duration(pcm_len(duration)), duration);
        assert_eq!(pcm_len(duration) % FRAME_BYTES, 0);
    }

    #[test]
    fn two_seconds_of_audio_is_valid_and_measured() {
        let two_seconds = 2 * BYTES_PER_SECOND;
        assert_eq!(validate_pcm_len(two_seconds), Ok(()));
        assert_eq!(pcm_duration(two_seconds), Duration::from_secs(2));
    }

    #[test]
    fn rejects_empty_partial_and_oversized_bodies() {
        assert_eq!(validate_pcm_len(0), Err(PcmError::Empty));
        assert_eq!(validate_pcm_len(6), Err(PcmError::PartialFrame(6)));
        assert_eq!(
            validate_pcm_len(MAX_RAW_BODY_BYTES + 4),
            Err(PcmError::TooLarge(MAX_RAW_BODY_BYTES + 4))
        );
        assert_eq!(validate_pcm_len(MAX_RAW_BODY_BYTES), Ok(()));
    }
}
