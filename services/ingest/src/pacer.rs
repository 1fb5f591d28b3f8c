//! Cuts queued chunks into fixed real-time slices and fills whatever the
//! creator has not delivered yet with silence, so the encoder (and the engine,
//! which drops publishers that go quiet for 2 s) always gets a continuous stream.

use bytes::{Bytes, BytesMut};
use std::time::Duration;
use vibes_domain::audio::BYTES_PER_SECOND;

/// Audio written to the encoder per tick.
pub const SLICE: Duration = Duration::from_millis(20);
pub const SLICE_BYTES: usize = BYTES_PER_SECOND / 50;

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

    /// Builds the next slice from the rest of the current chunk and then from
    /// `next_chunk` (queued chunks, without waiting), padding with silence.
    pub fn next_slice(&mut self, mut next_chunk: impl FnMut() -> Option<Bytes>) -> Slice {
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
        let silence_bytes = SLICE_BYTES - pcm.len();
        pcm.resize(SLICE_BYTES, 0);
        Slice {
            pcm: pcm.freeze(),
            silence_bytes,
            chunks_finished,
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
        let first = pacer.next_slice(|| queue.pop_front());
        assert_eq!(first.silence_bytes, 0);
        assert_eq!(first.chunks_finished, 1);
        assert_eq!(&first.pcm[..3000], &[1; 3000][..]);
        assert_eq!(&first.pcm[3000..], &[2; 840][..]);

        let second = pacer.next_slice(|| queue.pop_front());
        assert_eq!(second.chunks_finished, 1);
        assert_eq!(second.silence_bytes, SLICE_BYTES - 2160);
        assert_eq!(&second.pcm[..2160], &[2; 2160][..]);
        assert!(second.pcm[2160..].iter().all(|byte| *byte == 0));
    }

    #[test]
    fn an_empty_queue_gives_a_whole_slice_of_silence() {
        let slice = Pacer::default().next_slice(|| None);
        assert_eq!(slice.silence_bytes, SLICE_BYTES);
        assert_eq!(slice.pcm.len(), SLICE_BYTES);
        assert_eq!(slice.chunks_finished, 0);
    }

    #[test]
    fn the_rest_of_a_chunk_can_be_taken_for_a_flush() {
        let mut queue = VecDeque::from([chunk(7, SLICE_BYTES + 100)]);
        let mut pacer = Pacer::default();
        pacer.next_slice(|| queue.pop_front());
        assert_eq!(pacer.take_rest(), chunk(7, 100));
        assert!(pacer.take_rest().is_empty());
    }
}
