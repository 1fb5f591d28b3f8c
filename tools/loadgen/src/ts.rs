//! Just enough MPEG-TS to get the audio out of an HLS segment: 188-byte
//! packets, the PAT names the PMT's PID, the PMT names the AAC (ADTS)
//! stream's PID, that stream's PES packets are reassembled, and their payload
//! is cut into ADTS frames. Bytes may arrive split at any point.
//!
//! PAT and PMT sections are read from the packet that starts them: segments
//! from SRS and ffmpeg carry one short program, whose tables fit.

const PACKET: usize = 188;
const SYNC: u8 = 0x47;
const PAT_PID: u16 = 0;
/// ISO/IEC 13818-7 audio with ADTS transport syntax.
const STREAM_TYPE_ADTS_AAC: u8 = 0x0f;
const ADTS_HEADER: usize = 7;
const ADTS_SAMPLE_RATES: [u32; 13] = [
    96_000, 88_200, 64_000, 48_000, 44_100, 32_000, 24_000, 22_050, 16_000, 12_000, 11_025, 8_000,
    7_350,
];

/// One AAC frame with what its ADTS header said about the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdtsFrame {
    /// The AudioSpecificConfig a decoder wants (object type, rate, channels).
    pub audio_specific_config: [u8; 2],
    pub sample_rate: u32,
    /// The raw AAC frame, without the ADTS header.
    pub payload: Vec<u8>,
}

#[derive(Default)]
pub struct TsDemuxer {
    pending: Vec<u8>,
    pmt_pid: Option<u16>,
    audio_pid: Option<u16>,
    pes: Vec<u8>,
    adts: Vec<u8>,
    frames: Vec<AdtsFrame>,
    /// Bytes skipped to find the next packet start.
    pub resyncs: u64,
}

impl TsDemuxer {
    /// Feeds bytes; returns the ADTS frames completed by them.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<AdtsFrame> {
        self.pending.extend_from_slice(bytes);
        let mut at = 0;
        while self.pending.len() - at >= PACKET {
            if self.pending[at] != SYNC {
                at += 1;
                self.resyncs += 1;
                continue;
            }
            let packet: [u8; PACKET] = self.pending[at..at + PACKET]
                .try_into()
                .expect("a whole packet");
            self.packet(&packet);
            at += PACKET;
        }
        self.pending.drain(..at);
        std::mem::take(&mut self.frames)
    }

    /// The end of the data: the last PES has no successor to close it.
    pub fn finish(&mut self) -> Vec<AdtsFrame> {
        self.close_pes();
        std::mem::take(&mut self.frames)
    }

    fn packet(&mut self, packet: &[u8; PACKET]) {
        let starts_unit = packet[1] & 0x40 != 0;
        let pid = u16::from_be_bytes([packet[1] & 0x1f, packet[2]]);
        let adaptation = (packet[3] >> 4) & 0x3;
        let mut payload_at = 4;
        if adaptation & 0x2 != 0 {
            payload_at += 1 + usize::from(packet[4]);
        }
        if adaptation & 0x1 == 0 || payload_at >= PACKET {
            return;
        }
        let payload = &packet[payload_at..];
        if pid == PAT_PID && starts_unit {
            self.pmt_pid = section(payload).and_then(pmt_pid_of_pat);
        } else if Some(pid) == self.pmt_pid && starts_unit {
            self.audio_pid = section(payload).and_then(audio_pid_of_pmt);
        } else if Some(pid) == self.audio_pid {
            if starts_unit {
                self.close_pes();
            }
            self.pes.extend_from_slice(payload);
            if declared_pes_length(&self.pes).is_some_and(|length| self.pes.len() >= length) {
                self.close_pes();
            }
        }
    }

    fn close_pes(&mut self) {
        let pes = std::mem::take(&mut self.pes);
        let Some(elementary) = pes_payload(&pes) else {
            return;
        };
        self.adts.extend_from_slice(elementary);
        let mut at = 0;
        while let Some(header) = self.adts.get(at..at + ADTS_HEADER) {
            let Some(frame) = AdtsHeader::parse(header) else {
                at += 1;
                continue;
            };
            let Some(bytes) = self.adts.get(at..at + frame.length) else {
                break;
            };
            self.frames.push(AdtsFrame {
                audio_specific_config: frame.audio_specific_config,
                sample_rate: frame.sample_rate,
                payload: bytes[frame.header_length..].to_vec(),
            });
            at += frame.length;
        }
        self.adts.drain(..at);
    }
}

/// A PSI section's bytes (after the pointer field), up to its CRC.
fn section(payload: &[u8]) -> Option<&[u8]> {
    let start = 1 + usize::from(*payload.first()?);
    let header = payload.get(start..start + 3)?;
    let length = usize::from(u16::from_be_bytes([header[1] & 0x0f, header[2]]));
    // The table's own fields, then 4 bytes of CRC.
    payload.get(start..(start + 3 + length).checked_sub(4)?)
}

