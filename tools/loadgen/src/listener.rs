//! An HTTP-FLV listener: one GET, tags parsed as their bytes arrive, and a
//! reconnect whenever the body is empty, ends or stalls, as a player does
//! (to the stream's next address, if it has several: the edges of a
//! cluster). It keeps what a scenario reports: delivery on the first try or
//! only after retries, audio received, gaps and arrival jitter.

use std::time::Duration;
use tokio::time::{sleep_until, timeout_at, Instant};
use vibes_flv::{AacPacket, FlvReader};

/// What happens to the audio a listener receives, besides being counted.
pub trait FrameSink: Send {
    /// A try begins, at `Plan::url` (0) or one of its `alternates` (1…).
    fn trying(&mut self, _address: usize) {}
    fn connected(&mut self) {}
    fn sequence_header(&mut self, _audio_specific_config: &[u8]) {}
    fn frame(&mut self, _arrived: Instant, _frame: &[u8]) {}
    /// The response `connected` announced is over.
    fn disconnected(&mut self) {}
}

/// Counting only.
pub struct Counting;
impl FrameSink for Counting {}

#[derive(Debug, Clone)]
pub struct Plan {
    pub url: String,
    /// The same stream at other addresses (the other edges of a cluster,
    /// as a player knows them from DNS). After a response that delivered
    /// and ended, or an address that could not be reached, the listener
    /// tries the next one in turn; after an HTTP error, the same one again.
    pub alternates: Vec<String>,
    /// The listener goes away once a response that delivered audio ends,
    /// as someone who closes the app instead of waiting for a reconnect.
    pub leaves_when_cut: bool,
    /// Listening stops here, connected or not.
    pub until: Instant,
    /// Frames that arrive in this span count as received "in the window".
    pub window: Option<(Instant, Instant)>,
    pub max_tries: u32,
    /// No byte for this long: the connection is given up and made again.
    pub stall: Duration,
    /// Spreads reconnects of many listeners over time.
    pub retry_delay: Duration,
}

/// 0.3–1.0 s, different per listener `index`: reconnects of many listeners
/// do not come in a wave.
pub fn spread_retry_delay(index: usize) -> Duration {
    Duration::from_millis(300 + (index as u64 * 7_919) % 700)
}

/// An audio tag timestamp jump larger than this is a gap a listener hears.
pub const AUDIBLE_GAP_MS: u32 = 100;
/// One AAC frame: 1024 samples at 48 kHz.
pub const FRAME_SECONDS: f64 = 1024.0 / 48_000.0;

#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub tries: u32,
    /// Audio arrived on the first connection, and it lasted until the end.
    pub first_try: bool,
    /// Audio arrived on some connection.
    pub delivered: bool,
    /// Connected when listening stopped.
    pub connected_at_end: bool,
    pub frames: u64,
    pub frames_in_window: u64,
    /// Audio tag timestamp jumps over [`AUDIBLE_GAP_MS`] within a connection.
    pub timestamp_gaps: u64,
    pub max_timestamp_step_ms: u32,
    /// Longest wait between two audio tags (within the window if there is one).
    pub max_arrival_gap: Duration,
    /// Spread of (arrival − media time) over the audio tags of the longest
    /// connection (within the window if there is one): how much earlier or
    /// later than the stream's own clock tags arrive.
    pub jitter_ms: f64,
    pub last_problem: Option<String>,
}

impl Outcome {
    pub fn audio_seconds_in_window(&self) -> f64 {
        self.frames_in_window as f64 * FRAME_SECONDS
    }
}

/// The last problem of each listener that had one, counted.
pub fn problems(outcomes: &[Outcome]) -> Vec<(String, usize)> {
    tally(
        outcomes
            .iter()
            .filter_map(|outcome| outcome.last_problem.clone()),
    )
}

/// Each distinct text with how often it came, in order of first appearance.
pub fn tally(texts: impl IntoIterator<Item = String>) -> Vec<(String, usize)> {
    let mut counted: Vec<(String, usize)> = Vec::new();
    for text in texts {
        match counted.iter_mut().find(|(known, _)| *known == text) {
            Some((_, count)) => *count += 1,
            None => counted.push((text, 1)),
        }
    }
    counted
}

