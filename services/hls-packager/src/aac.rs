//! The AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1) at the head of every
//! AAC stream: the packager needs its sample rate, channels and frame length
//! to time parts, and copies it whole into the init segment's `esds`.

use bytes::Bytes;

/// Sampling frequencies by their 4-bit index; 15 means "written out".
const SAMPLE_RATES: [u32; 13] = [
    96_000, 88_200, 64_000, 48_000, 44_100, 32_000, 24_000, 22_050, 16_000, 12_000, 11_025, 8_000,
    7_350,
];
const EXPLICIT_RATE_INDEX: u32 = 15;

/// What a decoder and the packager need to know about an AAC stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioConfig {
    /// The AudioSpecificConfig as the encoder wrote it.
    pub raw: Bytes,
    /// 2 = AAC-LC.
    pub object_type: u8,
    pub sample_rate: u32,
    pub channels: u16,
    /// 1024, or 960 with the frame-length flag.
    pub samples_per_frame: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AudioConfigError {
    #[error("the AudioSpecificConfig is cut short")]
    Truncated,
    #[error("audio object type {0} is not plain AAC (main, LC, SSR or LTP)")]
    UnsupportedObjectType(u8),
    #[error("sampling frequency index {0} is reserved")]
    ReservedRate(u32),
    #[error("channel configuration {0} is not a plain channel count")]
    UnsupportedChannels(u32),
}

struct Bits<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl Bits<'_> {
    fn take(&mut self, count: usize) -> Result<u32, AudioConfigError> {
        let mut value = 0;
        for _ in 0..count {
            let byte = self
                .bytes
                .get(self.position / 8)
                .ok_or(AudioConfigError::Truncated)?;
            let bit = (byte >> (7 - self.position % 8)) & 1;
            value = (value << 1) | u32::from(bit);
            self.position += 1;
        }
        Ok(value)
    }
}

impl AudioConfig {
    pub fn parse(raw: Bytes) -> Result<Self, AudioConfigError> {
        let mut bits = Bits {
            bytes: &raw,
            position: 0,
        };
        let mut object_type = bits.take(5)?;
        if object_type == 31 {
            object_type = 32 + bits.take(6)?;
        }
        // Main, LC, SSR, LTP: 1024 (or 960) samples per frame, no SBR layer
        // that would double the output rate.
        if !(1..=4).contains(&object_type) {
            return Err(AudioConfigError::UnsupportedObjectType(object_type as u8));
        }
        let rate_index = bits.take(4)?;
        let sample_rate = match rate_index {
            EXPLICIT_RATE_INDEX => bits.take(24)?,
            index => *SAMPLE_RATES
                .get(index as usize)
                .ok_or(AudioConfigError::ReservedRate(index))?,
        };
        let channel_configuration = bits.take(4)?;
        let channels = match channel_configuration {
            1..=6 => channel_configuration as u16,
            7 => 8,
            other => return Err(AudioConfigError::UnsupportedChannels(other)),
        };
        // GASpecificConfig: frameLengthFlag.
        let samples_per_frame = if bits.take(1)? == 1 { 960 } else { 1024 };
        Ok(Self {
            raw,
            object_type: object_type as u8,
            sample_rate,
            channels,
            samples_per_frame,
        })
    }

    /// The RFC 6381 codec name players are told (`mp4a.40.2` for AAC-LC).
    pub fn codec(&self) -> String {
        format!("mp4a.40.{}", self.object_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aac_lc_48_khz_stereo_as_ffmpeg_writes_it() {
        // 00010 0011 0010 0 0 0: LC, index 3 (48 kHz), 2 channels.
        let config = AudioConfig::parse(Bytes::from_static(&[0x11, 0x90])).unwrap();
        assert_eq!(
            (
                config.object_type,
                config.sample_rate,
                config.channels,
                config.samples_per_frame
            ),
            (2, 48_000, 2, 1024)
        );
        assert_eq!(config.codec(), "mp4a.40.2");
    }

    #[test]
    fn an_explicit_rate_and_the_960_sample_flag_are_read() {
        // LC, index 15, rate 0x00bb80 (48000), 1 channel, frame length flag set.
        // 00010 1111 000000001011101110000000 0001 1 00
        let raw = [0x17, 0x80, 0x5d, 0xc0, 0x0c];
        let config = AudioConfig::parse(Bytes::copy_from_slice(&raw)).unwrap();
        assert_eq!(
            (
                config.sample_rate,
                config.channels,
                config.samples_per_frame
            ),
            (48_000, 1, 960)
        );
    }

    #[test]
    fn what_the_packager_cannot_time_is_refused() {
        // HE-AAC (object type 5) doubles the rate through SBR.
        assert_eq!(
            AudioConfig::parse(Bytes::from_static(&[0x2b, 0x10])),
            Err(AudioConfigError::UnsupportedObjectType(5))
        );
        assert_eq!(
            AudioConfig::parse(Bytes::from_static(&[0x16])),
            Err(AudioConfigError::Truncated)
        );
        // LC at reserved index 13.
        assert_eq!(
            AudioConfig::parse(Bytes::from_static(&[0x16, 0x90])),
            Err(AudioConfigError::ReservedRate(13))
        );
        // LC, 48 kHz, channel configuration 0 (defined in-band).
        assert_eq!(
            AudioConfig::parse(Bytes::from_static(&[0x11, 0x80])),
            Err(AudioConfigError::UnsupportedChannels(0))
        );
    }
}
