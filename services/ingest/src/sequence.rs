//! `X-Chunk-Seq`: a creator numbers its chunks so retries are harmless. The
//! same number again is the same chunk (accepted once, answered again with
//! the first answer); a lower number is stale; a jump is a lost chunk, whose
//! time the pacer fills with silence like any late audio.

/// What one accepted chunk was answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    pub accepted_bytes: usize,
    pub queued_chunks: usize,
    pub seq: Option<u64>,
    /// True when this answer repeats the one given to an earlier, identical seq.
    pub duplicate: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqCheck {
    /// Not seen before; `missing` chunks were skipped since the last one.
    New { missing: u64 },
    /// The last accepted chunk, sent again.
    Retry(Accepted),
    /// Older than the last accepted chunk.
    Stale { last: u64 },
}

#[derive(Debug, Default)]
pub struct ChunkSequence {
    last: Option<(u64, Accepted)>,
}

impl ChunkSequence {
    pub fn check(&self, seq: u64) -> SeqCheck {
        match self.last {
            None => SeqCheck::New { missing: 0 },
            Some((last, answer)) if seq == last => SeqCheck::Retry(Accepted {
                duplicate: true,
                ..answer
            }),
            Some((last, _)) if seq < last => SeqCheck::Stale { last },
            Some((last, _)) => SeqCheck::New {
                missing: seq - last - 1,
            },
        }
    }

    pub fn record(&mut self, seq: u64, answer: Accepted) {
        self.last = Some((seq, answer));
    }

    /// Goes on from the last chunk another pod accepted for this stream:
    /// that chunk again is a retry, answered as its first answer was.
    pub fn resumed_after(seq: u64, accepted_bytes: usize) -> Self {
        let answer = Accepted {
            accepted_bytes,
            queued_chunks: 0,
            seq: Some(seq),
            duplicate: false,
        };
        Self {
            last: Some((seq, answer)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(seq: u64) -> Accepted {
        Accepted {
            accepted_bytes: 4,
            queued_chunks: 1,
            seq: Some(seq),
            duplicate: false,
        }
    }

    #[test]
    fn the_first_chunk_is_new_whatever_its_number() {
        assert_eq!(
            ChunkSequence::default().check(41),
            SeqCheck::New { missing: 0 }
        );
    }

    #[test]
    fn a_retry_repeats_the_first_answer_and_older_numbers_are_stale() {
        let mut sequence = ChunkSequence::default();
        sequence.record(7, answer(7));
        assert_eq!(
            sequence.check(7),
            SeqCheck::Retry(Accepted {
                duplicate: true,
                ..answer(7)
            })
        );
        assert_eq!(sequence.check(6), SeqCheck::Stale { last: 7 });
        assert_eq!(sequence.check(8), SeqCheck::New { missing: 0 });
        assert_eq!(sequence.check(11), SeqCheck::New { missing: 3 });
    }
}
