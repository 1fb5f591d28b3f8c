//! The "LL-HLS via edge" reader of `./scripts/bench hls`: a listener that
//! follows RFC 8216bis as a low-latency player does. It loads the playlist
//! once, starts PART-HOLD-BACK from the live edge (the part whose successors
//! add up to at least that), and from then on asks for each next part with a
//! blocking reload (`_HLS_msn`/`_HLS_part`) and fetches the parts the answer
//! lists. Every part is decoded (fMP4 → AAC → PCM) and its clicks found.
//!
//! Two times per click: *playable*, when the download of its part completed,
//! and *heard*, when a player that started playing once its first parts
//! were in would play it: the playhead runs in real time from the first part
//! on, and waits (a stall, counted) whenever a part comes after its turn.

use crate::aac::Decoder;
use crate::click::{self, ClickDetector, ClickMatcher, ClickTrack, HandOvers, SPACING};
use crate::percentiles::Percentiles;
use reqwest::Url;
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::{sleep, Instant};

/// A blocking reload waits at most 3 target durations at the packager.
const RELOAD_TIMEOUT: Duration = Duration::from_secs(5);
const PART_TIMEOUT: Duration = Duration::from_secs(5);
/// After a failed request, before the next one.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// One `#EXT-X-PART` with its place: its parent segment's media sequence
/// number and its index in that segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub msn: u64,
    pub index: u64,
    pub url: Url,
    pub seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct LowLatencyPlaylist {
    pub parts: Vec<Part>,
    /// The `EXT-X-MAP` in force at the last part.
    pub map: Option<Url>,
    pub part_hold_back: Option<f64>,
    pub part_target: Option<f64>,
    pub ended: bool,
}

fn attribute<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    line.split(',')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
        .map(|value| value.trim_matches('"'))
}

/// The parts of a low-latency media playlist, numbered as RFC 8216bis does:
/// the parts before a segment's URI are that segment's, the ones after the
/// last URI belong to the segment in progress.
pub fn parse(body: &str, playlist_url: &Url) -> LowLatencyPlaylist {
    let mut playlist = LowLatencyPlaylist::default();
    let (mut msn, mut index) = (0, 0);
    for line in body.lines().map(str::trim) {
        if let Some(value) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
            msn = value.parse().unwrap_or(0);
        } else if let Some(value) = line.strip_prefix("#EXT-X-SERVER-CONTROL:") {
            playlist.part_hold_back =
                attribute(value, "PART-HOLD-BACK").and_then(|v| v.parse().ok());
        } else if let Some(value) = line.strip_prefix("#EXT-X-PART-INF:") {
            playlist.part_target = attribute(value, "PART-TARGET").and_then(|v| v.parse().ok());
        } else if let Some(value) = line.strip_prefix("#EXT-X-MAP:") {
            playlist.map = attribute(value, "URI").and_then(|uri| playlist_url.join(uri).ok());
        } else if let Some(value) = line.strip_prefix("#EXT-X-PART:") {
            let url = attribute(value, "URI").and_then(|uri| playlist_url.join(uri).ok());
            let seconds = attribute(value, "DURATION").and_then(|v| v.parse().ok());
            if let (Some(url), Some(seconds)) = (url, seconds) {
                playlist.parts.push(Part {
                    msn,
                    index,
                    url,
                    seconds,
                });
            }
            index += 1;
        } else if line == "#EXT-X-ENDLIST" {
            playlist.ended = true;
        } else if !line.is_empty() && !line.starts_with('#') {
            msn += 1;
            index = 0;
        }
    }
    playlist
}

/// The AudioSpecificConfig in an init segment's `esds`.
pub fn audio_specific_config(init: &[u8]) -> Option<Vec<u8>> {
    let at = init.windows(4).position(|kind| kind == b"esds")?;
    // Box type, version and flags; then ES_Descriptor, DecoderConfigDescriptor
    // and DecoderSpecificInfo, each a tag and a length.
    let mut rest = init.get(at + 8..)?;
    for tag in [0x03u8, 0x04, 0x05] {
        let (found, length, body) = descriptor(rest)?;
        if found != tag {
            return None;
        }
        rest = match tag {
            // ES_ID and flags (no optional fields are written).
            0x03 => body.get(3..)?,
            // Object type, stream type, buffer size, bit rates.
            0x04 => body.get(13..)?,
            _ => return Some(body.get(..length)?.to_vec()),
        };
    }
    None
}

/// An MPEG-4 descriptor at the start of `bytes`: tag, length, the bytes from its body on.
fn descriptor(bytes: &[u8]) -> Option<(u8, usize, &[u8])> {
    let tag = *bytes.first()?;
    let mut length = 0usize;
    for (read, byte) in bytes.iter().skip(1).take(4).enumerate() {
        length = (length << 7) | usize::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            return Some((tag, length, bytes.get(read + 2..)?));
        }
    }
    None
}

