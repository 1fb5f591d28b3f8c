//! POST → playable over HLS: how long after a creator hands over a moment of
//! audio the HLS segment carrying it can be played, through the TLS edge
//! (the URL a join hands out) and, as the baseline in the same run, straight
//! from SRS's HTTP port (no edge; SRS serves HLS files without hooks). And
//! POST → heard: the edge's own listen page in headless Chromium, playing
//! the same stream through hls.js with the web player's settings
//! ([`crate::browser`]). And "LL-HLS via edge": a reader that follows the
//! hls-packager's low-latency playlist as RFC 8216bis says
//! ([`crate::ll_hls`]: blocking reloads, PART-HOLD-BACK from live), in the
//! same run.
//!
//! One stream carries a click track (a 2 ms burst every 200 ms in silence),
//! POSTed through the edge in real time; a click's nominal time is the start
//! of the POST of its chunk plus its offset in that chunk (as in `latency`).
//! Both readers poll the playlist every 100 ms; a segment is *playable* once
//! its download has completed. Its audio is decoded (TS → ADTS → AAC → PCM)
//! and every click in it counts as playable at that moment. A segment holds
//! a second of audio, so latency spreads over a segment's length: the audio
//! that opens a segment waits for all of it. The track starts once the
//! browser plays (silence until then), so every click reaches every listener.

use crate::aac::Decoder;
use crate::args::Arguments;
use crate::browser::{self, BrowserEar, BrowserReport};
use crate::click::{self, ClickDetector, ClickMatcher, ClickTrack, HandOvers, SPACING};
use crate::edge::{self, Creator, Posting};
use crate::ll_hls::{LowLatencyReader, LowLatencyReport};
use crate::percentiles::{nearest_rank, Percentiles};
use crate::playlist::{self, Segment};
use crate::tokens::Minter;
use crate::ts::TsDemuxer;
use reqwest::Url;
use serde::Serialize;
use std::collections::HashSet;
use std::error::Error;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{oneshot, watch};
use tokio::time::{interval, sleep, Instant, MissedTickBehavior};

const POLL: Duration = Duration::from_millis(100);
const GOAL: Duration = Duration::from_secs(6);
/// Silence after the track, so the last click's segment closes (SRS cuts one
/// every second of audio) and reaches the readers.
const TAIL: Duration = Duration::from_secs(4);
/// The browser joins once the edge reader has seen this many segments: like
/// a listener joining a stream that is already running, whose playlist is
/// full (SRS keeps 6 s), so hls.js can start as far back as it wants. One
/// that joins in a stream's first seconds starts closer to live, as there is
/// less playlist to hold back.
const BROWSER_JOINS_AFTER_SEGMENTS: usize = 6;
const BROWSER_JOIN_WAIT: Duration = Duration::from_secs(30);
/// How long the browser may take from launch to playing the stream.
const BROWSER_START: Duration = Duration::from_secs(60);
/// After the creator's last chunk, how long the browser keeps listening for
/// the last clicks (it plays seconds behind live; the stream goes on in
/// silence, ingest fills the creator's gaps).
const BROWSER_GRACE: Duration = Duration::from_secs(15);
/// After the creator's last chunk, time for its segment to be listed and fetched.
const LAST_SEGMENT_GRACE: Duration = Duration::from_secs(3);
/// Segments listed one by one in the Markdown report (all are in the JSON).
const SEGMENT_ROWS: usize = 8;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
const SEGMENT_TRIES: u32 = 3;
/// Samples per channel in one AAC frame.
pub(crate) const AAC_FRAME: u64 = 1024;

/// What one reader saw of one segment.
#[derive(Debug, Clone, Serialize)]
struct SegmentSeen {
    sequence: u64,
    /// The last part of its URL (through the edge, the rest holds a token).
    name: String,
    /// Its `#EXTINF`.
    seconds: f64,
    /// When its URI first appeared in the playlist, from the first POST.
    listed_s: f64,
    /// When its download completed, from the first POST.
    playable_s: f64,
    bytes: usize,
    clicks: Vec<u64>,
}

/// Everything one reader noted, shared with the progress line.
#[derive(Default)]
struct Reading {
    segments: Vec<SegmentSeen>,
    /// (click, when its segment was listed, when it became playable).
    heard: Vec<(u64, Instant, Instant)>,
    polls: u64,
    /// Polls answered without a playlist (before the first segment, or failed).
    polls_without_playlist: u64,
    failed_segments: u64,
    /// Sequence numbers that left the playlist before a poll saw them.
    missed_segments: u64,
    decode_errors: u64,
    target_duration: Option<f64>,
}

