//! Media playlists of a stream's timeline: the low-latency one (RFC 8216bis
//! parts, preload hint, blocking reload) and a classic one of the same
//! segments for players without LL-HLS. URIs are relative, so a playlist
//! fetched under `/live/<token>/<vibe>/` keeps the token in every request.

use crate::media_file::MediaFile;
use crate::timeline::{Segment, Timeline};
use std::fmt::Write;

/// EXT-X-MAP in a playlist of non-I-frame segments needs version 6; nothing
/// here needs more (RFC 8216bis 6.2.1: no higher than needed).
const VERSION: u32 = 6;

/// `PART-TARGET`, `DURATION`, `EXTINF`: seconds to the microsecond, as
/// short as they can be written.
fn seconds(value: f64) -> String {
    let text = format!("{value:.6}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    LowLatency,
    Classic,
}

/// The playlist of `timeline`, or `None` before its first part.
pub fn render(timeline: &Timeline, kind: Kind) -> Option<String> {
    let layout = timeline.layout()?;
    let listed: Vec<&Segment> = timeline.listed_segments().collect();
    let open = match kind {
        Kind::LowLatency => timeline.open_segment(),
        Kind::Classic => None,
    };
    let first = listed.first().copied().or(open)?;
    let target_duration = layout.target_duration();
    let mut text = String::with_capacity(2048);
    let _ = writeln!(text, "#EXTM3U\n#EXT-X-VERSION:{VERSION}");
    let _ = writeln!(text, "#EXT-X-TARGETDURATION:{target_duration}");
    if kind == Kind::LowLatency {
        let _ = writeln!(
            text,
            "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK={}",
            seconds(layout.part_hold_back())
        );
        let _ = writeln!(
            text,
            "#EXT-X-PART-INF:PART-TARGET={}",
            seconds(layout.part_target())
        );
    }
    let _ = writeln!(text, "#EXT-X-MEDIA-SEQUENCE:{}", first.msn);
    // The first listed segment's own discontinuity tag is written below, so
    // the sequence counts the ones before it.
    let discontinuity_sequence = first.discontinuity_number - u64::from(first.discontinuity);
    let _ = writeln!(
        text,
        "#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuity_sequence}"
    );
    // RFC 8216bis 6.2.2: part tags stay for 3 target durations from the end.
    let parts_from = timeline.end_time() - 3.0 * target_duration as f64;
    let mut map_of: Option<&str> = None;
    for segment in listed.iter().copied().chain(open) {
        if segment.discontinuity {
            text.push_str("#EXT-X-DISCONTINUITY\n");
        }
        if map_of != Some(segment.run.id.as_str()) {
            let init = MediaFile::Init {
                run: segment.run.id.clone(),
            };
            let _ = writeln!(text, "#EXT-X-MAP:URI=\"{init}\"");
            map_of = Some(&segment.run.id);
        }
        let _ = writeln!(
            text,
            "#EXT-X-PROGRAM-DATE-TIME:{}",
            humantime::format_rfc3339_millis(segment.program_date_time)
        );
        let complete = segment.bytes.is_some();
        if kind == Kind::LowLatency && (!complete || segment.start >= parts_from) {
            for (index, part) in segment.parts.iter().enumerate() {
                let uri = MediaFile::Part {
                    run: segment.run.id.clone(),
                    msn: segment.msn,
                    index: index as u64,
                };
                let _ = writeln!(
                    text,
                    "#EXT-X-PART:DURATION={},URI=\"{uri}\",INDEPENDENT=YES",
                    seconds(part.duration)
                );
            }
        }
        if complete {
            let uri = MediaFile::Segment {
                run: segment.run.id.clone(),
                msn: segment.msn,
            };
            let _ = writeln!(text, "#EXTINF:{},\n{uri}", seconds(segment.duration()));
        }
    }
    if timeline.is_ended() {
        text.push_str("#EXT-X-ENDLIST\n");
    } else if kind == Kind::LowLatency {
        // Hinted only while the next part continues the run the playlist
        // shows last: a new run's first part comes after its discontinuity.
        if let Some(run) = timeline.run().filter(|run| map_of == Some(run.id.as_str())) {
            let next = timeline.next_position();
            let hint = MediaFile::Part {
                run: run.id.clone(),
                msn: next.msn,
                index: next.part,
            };
            let _ = writeln!(text, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"{hint}\"");
        }
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::tests::{lc_48k, push, with_frames, START};
    use std::time::{Duration, UNIX_EPOCH};

    fn tag_values<'a>(playlist: &'a str, tag: &str) -> Vec<&'a str> {
        playlist
            .lines()
            .filter_map(|line| line.strip_prefix(tag))
            .collect()
    }

    fn attribute<'a>(line: &'a str, name: &str) -> &'a str {
        line.split(',')
            .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} in {line}"))
            .trim_matches('"')
    }

    #[test]
    fn nothing_is_listed_before_the_first_part() {
        let timeline = with_frames(11);
        assert_eq!(render(&timeline, Kind::LowLatency), None);
    }

    #[test]
    fn the_low_latency_playlist_keeps_the_part_rules() {
        let timeline = with_frames(12 * 4 * 5 + 12 * 2 + 7);
        let playlist = render(&timeline, Kind::LowLatency).unwrap();
        assert!(playlist.starts_with("#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:1\n"));
        assert_eq!(
            tag_values(&playlist, "#EXT-X-SERVER-CONTROL:"),
            ["CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.768"]
        );
        assert_eq!(
            tag_values(&playlist, "#EXT-X-PART-INF:"),
            ["PART-TARGET=0.256"]
        );
        let part_target = 0.256;
        let parts = tag_values(&playlist, "#EXT-X-PART:");
        for part in &parts {
            let duration: f64 = attribute(part, "DURATION").parse().unwrap();
            assert!(duration <= part_target, "{part}");
            assert_eq!(attribute(part, "INDEPENDENT"), "YES");
        }
        // Parts of the last 3 target durations: two whole segments and the open one.
        assert_eq!(parts.len(), 4 * 2 + 2, "{playlist}");
        let next = timeline.next_position();
        let run = &timeline.run().unwrap().id;
        assert_eq!(
            tag_values(&playlist, "#EXT-X-PRELOAD-HINT:"),
            [format!("TYPE=PART,URI=\"part-{run}-{}-2.m4s\"", next.msn)]
        );
        assert_eq!(
            attribute(parts.last().unwrap(), "URI"),
            format!("part-{run}-{}-1.m4s", next.msn),
            "the hint names the part after the last"
        );
        assert_eq!(tag_values(&playlist, "#EXTINF:").len(), 5);
        assert_eq!(
            tag_values(&playlist, "#EXT-X-MAP:"),
            [format!("URI=\"init-{run}.mp4\"")]
        );
        assert_eq!(tag_values(&playlist, "#EXT-X-ENDLIST").len(), 0);
        assert_eq!(
            tag_values(&playlist, "#EXT-X-PROGRAM-DATE-TIME:")[0],
            "2023-11-14T22:13:20.000Z"
        );
    }

    #[test]
    fn the_classic_playlist_lists_the_same_segments_without_parts() {
        let timeline = with_frames(12 * 4 * 3 + 12);
        let classic = render(&timeline, Kind::Classic).unwrap();
        let low_latency = render(&timeline, Kind::LowLatency).unwrap();
        for tag in [
            "#EXT-X-PART",
            "#EXT-X-SERVER-CONTROL",
            "#EXT-X-PRELOAD-HINT",
        ] {
            assert!(!classic.contains(tag), "{tag}: {classic}");
        }
        let segments = |playlist: &str| -> Vec<String> {
            playlist
                .lines()
                .filter(|line| line.starts_with("seg-"))
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(segments(&classic), segments(&low_latency));
        assert_eq!(segments(&classic).len(), 3);
    }

    #[test]
    fn a_new_run_is_a_discontinuity_with_its_own_map() {
        let mut timeline = with_frames(12 * 4 * 2 + 12);
        let first_run = timeline.run().unwrap().id.clone();
        timeline.end_run();
        timeline.start_run(lc_48k(), UNIX_EPOCH + START + Duration::from_secs(9));
        push(&mut timeline, 12 * 4 + 12);
        let second_run = timeline.run().unwrap().id.clone();
        let playlist = render(&timeline, Kind::LowLatency).unwrap();
        let lines: Vec<&str> = playlist.lines().collect();
        let discontinuity = lines
            .iter()
            .position(|line| *line == "#EXT-X-DISCONTINUITY")
            .expect("a discontinuity");
        assert_eq!(
            lines[discontinuity + 1],
            format!("#EXT-X-MAP:URI=\"init-{second_run}.mp4\"")
        );
        assert_eq!(
            lines[discontinuity + 2],
            "#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:29.000Z"
        );
        assert!(lines[discontinuity - 1].starts_with(&format!("seg-{first_run}-")));
        assert_eq!(
            tag_values(&playlist, "#EXT-X-DISCONTINUITY-SEQUENCE:"),
            ["0"]
        );
        assert_eq!(tag_values(&playlist, "#EXTINF:").len(), 4);
    }

    #[test]
    fn discontinuities_that_left_the_window_are_counted_in_the_sequence() {
        let mut timeline = with_frames(12 * 4);
        for restart in 1..=2 {
            timeline.end_run();
            timeline.start_run(
                lc_48k(),
                UNIX_EPOCH + START + Duration::from_secs(restart * 10),
            );
            push(&mut timeline, 12 * 4);
        }
        // Push the first two runs out of the 6-segment window.
        push(&mut timeline, 12 * 4 * 5);
        let playlist = render(&timeline, Kind::LowLatency).unwrap();
        assert_eq!(
            tag_values(&playlist, "#EXT-X-DISCONTINUITY-SEQUENCE:"),
            ["1"]
        );
        assert_eq!(
            playlist
                .lines()
                .filter(|line| *line == "#EXT-X-DISCONTINUITY")
                .count(),
            1,
            "{playlist}"
        );
        assert_eq!(tag_values(&playlist, "#EXT-X-MAP:").len(), 1);
    }

    #[test]
    fn an_ended_stream_gets_endlist_and_no_hint() {
        let mut timeline = with_frames(12 * 4 + 20);
        timeline.end_stream();
        let playlist = render(&timeline, Kind::LowLatency).unwrap();
        assert!(playlist.ends_with("#EXT-X-ENDLIST\n"), "{playlist}");
        assert!(!playlist.contains("PRELOAD-HINT"));
        // The last segment is short: one part and 8 frames.
        let durations = tag_values(&playlist, "#EXTINF:");
        assert_eq!(durations, ["1.024,", "0.426667,"]);
    }

    #[test]
    fn no_hint_before_a_new_run_has_its_first_part() {
        let mut timeline = with_frames(12 * 4);
        timeline.end_run();
        timeline.start_run(lc_48k(), UNIX_EPOCH + START + Duration::from_secs(3));
        let playlist = render(&timeline, Kind::LowLatency).unwrap();
        assert!(!playlist.contains("PRELOAD-HINT"), "{playlist}");
    }
}
