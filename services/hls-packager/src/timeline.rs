//! One stream's packaged media: runs, segments and parts, as the playlist
//! lists them and players fetch them. Pure state (no I/O, no clock of its
//! own), so every playlist rule is tested here without an engine.
//!
//! - A *run* is one engine connection's audio: its own init segment (the
//!   AudioSpecificConfig may differ after a restart) and a random id in
//!   every media URI, so no two runs, packager restarts or replicas ever
//!   name different bytes alike (the edge caches media by URI).
//! - Media sequence numbers go on across runs (EXT-X-DISCONTINUITY marks a
//!   new run) and start at the wall clock divided by the segment duration:
//!   a restarted packager, or another replica taking the stream over,
//!   continues near where the last one was instead of starting at 0 again.
//! - Decode times (tfdt) count samples from the stream's start and never go
//!   back, even across runs.

use crate::aac::AudioConfig;
use crate::configuration::HlsSettings;
use crate::fmp4;
use crate::layout::Layout;
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Whole segments kept downloadable after they left the playlist: RFC
/// 8216bis 6.2.2 keeps a removed segment (and a part, 3 target durations
/// after its tag) available for a while; players that fell behind get it.
const SEGMENTS_KEPT_PAST_THE_WINDOW: usize = 4;

/// One engine connection's worth of audio.
#[derive(Debug)]
pub struct Run {
    /// 8 hex digits, in every media URI of the run.
    pub id: String,
    pub config: AudioConfig,
    pub init: Bytes,
}

#[derive(Debug, Clone)]
pub struct Part {
    pub duration: f64,
    pub bytes: Bytes,
}

#[derive(Debug, Clone)]
pub struct Segment {
    pub msn: u64,
    pub run: Arc<Run>,
    /// The first segment of a run after another: EXT-X-DISCONTINUITY.
    pub discontinuity: bool,
    /// Discontinuities from the stream's start up to this segment, itself included.
    pub discontinuity_number: u64,
    pub program_date_time: SystemTime,
    /// Where it starts on the stream's media clock (seconds).
    pub start: f64,
    pub parts: Vec<Part>,
    /// The whole segment (its parts back to back) once it is complete.
    pub bytes: Option<Bytes>,
}

impl Segment {
    pub fn duration(&self) -> f64 {
        self.parts.iter().map(|part| part.duration).sum()
    }
}

/// The next part to come: its segment and index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub msn: u64,
    pub part: u64,
}

/// What a blocking playlist request (`_HLS_msn`, `_HLS_part`) finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reload {
    /// The playlist already holds what was asked for (or the stream ended).
    Ready,
    /// Not yet: wait for the next part.
    Wait,
    /// Further ahead than RFC 8216bis lets a client ask (400).
    TooFarAhead,
}

/// What a media request finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Found(Bytes),
    /// The hinted part, or one shortly after it: worth waiting for.
    Coming,
    Gone,
}

pub struct Timeline {
    hls: HlsSettings,
    layout: Option<Layout>,
    /// Complete segments still downloadable; the playlist lists the newest.
    segments: VecDeque<Segment>,
    /// The segment whose parts are being made.
    open: Option<Segment>,
    run: Option<Arc<Run>>,
    /// Frames of the next part.
    pending: Vec<Bytes>,
    /// Samples on the stream's media clock so far.
    decode_time: u64,
    /// The wall clock at the current run's first sample, and that sample's
    /// media time: program date times follow from them.
    run_started: (SystemTime, u64),
    next_msn: u64,
    fragment_sequence: u32,
    discontinuities: u64,
    next_segment_discontinuous: bool,
    ended: bool,
}

impl Timeline {
    /// An empty timeline whose first segment is numbered from `now`.
    pub fn new(hls: HlsSettings, now: SystemTime) -> Self {
        let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        let first_msn =
            since_epoch.as_millis() as u64 / hls.segment_duration.as_millis().max(1) as u64;
        Self {
            hls,
            layout: None,
            segments: VecDeque::new(),
            open: None,
            run: None,
            pending: Vec::new(),
            decode_time: 0,
            run_started: (now, 0),
            next_msn: first_msn,
            fragment_sequence: 0,
            discontinuities: 0,
            next_segment_discontinuous: false,
            ended: false,
        }
    }

    /// The cut, once the first run told the sample rate.
    pub fn layout(&self) -> Option<&Layout> {
        self.layout.as_ref()
    }

    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// The current run, while the engine delivers.
    pub fn run(&self) -> Option<&Arc<Run>> {
        self.run.as_ref()
    }

