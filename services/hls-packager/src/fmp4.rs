//! The fragmented MP4 (CMAF-style) boxes of one AAC track: an init segment
//! (`ftyp` + `moov`) and fragments (`moof` + `mdat`), one per LL-HLS part.
//!
//! Written here rather than with a crate: the maintained ISO-BMFF crates are
//! general box codecs (mp4-atom, with num and paste), while one audio track
//! needs a dozen fixed boxes. Each box has a function and a test; ffmpeg
//! decoding what they make together is the integration test's job.

use crate::aac::AudioConfig;
use bytes::Bytes;

/// The one track's id in `tkhd`, `trex` and `tfhd`.
pub const TRACK_ID: u32 = 1;

/// A box: 32-bit size (header included), four-character type, body.
fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let size = u32::try_from(8 + body.len()).expect("boxes stay below 4 GiB");
    let mut out = Vec::with_capacity(8 + body.len());
    out.extend_from_slice(&size.to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    out
}

/// A "full box": a box whose body starts with a version byte and 24 bits of flags.
fn full_box(kind: &[u8; 4], version: u8, flags: u32, body: &[u8]) -> Vec<u8> {
    let mut full = Vec::with_capacity(4 + body.len());
    full.push(version);
    full.extend_from_slice(&flags.to_be_bytes()[1..]);
    full.extend_from_slice(body);
    boxed(kind, &full)
}

fn concat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

/// The unity transformation matrix of `mvhd` and `tkhd`.
fn unity_matrix() -> Vec<u8> {
    let mut matrix = Vec::with_capacity(36);
    for value in [0x0001_0000u32, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000] {
        matrix.extend_from_slice(&value.to_be_bytes());
    }
    matrix
}

pub fn ftyp() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(b"iso6"); // major brand
    body.extend_from_slice(&0u32.to_be_bytes()); // minor version
    for brand in [b"iso6", b"cmfc", b"mp41"] {
        body.extend_from_slice(brand);
    }
    boxed(b"ftyp", &body)
}

/// Movie header: a timescale, no duration (fragments carry the media).
fn mvhd(timescale: u32) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&[0; 8]); // creation and modification time
    body.extend_from_slice(&timescale.to_be_bytes());
    body.extend_from_slice(&0u32.to_be_bytes()); // duration: unknown (live)
    body.extend_from_slice(&0x0001_0000u32.to_be_bytes()); // rate 1.0
    body.extend_from_slice(&0x0100u16.to_be_bytes()); // volume 1.0
    body.extend_from_slice(&[0; 10]); // reserved
    body.extend_from_slice(&unity_matrix());
    body.extend_from_slice(&[0; 24]); // pre_defined
    body.extend_from_slice(&(TRACK_ID + 1).to_be_bytes()); // next_track_ID
    full_box(b"mvhd", 0, 0, &body)
}

/// Track header: enabled and in the movie, audio volume.
fn tkhd() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&[0; 8]); // creation and modification time
    body.extend_from_slice(&TRACK_ID.to_be_bytes());
    body.extend_from_slice(&[0; 4]); // reserved
    body.extend_from_slice(&0u32.to_be_bytes()); // duration
    body.extend_from_slice(&[0; 8]); // reserved
    body.extend_from_slice(&0u16.to_be_bytes()); // layer
    body.extend_from_slice(&0u16.to_be_bytes()); // alternate_group
    body.extend_from_slice(&0x0100u16.to_be_bytes()); // volume 1.0 (audio)
    body.extend_from_slice(&[0; 2]); // reserved
    body.extend_from_slice(&unity_matrix());
    body.extend_from_slice(&[0; 8]); // width, height: none for audio
    full_box(b"tkhd", 0, 0x000003, &body)
}

/// Media header: the track's timescale is the sample rate, so one AAC
/// frame is exactly 1024 ticks.
fn mdhd(timescale: u32) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&[0; 8]); // creation and modification time
    body.extend_from_slice(&timescale.to_be_bytes());
    body.extend_from_slice(&0u32.to_be_bytes()); // duration
    body.extend_from_slice(&0x55c4u16.to_be_bytes()); // language "und", packed
    body.extend_from_slice(&0u16.to_be_bytes()); // pre_defined
    full_box(b"mdhd", 0, 0, &body)
}