/// The AAC frames of a fragment (`moof` + `mdat`, one track, sizes in `trun`).
pub fn aac_frames(fragment: &[u8]) -> Option<Vec<&[u8]>> {
    let mut sizes = Vec::new();
    let mut frames = Vec::new();
    let mut rest = fragment;
    while rest.len() >= 8 {
        let size = u32::from_be_bytes(rest[..4].try_into().ok()?) as usize;
        let (kind, body) = (&rest[4..8], rest.get(8..size)?);
        match kind {
            b"moof" => sizes.extend(trun_sizes(body)?),
            b"mdat" => {
                let mut at = 0;
                for size in sizes.drain(..) {
                    frames.push(body.get(at..at + size)?);
                    at += size;
                }
            }
            _ => {}
        }
        rest = &rest[size..];
    }
    Some(frames)
}

/// The sample sizes of the `trun` inside a `moof`'s body.
fn trun_sizes(moof: &[u8]) -> Option<Vec<usize>> {
    let at = moof.windows(4).position(|kind| kind == b"trun")?;
    let trun = moof.get(at + 4..)?;
    let flags = u32::from_be_bytes([0, trun[1], trun[2], trun[3]]);
    let count = u32::from_be_bytes(trun.get(4..8)?.try_into().ok()?) as usize;
    let mut at = 8 + if flags & 0x1 != 0 { 4 } else { 0 } + if flags & 0x4 != 0 { 4 } else { 0 };
    let per_sample = [0x100, 0x200, 0x400, 0x800]
        .iter()
        .filter(|bit| flags & **bit != 0)
        .count()
        * 4;
    if flags & 0x200 == 0 {
        return None;
    }
    let size_offset = if flags & 0x100 != 0 { 4 } else { 0 };
    let mut sizes = Vec::with_capacity(count);
    for _ in 0..count {
        let field = trun.get(at + size_offset..at + size_offset + 4)?;
        sizes.push(u32::from_be_bytes(field.try_into().ok()?) as usize);
        at += per_sample;
    }
    Some(sizes)
}

/// What the reader counted, as the report shows it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub parts_fetched: u64,
    /// Parts that left the playlist before the reader got to them.
    pub parts_missed: u64,
    pub parts_failed: u64,
    pub reloads: u64,
    pub reloads_failed: u64,
    pub stalls: u64,
    pub stalled_ms: f64,
    pub decode_errors: u64,
    pub part_target_s: Option<f64>,
    pub part_hold_back_s: Option<f64>,
}

/// What the reader noted.
#[derive(Default)]
pub struct LowLatencyReading {
    /// (click, when a player would play it, when its part was playable).
    pub heard: Vec<(u64, Instant, Instant)>,
    pub counts: Counts,
}

pub struct LowLatencyReader {
    client: reqwest::Client,
    playlist_url: Url,
    pub reading: Arc<Mutex<LowLatencyReading>>,
    detector: ClickDetector,
    matcher: ClickMatcher,
    decoder: Option<Decoder>,
    /// Frames fed to the detector so far (its position).
    fed: u64,
    /// The playhead: when media time 0 (the first part's start) plays, moved
    /// on by every stall; and the media time of the next part.
    play_start: Option<Instant>,
    media_time: Duration,
}

impl LowLatencyReader {
    pub fn new(client: reqwest::Client, playlist_url: Url, track: &ClickTrack) -> Self {
        Self {
            client,
            playlist_url,
            reading: Arc::default(),
            detector: ClickDetector::new(SPACING / 2),
            matcher: ClickMatcher::new(track),
            decoder: None,
            fed: 0,
            play_start: None,
            media_time: Duration::ZERO,
        }
    }

