//! No stream is lost to an engine restart. A creator streams, an HTTP-FLV
//! listener plays through the edge, and the engine (SRS) is killed with
//! SIGKILL. srs-supervisor restarts it, ingest's ffmpeg fails on the broken
//! RTMP connection and is restarted (ingest republishes), and the listener,
//! which reconnects like a player does, plays audio again within 5 s.
//!
//! What was played and what was lost is measured, not guessed: the creator's
//! audio is a slow chirp (`vibes_testkit::chirp`), so each 50 ms of decoded
//! audio tells which moment of the accepted audio it is. The gap between the last moment heard before the kill and the first
//! moment heard after it splits into audio published while the listener was
//! still reconnecting (not lost: the stream played it) and audio that never
//! reached the engine (lost inside ffmpeg processes that died).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vibes_domain::audio::BYTES_PER_SECOND;
use vibes_e2e::Stack;
use vibes_testkit::chirp::{chirp_pcm, stream_moments, WINDOW_SECONDS};
use vibes_testkit::tokens::creator_bearer;

const STREAM_SECONDS: usize = 16;
const KILL_AFTER: Duration = Duration::from_secs(6);
/// What one encoder that dies can take with it: the pipe ingest writes into
/// (64 KiB = 0.34 s of PCM), ffmpeg's own input buffer (32 KiB = 0.17 s),
/// the AAC encoder's priming and look-ahead (2 × 1024 samples = 0.04 s) and
/// the packet being sent (0.02 s): 0.58 s.
const LOSS_PER_ENCODER_SECONDS: f64 = (96 * 1024) as f64 / BYTES_PER_SECOND as f64 + 0.064;
/// How exactly the gap is known: 50 ms windows, 5-10 ms polls.
const MEASURE_SLACK_SECONDS: f64 = 0.1;

/// One connection of the listener: its capture and when its first byte came.
struct Connection {
    capture: PathBuf,
    first_byte_at: Option<Instant>,
}