fn hdlr() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&0u32.to_be_bytes()); // pre_defined
    body.extend_from_slice(b"soun");
    body.extend_from_slice(&[0; 12]); // reserved
    body.extend_from_slice(b"SoundHandler\0");
    full_box(b"hdlr", 0, 0, &body)
}

/// Sound media header: centred balance.
fn smhd() -> Vec<u8> {
    full_box(b"smhd", 0, 0, &[0; 4])
}

/// Data information: the media is in this file (`url ` with flag 1).
fn dinf() -> Vec<u8> {
    let url = full_box(b"url ", 0, 1, &[]);
    let mut dref_body = 1u32.to_be_bytes().to_vec();
    dref_body.extend_from_slice(&url);
    boxed(b"dinf", &full_box(b"dref", 0, 0, &dref_body))
}

/// An MPEG-4 descriptor: tag, length (one byte when it fits, else the
/// four-byte form), body.
fn descriptor(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let length = u32::try_from(body.len()).expect("descriptors are small");
    if length < 0x80 {
        out.push(length as u8);
    } else {
        out.extend_from_slice(&[
            0x80 | ((length >> 21) & 0x7f) as u8,
            0x80 | ((length >> 14) & 0x7f) as u8,
            0x80 | ((length >> 7) & 0x7f) as u8,
            (length & 0x7f) as u8,
        ]);
    }
    out.extend_from_slice(body);
    out
}

/// Elementary stream descriptor: MPEG-4 audio (0x40), an audio stream,
/// with the AudioSpecificConfig as decoder-specific info.
fn esds(config: &AudioConfig, average_bitrate: u32) -> Vec<u8> {
    let decoder_specific = descriptor(0x05, &config.raw);
    let mut decoder_config = vec![0x40, (0x05 << 2) | 1]; // object type, stream type audio
    decoder_config.extend_from_slice(&[0; 3]); // bufferSizeDB
    decoder_config.extend_from_slice(&average_bitrate.to_be_bytes()); // maxBitrate
    decoder_config.extend_from_slice(&average_bitrate.to_be_bytes()); // avgBitrate
    decoder_config.extend_from_slice(&decoder_specific);
    let mut es = TRACK_ID.to_be_bytes()[2..].to_vec(); // ES_ID
    es.push(0); // no dependency, URL or OCR stream
    es.extend_from_slice(&descriptor(0x04, &decoder_config));
    es.extend_from_slice(&descriptor(0x06, &[0x02])); // SL config: predefined MP4
    full_box(b"esds", 0, 0, &descriptor(0x03, &es))
}

/// The audio sample entry.
fn mp4a(config: &AudioConfig, average_bitrate: u32) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&[0; 6]); // reserved
    body.extend_from_slice(&1u16.to_be_bytes()); // data_reference_index
    body.extend_from_slice(&[0; 8]); // reserved (version, revision, vendor)
    body.extend_from_slice(&config.channels.to_be_bytes());
    body.extend_from_slice(&16u16.to_be_bytes()); // sample size
    body.extend_from_slice(&[0; 4]); // pre_defined, reserved
                                     // 16.16 fixed point; rates past 65535 Hz do not fit and are written as 0.
    let rate = if config.sample_rate <= 0xffff {
        config.sample_rate << 16
    } else {
        0
    };
    body.extend_from_slice(&rate.to_be_bytes());
    body.extend_from_slice(&esds(config, average_bitrate));
    boxed(b"mp4a", &body)
}

/// Sample table: the sample entry, and empty tables (samples are in fragments).
fn stbl(config: &AudioConfig, average_bitrate: u32) -> Vec<u8> {
    let mut stsd_body = 1u32.to_be_bytes().to_vec();
    stsd_body.extend_from_slice(&mp4a(config, average_bitrate));
    let empty = 0u32.to_be_bytes();
    let mut stsz_body = 0u32.to_be_bytes().to_vec(); // sample_size: per sample
    stsz_body.extend_from_slice(&empty);
    boxed(
        b"stbl",
        &concat(&[
            full_box(b"stsd", 0, 0, &stsd_body),
            full_box(b"stts", 0, 0, &empty),
            full_box(b"stsc", 0, 0, &empty),
            full_box(b"stsz", 0, 0, &stsz_body),
            full_box(b"stco", 0, 0, &empty),
        ]),
    )
}

