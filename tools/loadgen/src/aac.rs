//! Decodes the AAC frames a listener receives, as a player would, so latency
//! is measured on audio, not on bytes.

use symphonia_codec_aac::AacDecoder;
use symphonia_core::codecs::audio::well_known::CODEC_ID_AAC;
use symphonia_core::codecs::audio::{AudioCodecParameters, AudioDecoder, AudioDecoderOptions};
use symphonia_core::packet::PacketRef;
use symphonia_core::units::Timestamp;

pub struct Decoder {
    inner: AacDecoder,
    samples: Vec<f32>,
    channels: usize,
}

impl Decoder {
    /// From the stream's AudioSpecificConfig (the FLV sequence header).
    pub fn new(audio_specific_config: &[u8]) -> Result<Self, String> {
        let mut parameters = AudioCodecParameters::new();
        parameters
            .for_codec(CODEC_ID_AAC)
            .with_extra_data(audio_specific_config.into());
        let inner = AacDecoder::try_new(&parameters, &AudioDecoderOptions::default())
            .map_err(|error| format!("AAC decoder: {error}"))?;
        let channels = inner
            .codec_params()
            .channels
            .as_ref()
            .map_or(1, |channels| channels.count().max(1));
        Ok(Self {
            inner,
            samples: Vec::new(),
            channels,
        })
    }

    pub fn channels(&self) -> usize {
        self.channels
    }

    /// One raw AAC frame → interleaved samples in [-1, 1].
    pub fn decode(&mut self, frame: &[u8]) -> Result<&[f32], String> {
        let packet = PacketRef::new(0, Timestamp::ZERO, 1024u32.into(), frame);
        let decoded = self
            .inner
            .decode_ref(&packet)
            .map_err(|error| format!("AAC frame: {error}"))?;
        self.samples.clear();
        decoded.copy_to_vec_interleaved(&mut self.samples);
        Ok(&self.samples)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::click::{ClickDetector, ClickMatcher, ClickTrack};
    use std::process::{Command, Stdio};
    use std::time::Duration;
    use vibes_flv::{AacPacket, FlvReader};

    /// The click track encoded by ffmpeg exactly as ingest encodes, into FLV.
    fn encoded_flv(track: &ClickTrack) -> Vec<u8> {
        let folder = std::env::temp_dir().join(format!("loadgen-aac-{}", std::process::id()));
        std::fs::create_dir_all(&folder).expect("temp folder");
        let file = folder.join("clicks.flv");
        crate::click::encode_with_ffmpeg(
            track,
            Command::new("ffmpeg")
                .arg("-y")
                .args(::ingest::encoder::ffmpeg_arguments(
                    "128k",
                    file.to_str().expect("utf-8 path"),
                ))
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        let flv = std::fs::read(&file).expect("FLV written");
        let _ = std::fs::remove_dir_all(&folder);
        flv
    }

    #[test]
    fn clicks_encoded_by_ffmpeg_are_found_at_their_places_after_decoding() {
        let track = ClickTrack::new(Duration::from_millis(100), Duration::from_millis(200), 10);
        let flv = encoded_flv(&track);

        let mut reader = FlvReader::default();
        reader.push(&flv);
        let (mut decoder, mut frames) = (None, 0);
        let mut detector = ClickDetector::new(Duration::from_millis(100));
        let mut onsets = Vec::new();
        while let Some(tag) = reader.next_tag().expect("valid FLV") {
            match tag.aac() {
                Some(AacPacket::SequenceHeader(config)) => {
                    decoder = Some(Decoder::new(&config).expect("AAC-LC config"));
                }
                Some(AacPacket::Frame(frame)) => {
                    let decoder = decoder.as_mut().expect("sequence header first");
                    assert_eq!(decoder.channels(), 2);
                    let samples = decoder.decode(&frame).expect("frame decodes");
                    assert_eq!(samples.len(), 2 * 1024);
                    onsets.extend(detector.feed(samples, 2));
                    frames += 1;
                }
                None => {}
            }
        }
        assert!(
            frames >= 2_200 * 48 / 1024,
            "{frames} frames for 2.1 s + 1 s"
        );
        assert_eq!(onsets.len(), 10, "every click, nothing else: {onsets:?}");
        // Decoded audio may lag the input by up to the encoder's priming
        // (1024 samples), the same for every click; a transient may ring a
        // little before its onset (pre-echo), never by 2 ms.
        let lag = onsets[0] as i64 - 4_800;
        assert!((-96..=1_100).contains(&lag), "lag {lag}: {onsets:?}");
        let mut matcher = ClickMatcher::new(&track);
        for (click, onset) in onsets.iter().enumerate() {
            let expected = 4_800 + click as i64 * 9_600 + lag;
            assert!(
                (*onset as i64 - expected).abs() <= 48,
                "click {click} at {onset}, expected {expected}"
            );
            assert_eq!(matcher.index_of(*onset), click as u64);
        }
    }
}