/// Finds the clicks in segments' audio, fed in playlist order.
struct SegmentEar {
    demuxer: TsDemuxer,
    decoder: Option<(Decoder, [u8; 2])>,
    detector: ClickDetector,
    matcher: ClickMatcher,
    decode_errors: u64,
}

impl SegmentEar {
    fn new(track: &ClickTrack) -> Self {
        Self {
            demuxer: TsDemuxer::default(),
            decoder: None,
            detector: ClickDetector::new(SPACING / 2),
            matcher: ClickMatcher::new(track),
            decode_errors: 0,
        }
    }

    /// The clicks (by index) whose onsets lie in this segment.
    fn clicks_in(&mut self, segment: &[u8]) -> Vec<u64> {
        let mut frames = self.demuxer.push(segment);
        frames.extend(self.demuxer.finish());
        let mut clicks = Vec::new();
        for frame in frames {
            let config = frame.audio_specific_config;
            if self.decoder.as_ref().map(|(_, known)| *known) != Some(config) {
                self.decoder = Decoder::new(&config).ok().map(|decoder| (decoder, config));
            }
            let decoded = self
                .decoder
                .as_mut()
                .map(|(decoder, _)| (decoder.channels(), decoder.decode(&frame.payload)));
            let onsets = match decoded {
                Some((channels, Ok(samples))) => self.detector.feed(samples, channels),
                _ => {
                    // Keeps later clicks at their places.
                    self.decode_errors += 1;
                    self.detector.skip(AAC_FRAME);
                    continue;
                }
            };
            clicks.extend(onsets.into_iter().map(|onset| self.matcher.index_of(onset)));
        }
        clicks
    }

    fn skip(&mut self, seconds: f64) {
        self.detector
            .skip(click::frames(Duration::from_secs_f64(seconds.max(0.0))));
    }
}

/// One HLS player's polling loop.
struct Reader {
    client: reqwest::Client,
    playlist_url: Url,
    reading: Arc<Mutex<Reading>>,
    ear: SegmentEar,
    since: Instant,
}

impl Reader {
    fn new(client: reqwest::Client, playlist_url: Url, track: &ClickTrack, since: Instant) -> Self {
        Self {
            client,
            playlist_url,
            reading: Arc::default(),
            ear: SegmentEar::new(track),
            since,
        }
    }

    /// Polls until the time `stop` holds, fetching each new segment once.
    async fn read(mut self, stop: watch::Receiver<Instant>) {
        let mut seen = HashSet::new();
        let mut last_sequence = None;
        let mut ticker = interval(POLL);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        while Instant::now() < *stop.borrow() {
            ticker.tick().await;
            let body = self.get(&self.playlist_url).await;
            let listed = Instant::now();
            let playlist = body
                .map(|body| playlist::parse(&String::from_utf8_lossy(&body), &self.playlist_url));
            {
                let mut reading = self.reading.lock().expect("reading");
                reading.polls += 1;
                match &playlist {
                    Some(playlist) => reading.target_duration = playlist.target_duration,
                    None => reading.polls_without_playlist += 1,
                }
            }
            let Some(playlist) = playlist else {
                continue;
            };
            for segment in playlist.segments {
                if !seen.insert(segment.url.to_string()) {
                    continue;
                }
                let missed =
                    last_sequence.map_or(0, |last: u64| segment.sequence.saturating_sub(last + 1));
                if missed > 0 {
                    // Their lengths are unknown: about this one's each.
                    self.ear.skip(missed as f64 * segment.seconds);
                    self.reading.lock().expect("reading").missed_segments += missed;
                }
                last_sequence = Some(segment.sequence);
                self.fetch(&segment, listed).await;
            }
        }
        self.reading.lock().expect("reading").decode_errors = self.ear.decode_errors;
    }

    async fn fetch(&mut self, segment: &Segment, listed: Instant) {
        let mut body = None;
        for _ in 0..SEGMENT_TRIES {
            body = self.get(&segment.url).await;
            if body.is_some() {
                break;
            }
        }
        let playable = Instant::now();
        let mut reading = self.reading.lock().expect("reading");
        let Some(body) = body else {
            reading.failed_segments += 1;
            self.ear.skip(segment.seconds);
            return;
        };
        let clicks = self.ear.clicks_in(&body);
        reading
            .heard
            .extend(clicks.iter().map(|click| (*click, listed, playable)));
        reading.segments.push(SegmentSeen {
            sequence: segment.sequence,
            name: segment
                .url
                .path_segments()
                .and_then(|mut parts| parts.next_back())
                .unwrap_or_default()
                .to_owned(),
            seconds: segment.seconds,
            listed_s: (listed - self.since).as_secs_f64(),
            playable_s: (playable - self.since).as_secs_f64(),
            bytes: body.len(),
            clicks,
        });
    }

