//! An incremental FLV reader: bytes in as they arrive from the network, whole
//! tags out. Only what a listener needs: tag kind, timestamp and payload, and
//! the AAC packets inside audio tags.

use bytes::{Buf, Bytes, BytesMut};

const SIGNATURE: &[u8; 3] = b"FLV";
/// The 9-byte file header plus the first (always zero) previous-tag-size.
const PREAMBLE_LEN: usize = 13;
const TAG_HEADER_LEN: usize = 11;
const PREVIOUS_TAG_SIZE_LEN: usize = 4;
/// FLV's sound format number for AAC.
const SOUND_FORMAT_AAC: u8 = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlvError {
    NotFlv,
    /// A tag's trailing size disagrees with its header: the stream is corrupt.
    BadTagSize {
        expected: u32,
        found: u32,
    },
}

impl std::fmt::Display for FlvError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotFlv => write!(formatter, "the body does not start with an FLV header"),
            Self::BadTagSize { expected, found } => write!(
                formatter,
                "a tag's trailing size is {found}, its header said {expected}"
            ),
        }
    }
}

impl std::error::Error for FlvError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagKind {
    Audio,
    Video,
    Script,
    Other(u8),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub kind: TagKind,
    /// Milliseconds, with the extended byte applied.
    pub timestamp_ms: u32,
    pub data: Bytes,
}

/// What an audio tag carries, for AAC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AacPacket {
    /// The AudioSpecificConfig a decoder starts from.
    SequenceHeader(Bytes),
    /// One raw AAC frame (1024 samples per channel).
    Frame(Bytes),
}

impl Tag {
    /// The AAC packet inside an audio tag; `None` for other tags and codecs.
    pub fn aac(&self) -> Option<AacPacket> {
        if self.kind != TagKind::Audio || self.data.len() < 2 {
            return None;
        }
        if self.data[0] >> 4 != SOUND_FORMAT_AAC {
            return None;
        }
        let payload = self.data.slice(2..);
        match self.data[1] {
            0 => Some(AacPacket::SequenceHeader(payload)),
            1 => Some(AacPacket::Frame(payload)),
            _ => None,
        }
    }
}

/// Feed it bytes with `push`, take tags with `next_tag` until it has none.
#[derive(Default)]
pub struct FlvReader {
    buffer: BytesMut,
    preamble_seen: bool,
}

impl FlvReader {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next complete tag, `Ok(None)` when more bytes are needed.
    pub fn next_tag(&mut self) -> Result<Option<Tag>, FlvError> {
        if !self.preamble_seen {
            let seen = self.buffer.len().min(SIGNATURE.len());
            if self.buffer[..seen] != SIGNATURE[..seen] {
                return Err(FlvError::NotFlv);
            }
            if self.buffer.len() < PREAMBLE_LEN {
                return Ok(None);
            }
            let header_len = u32::from_be_bytes([
                self.buffer[5],
                self.buffer[6],
                self.buffer[7],
                self.buffer[8],
            ]) as usize;
            if self.buffer.len() < header_len + PREVIOUS_TAG_SIZE_LEN {
                return Ok(None);
            }
            self.buffer.advance(header_len + PREVIOUS_TAG_SIZE_LEN);
            self.preamble_seen = true;
        }
        if self.buffer.len() < TAG_HEADER_LEN {
            return Ok(None);
        }
        let header = &self.buffer[..TAG_HEADER_LEN];
        let data_len = u32::from_be_bytes([0, header[1], header[2], header[3]]);
        let timestamp_ms = u32::from_be_bytes([header[7], header[4], header[5], header[6]]);
        let kind = match header[0] & 0x1f {
            8 => TagKind::Audio,
            9 => TagKind::Video,
            18 => TagKind::Script,
            other => TagKind::Other(other),
        };
        let whole = TAG_HEADER_LEN + data_len as usize + PREVIOUS_TAG_SIZE_LEN;
        if self.buffer.len() < whole {
            return Ok(None);
        }
        let mut tag = self.buffer.split_to(whole);
        tag.advance(TAG_HEADER_LEN);
        let data = tag.split_to(data_len as usize).freeze();
        let trailer = u32::from_be_bytes([tag[0], tag[1], tag[2], tag[3]]);
        let expected = data_len + TAG_HEADER_LEN as u32;
        if trailer != expected {
            return Err(FlvError::BadTagSize {
                expected,
                found: trailer,
            });
        }
        Ok(Some(Tag {
            kind,
            timestamp_ms,
            data,
        }))
    }
}

/// FLV written by hand, for tests and test servers that play an engine.
pub mod write {
    /// The preamble of an audio-only FLV: file header and PreviousTagSize0.
    pub const AUDIO_PREAMBLE: [u8; 13] = [b'F', b'L', b'V', 1, 4, 0, 0, 0, 9, 0, 0, 0, 0];

