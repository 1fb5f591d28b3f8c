//! A live HLS media playlist, as a polling reader needs it: each segment's
//! absolute URL (relative URIs resolved against the playlist's URL, query
//! strings kept: through the edge they may carry the playback token), its
//! `#EXTINF` duration and its media sequence number.
//!
//! A poll may read a playlist that its writer has not finished (SRS renames a
//! complete file into place, but not every server does): only lines that end
//! in a newline count.

use reqwest::Url;

#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub sequence: u64,
    pub url: Url,
    pub seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Playlist {
    pub target_duration: Option<f64>,
    pub segments: Vec<Segment>,
    pub ended: bool,
}

pub fn parse(body: &str, playlist_url: &Url) -> Playlist {
    let complete = body.rfind('\n').map_or("", |end| &body[..end]);
    let mut playlist = Playlist::default();
    let mut sequence = 0;
    let mut duration = None;
    for line in complete.lines().map(str::trim) {
        if let Some(value) = line.strip_prefix("#EXT-X-TARGETDURATION:") {
            playlist.target_duration = value.parse().ok();
        } else if let Some(value) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
            sequence = value.parse().unwrap_or(0);
        } else if let Some(value) = line.strip_prefix("#EXTINF:") {
            // `<seconds>,<title>` (SRS: `1.003, no desc`); a missing comma is tolerated.
            let seconds = value.split(',').next().unwrap_or_default();
            duration = seconds.trim().parse().ok();
        } else if line == "#EXT-X-ENDLIST" {
            playlist.ended = true;
        } else if !line.is_empty() && !line.starts_with('#') {
            if let (Some(seconds), Ok(url)) = (duration.take(), playlist_url.join(line)) {
                playlist.segments.push(Segment {
                    sequence,
                    url,
                    seconds,
                });
            }
            sequence += 1;
        }
    }
    playlist
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn srss_playlist_gives_urls_next_to_the_playlist_with_durations_and_sequence_numbers() {
        let body = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-MEDIA-SEQUENCE:4\n#EXT-X-TARGETDURATION:2\n\
                    #EXT-X-DISCONTINUITY\n#EXTINF:1.003, no desc\n4.ts\n#EXTINF:0.981, no desc\n5.ts\n";
        let base = url("https://localhost:8443/live/p1.17.tag/v1/v1.m3u8");
        let playlist = parse(body, &base);
        assert_eq!(playlist.target_duration, Some(2.0));
        assert!(!playlist.ended);
        assert_eq!(
            playlist.segments,
            vec![
                Segment {
                    sequence: 4,
                    url: url("https://localhost:8443/live/p1.17.tag/v1/4.ts"),
                    seconds: 1.003
                },
                Segment {
                    sequence: 5,
                    url: url("https://localhost:8443/live/p1.17.tag/v1/5.ts"),
                    seconds: 0.981
                },
            ]
        );
    }

    #[test]
    fn titles_absolute_and_rooted_uris_and_query_strings_are_kept() {
        let body = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.000,live\r\n\
                    seg-1.ts?token=abc&x=1\n#EXTINF:2.000,\nhttp://cdn.example/a/seg-2.ts?token=abc\n\
                    #EXTINF:1.500,\n/other/seg-3.ts\n#EXT-X-ENDLIST\n";
        let playlist = parse(body, &url("http://127.0.0.1:9/live/v1/v1.m3u8?token=abc"));
        let urls: Vec<&str> = playlist.segments.iter().map(|s| s.url.as_str()).collect();
        assert_eq!(
            urls,
            vec![
                "http://127.0.0.1:9/live/v1/seg-1.ts?token=abc&x=1",
                "http://cdn.example/a/seg-2.ts?token=abc",
                "http://127.0.0.1:9/other/seg-3.ts",
            ]
        );
        let seconds: Vec<f64> = playlist.segments.iter().map(|s| s.seconds).collect();
        assert_eq!(seconds, vec![2.0, 2.0, 1.5]);
        let sequences: Vec<u64> = playlist.segments.iter().map(|s| s.sequence).collect();
        assert_eq!(sequences, vec![0, 1, 2], "no media sequence: from 0");
        assert!(playlist.ended);
    }

    #[test]
    fn a_half_written_playlist_lists_only_its_complete_lines() {
        let base = url("http://127.0.0.1:9/live/v1/v1.m3u8");
        let whole = "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:1.000\n7.ts\n#EXTINF:1.000\n8.ts\n";
        assert_eq!(parse(whole, &base).segments.len(), 2);
        let cut = &whole[..whole.len() - 2];
        let segments = parse(cut, &base).segments;
        assert_eq!(segments.len(), 1, "not `8.`: {segments:?}");
        assert_eq!(segments[0].sequence, 7);
        assert!(parse("", &base).segments.is_empty());
        assert!(
            parse("#EXTM3U\n7.ts\n", &base).segments.is_empty(),
            "no EXTINF"
        );
    }
}