    /// The whole body of a 200 answer.
    async fn get(&self, url: &Url) -> Option<bytes::Bytes> {
        crate::clients::body_of_ok(&self.client, url, REQUEST_TIMEOUT).await
    }
}

#[derive(Debug, Serialize)]
struct Spread {
    min: f64,
    median: f64,
    max: f64,
}

impl Spread {
    fn of(mut values: Vec<f64>) -> Option<Self> {
        values.sort_unstable_by(f64::total_cmp);
        Some(Self {
            min: *values.first()?,
            median: nearest_rank(&values, 0.5),
            max: *values.last()?,
        })
    }
}

#[derive(Debug, Serialize)]
struct PathReport {
    path: String,
    clicks_sent: u64,
    clicks_heard: u64,
    /// Playable before it was sent, or never sent: matching went wrong.
    clicks_mismatched: u64,
    /// Clicks playable within the goal (6 s) of their POST.
    clicks_within_goal: u64,
    /// POST → the segment carrying the click downloaded (playable).
    latency: Option<Percentiles>,
    /// POST → that segment's URI first listed in the playlist.
    listed: Option<Percentiles>,
    segments_seen: usize,
    segments_failed: u64,
    segments_missed: u64,
    /// `#EXTINF` of the segments seen, in seconds.
    segment_seconds: Option<Spread>,
    target_duration_s: Option<f64>,
    playlist_polls: u64,
    polls_without_playlist: u64,
    decode_errors: u64,
    segments: Vec<SegmentSeen>,
}

impl PathReport {
    fn of(path: String, reading: &Reading, hand_overs: &HandOvers) -> Self {
        let since = hand_overs.since_hand_over(&reading.heard);
        let (latencies, listed, mismatched) = (since.playable, since.noted, since.mismatched);
        Self {
            path,
            clicks_sent: hand_overs.sent(),
            clicks_heard: reading.heard.len() as u64,
            clicks_mismatched: mismatched,
            clicks_within_goal: latencies.iter().filter(|latency| **latency <= GOAL).count() as u64,
            latency: (!latencies.is_empty()).then(|| Percentiles::of(latencies)),
            listed: (!listed.is_empty()).then(|| Percentiles::of(listed)),
            segments_seen: reading.segments.len(),
            segments_failed: reading.failed_segments,
            segments_missed: reading.missed_segments,
            segment_seconds: Spread::of(reading.segments.iter().map(|s| s.seconds).collect()),
            target_duration_s: reading.target_duration,
            playlist_polls: reading.polls,
            polls_without_playlist: reading.polls_without_playlist,
            decode_errors: reading.decode_errors,
            segments: reading.segments.clone(),
        }
    }

    fn p50_ms(&self) -> Option<f64> {
        self.latency.as_ref().map(|latency| latency.p50_ms)
    }
}

#[derive(Debug, Serialize)]
struct Report {
    scenario: &'static str,
    chunk_ms: u64,
    click_spacing_ms: u64,
    poll_ms: u64,
    goal_ms: u64,
    engine: String,
    edge: PathReport,
    direct: PathReport,
    browser: BrowserReport,
    /// The hls-packager's LL-HLS through the edge, as a low-latency player reads it.
    /// One row per LL-HLS listener of the stream.
    ll_hls: Vec<LowLatencyReport>,
    /// Edge p50 ÷ direct p50.
    p50_ratio: Option<f64>,
    /// Browser p50 − edge p50: what the player's buffer adds to a playable segment.
    player_adds_ms: Option<f64>,
    /// What that should be: the player's `liveSyncDurationCount` × the target duration.
    player_offset_expected_ms: Option<f64>,
}

/// The browser listener's pieces, or why there is none.
fn browser_settings(arguments: &Arguments) -> Result<browser::Settings, String> {
    let script = arguments
        .text("browser-script")
        .map_err(|_| "no --browser-script given".to_owned())?;
    Ok(browser::Settings {
        node: arguments.text("node").unwrap_or("node").to_owned(),
        script: script.into(),
        web_dir: arguments.text("web-dir")?.into(),
        chromium: arguments
            .text("chromium")
            .unwrap_or("/usr/bin/chromium")
            .to_owned(),
    })
}

