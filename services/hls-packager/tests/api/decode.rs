//! What the packager makes of the engine's FLV decodes: ffprobe and ffmpeg
//! read init + parts and init + segments as AAC-LC 48 kHz stereo, with no
//! error, and as long as the playlist says.

use crate::helpers::{decode, settings, spawn_packager, start_engine, Playlist};
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_with_parts_and_init_with_segments_decode_as_aac_lc_48_khz_stereo() {
    let engine = start_engine().await;
    let _publisher = engine.publish("decode", 60);
    let packager = spawn_packager(settings(&engine)).await;
    let playlist = Playlist::parse(&packager.playlist_with("decode", 3).await);
    let folder = tempfile::tempdir().unwrap();

    let init = packager.get("decode", &playlist.segments[0].map).await;
    assert_eq!(init.status, StatusCode::OK);
    assert_eq!(init.content_type, "audio/mp4");

    // Init + the whole segments.
    let mut whole = init.body.to_vec();
    let mut listed_seconds = 0.0;
    for segment in &playlist.segments {
        let reply = packager.get("decode", &segment.uri).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", segment.uri);
        whole.extend_from_slice(&reply.body);
        listed_seconds += segment.duration;
    }
    assert_decodes_as_listed(&folder.path().join("segments.mp4"), &whole, listed_seconds);

    // Init + every part listed, which together are whole segments and the
    // start of the next.
    let mut from_parts = init.body.to_vec();
    let mut part_seconds = 0.0;
    for (duration, uri) in &playlist.parts {
        let reply = packager.get("decode", uri).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}");
        assert_eq!(reply.content_type, "audio/mp4");
        from_parts.extend_from_slice(&reply.body);
        part_seconds += duration;
    }
    assert!(playlist.parts.len() >= 4, "{:?}", playlist.parts);
    assert_decodes_as_listed(&folder.path().join("parts.mp4"), &from_parts, part_seconds);

    // A segment is its parts back to back, byte for byte.
    let segment = playlist
        .segments
        .iter()
        .find(|segment| segment.parts.len() == 4)
        .expect("a whole segment with its parts listed");
    let mut joined = Vec::new();
    for uri in &segment.parts {
        joined.extend_from_slice(&packager.get("decode", uri).await.body);
    }
    assert_eq!(
        joined,
        packager.get("decode", &segment.uri).await.body.to_vec()
    );
    let part_sizes: Vec<usize> = playlist_part_sizes(&packager, &segment.parts).await;
    println!(
        "init {} bytes, parts {part_sizes:?} bytes, segment {} bytes",
        init.body.len(),
        joined.len()
    );
}

async fn playlist_part_sizes(packager: &crate::helpers::Packager, uris: &[String]) -> Vec<usize> {
    let mut sizes = Vec::new();
    for uri in uris {
        sizes.push(packager.get("decode", uri).await.body.len());
    }
    sizes
}

/// Writes `media` to `file`; ffmpeg decodes it with no error as AAC-LC
/// 48 kHz stereo, as long as the playlist said (within 50 ms).
fn assert_decodes_as_listed(file: &std::path::Path, media: &[u8], listed_seconds: f64) {
    std::fs::write(file, media).unwrap();
    let (probed, errors) = decode(file);
    assert_eq!(
        errors,
        "",
        "ffmpeg decodes {} without error",
        file.display()
    );
    let format = (
        probed.codec.as_str(),
        probed.profile.as_str(),
        probed.sample_rate_hz,
        probed.channels,
    );
    assert_eq!(format, ("aac", "LC", 48_000, 2));
    assert!(
        (probed.decoded_seconds - listed_seconds).abs() < 0.05,
        "decoded {} s, listed {listed_seconds} s",
        probed.decoded_seconds
    );
}