    /// Follows the stream until the time `stop` holds.
    pub async fn read(mut self, stop: watch::Receiver<Instant>) {
        let mut playlist = loop {
            if Instant::now() >= *stop.borrow() {
                return;
            }
            match self.playlist(None).await {
                Some(playlist) if !playlist.parts.is_empty() && playlist.map.is_some() => {
                    break playlist
                }
                _ => sleep(RETRY_PAUSE).await,
            }
        };
        {
            let mut reading = self.reading.lock().expect("reading");
            reading.counts.part_target_s = playlist.part_target;
            reading.counts.part_hold_back_s = playlist.part_hold_back;
        }
        // Start PART-HOLD-BACK from the live edge: the parts from `first` on
        // last at least that long.
        let hold_back = playlist.part_hold_back.unwrap_or(0.0);
        let (mut first, mut behind) = (playlist.parts.len(), 0.0);
        while first > 0 && behind < hold_back {
            first -= 1;
            behind += playlist.parts[first].seconds;
        }
        let mut last = first
            .checked_sub(1)
            .map(|before| (playlist.parts[before].msn, playlist.parts[before].index));
        let mut init_url = None;
        while Instant::now() < *stop.borrow() {
            if playlist.map != init_url {
                init_url = playlist.map.clone();
                if let Some(url) = &init_url {
                    self.load_decoder(url).await;
                }
            }
            let wanted: Vec<Part> = playlist
                .parts
                .iter()
                .filter(|part| last.is_none_or(|last| (part.msn, part.index) > last))
                .cloned()
                .collect();
            if let (Some((msn, index)), Some(first)) = (last, wanted.first()) {
                let expected_next = (first.msn, first.index) == (msn, index + 1)
                    || (first.msn == msn + 1 && first.index == 0);
                if !expected_next {
                    // Fell behind the parts the playlist still lists.
                    self.reading.lock().expect("reading").counts.parts_missed += 1;
                    self.detector.skip(click::frames(Duration::from_secs_f64(
                        playlist.part_target.unwrap_or(0.0),
                    )));
                }
            }
            for part in wanted {
                self.fetch(&part).await;
                last = Some((part.msn, part.index));
            }
            if playlist.ended {
                break;
            }
            let Some((msn, index)) = last else {
                continue;
            };
            match self.playlist(Some((msn, index + 1))).await {
                Some(next) => playlist = next,
                None => {
                    self.reading.lock().expect("reading").counts.reloads_failed += 1;
                    sleep(RETRY_PAUSE).await;
                }
            }
        }
    }

    /// The playlist, blocking until part `(msn, part)` when given.
    async fn playlist(&self, directives: Option<(u64, u64)>) -> Option<LowLatencyPlaylist> {
        let mut url = self.playlist_url.clone();
        if let Some((msn, part)) = directives {
            url.set_query(Some(&format!("_HLS_msn={msn}&_HLS_part={part}")));
            self.reading.lock().expect("reading").counts.reloads += 1;
        }
        let body = self.get(&url, RELOAD_TIMEOUT).await?;
        Some(parse(&String::from_utf8_lossy(&body), &self.playlist_url))
    }

    async fn load_decoder(&mut self, init_url: &Url) {
        let config = self
            .get(init_url, PART_TIMEOUT)
            .await
            .and_then(|init| audio_specific_config(&init));
        self.decoder = config.and_then(|config| Decoder::new(&config).ok());
    }

    async fn fetch(&mut self, part: &Part) {
        let body = self.get(&part.url, PART_TIMEOUT).await;
        let playable = Instant::now();
        let part_length = Duration::from_secs_f64(part.seconds);
        let Some(body) = body else {
            let mut reading = self.reading.lock().expect("reading");
            reading.counts.parts_failed += 1;
            self.detector.skip(click::frames(part_length));
            self.fed += click::frames(part_length);
            self.media_time += part_length;
            return;
        };
        // The playhead reaches this part at `due`; later means a stall.
        let play_start = *self.play_start.get_or_insert(playable);
        let due = play_start + self.media_time;
        let plays_at = if playable > due {
            let mut reading = self.reading.lock().expect("reading");
            reading.counts.stalls += 1;
            reading.counts.stalled_ms += (playable - due).as_secs_f64() * 1000.0;
            self.play_start = Some(play_start + (playable - due));
            playable
        } else {
            due
        };
        self.media_time += part_length;
        let part_start = self.fed;
        let mut onsets = Vec::new();
        let mut decode_errors = 0;
        for frame in aac_frames(&body).unwrap_or_default() {
            match self.decoder.as_mut().map(|decoder| {
                let channels = decoder.channels();
                decoder
                    .decode(frame)
                    .map(|samples| (samples.to_vec(), channels))
            }) {
                Some(Ok((samples, channels))) => {
                    onsets.extend(self.detector.feed(&samples, channels));
                    self.fed += (samples.len() / channels.max(1)) as u64;
                }
                _ => {
                    decode_errors += 1;
                    self.detector.skip(crate::hls::AAC_FRAME);
                    self.fed += crate::hls::AAC_FRAME;
                }
            }
        }
        let mut reading = self.reading.lock().expect("reading");
        reading.counts.parts_fetched += 1;
        reading.counts.decode_errors += decode_errors;
        for onset in onsets {
            let click = self.matcher.index_of(onset);
            let into_part = click::duration_of(onset.saturating_sub(part_start));
            reading.heard.push((click, plays_at + into_part, playable));
        }
    }

    async fn get(&self, url: &Url, limit: Duration) -> Option<bytes::Bytes> {
        crate::clients::body_of_ok(&self.client, url, limit).await
    }
}