pub async fn run(arguments: &Arguments) -> Result<(), Box<dyn Error>> {
    let edge_url = arguments.url("edge-url")?;
    let certificate = arguments.text("ca-cert")?.to_owned();
    let engine_hls = arguments.url("engine-hls-url")?;
    let seconds = arguments.number("seconds", 40)?;
    // Several LL-HLS listeners, each with a seat of its own, so the edge's
    // sharing of one packager request among them is in the numbers.
    let ll_hls_listeners = arguments.number("ll-hls-listeners", 8)?.max(1);
    let chunk = click::slice_aligned(Duration::from_millis(arguments.number("chunk-ms", 2000)?));
    let out = arguments.out_dir()?;
    let minter = Minter::from_env()?;
    let engine = arguments.engine();
    let browser_settings = browser_settings(arguments);

    let track = click::track_over(seconds);
    let count = track.count();
    eprintln!(
        "hls: {count} clicks over {seconds} s POSTed through the edge (chunks of {} ms); \
         two HLS readers polling every {} ms (through the edge and straight from {engine}) \
         and hls.js in headless Chromium",
        chunk.as_millis(),
        POLL.as_millis()
    );
    let vibe = format!("bench-hls-{}", std::process::id());
    let edge = crate::clients::edge(&edge_url, std::path::Path::new(&certificate))?;
    let creator = Arc::new(Creator::new(edge.clone(), &edge_url, &vibe, &minter));
    let hand_overs = HandOvers::new(track);
    let start = Arc::new(AtomicBool::new(false));
    let end = track.length_frames() + click::frames(TAIL);
    let posting = Posting {
        chunk,
        tail: TAIL,
        give_up: Instant::now()
            + Duration::from_secs(20)
            + BROWSER_JOIN_WAIT
            + BROWSER_START
            + click::duration_of(end) * 2,
    };
    let stop_at_the_latest = posting.give_up + LAST_SEGMENT_GRACE;
    let (first_post, posted) = oneshot::channel();
    let since = Instant::now();
    let mut posting_run = tokio::spawn({
        let (creator, hand_overs, start) = (creator.clone(), hand_overs.clone(), start.clone());
        async move {
            creator
                .post_track(&hand_overs, &start, &posting, first_post)
                .await
        }
    });

    let outcome = async {
        posted.await.map_err(|_| "the creator posted nothing")?;
        let playback = edge::join(&edge, &edge_url, &vibe, "bench-hls-listener", &minter)
            .await
            .map_err(|error| error as Box<dyn Error>)?;
        let readers = [
            Reader::new(edge.clone(), Url::parse(&playback.hls)?, &track, since),
            Reader::new(
                crate::clients::plain()?,
                Url::parse(&format!("{engine_hls}/live/{vibe}/{vibe}.m3u8"))?,
                &track,
                since,
            ),
        ];
        let readings = readers.each_ref().map(|reader| reader.reading.clone());
        let (stop, stop_rx) = watch::channel(stop_at_the_latest);
        let reading_runs = readers.map(|reader| tokio::spawn(reader.read(stop_rx.clone())));
        let mut low_latency_readings = Vec::new();
        let mut low_latency_runs = Vec::new();
        for listener in 0..ll_hls_listeners {
            let participant = format!("bench-ll-hls-listener-{listener}");
            let playback = edge::join(&edge, &edge_url, &vibe, &participant, &minter)
                .await
                .map_err(|error| error as Box<dyn Error>)?;
            let reader = LowLatencyReader::new(edge.clone(), Url::parse(&playback.ll_hls)?, &track);
            low_latency_readings.push(reader.reading.clone());
            low_latency_runs.push(tokio::spawn(reader.read(stop_rx.clone())));
        }
        // The browser joins as a listener of its own, once the playlist is
        // full; the track starts once it plays, so it hears every click (the
        // readers poll already).
        if browser_settings.is_ok() {
            let give_up = Instant::now() + BROWSER_JOIN_WAIT;
            while readings[0].lock().expect("reading").segments.len() < BROWSER_JOINS_AFTER_SEGMENTS
                && Instant::now() < give_up
            {
                sleep(Duration::from_millis(200)).await;
            }
        }
        let mut ear = match &browser_settings {
            Ok(settings) => {
                let token = minter.participant("bench-hls-browser");
                let token = token.trim_start_matches("Bearer ");
                let lifetime = BROWSER_START + click::duration_of(end) * 2 + BROWSER_GRACE;
                match BrowserEar::start(settings, &edge_url, &vibe, token, lifetime) {
                    Ok(ear) => Ok(ear),
                    Err(error) => Err(error.to_string()),
                }
            }
            Err(why) => Err(why.clone()),
        };
        if let Ok(running) = &mut ear {
            eprintln!("hls: waiting for the browser to play the stream");
            if let Err(why) = running.wait_playing(BROWSER_START).await {
                eprintln!("hls: no browser row: {why}");
                if let Ok(running) = std::mem::replace(&mut ear, Err(why)) {
                    running.stop().await;
                }
            }
        }
        start.store(true, std::sync::atomic::Ordering::Release);
        let progress = tokio::spawn(progress(
            readings.clone(),
            hand_overs.clone(),
            ear.as_ref().ok().map(|ear| ear.hearing.clone()),
        ));
        let refused = (&mut posting_run).await?;
        stop.send_replace(Instant::now() + LAST_SEGMENT_GRACE);
        for run in reading_runs {
            run.await?;
        }
        for run in low_latency_runs {
            run.await?;
        }
        let hearing = match ear {
            Ok(ear) => {
                let sent = hand_overs.sent() as usize;
                let give_up = Instant::now() + BROWSER_GRACE;
                while ear.onsets_heard() < sent && Instant::now() < give_up {
                    sleep(Duration::from_millis(200)).await;
                }
                Ok(ear.stop().await)
            }
            Err(why) => Err(why),
        };
        progress.abort();
        Ok::<_, Box<dyn Error>>((readings, low_latency_readings, hearing, refused))
    }
    .await;
    posting_run.abort();
    creator.end().await;
    let ([edge_reading, direct_reading], low_latency_readings, hearing, refused) = outcome?;
    if refused > 0 {
        eprintln!("hls: {refused} chunks were not accepted");
    }

    let edge = PathReport::of(
        format!("POST via edge → gateway → ingest → {engine} → edge (TLS) HLS"),
        &edge_reading.lock().expect("reading"),
        &hand_overs,
    );
    let direct = PathReport::of(
        format!("the same stream, straight from {engine} (no edge)"),
        &direct_reading.lock().expect("reading"),
        &hand_overs,
    );
    let listeners = low_latency_readings.len();
    let ll_hls: Vec<LowLatencyReport> = low_latency_readings
        .iter()
        .enumerate()
        .map(|(index, reading)| {
            LowLatencyReport::of(
                format!(
                    "POST via edge → … → {engine} → hls-packager → edge (TLS) LL-HLS, \
                     listener {} of {listeners}",
                    index + 1
                ),
                &reading.lock().expect("reading"),
                &hand_overs,
            )
        })
        .collect();
    let browser_path = format!(
        "POST via edge → … → {engine} → edge (TLS) HLS → listen page, hls.js in headless Chromium"
    );
    let browser = match hearing {
        Ok(hearing) => BrowserReport::of(
            browser_path,
            &hearing.lock().expect("hearing"),
            &hand_overs,
            None,
            GOAL,
        ),
        Err(why) => BrowserReport::not_measured(browser_path, &hand_overs, why),
    };
    let player_offset_expected_ms = edge
        .target_duration_s
        .filter(|_| browser.not_measured.is_none())
        .map(|target| browser.live_sync_duration_count() * target * 1000.0);
    let report = Report {
        scenario: "hls",
        chunk_ms: chunk.as_millis() as u64,
        click_spacing_ms: SPACING.as_millis() as u64,
        poll_ms: POLL.as_millis() as u64,
        goal_ms: GOAL.as_millis() as u64,
        p50_ratio: edge.p50_ms().zip(direct.p50_ms()).map(|(e, d)| e / d),
        player_adds_ms: browser.p50_ms().zip(edge.p50_ms()).map(|(b, e)| b - e),
        player_offset_expected_ms,
        engine,
        edge,
        direct,
        browser,
        ll_hls,
    };
    crate::report::write(&out, "hls", &report, &markdown(&report))?;
    if report.edge.latency.is_none() || report.direct.latency.is_none() {
        return Err("a reader found no click".into());
    }
    Ok(())
}