/// Track extends: every fragment sample is one AAC frame long by default.
fn mvex(config: &AudioConfig) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&TRACK_ID.to_be_bytes());
    body.extend_from_slice(&1u32.to_be_bytes()); // default_sample_description_index
    body.extend_from_slice(&config.samples_per_frame.to_be_bytes()); // default duration
    body.extend_from_slice(&0u32.to_be_bytes()); // default size
    body.extend_from_slice(&0u32.to_be_bytes()); // default flags: sync samples
    boxed(b"mvex", &full_box(b"trex", 0, 0, &body))
}

/// The init segment (`EXT-X-MAP`): `ftyp` and a `moov` describing the one
/// AAC track. `average_bitrate` goes into the `esds` (0 = unknown).
pub fn init_segment(config: &AudioConfig, average_bitrate: u32) -> Bytes {
    let minf = boxed(
        b"minf",
        &concat(&[smhd(), dinf(), stbl(config, average_bitrate)]),
    );
    let mdia = boxed(b"mdia", &concat(&[mdhd(config.sample_rate), hdlr(), minf]));
    let trak = boxed(b"trak", &concat(&[tkhd(), mdia]));
    let moov = boxed(
        b"moov",
        &concat(&[mvhd(config.sample_rate), trak, mvex(config)]),
    );
    Bytes::from(concat(&[ftyp(), moov]))
}

fn mfhd(sequence_number: u32) -> Vec<u8> {
    full_box(b"mfhd", 0, 0, &sequence_number.to_be_bytes())
}

/// Track fragment header: data offsets count from the `moof`'s start, and
/// every sample lasts one frame.
fn tfhd(samples_per_frame: u32) -> Vec<u8> {
    const DEFAULT_BASE_IS_MOOF: u32 = 0x02_0000;
    const DEFAULT_SAMPLE_DURATION_PRESENT: u32 = 0x00_0008;
    let mut body = TRACK_ID.to_be_bytes().to_vec();
    body.extend_from_slice(&samples_per_frame.to_be_bytes());
    full_box(
        b"tfhd",
        0,
        DEFAULT_BASE_IS_MOOF | DEFAULT_SAMPLE_DURATION_PRESENT,
        &body,
    )
}

/// Track fragment decode time: where the fragment's first sample plays, in
/// the track's timescale (64 bits: a stream may run for days).
fn tfdt(base_media_decode_time: u64) -> Vec<u8> {
    full_box(b"tfdt", 1, 0, &base_media_decode_time.to_be_bytes())
}

/// Track run: the samples' sizes and where the first one starts (counted
/// from the `moof`).
fn trun(sample_sizes: &[u32], data_offset: u32) -> Vec<u8> {
    const DATA_OFFSET_PRESENT: u32 = 0x00_0001;
    const SAMPLE_SIZE_PRESENT: u32 = 0x00_0200;
    let count = u32::try_from(sample_sizes.len()).expect("a part holds few frames");
    let mut body = count.to_be_bytes().to_vec();
    body.extend_from_slice(&data_offset.to_be_bytes());
    for size in sample_sizes {
        body.extend_from_slice(&size.to_be_bytes());
    }
    full_box(b"trun", 0, DATA_OFFSET_PRESENT | SAMPLE_SIZE_PRESENT, &body)
}