    /// Starts a run (a new engine connection, or a new AudioSpecificConfig
    /// within one). What the previous run left unfinished is closed first.
    pub fn start_run(&mut self, config: AudioConfig, now: SystemTime) -> Arc<Run> {
        self.end_run();
        let layout = *self.layout.get_or_insert_with(|| {
            Layout::new(&self.hls, config.sample_rate, config.samples_per_frame)
        });
        if layout.sample_rate != config.sample_rate {
            tracing::warn!(
                first = layout.sample_rate,
                now = config.sample_rate,
                "the sample rate changed; parts keep their frame count"
            );
        }
        let id = format!("{:08x}", uuid::Uuid::new_v4().as_u128() as u32);
        let init = fmp4::init_segment(&config, 0);
        let run = Arc::new(Run { id, config, init });
        self.next_segment_discontinuous = self.open.is_some() || !self.segments.is_empty();
        self.run_started = (now, self.decode_time);
        self.run = Some(run.clone());
        run
    }

    /// One raw AAC frame of the current run; a part is cut after every
    /// `frames_per_part`. Returns true when a part was cut.
    pub fn push_frame(&mut self, frame: Bytes) -> bool {
        let Some(layout) = self.layout else {
            return false;
        };
        if self.run.is_none() {
            return false;
        }
        self.pending.push(frame);
        if self.pending.len() as u32 >= layout.frames_per_part {
            self.cut_part();
            return true;
        }
        false
    }

    /// The current run ended (the engine connection closed): the frames it
    /// left become a shorter last part, and its segment is closed.
    pub fn end_run(&mut self) {
        if !self.pending.is_empty() {
            self.cut_part();
        }
        if self.open.is_some() {
            self.close_segment();
        }
        self.run = None;
    }

    /// The stream ended: EXT-X-ENDLIST from now on.
    pub fn end_stream(&mut self) {
        self.end_run();
        self.ended = true;
    }

    fn cut_part(&mut self) {
        let (Some(layout), Some(run)) = (self.layout, self.run.clone()) else {
            return;
        };
        let frames = std::mem::take(&mut self.pending);
        let frame_count = frames.len() as u64;
        self.fragment_sequence = self.fragment_sequence.wrapping_add(1);
        let bytes = fmp4::fragment(
            self.fragment_sequence,
            self.decode_time,
            layout.samples_per_frame,
            &frames,
        );
        if self.open.is_none() {
            let discontinuity = std::mem::take(&mut self.next_segment_discontinuous);
            self.discontinuities += u64::from(discontinuity);
            let (run_wall_clock, run_media_time) = self.run_started;
            let into_run =
                (self.decode_time - run_media_time) as f64 / f64::from(layout.sample_rate);
            self.open = Some(Segment {
                msn: self.next_msn,
                run,
                discontinuity,
                discontinuity_number: self.discontinuities,
                program_date_time: run_wall_clock + Duration::from_secs_f64(into_run),
                start: self.decode_time as f64 / f64::from(layout.sample_rate),
                parts: Vec::new(),
                bytes: None,
            });
            self.next_msn += 1;
        }
        self.decode_time += frame_count * u64::from(layout.samples_per_frame);
        let open = self.open.as_mut().expect("opened above");
        open.parts.push(Part {
            duration: layout.seconds(frame_count),
            bytes,
        });
        if open.parts.len() as u32 >= layout.parts_per_segment {
            self.close_segment();
        }
    }

    fn close_segment(&mut self) {
        let Some(mut segment) = self.open.take() else {
            return;
        };
        let whole: Vec<u8> = segment
            .parts
            .iter()
            .flat_map(|part| part.bytes.iter().copied())
            .collect();
        segment.bytes = Some(Bytes::from(whole));
        self.segments.push_back(segment);
        while self.segments.len() > self.hls.window_segments + SEGMENTS_KEPT_PAST_THE_WINDOW {
            self.segments.pop_front();
        }
    }

    /// The complete segments the playlist lists (the newest `window_segments`).
    pub fn listed_segments(&self) -> impl Iterator<Item = &Segment> {
        let skip = self.segments.len().saturating_sub(self.hls.window_segments);
        self.segments.iter().skip(skip)
    }

    /// The segment in progress, with the parts it has so far.
    pub fn open_segment(&self) -> Option<&Segment> {
        self.open.as_ref()
    }

    pub fn has_complete_segment(&self) -> bool {
        !self.segments.is_empty()
    }