    /// One tag of `kind` (8 audio, 9 video, 18 script) with its trailing
    /// PreviousTagSize.
    pub fn tag(kind: u8, timestamp_ms: u32, data: &[u8]) -> Vec<u8> {
        let len = data.len() as u32;
        let time = timestamp_ms.to_be_bytes();
        let mut bytes = vec![kind];
        bytes.extend_from_slice(&len.to_be_bytes()[1..]);
        bytes.extend_from_slice(&[time[1], time[2], time[3], time[0]]);
        bytes.extend_from_slice(&[0, 0, 0]);
        bytes.extend_from_slice(data);
        bytes.extend_from_slice(&(len + 11).to_be_bytes());
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::write::{tag as tag_bytes, AUDIO_PREAMBLE as HEADER};
    use super::*;

    fn all_tags(reader: &mut FlvReader) -> Vec<Tag> {
        let mut tags = Vec::new();
        while let Some(tag) = reader.next_tag().expect("valid FLV") {
            tags.push(tag);
        }
        tags
    }

    #[test]
    fn tags_come_out_whole_however_the_bytes_are_split() {
        let mut stream = HEADER.to_vec();
        stream.extend(tag_bytes(18, 0, b"onMetaData"));
        stream.extend(tag_bytes(8, 0, &[0xaf, 0, 0x11, 0x90]));
        stream.extend(tag_bytes(8, 21, &[0xaf, 1, 0xde, 0xad]));
        stream.extend(tag_bytes(8, 43, &[0xaf, 1, 0xbe, 0xef, 0x00]));

        for piece in [1, 3, 7, 13, stream.len()] {
            let mut reader = FlvReader::default();
            let mut tags = Vec::new();
            for bytes in stream.chunks(piece) {
                reader.push(bytes);
                tags.extend(all_tags(&mut reader));
            }
            let summary: Vec<(TagKind, u32, usize)> = tags
                .iter()
                .map(|tag| (tag.kind, tag.timestamp_ms, tag.data.len()))
                .collect();
            assert_eq!(
                summary,
                [
                    (TagKind::Script, 0, 10),
                    (TagKind::Audio, 0, 4),
                    (TagKind::Audio, 21, 4),
                    (TagKind::Audio, 43, 5)
                ],
                "pieces of {piece} bytes"
            );
        }
    }

    #[test]
    fn the_extended_timestamp_byte_is_the_high_byte() {
        let mut reader = FlvReader::default();
        reader.push(&HEADER);
        // 0x01_23_45_67 ms: lower 24 bits first, the extended byte last.
        reader.push(&tag_bytes(8, 0x0123_4567, &[0xaf, 1, 0]));
        let tag = reader.next_tag().unwrap().expect("a tag");
        assert_eq!(tag.timestamp_ms, 0x0123_4567);
    }

    #[test]
    fn aac_sequence_headers_and_frames_are_told_apart() {
        let mut reader = FlvReader::default();
        reader.push(&HEADER);
        reader.push(&tag_bytes(8, 0, &[0xaf, 0, 0x11, 0x90]));
        reader.push(&tag_bytes(8, 0, &[0xaf, 1, 0x21, 0x10]));
        // MP3 (sound format 2) and a video tag are not AAC.
        reader.push(&tag_bytes(8, 0, &[0x2f, 1, 0x21]));
        reader.push(&tag_bytes(9, 0, &[0x17, 1, 0x21]));
        let packets: Vec<Option<AacPacket>> = all_tags(&mut reader).iter().map(Tag::aac).collect();
        assert_eq!(
            packets,
            [
                Some(AacPacket::SequenceHeader(Bytes::from_static(&[0x11, 0x90]))),
                Some(AacPacket::Frame(Bytes::from_static(&[0x21, 0x10]))),
                None,
                None
            ]
        );
    }

    #[test]
    fn a_body_that_is_not_flv_is_refused_at_once() {
        let mut reader = FlvReader::default();
        reader.push(b"{\"type\"");
        assert_eq!(reader.next_tag(), Err(FlvError::NotFlv));
        let mut short = FlvReader::default();
        short.push(b"FL");
        assert_eq!(short.next_tag(), Ok(None), "a prefix of FLV waits for more");
    }

    #[test]
    fn a_corrupt_trailing_size_is_an_error() {
        let mut reader = FlvReader::default();
        reader.push(&HEADER);
        let mut tag = tag_bytes(8, 0, &[0xaf, 1, 0]);
        let last = tag.len() - 1;
        tag[last] ^= 0xff;
        reader.push(&tag);
        assert!(matches!(
            reader.next_tag(),
            Err(FlvError::BadTagSize { expected: 14, .. })
        ));
    }
}