/// The row of the report.
#[derive(Debug, Serialize)]
pub struct LowLatencyReport {
    pub path: String,
    pub clicks_sent: u64,
    pub clicks_heard: u64,
    pub clicks_mismatched: u64,
    /// POST → heard by the reader's playhead (PART-HOLD-BACK behind live).
    pub heard: Option<Percentiles>,
    /// POST → the part carrying the click downloaded.
    pub playable: Option<Percentiles>,
    #[serde(flatten)]
    pub counts: Counts,
}

impl LowLatencyReport {
    pub fn of(path: String, reading: &LowLatencyReading, hand_overs: &HandOvers) -> Self {
        let since = hand_overs.since_hand_over(&reading.heard);
        let (heard, playable, mismatched) = (since.noted, since.playable, since.mismatched);
        Self {
            path,
            clicks_sent: hand_overs.sent(),
            clicks_heard: reading.heard.len() as u64,
            clicks_mismatched: mismatched,
            heard: (!heard.is_empty()).then(|| Percentiles::of(heard)),
            playable: (!playable.is_empty()).then(|| Percentiles::of(playable)),
            counts: reading.counts.clone(),
        }
    }

    /// The Markdown table row.
    pub fn row(&self) -> String {
        let ms = |percentiles: Option<&Percentiles>, pick: fn(&Percentiles) -> f64| {
            percentiles.map_or("–".to_owned(), |p| format!("{:.2}", pick(p) / 1000.0))
        };
        format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} / {} | {} / {:.0} |\n",
            self.path,
            self.clicks_sent,
            self.clicks_heard,
            self.clicks_mismatched,
            ms(self.heard.as_ref(), |p| p.p50_ms),
            ms(self.heard.as_ref(), |p| p.p95_ms),
            ms(self.heard.as_ref(), |p| p.p99_ms),
            ms(self.heard.as_ref(), |p| p.max_ms),
            ms(self.playable.as_ref(), |p| p.p50_ms),
            self.counts.parts_fetched,
            self.counts.parts_missed,
            self.counts.parts_failed,
            self.counts.stalls,
            self.counts.stalled_ms,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn url() -> Url {
        Url::parse("https://edge.test/live/token/v1/index.ll.m3u8").unwrap()
    }

    #[test]
    fn parts_are_numbered_by_their_segment_and_place() {
        let text = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n\
            #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.768\n\
            #EXT-X-PART-INF:PART-TARGET=0.256\n#EXT-X-MEDIA-SEQUENCE:40\n\
            #EXT-X-MAP:URI=\"init-a.mp4\"\n#EXTINF:1.024,\nseg-a-40.m4s\n\
            #EXT-X-PART:DURATION=0.256,URI=\"p41-0.m4s\",INDEPENDENT=YES\n\
            #EXT-X-PART:DURATION=0.1,URI=\"p41-1.m4s\",INDEPENDENT=YES\n#EXTINF:0.356,\nseg-a-41.m4s\n\
            #EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"init-b.mp4\"\n\
            #EXT-X-PART:DURATION=0.256,URI=\"p42-0.m4s\",INDEPENDENT=YES\n\
            #EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"p42-1.m4s\"\n";
        let playlist = parse(text, &url());
        let places: Vec<(u64, u64, f64)> = playlist
            .parts
            .iter()
            .map(|part| (part.msn, part.index, part.seconds))
            .collect();
        assert_eq!(places, [(41, 0, 0.256), (41, 1, 0.1), (42, 0, 0.256)]);
        assert_eq!(
            playlist.parts[2].url.as_str(),
            "https://edge.test/live/token/v1/p42-0.m4s"
        );
        assert_eq!(playlist.map.unwrap().path(), "/live/token/v1/init-b.mp4");
        assert_eq!(playlist.part_hold_back, Some(0.768));
        assert_eq!(playlist.part_target, Some(0.256));
        assert!(!playlist.ended);
    }

    #[test]
    fn frames_and_the_config_come_back_out_of_the_packagers_fmp4() {
        let config =
            hls_packager::aac::AudioConfig::parse(Bytes::from_static(&[0x11, 0x90])).unwrap();
        let init = hls_packager::fmp4::init_segment(&config, 128_000);
        assert_eq!(audio_specific_config(&init), Some(vec![0x11, 0x90]));
        let frames = [Bytes::from_static(&[1, 2, 3]), Bytes::from_static(&[4, 5])];
        let mut two_fragments = hls_packager::fmp4::fragment(1, 0, 1024, &frames).to_vec();
        two_fragments.extend_from_slice(&hls_packager::fmp4::fragment(2, 2048, 1024, &frames[1..]));
        let found = aac_frames(&two_fragments).unwrap();
        assert_eq!(found, [&[1, 2, 3][..], &[4, 5][..], &[4, 5][..]]);
        assert_eq!(aac_frames(&two_fragments[..20]), None, "a cut fragment");
    }
}