    /// Where the next part goes.
    pub fn next_position(&self) -> Position {
        match &self.open {
            Some(open) => Position {
                msn: open.msn,
                part: open.parts.len() as u64,
            },
            None => Position {
                msn: self.next_msn,
                part: 0,
            },
        }
    }

    /// The media clock at the end of the newest part (seconds).
    pub fn end_time(&self) -> f64 {
        match self.layout {
            Some(layout) => {
                let pending = self.pending.len() as u64 * u64::from(layout.samples_per_frame);
                (self.decode_time - pending) as f64 / f64::from(layout.sample_rate)
            }
            None => 0.0,
        }
    }

    fn segment(&self, msn: u64) -> Option<&Segment> {
        self.segments
            .iter()
            .chain(self.open.iter())
            .find(|segment| segment.msn == msn)
    }

    /// RFC 8216bis 6.2.5.2: has the playlist what `_HLS_msn`/`_HLS_part` ask for?
    pub fn reload(&self, msn: u64, part: Option<u64>) -> Reload {
        if self.ended {
            return Reload::Ready;
        }
        let Some(layout) = self.layout else {
            return Reload::Wait;
        };
        let next = self.next_position();
        // The last whole segment's number (one before the first, while none is whole).
        let last_complete = self
            .segments
            .back()
            .map_or(next.msn.saturating_sub(1), |segment| segment.msn);
        if msn > last_complete + 2 {
            return Reload::TooFarAhead;
        }
        let Some(part) = part else {
            return if msn <= last_complete && self.has_complete_segment() {
                Reload::Ready
            } else {
                Reload::Wait
            };
        };
        // A part past a segment's last is part 0 of the next segment.
        let parts_in = |msn| match self.segment(msn) {
            Some(segment) if segment.bytes.is_some() => segment.parts.len() as u64,
            _ => u64::from(layout.parts_per_segment),
        };
        let asked = if part >= parts_in(msn) {
            Position {
                msn: msn + 1,
                part: 0,
            }
        } else {
            Position { msn, part }
        };
        if asked < next {
            return Reload::Ready;
        }
        let parts_ahead =
            (asked.msn - next.msn) * u64::from(layout.parts_per_segment) + asked.part - next.part;
        // `next` is one past the last part, so this counts from the last part.
        if parts_ahead + 1 > layout.advance_part_limit() {
            return Reload::TooFarAhead;
        }
        Reload::Wait
    }

    /// The init segment of run `run_id`, while any of its media is kept.
    pub fn init(&self, run_id: &str) -> Option<Bytes> {
        self.run
            .iter()
            .chain(
                self.segments
                    .iter()
                    .chain(self.open.iter())
                    .map(|segment| &segment.run),
            )
            .find(|run| run.id == run_id)
            .map(|run| run.init.clone())
    }

    /// Whole segment `msn` of run `run_id`.
    pub fn whole_segment(&self, run_id: &str, msn: u64) -> Lookup {
        match self.segment(msn) {
            Some(segment) if segment.run.id == run_id => match &segment.bytes {
                Some(bytes) => Lookup::Found(bytes.clone()),
                None => Lookup::Coming,
            },
            _ => Lookup::Gone,
        }
    }