async fn progress(
    readings: [Arc<Mutex<Reading>>; 2],
    hand_overs: HandOvers,
    hearing: Option<Arc<Mutex<browser::Hearing>>>,
) {
    let started = Instant::now();
    loop {
        sleep(Duration::from_secs(5)).await;
        let [edge, direct] = readings.each_ref().map(|reading| {
            let reading = reading.lock().expect("reading");
            (reading.segments.len(), reading.heard.len())
        });
        let browser = hearing.as_ref().map_or("–".to_owned(), |hearing| {
            let hearing = hearing.lock().expect("hearing");
            format!("{} heard, {} waits", hearing.onsets.len(), hearing.waiting)
        });
        eprintln!(
            "hls: {:>3} s, {} clicks posted; segments / clicks playable: edge {} / {}, direct {} / {}; \
             browser {browser}",
            started.elapsed().as_secs(),
            hand_overs.sent(),
            edge.0,
            edge.1,
            direct.0,
            direct.1
        );
    }
}

fn markdown(report: &Report) -> String {
    let number = |value: Option<f64>, scale: f64, digits: usize| {
        value.map_or("–".to_owned(), |value| {
            format!("{:.digits$}", value / scale)
        })
    };
    let seconds = |latency: Option<&Percentiles>, pick: fn(&Percentiles) -> f64| {
        number(latency.map(pick), 1000.0, 2)
    };
    let row = |side: &PathReport| {
        let latency = side.latency.as_ref();
        let spread = side
            .segment_seconds
            .as_ref()
            .map_or("–".to_owned(), |spread| {
                format!(
                    "{:.3} / {:.3} / {:.3}",
                    spread.min, spread.median, spread.max
                )
            });
        format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {spread} |\n",
            side.path,
            side.clicks_sent,
            side.clicks_heard,
            side.clicks_mismatched,
            side.clicks_within_goal,
            seconds(latency, |p| p.p50_ms),
            seconds(latency, |p| p.p95_ms),
            seconds(latency, |p| p.p99_ms),
            seconds(latency, |p| p.max_ms),
            number(side.listed.as_ref().map(|p| p.p50_ms), 1000.0, 2),
            side.segments_seen,
        )
    };
    let with_clicks: Vec<&SegmentSeen> = report
        .edge
        .segments
        .iter()
        .filter(|segment| !segment.clicks.is_empty())
        .collect();
    let segment_rows: String = with_clicks
        .iter()
        .take(SEGMENT_ROWS)
        .map(|segment| {
            format!(
                "| {} | {:.3} | {} | {:.2} | {:.0} |\n",
                segment.name,
                segment.seconds,
                segment.clicks.len(),
                segment.playable_s,
                (segment.playable_s - segment.listed_s) * 1000.0
            )
        })
        .collect();
    let more_segments = match with_clicks.len().saturating_sub(SEGMENT_ROWS) {
        0 => String::new(),
        more => format!("\n{more} more in the JSON report.\n"),
    };
    let health = |side: &PathReport| {
        format!(
            "{} polls ({} without a playlist), {} segments failed, {} missed, {} AAC decode errors",
            side.playlist_polls,
            side.polls_without_playlist,
            side.segments_failed,
            side.segments_missed,
            side.decode_errors
        )
    };
    let browser = &report.browser;
    let browser_row = match &browser.not_measured {
        Some(why) => format!(
            "| {} | {} | not measured: {why} | | | | | | | | |\n",
            browser.path, browser.clicks_sent
        ),
        None => {
            let latency = browser.latency.as_ref();
            format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {:.0} | {} |\n",
                browser.path,
                browser.clicks_sent,
                browser.clicks_heard,
                browser.clicks_mismatched,
                browser.clicks_within_goal,
                seconds(latency, |p| p.p50_ms),
                seconds(latency, |p| p.p95_ms),
                seconds(latency, |p| p.p99_ms),
                seconds(latency, |p| p.max_ms),
                browser.waiting_events,
                browser.stalled_ms,
                number(browser.join_to_playing_ms, 1000.0, 1),
            )
        }
    };
    let one_line = |text: &Option<String>| {
        text.as_deref().map_or("–".to_owned(), |text| {
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        })
    };
    let browser_notes = if browser.not_measured.is_some() {
        String::new()
    } else {
        format!(
            "The page's player settings, as the edge served `assets/player.js`: `HLS_CONFIG = {}` (hls.js {}). \
             The browser joined once the stream had {joined_after} segments (a full playlist). \
             Browser p50 − edge playable p50 (what the player's buffer adds, for SRS's HLS): **{} s**; hls.js's target \
             latency behind SRS's playlist's live edge (`liveSyncDurationCount` × target duration): {} s. The page showed \"{}\" as its player and \
             \"{}\" as its delay behind live (hls.js's estimate) at the end. Onsets heard before the first \
             click was sent (left out): {}; page errors: {}{}. {}, Web Audio at {} Hz.\n\n",
            one_line(&browser.hls_config),
            one_line(&browser.hls_js_version),
            number(report.player_adds_ms, 1000.0, 2),
            number(report.player_offset_expected_ms, 1000.0, 1),
            one_line(&browser.transport_shown),
            one_line(&browser.delay_shown),
            browser.onsets_before_the_track,
            browser.page_errors,
            if browser.page_error_examples.is_empty() {
                String::new()
            } else {
                format!(" ({})", browser.page_error_examples.join(" | "))
            },
            one_line(&browser.user_agent),
            one_line(&browser.audio_sample_rate),
            joined_after = BROWSER_JOINS_AFTER_SEGMENTS,
        )
    };
    format!(
        "## hls: POST → the segment carrying that audio playable, and → heard in hls.js\n\n\
         One stream on {engine}, a click track (a 2 ms burst every {spacing} ms in silence) POSTed through the \
         edge in {chunk} ms chunks in real time, listened to three ways at the same time. Two HLS readers in the \
         load generator poll the playlist every {poll} ms, one through the TLS edge on the URL a join hands out, \
         one straight from {engine}'s HTTP port (the baseline); latency = when the download of the segment \
         holding a click completed − when that click was handed over (the POST's start + its offset in the \
         chunk). A segment holds about a second of audio, so the audio that opens a segment waits for all of \
         it; polling adds 0–{poll} ms on both paths alike. And a browser: Debian's Chromium (headless, driven by \
         playwright-core) opens the edge's listen page, joins the stream as a listener of its own with \"HLS \
         only\" (the page's hls.js with the web player's `HLS_CONFIG`; the page plays the packager's LL-HLS \
         in hls.js's low-latency mode when the join hands one out, SRS's HLS otherwise: the player it \
         showed is named below), and a Web Audio tap on the page's \
         `<audio>` element (MediaElementSource → ScriptProcessor, 512 frames) timestamps each click's first \
         loud sample in wall-clock time; latency = that − the click's hand-over (one machine, one clock). The \
         tap's buffering (≤ 12 ms) is in the number, the sound card's output latency is not. Clicks are \
         numbered by their distance in the decoded audio (the browser: in media time), so a missed one \
         cannot shift the rest; the track starts once the browser plays.\n\n\
         | path | clicks sent | playable | mismatched | ≤ {goal:.0} s | p50 s | p95 s | p99 s | max s | p50 s to listed | segments | EXTINF s min / median / max |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|\n{}{}\n\
         | path | clicks sent | heard | mismatched | ≤ {goal:.0} s | p50 s | p95 s | p99 s | max s | stalls (waiting events / ms) | join → playing s |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n{browser_row}\n\
         Edge p50 ÷ direct p50: **{}**. Goal: ≤ {goal:.0} s (segments through the edge: met for {} of {} clicks; \
         heard in the browser: {} of {}). Target duration {} s.\n\n\
         {browser_notes}\
         Readers: edge {}; direct {}.\n\n\
         {ll_section}\
         The first segments through the edge that carry clicks:\n\n\
         | segment | EXTINF s | clicks | playable at s | listed → playable ms |\n\
         |---|---|---|---|---|\n{segment_rows}{more_segments}",
        row(&report.edge),
        row(&report.direct),
        number(report.p50_ratio, 1.0, 2),
        report.edge.clicks_within_goal,
        report.edge.clicks_sent,
        browser.clicks_within_goal,
        browser.clicks_sent,
        number(report.edge.target_duration_s, 1.0, 0),
        health(&report.edge),
        health(&report.direct),
        engine = report.engine,
        spacing = report.click_spacing_ms,
        chunk = report.chunk_ms,
        poll = report.poll_ms,
        goal = report.goal_ms as f64 / 1000.0,
        ll_section = low_latency_section(&report.ll_hls),
    )
}