/// The first real program's PMT PID (program 0 is the network PID).
fn pmt_pid_of_pat(section: &[u8]) -> Option<u16> {
    section
        .get(8..)?
        .chunks_exact(4)
        .find(|entry| entry[0] != 0 || entry[1] != 0)
        .map(|entry| u16::from_be_bytes([entry[2] & 0x1f, entry[3]]))
}

fn audio_pid_of_pmt(section: &[u8]) -> Option<u16> {
    let program_info = usize::from(u16::from_be_bytes([
        *section.get(10)? & 0x0f,
        *section.get(11)?,
    ]));
    let mut entries = section.get(12 + program_info..)?;
    while entries.len() >= 5 {
        let pid = u16::from_be_bytes([entries[1] & 0x1f, entries[2]]);
        if entries[0] == STREAM_TYPE_ADTS_AAC {
            return Some(pid);
        }
        let info = usize::from(u16::from_be_bytes([entries[3] & 0x0f, entries[4]]));
        entries = entries.get(5 + info..)?;
    }
    None
}

/// The whole PES packet's length when its header declares one (0: unbounded).
fn declared_pes_length(pes: &[u8]) -> Option<usize> {
    let length = usize::from(u16::from_be_bytes([*pes.get(4)?, *pes.get(5)?]));
    (length > 0).then_some(6 + length)
}

fn pes_payload(pes: &[u8]) -> Option<&[u8]> {
    if pes.get(..3)? != [0, 0, 1] {
        return None;
    }
    let header_data = usize::from(*pes.get(8)?);
    let end = declared_pes_length(pes).map_or(pes.len(), |length| length.min(pes.len()));
    pes.get(9 + header_data..end)
}

struct AdtsHeader {
    header_length: usize,
    length: usize,
    sample_rate: u32,
    audio_specific_config: [u8; 2],
}