    /// Part `index` of segment `msn` of run `run_id`; a part of the current
    /// run not made yet is `Coming` while it is within the advance limit of
    /// the next part (the preload hint and the few after it).
    pub fn part(&self, run_id: &str, msn: u64, index: u64) -> Lookup {
        if let Some(segment) = self.segment(msn) {
            if segment.run.id != run_id {
                return Lookup::Gone;
            }
            if let Some(part) = segment.parts.get(index as usize) {
                return Lookup::Found(part.bytes.clone());
            }
            if segment.bytes.is_some() {
                return Lookup::Gone;
            }
        }
        let (Some(layout), Some(run)) = (self.layout, &self.run) else {
            return Lookup::Gone;
        };
        let next = self.next_position();
        let asked = Position { msn, part: index };
        if run.id != run_id || asked < next || index >= u64::from(layout.parts_per_segment) {
            return Lookup::Gone;
        }
        let parts_ahead =
            (asked.msn - next.msn) * u64::from(layout.parts_per_segment) + asked.part - next.part;
        if parts_ahead < layout.advance_part_limit() {
            Lookup::Coming
        } else {
            Lookup::Gone
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn hls() -> HlsSettings {
        HlsSettings {
            part_duration: Duration::from_millis(250),
            segment_duration: Duration::from_secs(1),
            window_segments: 6,
            part_hold_back_parts: 3,
        }
    }

    pub(crate) fn lc_48k() -> AudioConfig {
        AudioConfig::parse(Bytes::from_static(&[0x11, 0x90])).unwrap()
    }

    pub(crate) const START: Duration = Duration::from_secs(1_700_000_000);

    /// A timeline with a run started and `frames` frames pushed.
    pub(crate) fn with_frames(frames: usize) -> Timeline {
        let mut timeline = Timeline::new(hls(), UNIX_EPOCH + START);
        timeline.start_run(lc_48k(), UNIX_EPOCH + START);
        push(&mut timeline, frames);
        timeline
    }

    pub(crate) fn push(timeline: &mut Timeline, frames: usize) {
        for frame in 0..frames {
            timeline.push_frame(Bytes::from(vec![frame as u8; 300]));
        }
    }

    #[test]
    fn media_sequence_starts_at_the_wall_clock_in_segments() {
        let timeline = Timeline::new(hls(), UNIX_EPOCH + START);
        assert_eq!(timeline.next_position().msn, 1_700_000_000);
    }

    #[test]
    fn parts_are_12_frames_and_segments_4_parts() {
        let timeline = with_frames(12 * 4 * 2 + 12 + 5);
        let segments: Vec<&Segment> = timeline.listed_segments().collect();
        assert_eq!(segments.len(), 2);
        assert_eq!(segments[1].msn, segments[0].msn + 1);
        for segment in &segments {
            assert_eq!(segment.parts.len(), 4);
            assert!((segment.duration() - 1.024).abs() < 1e-9);
            let whole = segment.bytes.as_ref().unwrap();
            let parts: usize = segment.parts.iter().map(|part| part.bytes.len()).sum();
            assert_eq!(whole.len(), parts, "a segment is its parts back to back");
        }
        let open = timeline.open_segment().unwrap();
        assert_eq!(open.parts.len(), 1, "5 frames wait for the next part");
        assert_eq!(
            timeline.next_position(),
            Position {
                msn: segments[1].msn + 1,
                part: 1
            }
        );
        assert!((open.start - 2.048).abs() < 1e-9);
    }

    #[test]
    fn program_date_times_follow_the_media_clock_from_the_run_start() {
        let timeline = with_frames(12 * 4 * 3);
        let times: Vec<SystemTime> = timeline
            .listed_segments()
            .map(|segment| segment.program_date_time)
            .collect();
        assert_eq!(times[0], UNIX_EPOCH + START);
        assert_eq!(times[2], UNIX_EPOCH + START + Duration::from_millis(2048));
    }

    #[test]
    fn a_new_run_closes_the_old_one_short_and_is_a_discontinuity() {
        let mut timeline = with_frames(12 * 5 + 3);
        let first_run = timeline.run().unwrap().id.clone();
        timeline.end_run();
        let restart = UNIX_EPOCH + START + Duration::from_secs(5);
        timeline.start_run(lc_48k(), restart);
        push(&mut timeline, 12 * 4);
        let segments: Vec<&Segment> = timeline.listed_segments().collect();
        assert_eq!(segments.len(), 3);
        // The first run's last segment: one whole part and 3 frames.
        assert_eq!(segments[1].parts.len(), 2);
        assert!((segments[1].parts[1].duration - 0.064).abs() < 1e-9);
        assert_eq!(segments[1].run.id, first_run);
        let new = segments[2];
        assert_ne!(new.run.id, first_run);
        assert!(new.discontinuity && new.discontinuity_number == 1);
        assert_eq!(new.msn, segments[1].msn + 1, "numbers go on across runs");
        assert_eq!(new.program_date_time, restart);
        assert!((new.start - segments[1].start - segments[1].duration()).abs() < 1e-9);
        assert!(timeline.init(&first_run).is_some());
    }

    #[test]
    fn old_segments_leave_the_playlist_but_stay_downloadable_a_while() {
        let timeline = with_frames(12 * 4 * 12);
        let listed: Vec<u64> = timeline.listed_segments().map(|s| s.msn).collect();
        assert_eq!(listed.len(), 6);
        let run = timeline.run().unwrap().id.clone();
        let first_listed = listed[0];
        assert!(matches!(
            timeline.whole_segment(&run, first_listed - 4),
            Lookup::Found(_)
        ));
        assert_eq!(timeline.whole_segment(&run, first_listed - 5), Lookup::Gone);
    }

    #[test]
    fn blocking_reloads_wait_for_the_part_and_refuse_the_far_future() {
        let timeline = with_frames(12 * 4 + 12 * 2);
        let next = timeline.next_position();
        assert_eq!(next.part, 2);
        let msn = next.msn;
        assert_eq!(timeline.reload(msn, Some(1)), Reload::Ready);
        assert_eq!(timeline.reload(msn, Some(2)), Reload::Wait);
        assert_eq!(timeline.reload(msn - 1, None), Reload::Ready);
        assert_eq!(timeline.reload(msn, None), Reload::Wait);
        assert_eq!(timeline.reload(msn - 1, Some(0)), Reload::Ready);
        // Long gone from the playlist: the whole playlist at once.
        assert_eq!(timeline.reload(msn - 100, Some(3)), Reload::Ready);
        // Last whole segment + 2 is the furthest segment one may wait for.
        assert_eq!(timeline.reload(msn + 1, None), Reload::Wait);
        assert_eq!(timeline.reload(msn + 2, None), Reload::TooFarAhead);
        assert_eq!(timeline.reload(msn + 2, Some(0)), Reload::TooFarAhead);
        assert_eq!(timeline.reload(msn + 1, Some(3)), Reload::Wait);
        // The part after the last is part 0 of the next segment.
        assert_eq!(timeline.reload(msn - 1, Some(4)), Reload::Ready);
        assert_eq!(timeline.reload(msn, Some(4)), Reload::Wait);
    }

    #[test]
    fn with_parts_of_a_second_a_client_may_ask_three_parts_ahead() {
        let mut settings = hls();
        settings.part_duration = Duration::from_secs(1);
        settings.segment_duration = Duration::from_secs(4);
        let mut timeline = Timeline::new(settings, UNIX_EPOCH + START);
        timeline.start_run(lc_48k(), UNIX_EPOCH + START);
        push(&mut timeline, 47);
        let next = timeline.next_position();
        assert_eq!(next.part, 1);
        assert_eq!(timeline.reload(next.msn, Some(3)), Reload::Wait);
        // Part 0 of the next segment is 4 parts past the last one.
        assert_eq!(timeline.reload(next.msn, Some(4)), Reload::TooFarAhead);
        assert_eq!(timeline.reload(next.msn + 1, Some(1)), Reload::TooFarAhead);
    }

    #[test]
    fn a_short_segment_rolls_over_to_the_next_one() {
        let mut timeline = with_frames(12 * 2);
        let msn = timeline.next_position().msn;
        timeline.end_run();
        // Segment msn has 2 parts; part 2 of it is part 0 of msn + 1.
        assert_eq!(timeline.reload(msn, Some(2)), Reload::Wait);
        timeline.start_run(lc_48k(), UNIX_EPOCH + START + Duration::from_secs(3));
        push(&mut timeline, 12);
        assert_eq!(timeline.reload(msn, Some(2)), Reload::Ready);
    }

    #[test]
    fn an_ended_stream_answers_every_reload() {
        let mut timeline = with_frames(12);
        timeline.end_stream();
        assert!(timeline.is_ended());
        assert_eq!(timeline.reload(u64::MAX / 2, None), Reload::Ready);
    }

    #[test]
    fn parts_are_found_coming_or_gone() {
        let timeline = with_frames(12 * 4 + 12);
        let run = timeline.run().unwrap().id.clone();
        let next = timeline.next_position();
        assert!(matches!(timeline.part(&run, next.msn, 0), Lookup::Found(_)));
        assert!(matches!(
            timeline.part(&run, next.msn - 1, 3),
            Lookup::Found(_)
        ));
        assert_eq!(timeline.part(&run, next.msn, 1), Lookup::Coming, "the hint");
        assert_eq!(timeline.part(&run, next.msn + 2, 2), Lookup::Coming);
        assert_eq!(
            timeline.part(&run, next.msn + 3, 0),
            Lookup::Gone,
            "too far"
        );
        assert_eq!(
            timeline.part(&run, next.msn, 4),
            Lookup::Gone,
            "no such index"
        );
        assert_eq!(timeline.part("00000000", next.msn, 0), Lookup::Gone);
        assert_eq!(timeline.whole_segment(&run, next.msn), Lookup::Coming);
    }

    #[test]
    fn the_hinted_part_of_an_ended_run_is_gone() {
        let mut timeline = with_frames(12);
        let run = timeline.run().unwrap().id.clone();
        let next = timeline.next_position();
        timeline.end_run();
        assert_eq!(timeline.part(&run, next.msn, next.part), Lookup::Gone);
    }
}