/// The "LL-HLS via edge" rows (one per listener) and how they were measured.
fn low_latency_section(reports: &[LowLatencyReport]) -> String {
    let Some(report) = reports.first() else {
        return String::new();
    };
    let rows: String = reports.iter().map(LowLatencyReport::row).collect();
    let sum = |count: fn(&LowLatencyReport) -> u64| reports.iter().map(count).sum::<u64>();
    let seconds =
        |value: Option<f64>| value.map_or("–".to_owned(), |value| format!("{value:.3}"));
    format!(
        "LL-HLS via edge (goals: p50 ≤ 2.0 s, p99 ≤ 3.0 s, no part missed): the same stream from the \
         hls-packager, read as a low-latency player reads it: the playlist once, then from PART-HOLD-BACK \
         ({} s; PART-TARGET {} s) behind the live edge a blocking reload (`_HLS_msn`/`_HLS_part`) for \
         each next part and the parts it lists, each decoded. {} listeners, each with a seat of its \
         own, read at once: they ask the edge for the same parts at the same moments, as a stream's \
         audience does. *Heard* = when a player whose playhead \
         starts with the first part and runs in real time plays the click (waiting for a late part is a \
         stall) − the click's hand-over; *playable* = its part downloaded − hand-over.\n\n\
         | path | clicks sent | heard | mismatched | heard p50 s | p95 s | p99 s | max s | playable p50 s | \
         parts fetched / missed / failed | stalls / ms |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n{}\n\
         All listeners: {} blocking reloads ({} failed), {} AAC decode errors.\n\n",
        seconds(report.counts.part_hold_back_s),
        seconds(report.counts.part_target_s),
        reports.len(),
        rows,
        sum(|report| report.counts.reloads),
        sum(|report| report.counts.reloads_failed),
        sum(|report| report.counts.decode_errors),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::click::PHASE;
    use std::process::Command;

    /// The click track encoded as ingest encodes it, cut by ffmpeg's HLS
    /// muxer into ~1 s segments: the playlist's text and its URL.
    fn hls_of(track: &ClickTrack, folder: &std::path::Path) -> (String, Url) {
        std::fs::create_dir_all(folder).expect("temp folder");
        let playlist = folder.join("clicks.m3u8");
        click::encode_with_ffmpeg(
            track,
            Command::new("ffmpeg")
                .args([
                    "-v", "error", "-y", "-f", "s16le", "-ar", "48000", "-ac", "2",
                ])
                .args(["-i", "-", "-c:a", "aac", "-b:a", "128k", "-f", "hls"])
                .args(["-hls_time", "1", "-hls_list_size", "0"])
                .arg(&playlist),
        );
        let text = std::fs::read_to_string(&playlist).expect("playlist written");
        (text, Url::from_file_path(&playlist).expect("absolute path"))
    }

    #[test]
    fn clicks_are_numbered_across_segments_even_when_one_segment_is_lost() {
        let track = ClickTrack::new(PHASE, SPACING, 20);
        let folder = std::env::temp_dir().join(format!("loadgen-hls-{}", std::process::id()));
        let (text, url) = hls_of(&track, &folder);
        let playlist = playlist::parse(&text, &url);
        assert!(playlist.ended);
        assert!(playlist.segments.len() >= 4, "{text}");
        let segment_bytes = |segment: &Segment| {
            std::fs::read(segment.url.to_file_path().expect("a file")).expect("segment written")
        };

        let mut ear = SegmentEar::new(&track);
        let per_segment: Vec<Vec<u64>> = playlist
            .segments
            .iter()
            .map(|segment| ear.clicks_in(&segment_bytes(segment)))
            .collect();
        assert_eq!(per_segment.concat(), (0..20).collect::<Vec<u64>>());
        assert_eq!(ear.decode_errors, 0);

        // The second segment could not be fetched: its clicks are missing,
        // the ones after it keep their numbers.
        let lost = &per_segment[1];
        assert!(!lost.is_empty(), "the lost segment held clicks");
        let mut ear = SegmentEar::new(&track);
        let mut heard = Vec::new();
        for (index, segment) in playlist.segments.iter().enumerate() {
            if index == 1 {
                ear.skip(segment.seconds);
            } else {
                heard.extend(ear.clicks_in(&segment_bytes(segment)));
            }
        }
        let expected: Vec<u64> = (0..20).filter(|click| !lost.contains(click)).collect();
        assert_eq!(heard, expected);
        let _ = std::fs::remove_dir_all(&folder);
    }

    #[test]
    fn each_click_counts_from_its_hand_over_to_its_segment_being_playable() {
        let track = ClickTrack::new(PHASE, SPACING, 3);
        let hand_overs = HandOvers::new(track);
        let posted = Instant::now();
        // One 2 s chunk holds all three clicks: at 0.1, 0.3 and 0.5 s.
        hand_overs.record(0, click::frames(Duration::from_secs(2)), posted);
        let at = |seconds: f64| posted + Duration::from_secs_f64(seconds);
        let reading = Reading {
            // Click 2 listed at 6.4 s and playable at 6.6 s; click 7 was
            // never sent (a matching error looks like this).
            heard: vec![
                (0, at(5.0), at(5.1)),
                (2, at(6.4), at(6.6)),
                (7, at(7.0), at(7.0)),
            ],
            ..Reading::default()
        };
        let report = PathReport::of("test".to_owned(), &reading, &hand_overs);
        assert_eq!(report.clicks_sent, 3);
        assert_eq!(report.clicks_heard, 3);
        assert_eq!(report.clicks_mismatched, 1);
        assert_eq!(report.clicks_within_goal, 1, "5.0 s yes, 6.1 s no");
        let latency = report.latency.expect("latencies");
        assert!((latency.p50_ms - 5_000.0).abs() < 1.0, "{latency:?}");
        assert!((latency.max_ms - 6_100.0).abs() < 1.0, "{latency:?}");
        let listed = report.listed.expect("listed");
        assert!((listed.max_ms - 5_900.0).abs() < 1.0, "{listed:?}");
    }
}