/// One fragment (an LL-HLS part): `moof` + `mdat` with `frames` (raw AAC
/// frames) starting at `base_media_decode_time`.
pub fn fragment(
    sequence_number: u32,
    base_media_decode_time: u64,
    samples_per_frame: u32,
    frames: &[Bytes],
) -> Bytes {
    let sizes: Vec<u32> = frames
        .iter()
        .map(|frame| u32::try_from(frame.len()).expect("AAC frames are small"))
        .collect();
    let moof_for = |data_offset| {
        let traf = boxed(
            b"traf",
            &concat(&[
                tfhd(samples_per_frame),
                tfdt(base_media_decode_time),
                trun(&sizes, data_offset),
            ]),
        );
        boxed(b"moof", &concat(&[mfhd(sequence_number), traf]))
    };
    // The offset's value does not change the moof's length: measure, then
    // write it with the real offset (past the moof and the mdat header).
    let moof_len = moof_for(0).len();
    let moof = moof_for(u32::try_from(moof_len + 8).expect("small moof"));
    let payload: usize = frames.iter().map(Bytes::len).sum();
    let mut out = Vec::with_capacity(moof.len() + 8 + payload);
    out.extend_from_slice(&moof);
    out.extend_from_slice(
        &u32::try_from(8 + payload)
            .expect("small mdat")
            .to_be_bytes(),
    );
    out.extend_from_slice(b"mdat");
    for frame in frames {
        out.extend_from_slice(frame);
    }
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> AudioConfig {
        AudioConfig::parse(Bytes::from_static(&[0x11, 0x90])).unwrap()
    }

    /// The boxes directly inside `bytes`: (type, body).
    fn children(mut bytes: &[u8]) -> Vec<([u8; 4], Vec<u8>)> {
        let mut found = Vec::new();
        while !bytes.is_empty() {
            let size = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
            assert!(size >= 8 && size <= bytes.len(), "box size {size}");
            found.push((bytes[4..8].try_into().unwrap(), bytes[8..size].to_vec()));
            bytes = &bytes[size..];
        }
        found
    }

    fn kinds(bytes: &[u8]) -> Vec<String> {
        children(bytes)
            .iter()
            .map(|(kind, _)| String::from_utf8_lossy(kind).into_owned())
            .collect()
    }

    fn only_child(bytes: &[u8], kind: &[u8; 4]) -> Vec<u8> {
        children(bytes)
            .into_iter()
            .find(|(found, _)| found == kind)
            .unwrap_or_else(|| panic!("no {}", String::from_utf8_lossy(kind)))
            .1
    }

    fn u32_at(bytes: &[u8], at: usize) -> u32 {
        u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap())
    }

    #[test]
    fn ftyp_names_iso6_and_cmaf() {
        let (kind, body) = children(&ftyp()).remove(0);
        assert_eq!(&kind, b"ftyp");
        assert_eq!(&body[..4], b"iso6");
        assert_eq!(&body[8..], b"iso6cmfcmp41");
    }

    #[test]
    fn init_segment_nests_the_track_as_players_expect() {
        let init = init_segment(&config(), 128_000);
        assert_eq!(kinds(&init), ["ftyp", "moov"]);
        let moov = only_child(&init, b"moov");
        assert_eq!(kinds(&moov), ["mvhd", "trak", "mvex"]);
        let trak = only_child(&moov, b"trak");
        assert_eq!(kinds(&trak), ["tkhd", "mdia"]);
        let mdia = only_child(&trak, b"mdia");
        assert_eq!(kinds(&mdia), ["mdhd", "hdlr", "minf"]);
        let minf = only_child(&mdia, b"minf");
        assert_eq!(kinds(&minf), ["smhd", "dinf", "stbl"]);
        let stbl = only_child(&minf, b"stbl");
        assert_eq!(kinds(&stbl), ["stsd", "stts", "stsc", "stsz", "stco"]);
    }

    #[test]
    fn mvhd_and_mdhd_count_in_samples() {
        let mvhd = children(&mvhd(48_000)).remove(0).1;
        assert_eq!(mvhd.len(), 100);
        assert_eq!(u32_at(&mvhd, 12), 48_000, "timescale");
        assert_eq!(u32_at(&mvhd, 96), 2, "next track id");
        let mdhd = children(&mdhd(48_000)).remove(0).1;
        assert_eq!(u32_at(&mdhd, 12), 48_000, "timescale");
        assert_eq!(&mdhd[20..22], &[0x55, 0xc4], "language und");
    }

    #[test]
    fn tkhd_is_an_enabled_audio_track() {
        let tkhd = children(&tkhd()).remove(0).1;
        assert_eq!(tkhd.len(), 84);
        assert_eq!(&tkhd[1..4], &[0, 0, 3], "enabled, in movie");
        assert_eq!(u32_at(&tkhd, 12), TRACK_ID);
        assert_eq!(&tkhd[36..38], &[1, 0], "volume 1.0");
    }

    #[test]
    fn hdlr_smhd_and_dinf_describe_sound_in_this_file() {
        let hdlr = children(&hdlr()).remove(0).1;
        assert_eq!(&hdlr[8..12], b"soun");
        assert_eq!(children(&smhd()).remove(0).1, [0; 8]);
        let dref = only_child(&dinf()[8..], b"dref");
        assert_eq!(u32_at(&dref, 4), 1, "one entry");
        let (kind, url) = children(&dref[8..]).remove(0);
        assert_eq!(&kind, b"url ");
        assert_eq!(url, [0, 0, 0, 1], "self-contained");
    }

    #[test]
    fn mp4a_carries_channels_rate_and_the_config_in_esds() {
        let mp4a = children(&mp4a(&config(), 128_000)).remove(0).1;
        assert_eq!(&mp4a[6..8], &[0, 1], "data reference index");
        assert_eq!(&mp4a[16..18], &[0, 2], "channels");
        assert_eq!(u32_at(&mp4a, 24), 48_000 << 16, "rate, 16.16");
        let esds = only_child(&mp4a[28..], b"esds");
        // version/flags, ES_Descriptor (0x03), ES_ID 1, flags,
        // DecoderConfigDescriptor (0x04): MPEG-4 audio, audio stream.
        assert_eq!(&esds[4..5], &[0x03]);
        assert_eq!(&esds[6..9], &[0, 1, 0]);
        assert_eq!(&esds[9..10], &[0x04]);
        assert_eq!(&esds[11..13], &[0x40, 0x15]);
        assert_eq!(u32_at(&esds, 20), 128_000, "average bitrate");
        // DecoderSpecificInfo (0x05) is the AudioSpecificConfig; SL (0x06) ends it.
        assert_eq!(&esds[24..28], &[0x05, 2, 0x11, 0x90]);
        assert_eq!(&esds[28..], &[0x06, 1, 0x02]);
        assert_eq!(usize::from(esds[5]), esds.len() - 6, "ES length");
    }

    #[test]
    fn long_descriptors_use_the_four_byte_length() {
        let long = descriptor(0x05, &[7; 200]);
        assert_eq!(&long[..5], &[0x05, 0x80, 0x80, 0x81, 0x48]);
        assert_eq!(long.len(), 205);
    }

    #[test]
    fn empty_sample_tables_and_trex_defaults_to_one_frame() {
        let stbl = children(&stbl(&config(), 0)).remove(0).1;
        for kind in [b"stts", b"stsc", b"stco"] {
            assert_eq!(only_child(&stbl, kind), [0; 8]);
        }
        assert_eq!(only_child(&stbl, b"stsz"), [0; 12]);
        let trex = only_child(&children(&mvex(&config())).remove(0).1, b"trex");
        assert_eq!(u32_at(&trex, 4), TRACK_ID);
        assert_eq!(u32_at(&trex, 12), 1024, "default sample duration");
    }

    #[test]
    fn a_fragment_points_its_run_at_its_mdat() {
        let frames = [
            Bytes::from_static(&[1, 2, 3]),
            Bytes::from_static(&[4, 5]),
            Bytes::from_static(&[6]),
        ];
        let fragment = fragment(7, 48_000 * 3600 * 30, 1024, &frames);
        assert_eq!(kinds(&fragment), ["moof", "mdat"]);
        let moof = only_child(&fragment, b"moof");
        assert_eq!(u32_at(&only_child(&moof, b"mfhd"), 4), 7, "sequence number");
        let traf = only_child(&moof, b"traf");
        assert_eq!(kinds(&traf), ["tfhd", "tfdt", "trun"]);
        let tfhd = only_child(&traf, b"tfhd");
        assert_eq!(&tfhd[1..4], &[0x02, 0x00, 0x08]);
        assert_eq!(u32_at(&tfhd, 4), TRACK_ID);
        assert_eq!(u32_at(&tfhd, 8), 1024);
        let tfdt = only_child(&traf, b"tfdt");
        assert_eq!(tfdt[0], 1, "64-bit decode time");
        assert_eq!(
            u64::from_be_bytes(tfdt[4..12].try_into().unwrap()),
            48_000 * 3600 * 30
        );
        let trun = only_child(&traf, b"trun");
        assert_eq!(&trun[1..4], &[0x00, 0x02, 0x01]);
        assert_eq!(u32_at(&trun, 4), 3, "samples");
        let data_offset = u32_at(&trun, 8) as usize;
        let sizes: Vec<u32> = (0..3).map(|i| u32_at(&trun, 12 + 4 * i)).collect();
        assert_eq!(sizes, [3, 2, 1]);
        assert_eq!(&fragment[data_offset..], &[1, 2, 3, 4, 5, 6]);
        assert_eq!(data_offset, moof.len() + 8 + 8);
    }
}