/// Plays `url` like a player: reads the FLV response until it ends, and
/// reconnects at once (every 50 ms while the engine answers with nothing).
fn reconnecting_listener(
    url: String,
    certificate: PathBuf,
    dir: PathBuf,
    until: Instant,
    connections: Arc<Mutex<Vec<Connection>>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut attempt = 0;
        while Instant::now() < until {
            attempt += 1;
            let capture = dir.join(format!("connection-{attempt}.flv"));
            let left = until.saturating_duration_since(Instant::now());
            let mut curl = Command::new("curl")
                .args(["-sSNf", "--max-time", &format!("{:.1}", left.as_secs_f64())])
                .arg("--cacert")
                .arg(&certificate)
                .arg("-o")
                .arg(&capture)
                .arg(&url)
                .stderr(Stdio::null())
                .spawn()
                .expect("curl runs");
            let mut first_byte_at = None;
            while curl.try_wait().unwrap().is_none() {
                if first_byte_at.is_none()
                    && std::fs::metadata(&capture).is_ok_and(|meta| meta.len() > 0)
                {
                    first_byte_at = Some(Instant::now());
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            if std::fs::metadata(&capture).is_ok_and(|meta| meta.len() > 0) {
                first_byte_at.get_or_insert_with(Instant::now);
                connections.lock().unwrap().push(Connection {
                    capture,
                    first_byte_at,
                });
            } else {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_plays_again_within_5_s_after_the_engine_is_killed() {
    let stack = Stack::start().await;
    stack.wait_until_healthy(Duration::from_secs(30));
    let edge = &stack.edge;
    let vibe = format!("restart-{}", std::process::id());
    let creator = creator_bearer(&vibe);
    let send = |second: usize| {
        let reply = edge.request_as(
            Some(&creator),
            "POST",
            &format!("/stream/{vibe}/audio"),
            Some("application/octet-stream"),
            &chirp_pcm(second, 1),
        );
        assert_eq!(
            reply.status,
            202,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
    };
    // Two seconds ahead of the real-time writer, so it never pads with
    // silence and the engine's outage is all that can interrupt the chirp.
    let started = Instant::now();
    for second in 0..3 {
        send(second);
    }
    let flv_url = edge.url(&stack.join_for_playback(&vibe, "restart-listener", "flv"));
    let captures = tempfile::tempdir().unwrap();
    let connections = Arc::new(Mutex::new(Vec::new()));
    let listener = reconnecting_listener(
        flv_url,
        edge.certificate.clone(),
        captures.path().to_path_buf(),
        started + Duration::from_secs(STREAM_SECONDS as u64 + 8),
        connections.clone(),
    );

    let pipeline = stack
        .ingest_streams
        .get(&vibe.parse().unwrap())
        .expect("live on ingest");
    let mut killed = None;
    let mut engine_back = None;
    for second in 3..STREAM_SECONDS {
        // Each chunk is due one second after the previous.
        let due = started + Duration::from_secs(second as u64 - 2);
        while Instant::now() < due {
            if killed.is_none() && started.elapsed() >= KILL_AFTER {
                let pid = stack.supervisor.status().pid.expect("the engine runs");
                // SAFETY: SIGKILL to the engine process the supervisor started.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
                killed = Some((Instant::now(), pid));
            }
            if let (Some((_, old_pid)), None) = (killed, engine_back) {
                let status = stack.supervisor.status();
                if status.state == srs_supervisor::engine::EngineState::Running
                    && status.pid != Some(old_pid)
                {
                    engine_back = Some(Instant::now());
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        send(second);
    }
    let (killed_at, _) = killed.expect("the engine was killed");
    let encoder_starts = pipeline
        .stats()
        .encoder_starts
        .load(std::sync::atomic::Ordering::Relaxed);
    // Let the queued audio play out in real time, then end the stream.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let ended = edge.end_stream(&vibe);
    assert_eq!(ended.status, 200);
    listener.join().unwrap();

    let connections = std::mem::take(&mut *connections.lock().unwrap());
    let first_byte = |connection: &Connection| connection.first_byte_at.unwrap();
    let before: Vec<&Connection> = connections
        .iter()
        .filter(|c| first_byte(c) < killed_at)
        .collect();
    let after: Vec<&Connection> = connections
        .iter()
        .filter(|c| first_byte(c) > killed_at)
        .collect();
    assert!(
        !before.is_empty() && !after.is_empty(),
        "{} connections",
        connections.len()
    );
    for connection in &connections {
        let moments = stream_moments(&connection.capture);
        println!(
            "connection at {:.3} s: {} windows of the chirp, {:.3}..{:.3} s",
            first_byte(connection).duration_since(started).as_secs_f64(),
            moments.len(),
            moments.first().copied().unwrap_or(f64::NAN),
            moments.last().copied().unwrap_or(f64::NAN) + WINDOW_SECONDS,
        );
    }
    let heard_before: Vec<f64> = before
        .iter()
        .flat_map(|c| stream_moments(&c.capture))
        .collect();
    let heard_after: Vec<f64> = after
        .iter()
        .flat_map(|c| stream_moments(&c.capture))
        .collect();
    let last_before = heard_before.last().copied().expect("audio before the kill") + WINDOW_SECONDS;
    let first_after = heard_after.first().copied().expect("audio after the kill");
    let last_heard = heard_after.last().copied().unwrap() + WINDOW_SECONDS;
    let replay_after = first_byte(after[0]) - killed_at;
    let engine_down = engine_back.expect("the engine ran again") - killed_at;
    // Of the gap, what the restarted engine played before the listener was
    // back is not lost (the stream played it, this listener was not there);
    // that is at most the time between the engine running again and the
    // listener's first byte. The rest never reached the engine.
    let gap = first_after - last_before;
    let reconnect_lag = replay_after.saturating_sub(engine_down).as_secs_f64();
    let lost_at_least = (gap - reconnect_lag).max(0.0);
    let dying_encoders = (encoder_starts - 1) as f64;
    let holes_after: Vec<(f64, f64)> = heard_after
        .windows(2)
        .filter(|pair| pair[1] - pair[0] > 2.0 * WINDOW_SECONDS)
        .map(|pair| (pair[0], pair[1]))
        .collect();
    println!(
        "accepted {STREAM_SECONDS} s; engine killed at {:.2} s, running again after {:.3} s; \
         the listener played again {:.3} s after the kill ({encoder_starts} encoder starts); \
         heard up to {last_before:.3} s before the kill and from {first_after:.3} s to {last_heard:.3} s after: \
         a gap of {gap:.3} s of accepted audio, of which at least {lost_at_least:.3} s never reached \
         the engine (bound {:.3} s); holes after the restart: {holes_after:?}",
        killed_at.duration_since(started).as_secs_f64(),
        engine_down.as_secs_f64(),
        replay_after.as_secs_f64(),
        LOSS_PER_ENCODER_SECONDS * dying_encoders,
    );
    assert!(
        replay_after <= Duration::from_secs(5),
        "playing again after {replay_after:?}"
    );
    assert!(encoder_starts >= 2, "ingest republished with a new encoder");
    assert!(
        gap > -WINDOW_SECONDS,
        "nothing is played twice: gap {gap:.3} s"
    );
    assert!(
        gap <= LOSS_PER_ENCODER_SECONDS * dying_encoders + reconnect_lag + MEASURE_SLACK_SECONDS,
        "lost at most what the {dying_encoders} encoders that died held, \
         plus what played while the listener reconnected ({reconnect_lag:.3} s): gap {gap:.3} s"
    );
    assert!(holes_after.is_empty(), "one gap only, at the restart");
    assert!(
        last_heard > STREAM_SECONDS as f64 - 0.2,
        "the rest of the stream was played: up to {last_heard:.2} s"
    );
}