/// `problem ×count, …`, or "none".
pub fn problems_text(problems: &[(String, usize)]) -> String {
    if problems.is_empty() {
        return "none".to_owned();
    }
    problems
        .iter()
        .map(|(problem, count)| format!("{problem} ×{count}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Listens per `plan` with `client`; returns when `plan.until` is reached or
/// every try is used up.
pub async fn listen(client: &reqwest::Client, plan: &Plan, sink: &mut dyn FrameSink) -> Outcome {
    let mut outcome = Outcome::default();
    let addresses: Vec<&str> = std::iter::once(plan.url.as_str())
        .chain(plan.alternates.iter().map(String::as_str))
        .collect();
    let mut address = 0;
    while outcome.tries < plan.max_tries && Instant::now() < plan.until {
        outcome.tries += 1;
        sink.trying(address);
        let connection = connect_once(client, addresses[address], plan, sink, &mut outcome).await;
        let lasted = connection.frames > 0 && connection.held_to_end;
        if outcome.tries == 1 {
            outcome.first_try = lasted;
        }
        outcome.delivered |= connection.frames > 0;
        if connection.held_to_end {
            outcome.connected_at_end = true;
            break;
        }
        outcome.last_problem = Some(connection.problem);
        if connection.frames > 0 && plan.leaves_when_cut {
            break;
        }
        if connection.try_elsewhere {
            address = (address + 1) % addresses.len();
        }
        let retry_at = (Instant::now() + plan.retry_delay).min(plan.until);
        sleep_until(retry_at).await;
    }
    outcome
}

struct Connection {
    frames: u64,
    held_to_end: bool,
    problem: String,
    /// The address could not be reached, or its response ended: the next
    /// address may serve (an HTTP error is the address's answer: not so).
    try_elsewhere: bool,
}

/// One GET of `url` and its body until it ends, stalls or `plan.until`;
/// tells `sink` when it got through and when that response is over.
async fn connect_once(
    client: &reqwest::Client,
    url: &str,
    plan: &Plan,
    sink: &mut dyn FrameSink,
    outcome: &mut Outcome,
) -> Connection {
    let mut connection = Connection {
        frames: 0,
        held_to_end: false,
        problem: String::new(),
        try_elsewhere: false,
    };
    let answer = timeout_at(
        (Instant::now() + plan.stall).min(plan.until),
        client.get(url).send(),
    )
    .await;
    let response = match answer {
        Ok(Ok(response)) if response.status() == 200 => response,
        Ok(Ok(response)) => {
            connection.problem = format!("status {}", response.status());
            return connection;
        }
        Ok(Err(error)) => {
            connection.problem = format!("request: {error}");
            connection.try_elsewhere = true;
            return connection;
        }
        Err(_) if Instant::now() >= plan.until => {
            connection.problem = "no answer before the end".to_owned();
            return connection;
        }
        Err(_) => {
            connection.problem = "no answer".to_owned();
            return connection;
        }
    };
    sink.connected();
    read_body(response, plan, sink, outcome, &mut connection).await;
    sink.disconnected();
    connection.try_elsewhere = connection.frames > 0 && !connection.held_to_end;
    connection
}

/// Reads an FLV response into `sink` and `outcome` until it ends, stalls
/// or `plan.until`; notes why in `connection`.
async fn read_body(
    mut response: reqwest::Response,
    plan: &Plan,
    sink: &mut dyn FrameSink,
    outcome: &mut Outcome,
    connection: &mut Connection,
) {
    let mut reader = FlvReader::default();
    let mut timing = Timing::default();
    loop {
        let next = timeout_at(
            (Instant::now() + plan.stall).min(plan.until),
            response.chunk(),
        )
        .await;
        let bytes = match next {
            Err(_) if Instant::now() >= plan.until => {
                connection.held_to_end = true;
                break;
            }
            Err(_) => {
                connection.problem = "stalled".to_owned();
                break;
            }
            Ok(Err(error)) => {
                connection.problem = format!("body: {error}");
                break;
            }
            Ok(Ok(None)) => {
                connection.problem = if connection.frames == 0 {
                    "empty body".to_owned()
                } else {
                    "body ended".to_owned()
                };
                break;
            }
            Ok(Ok(Some(bytes))) => bytes,
        };
        let arrived = Instant::now();
        reader.push(&bytes);
        loop {
            let tag = match reader.next_tag() {
                Ok(Some(tag)) => tag,
                Ok(None) => break,
                Err(error) => {
                    connection.problem = error.to_string();
                    return;
                }
            };
            match tag.aac() {
                Some(AacPacket::SequenceHeader(config)) => sink.sequence_header(&config),
                Some(AacPacket::Frame(frame)) => {
                    connection.frames += 1;
                    outcome.frames += 1;
                    let in_window = plan
                        .window
                        .is_none_or(|(start, end)| (start..end).contains(&arrived));
                    if in_window {
                        outcome.frames_in_window += 1;
                    }
                    timing.audio_tag(arrived, tag.timestamp_ms, in_window, outcome);
                    sink.frame(arrived, &frame);
                }
                None => {}
            }
        }
        if arrived >= plan.until {
            connection.held_to_end = true;
            break;
        }
    }
    outcome.jitter_ms = outcome.jitter_ms.max(timing.jitter_ms());
}

/// Arrival times against the tags' own clock, over one connection.
#[derive(Default)]
struct Timing {
    previous: Option<(Instant, u32)>,
    origin: Option<(Instant, u32)>,
    lateness_ms: Option<(f64, f64)>,
}

impl Timing {
    fn audio_tag(
        &mut self,
        arrived: Instant,
        timestamp_ms: u32,
        in_window: bool,
        outcome: &mut Outcome,
    ) {
        if let Some((previous_arrival, previous_timestamp)) = self.previous {
            let step = timestamp_ms.wrapping_sub(previous_timestamp);
            outcome.max_timestamp_step_ms = outcome.max_timestamp_step_ms.max(step);
            if step > AUDIBLE_GAP_MS {
                outcome.timestamp_gaps += 1;
            }
            if in_window {
                outcome.max_arrival_gap = outcome.max_arrival_gap.max(arrived - previous_arrival);
            }
        }
        self.previous = Some((arrived, timestamp_ms));
        if !in_window {
            return;
        }
        let (origin_arrival, origin_timestamp) =
            *self.origin.get_or_insert((arrived, timestamp_ms));
        let wall_ms = (arrived - origin_arrival).as_secs_f64() * 1000.0;
        let media_ms = f64::from(timestamp_ms.wrapping_sub(origin_timestamp));
        let lateness = wall_ms - media_ms;
        let (low, high) = self.lateness_ms.get_or_insert((lateness, lateness));
        *low = low.min(lateness);
        *high = high.max(lateness);
    }

    fn jitter_ms(&self) -> f64 {
        self.lateness_ms.map_or(0.0, |(low, high)| high - low)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use vibes_flv::write::{tag as tag_bytes, AUDIO_PREAMBLE as HEADER};

    /// How a test server answers one connection: a status and, for 200,
    /// `frames` AAC frames, then the end of the body unless it `holds` on
    /// (a frame every 20 ms until the client goes).
    #[derive(Clone, Copy)]
    struct Answer {
        status: u16,
        frames: u32,
        holds: bool,
    }

    /// A loopback HTTP server giving `answers` to its connections in turn
    /// (the last one again and again); its URL.
    async fn server(answers: Vec<Answer>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/live/v.flv", listener.local_addr().unwrap());
        tokio::spawn(async move {
            for turn in 0.. {
                let (mut socket, _) = listener.accept().await.unwrap();
                let answer = answers[turn.min(answers.len() - 1)];
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buffer = [0u8; 1024];
                    while !request.windows(4).any(|window| window == b"\r\n\r\n") {
                        let read = socket.read(&mut buffer).await.unwrap_or(0);
                        if read == 0 {
                            return;
                        }
                        request.extend_from_slice(&buffer[..read]);
                    }
                    let head = format!(
                        "HTTP/1.1 {} X\r\nContent-Type: video/x-flv\r\nConnection: close\r\n\r\n",
                        answer.status
                    );
                    let mut body = head.into_bytes();
                    if answer.status == 200 {
                        body.extend_from_slice(&HEADER);
                        body.extend(tag_bytes(8, 0, &[0xaf, 0, 0x11, 0x90]));
                        for frame in 0..answer.frames {
                            body.extend(tag_bytes(8, frame * 21, &[0xaf, 1, 0x21]));
                        }
                    }
                    if socket.write_all(&body).await.is_err() || !answer.holds {
                        return;
                    }
                    for frame in answer.frames.. {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        let tag = tag_bytes(8, frame * 21, &[0xaf, 1, 0x21]);
                        if socket.write_all(&tag).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        url
    }

    /// Which addresses were tried, and the frames heard.
    #[derive(Clone, Default)]
    struct Tries(Arc<Mutex<(Vec<usize>, u64)>>);

    impl FrameSink for Tries {
        fn trying(&mut self, address: usize) {
            self.0.lock().unwrap().0.push(address);
        }

        fn frame(&mut self, _arrived: Instant, _frame: &[u8]) {
            self.0.lock().unwrap().1 += 1;
        }
    }

    fn plan(url: String, alternates: Vec<String>, leaves_when_cut: bool) -> Plan {
        Plan {
            url,
            alternates,
            leaves_when_cut,
            until: Instant::now() + Duration::from_millis(1500),
            window: None,
            max_tries: 6,
            stall: Duration::from_secs(1),
            retry_delay: Duration::from_millis(10),
        }
    }

    const ENDS: Answer = Answer {
        status: 200,
        frames: 5,
        holds: false,
    };
    const HOLDS: Answer = Answer {
        status: 200,
        frames: 1,
        holds: true,
    };
    const UNAVAILABLE: Answer = Answer {
        status: 503,
        frames: 0,
        holds: false,
    };

    #[tokio::test]
    async fn a_listener_whose_response_ends_or_whose_address_is_gone_moves_to_the_next_address() {
        let (ends, holds) = (server(vec![ENDS]).await, server(vec![HOLDS]).await);
        let client = reqwest::Client::new();
        let tries = Tries::default();
        let outcome = listen(
            &client,
            &plan(ends, vec![holds.clone()], false),
            &mut tries.clone(),
        )
        .await;
        let (addresses, frames) = tries.0.lock().unwrap().clone();
        assert_eq!(addresses, [0, 1]);
        assert!(frames > 5, "{frames} frames");
        assert!(outcome.connected_at_end && outcome.delivered);

        // Nothing listens at the first address.
        let gone = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}/live/v.flv", listener.local_addr().unwrap())
        };
        let tries = Tries::default();
        let outcome = listen(&client, &plan(gone, vec![holds], false), &mut tries.clone()).await;
        assert_eq!(tries.0.lock().unwrap().0, [0, 1]);
        assert!(outcome.connected_at_end);
    }

    #[tokio::test]
    async fn an_http_error_is_asked_again_at_the_same_address_and_a_leaver_does_not_come_back() {
        let first = server(vec![UNAVAILABLE, ENDS]).await;
        let other = server(vec![HOLDS]).await;
        let tries = Tries::default();
        let client = reqwest::Client::new();
        let outcome = listen(&client, &plan(first, vec![other], true), &mut tries.clone()).await;
        let (addresses, frames) = tries.0.lock().unwrap().clone();
        assert_eq!(addresses, [0, 0], "503, then a response that ended: gone");
        assert_eq!(frames, 5);
        assert!(outcome.delivered && !outcome.connected_at_end);
        assert_eq!(outcome.tries, 2);
    }

    #[test]
    fn timing_counts_gaps_and_the_spread_of_arrivals_against_media_time() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let mut outcome = Outcome::default();
        let mut timing = Timing::default();
        // Tags 21 ms apart in media time; the third arrives 30 ms late, then
        // a 150 ms jump in timestamps (a gap a listener hears).
        for (arrival, timestamp) in [(0, 1000), (21, 1021), (72, 1042), (84, 1063), (235, 1213)] {
            timing.audio_tag(at(arrival), timestamp, true, &mut outcome);
        }
        assert_eq!(outcome.timestamp_gaps, 1);
        assert_eq!(outcome.max_timestamp_step_ms, 150);
        assert_eq!(outcome.max_arrival_gap, Duration::from_millis(151));
        // Lateness: 0, 0, 30, 21, 22 ms → spread 30 ms.
        assert!(
            (timing.jitter_ms() - 30.0).abs() < 0.5,
            "{}",
            timing.jitter_ms()
        );
    }

    #[test]
    fn tags_outside_the_window_count_for_gaps_but_not_for_jitter() {
        let start = Instant::now();
        let mut outcome = Outcome::default();
        let mut timing = Timing::default();
        timing.audio_tag(start, 0, false, &mut outcome);
        timing.audio_tag(start + Duration::from_millis(500), 21, false, &mut outcome);
        timing.audio_tag(start + Duration::from_millis(521), 42, true, &mut outcome);
        assert_eq!(timing.jitter_ms(), 0.0);
        assert_eq!(outcome.max_arrival_gap, Duration::from_millis(21));
        assert_eq!(outcome.timestamp_gaps, 0);
    }
}
