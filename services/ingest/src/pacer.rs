//! Cuts queued chunks into real-time slices, and makes the silence that fills
//! whatever the creator has not delivered in time, so the encoder (and the
//! engine, which drops publishers that go quiet for 2 s) always gets a
//! continuous stream. Audio slices stop where the queued audio stops (no
//! padding): silence is only ever written once it is due, so a chunk that
//! arrives a moment late adds only that moment to the stream's delay.

use bytes::{Bytes, BytesMut};
use std::time::Duration;
use vibes_domain::audio::BYTES_PER_SECOND;

/// Audio written to the encoder per tick, at most.
pub const SLICE: Duration = Duration::from_millis(20);
pub const SLICE_BYTES: usize = BYTES_PER_SECOND / 50;
/// Filler written per tick while nothing is queued: short, since audio that
/// arrives meanwhile plays after it.
pub const SILENCE: Duration = Duration::from_millis(10);
pub const SILENCE_BYTES: usize = BYTES_PER_SECOND / 100;

/// One slice ready for the encoder.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Slice {
    pub pcm: Bytes,
    /// Bytes of the slice that are filler silence.
    pub silence_bytes: usize,
    /// Chunks whose last byte went into this slice.
    pub chunks_finished: u64,
}

/// The chunk being played and how much of it is left.
#[derive(Default)]
pub struct Pacer {
    current: Bytes,
}

impl Pacer {
    pub fn starting_with(chunk: Bytes) -> Self {
        Self { current: chunk }
    }

    /// Whether part of a chunk is still to be played.
    pub fn has_audio(&self) -> bool {
        !self.current.is_empty()
    }

    /// Continues with `chunk` once the previous one is played out.
    pub fn resume_with(&mut self, chunk: Bytes) {
        debug_assert!(self.current.is_empty(), "a chunk is still playing");
        self.current = chunk;
    }

    /// Up to one slice of audio from the rest of the current chunk and then
    /// from `next_chunk` (queued chunks, without waiting); shorter, or empty,
    /// when no more is queued.
    pub fn next_audio(&mut self, mut next_chunk: impl FnMut() -> Option<Bytes>) -> Slice {
        let mut pcm = BytesMut::with_capacity(SLICE_BYTES);
        let mut chunks_finished = 0;
        while pcm.len() < SLICE_BYTES {
            if self.current.is_empty() {
                match next_chunk() {
                    Some(chunk) => self.current = chunk,
                    None => break,
                }
            }
            let take = (SLICE_BYTES - pcm.len()).min(self.current.len());
            pcm.extend_from_slice(&self.current.split_to(take));
            if self.current.is_empty() {
                chunks_finished += 1;
            }
        }
        Slice {
            pcm: pcm.freeze(),
            silence_bytes: 0,
            chunks_finished,
        }
    }

    /// One tick of filler silence.
    pub fn silence() -> Slice {
        Slice {
            pcm: Bytes::from(vec![0; SILENCE_BYTES]),
            silence_bytes: SILENCE_BYTES,
            chunks_finished: 0,
        }
    }

    /// What is left of the current chunk, for a final flush.
    pub fn take_rest(&mut self) -> Bytes {
        std::mem::take(&mut self.current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    fn chunk(byte: u8, len: usize) -> Bytes {
        Bytes::from(vec![byte; len])
    }

    #[test]
    fn a_slice_is_20_ms_of_s16le_stereo() {
        assert_eq!(SLICE_BYTES, 3840);
        assert_eq!(SLICE_BYTES % 4, 0, "slices keep frame alignment");
    }

    #[test]
    fn slices_span_chunk_boundaries_without_gaps() {
        let mut queue = VecDeque::from([chunk(1, 3000), chunk(2, 3000)]);
        let mut pacer = Pacer::default();
        let first = pacer.next_audio(|| queue.pop_front());
        assert_eq!(first.silence_bytes, 0);
        assert_eq!(first.chunks_finished, 1);
        assert_eq!(&first.pcm[..3000], &[1; 3000][..]);
        assert_eq!(&first.pcm[3000..], &[2; 840][..]);

        let second = pacer.next_audio(|| queue.pop_front());
        assert_eq!(second.chunks_finished, 1);
        assert_eq!(second.pcm, chunk(2, 2160), "no padding after the audio");
        assert!(!pacer.has_audio());
    }

    #[test]
    fn an_empty_queue_gives_no_audio_and_silence_comes_in_short_ticks() {
        let mut pacer = Pacer::default();
        assert_eq!(pacer.next_audio(|| None), Slice::default());
        let silence = Pacer::silence();
        assert_eq!(silence.silence_bytes, SILENCE_BYTES);
        assert_eq!(silence.pcm.len(), SILENCE_BYTES);
        assert!(silence.pcm.iter().all(|byte| *byte == 0));
        assert_eq!(SILENCE_BYTES % 4, 0, "silence keeps frame alignment");
        pacer.resume_with(chunk(3, 8));
        assert!(pacer.has_audio());
    }

    #[test]
    fn the_rest_of_a_chunk_can_be_taken_for_a_flush() {
        let mut queue = VecDeque::from([chunk(7, SLICE_BYTES + 100)]);
        let mut pacer = Pacer::default();
        pacer.next_audio(|| queue.pop_front());
        assert_eq!(pacer.take_rest(), chunk(7, 100));
        assert!(pacer.take_rest().is_empty());
    }
}