impl AdtsHeader {
    fn parse(header: &[u8]) -> Option<Self> {
        if header[0] != 0xff || header[1] & 0xf6 != 0xf0 {
            return None;
        }
        let header_length = if header[1] & 0x01 == 0 { 9 } else { 7 };
        let object_type = (header[2] >> 6) + 1;
        let rate_index = (header[2] >> 2) & 0x0f;
        let channels = ((header[2] & 0x01) << 2) | (header[3] >> 6);
        let length = (usize::from(header[3] & 0x03) << 11)
            | (usize::from(header[4]) << 3)
            | usize::from(header[5] >> 5);
        let sample_rate = *ADTS_SAMPLE_RATES.get(usize::from(rate_index))?;
        (length > header_length).then_some(Self {
            header_length,
            length,
            sample_rate,
            audio_specific_config: [
                (object_type << 3) | (rate_index >> 1),
                ((rate_index & 1) << 7) | (channels << 3),
            ],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aac::Decoder;
    use std::process::Command;

    /// `seconds` of a sine in AAC-LC 48 kHz stereo, muxed into MPEG-TS by ffmpeg.
    fn sine_ts(seconds: u32) -> Vec<u8> {
        let output = Command::new("ffmpeg")
            .args(["-v", "error", "-f", "lavfi", "-i"])
            .arg(format!(
                "sine=frequency=440:sample_rate=48000:duration={seconds}"
            ))
            .args([
                "-ac", "2", "-c:a", "aac", "-b:a", "128k", "-f", "mpegts", "-",
            ])
            .output()
            .expect("ffmpeg runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    }

    fn demux_in_pieces(ts: &[u8], piece: usize) -> Vec<AdtsFrame> {
        let mut demuxer = TsDemuxer::default();
        let mut frames = Vec::new();
        for bytes in ts.chunks(piece) {
            frames.extend(demuxer.push(bytes));
        }
        frames.extend(demuxer.finish());
        assert_eq!(demuxer.resyncs, 0, "packets stay aligned");
        frames
    }

    #[test]
    fn the_adts_frames_of_an_ffmpeg_segment_decode_to_its_duration() {
        let ts = sine_ts(3);
        let frames = demux_in_pieces(&ts, ts.len());
        assert!(!frames.is_empty());
        assert!(frames.iter().all(
            |frame| frame.audio_specific_config == [0x11, 0x90] && frame.sample_rate == 48_000
        ));
        let mut decoder = Decoder::new(&frames[0].audio_specific_config).expect("AAC-LC");
        assert_eq!(decoder.channels(), 2);
        let mut samples = 0;
        let mut loudest = 0.0f32;
        for frame in &frames {
            let decoded = decoder.decode(&frame.payload).expect("frame decodes");
            samples += decoded.len() / 2;
            loudest = decoded
                .iter()
                .fold(loudest, |loudest, sample| loudest.max(sample.abs()));
        }
        // 3 s, plus the encoder's priming and the padding of its last frame.
        let seconds = samples as f64 / 48_000.0;
        assert!(
            (3.0..3.0 + 3.0 * 1024.0 / 48_000.0).contains(&seconds),
            "{seconds} s"
        );
        assert!(loudest > 0.05, "the sine, not silence: {loudest}");
    }

    #[test]
    fn bytes_split_anywhere_give_the_same_frames() {
        let ts = sine_ts(2);
        let whole = demux_in_pieces(&ts, ts.len());
        assert!(whole.len() >= 2 * 48_000 / 1024, "{} frames", whole.len());
        for piece in [1, 7, 187, 189, 1000] {
            assert_eq!(
                demux_in_pieces(&ts, piece),
                whole,
                "pieces of {piece} bytes"
            );
        }
    }

    /// Hand-made packets: a PAT, a PMT whose AAC stream is PID 0x101, and a
    /// PES of two ADTS frames spanning three packets, the last one padded by
    /// an adaptation field.
    fn hand_made_ts(frames: &[Vec<u8>]) -> Vec<u8> {
        let mut ts = Vec::new();
        let psi = |pid: u16, table: &[u8]| {
            let mut packet = vec![SYNC, 0x40 | (pid >> 8) as u8, pid as u8, 0x10, 0];
            packet.extend_from_slice(table);
            packet.resize(PACKET, 0xff);
            packet
        };
        // table_id, length 13, ts id, version, section numbers, program 1 → PID 0x100, CRC.
        ts.extend(psi(
            0,
            &[0, 0xb0, 13, 0, 1, 0xc1, 0, 0, 0, 1, 0xe1, 0x00, 0, 0, 0, 0],
        ));
        // table_id, length 18, program 1, …, PCR PID, no program info, AAC on 0x101, CRC.
        ts.extend(psi(
            0x100,
            &[
                2, 0xb0, 18, 0, 1, 0xc1, 0, 0, 0xe1, 0x01, 0xf0, 0, 0x0f, 0xe1, 0x01, 0xf0, 0, 0,
                0, 0, 0,
            ],
        ));
        let elementary: Vec<u8> = frames.iter().flatten().copied().collect();
        let mut pes = vec![0, 0, 1, 0xc0];
        pes.extend_from_slice(&((elementary.len() + 3) as u16).to_be_bytes());
        pes.extend_from_slice(&[0x80, 0, 0]);
        pes.extend_from_slice(&elementary);
        for (index, piece) in pes.chunks(PACKET - 4).enumerate() {
            let start = if index == 0 { 0x40 } else { 0 };
            let mut packet = vec![SYNC, start | 0x01, 0x01];
            if piece.len() == PACKET - 4 {
                packet.push(0x10 | index as u8);
            } else {
                let stuffing = PACKET - 4 - piece.len() - 1;
                packet.push(0x30 | index as u8);
                packet.push(stuffing as u8);
                if stuffing > 0 {
                    packet.push(0);
                    packet.resize(5 + stuffing, 0xff);
                }
            }
            packet.extend_from_slice(piece);
            assert_eq!(packet.len(), PACKET);
            ts.extend(packet);
        }
        ts
    }

    /// An ADTS frame (AAC-LC, 44.1 kHz, mono, no CRC) around `payload`.
    fn adts(payload: &[u8]) -> Vec<u8> {
        let length = payload.len() + 7;
        let mut frame = vec![
            0xff,
            0xf1,
            (1 << 6) | (4 << 2),
            (1 << 6) | (length >> 11) as u8,
            (length >> 3) as u8,
            ((length & 7) << 5) as u8 | 0x1f,
            0xfc,
        ];
        frame.extend_from_slice(payload);
        frame
    }

    #[test]
    fn a_pes_spanning_packets_is_reassembled_into_its_frames() {
        let payloads = [vec![0xa5; 200], vec![0x5a; 150]];
        let ts = hand_made_ts(&[adts(&payloads[0]), adts(&payloads[1])]);
        assert_eq!(ts.len(), 5 * PACKET, "PAT, PMT and a PES in three packets");
        for piece in [1, 100, ts.len()] {
            let frames = demux_in_pieces(&ts, piece);
            assert_eq!(frames.len(), 2, "pieces of {piece}");
            for (frame, payload) in frames.iter().zip(&payloads) {
                assert_eq!(&frame.payload, payload);
                assert_eq!(frame.sample_rate, 44_100);
                // AAC-LC (2), 44.1 kHz (index 4), mono (1).
                assert_eq!(frame.audio_specific_config, [0x12, 0x08]);
            }
        }
    }

    #[test]
    fn packets_of_other_pids_and_bytes_before_a_sync_are_skipped() {
        let payload = vec![0x33; 100];
        let mut ts = vec![0x00, 0x12];
        let mut other = vec![SYNC, 0x40 | 0x02, 0x00, 0x10];
        other.resize(PACKET, 0x47);
        let clean = hand_made_ts(&[adts(&payload)]);
        ts.extend_from_slice(&clean[..2 * PACKET]);
        ts.extend(other);
        ts.extend_from_slice(&clean[2 * PACKET..]);
        let mut demuxer = TsDemuxer::default();
        let mut frames = demuxer.push(&ts);
        frames.extend(demuxer.finish());
        assert_eq!(demuxer.resyncs, 2);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].payload, payload);
    }
}
