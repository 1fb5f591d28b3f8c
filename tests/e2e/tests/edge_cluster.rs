//! Two independent edges (nginx master + 2 workers each), two gateways and
//! two registries on one Redis keep one stream's cap: of more listeners than
//! seats, joining through both edges at once, exactly the cap get a seat,
//! play through the edge they joined on and are counted by both registries.
//! Then one edge is stopped (SIGTERM to its master): its listeners move to
//! the other edge with the playback URLs they have, never more than the cap
//! play at any moment (the edges' own listener gauges, the registries' count
//! and the clients' view, sampled throughout), and the seats of listeners
//! who do not come back free within one lease: the waiting listeners get
//! exactly those seats, and no moved listener loses its own.
//!
//! `./scripts/bench cluster` runs the same shape at 1500 listeners and
//! measures it.

use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{sleep, timeout, Instant};
use vibes_e2e::Cluster;
use vibes_flv::{AacPacket, FlvReader};
use vibes_testkit::audio::sine_pcm;
use vibes_testkit::http::sample;
use vibes_testkit::tokens::{creator_bearer, participant_bearer};

const EDGES: usize = 2;
const WORKERS: u8 = 2;
const CAP: usize = 20;
const LISTENERS: usize = 30;
/// Listeners of the stopped edge that do not come back (a closed app).
const NOT_RETURNING: usize = 3;
const LEASE_SECONDS: u64 = 3;
/// The edge that is stopped; its listeners move to the other one.
const STOPPED: usize = 0;
const STAYING: usize = 1;
/// No edge.
const NOWHERE: usize = usize::MAX;
/// A response silent this long is given up (a player would stall): long
/// enough that a busy machine does not move listeners before the stop.
const STALL: Duration = Duration::from_secs(10);

/// A client of the edges from a loopback address of its own (127.0.1.n): the
/// edge and the gateway limit requests per client address, as they would
/// for listeners on separate networks.
fn client(address_index: usize, certificates: &[&std::path::Path]) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .http1_only()
        .connect_timeout(Duration::from_secs(5))
        // The edges' URLs name localhost; they listen on IPv4.
        .resolve("localhost", SocketAddr::from(([127, 0, 0, 1], 0)));
    if address_index > 0 {
        let host = u8::try_from(address_index).expect("under 256 clients");
        builder = builder.local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 1, host)));
    }
    for certificate in certificates {
        let pem = std::fs::read(certificate).expect("the edge's certificate");
        builder = builder.add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap());
    }
    builder.build().expect("a client")
}

/// AAC frames (audio tags that are not the sequence header) in `bytes`,
/// more of an HTTP-FLV body read by `reader`.
fn aac_frames(reader: &mut FlvReader, bytes: &[u8]) -> u64 {
    reader.push(bytes);
    let mut frames = 0;
    while let Some(tag) = reader.next_tag().expect("an FLV body") {
        frames += u64::from(matches!(tag.aac(), Some(AacPacket::Frame(_))));
    }
    frames
}

/// Answers that background tasks did not expect, for the test to assert on.
#[derive(Default)]
struct Surprises(std::sync::Mutex<Vec<String>>);

impl Surprises {
    fn note(&self, what: String) {
        self.0.lock().unwrap().push(what);
    }

    fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// A listener with a seat.
struct Seat {
    /// The FLV URL's path, `/live/<token>/<vibe>.flv`: the same on every edge.
    path: String,
    /// The edge it joined on (whose URL its join handed out).
    home: usize,
    /// Whether it comes back when its edge goes away.
    returns: bool,
    /// The edge whose response gives it audio now (NOWHERE between responses).
    playing_on: AtomicUsize,
    /// AAC frames received through each edge.
    frames: [AtomicU64; EDGES],
}

/// Listeners with audio flowing right now, as the clients see it.
#[derive(Default)]
struct Audience {
    now: AtomicUsize,
    most: AtomicUsize,
}

impl Audience {
    fn started(&self) {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
    }

    fn stopped(&self) {
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Plays `seat` like a player: reconnects after a response ends or an edge
/// cannot be reached, to the next edge (the same URL path, so the same
/// playback token); after an HTTP error, to the same edge. A listener that
/// does not return stops once a response that played has ended.
async fn listen(
    http: reqwest::Client,
    edge_urls: Vec<String>,
    seat: Arc<Seat>,
    audience: Arc<Audience>,
) {
    let mut edge = seat.home;
    loop {
        let answer = http
            .get(format!("{}{}", edge_urls[edge], seat.path))
            .send()
            .await;
        let mut response = match answer {
            Ok(response) if response.status() == 200 => response,
            Ok(_) => {
                sleep(Duration::from_millis(200)).await;
                continue;
            }
            Err(_) => {
                edge = (edge + 1) % EDGES;
                sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let mut reader = FlvReader::default();
        let mut played = false;
        // A response that stops delivering is over, as for a player.
        while let Ok(Ok(Some(bytes))) = timeout(STALL, response.chunk()).await {
            let frames = aac_frames(&mut reader, &bytes);
            seat.frames[edge].fetch_add(frames, Ordering::SeqCst);
            if !played && frames > 0 {
                played = true;
                seat.playing_on.store(edge, Ordering::SeqCst);
                audience.started();
            }
        }
        if played {
            seat.playing_on.store(NOWHERE, Ordering::SeqCst);
            audience.stopped();
            if !seat.returns {
                return;
            }
            edge = (edge + 1) % EDGES;
        }
        sleep(Duration::from_millis(200)).await;
    }
}

/// `POST /stream/{vibe}/join` as `participant` through `edge_url`: the
/// status, and the FLV URL of a 200.
async fn join(
    http: &reqwest::Client,
    edge_url: &str,
    vibe: &str,
    participant: &str,
) -> (u16, Value) {
    let response = http
        .post(format!("{edge_url}/stream/{vibe}/join"))
        .header("authorization", participant_bearer(participant))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("the edge answers a join");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON answer"))
}

/// The stream's participant count as `registry_url` (a registry's own port)
/// lists it; None if it does not answer or list the stream.
async fn listed_count(http: &reqwest::Client, registry_url: &str, vibe: &str) -> Option<usize> {
    let answer = http
        .get(format!("{registry_url}/streams/active"))
        .send()
        .await
        .ok()?;
    let active: Value = answer.json().await.ok()?;
    let streams = active["streams"].as_array()?;
    let stream = streams.iter().find(|stream| stream["vibe_id"] == vibe)?;
    usize::try_from(stream["participant_count"].as_u64()?).ok()
}

/// Every registry lists `expected` participants of `vibe`.
async fn assert_every_registry_counts(cluster: &Cluster, vibe: &str, expected: usize) {
    let http = reqwest::Client::new();
    for registry in &cluster.registry_urls {
        let counted = listed_count(&http, registry, vibe).await;
        assert_eq!(counted, Some(expected), "counted by {registry}");
    }
}

/// The edges' `vibes_edge_flv_listeners` and the registries' counts, read
/// over and over while the test runs: the latest of each, and the most
/// counted at one moment.
#[derive(Default)]
struct Counts {
    on_edge: [AtomicUsize; EDGES],
    most_on_edges: AtomicUsize,
    most_in_registries: AtomicUsize,
}

impl Counts {
    fn on_edge(&self, edge: usize) -> usize {
        self.on_edge[edge].load(Ordering::SeqCst)
    }
}

/// Reads `counts` until the task is aborted (a gone edge counts 0).
async fn keep_counting(
    metrics: Vec<String>,
    registries: Vec<String>,
    vibe: String,
    counts: Arc<Counts>,
) {
    let http = reqwest::Client::new();
    loop {
        // Listeners move from lower-numbered edges to higher ones: reading
        // the higher ones first never counts a moving listener twice.
        let mut on_edges = 0;
        for (edge, address) in metrics.iter().enumerate().rev() {
            let text = async {
                http.get(format!("{address}/metrics"))
                    .send()
                    .await?
                    .text()
                    .await
            };
            let listeners = text.await.map_or(0, |text| {
                sample(&text, "vibes_edge_flv_listeners", &[]) as usize
            });
            counts.on_edge[edge].store(listeners, Ordering::SeqCst);
            on_edges += listeners;
        }
        counts.most_on_edges.fetch_max(on_edges, Ordering::SeqCst);
        for registry in &registries {
            let counted = listed_count(&http, registry, &vibe).await.unwrap_or(0);
            counts
                .most_in_registries
                .fetch_max(counted, Ordering::SeqCst);
        }
        sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `condition` every 100 ms until it holds; panics with `what` and
/// [`diagnosis`] after `limit`.
async fn wait_for(
    cluster: &Cluster,
    vibe: &str,
    limit: Duration,
    what: &str,
    condition: impl Fn() -> bool,
) {
    let deadline = Instant::now() + limit;
    while !condition() {
        if Instant::now() >= deadline {
            panic!(
                "{what}: not within {limit:?}\n{}",
                diagnosis(cluster, vibe).await
            );
        }
        sleep(Duration::from_millis(100)).await;
    }
}

/// What a failing test prints: the logs, SRS's clients and streams, the
/// supervisor's status, and ingest's pipeline of `vibe` with its encoder.
async fn diagnosis(cluster: &Cluster, vibe: &str) -> String {
    let clients = cluster.engine_api("clients/?count=100").await;
    let streams = cluster.engine_api("streams/").await;
    let pipeline = cluster.ingest_streams.get(&vibe.parse().unwrap());
    let encoder = pipeline
        .as_ref()
        .and_then(|pipeline| pipeline.encoder_pid());
    let encoder_state = encoder.map(|pid| {
        let read = |file: &str| std::fs::read_to_string(format!("/proc/{pid}/{file}"));
        (
            read("stat").unwrap_or_default(),
            read("wchan").unwrap_or_default(),
        )
    });
    // SRS listens with SO_REUSEPORT: another SRS on one of its ports (from
    // a test running beside this one) would silently take half its clients.
    let listening = std::process::Command::new("ss").args(["-Hltnp"]).output();
    let srs_sockets: Vec<String> = listening
        .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
        .unwrap_or_default()
        .lines()
        .filter(|line| line.contains("\"srs\""))
        .map(str::to_owned)
        .collect();
    format!(
        "--- listening srs sockets\n{}\n{}\n--- SRS's clients\n{clients:#}\n--- SRS's streams\n{streams:#}\n\
         --- srs-supervisor: {:?}\n--- ingest: {:?}, encoder {encoder:?}: {encoder_state:?}",
        srs_sockets.join("\n"),
        cluster.logs_tail(20),
        cluster.supervisor.status(),
        pipeline.as_ref().map(|pipeline| pipeline.stats()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_of_edges_keeps_the_cap_when_one_edge_stops() {
    let mut cluster = Cluster::start(EDGES, WORKERS, |registry| {
        registry.participants.max_per_stream = CAP as u64;
        registry.participants.lease = Duration::from_secs(LEASE_SECONDS);
    })
    .await;
    cluster.wait_until_healthy(Duration::from_secs(30));
    let vibe = format!("cluster-{}", std::process::id());
    let edge_urls: Vec<String> = (0..EDGES)
        .map(|index| cluster.edge(index).url(""))
        .collect();
    let metrics: Vec<String> = (0..EDGES)
        .map(|index| cluster.edge(index).metrics_address())
        .collect();
    let certificates: Vec<std::path::PathBuf> = (0..EDGES)
        .map(|index| cluster.edge(index).certificate.clone())
        .collect();
    let certificates: Vec<&std::path::Path> =
        certificates.iter().map(|path| path.as_path()).collect();

    // The creator posts 1 s of audio a second through the edge that stays
    // (a creator's own failover is ingest's, tested in ownership.rs).
    let surprises = Arc::new(Surprises::default());
    let creator = tokio::spawn({
        let (http, url, vibe) = (
            client(0, &certificates),
            edge_urls[STAYING].clone(),
            vibe.clone(),
        );
        let surprises = surprises.clone();
        async move {
            let pcm = sine_pcm(1.0);
            let mut ticker = tokio::time::interval(Duration::from_secs(1));
            for seq in 0u64.. {
                ticker.tick().await;
                let posted = http
                    .post(format!("{url}/stream/{vibe}/audio"))
                    .header("authorization", creator_bearer(&vibe))
                    .header("content-type", "application/octet-stream")
                    .header("x-chunk-seq", seq.to_string())
                    .body(pcm.clone())
                    .send()
                    .await;
                let status = posted.map(|answer| answer.status().as_u16());
                if !matches!(status, Ok(202)) {
                    surprises.note(format!("audio chunk {seq}: {status:?}"));
                }
            }
        }
    });
    // Listeners come once SRS has the publisher: a relay that asks SRS
    // before then waits for it, which other tests cover.
    let published = || async {
        let clients = cluster.engine_api("clients/?count=100").await;
        clients["clients"].as_array().is_some_and(|clients| {
            clients
                .iter()
                .any(|client| client["publish"] == true && client["name"] == vibe)
        })
    };
    vibes_testkit::wait_until_async(
        Duration::from_secs(15),
        "SRS has the stream's publisher",
        published,
    )
    .await;

    // Everyone joins at once, alternating edges (so gateways and registries),
    // each from an address of its own.
    let clients: Vec<reqwest::Client> = (0..LISTENERS)
        .map(|index| client(index + 1, &certificates))
        .collect();
    let joins: Vec<_> = (0..LISTENERS)
        .map(|index| {
            let (http, url, vibe) = (
                clients[index].clone(),
                edge_urls[index % EDGES].clone(),
                vibe.clone(),
            );
            tokio::spawn(
                async move { join(&http, &url, &vibe, &format!("listener-{index}")).await },
            )
        })
        .collect();
    let mut seats: Vec<(usize, Arc<Seat>)> = Vec::new();
    let mut waiting: Vec<usize> = Vec::new();
    for (index, joined) in joins.into_iter().enumerate() {
        let (status, answer) = joined.await.unwrap();
        let home = index % EDGES;
        match status {
            200 => {
                // The URL names the edge the listener joined on.
                let flv = answer["playback"]["flv"].as_str().unwrap();
                let path = flv
                    .strip_prefix(&edge_urls[home])
                    .unwrap_or_else(|| panic!("{flv} is not under {}", edge_urls[home]));
                let returns = home != STOPPED
                    || seats
                        .iter()
                        .filter(|(_, seat)| seat.home == STOPPED && !seat.returns)
                        .count()
                        >= NOT_RETURNING;
                seats.push((
                    index,
                    Arc::new(Seat {
                        path: path.to_owned(),
                        home,
                        returns,
                        playing_on: AtomicUsize::new(NOWHERE),
                        frames: Default::default(),
                    }),
                ));
            }
            409 => {
                assert_eq!(answer["code"], "stream_full", "{answer}");
                waiting.push(index);
            }
            other => panic!(
                "join of listener-{index}: {other} {answer}\n{}",
                diagnosis(&cluster, &vibe).await
            ),
        }
    }
    assert_eq!(seats.len(), CAP, "exactly the cap joined");
    assert_eq!(waiting.len(), LISTENERS - CAP);
    let on_stopped = seats
        .iter()
        .filter(|(_, seat)| seat.home == STOPPED)
        .count();
    assert!(
        on_stopped > NOT_RETURNING,
        "{on_stopped} seats joined on the edge to stop"
    );

    let audience = Arc::new(Audience::default());
    let counts = Arc::new(Counts::default());
    let counting = tokio::spawn(keep_counting(
        metrics.clone(),
        cluster.registry_urls.clone(),
        vibe.clone(),
        counts.clone(),
    ));
    // Listeners arrive one every 100 ms, as an audience does.
    let mut players: Vec<tokio::task::JoinHandle<()>> = seats
        .iter()
        .enumerate()
        .map(|(order, (index, seat))| {
            let arrives = Duration::from_millis(100 * order as u64);
            let playing = listen(
                clients[*index].clone(),
                edge_urls.clone(),
                seat.clone(),
                audience.clone(),
            );
            tokio::spawn(async move {
                sleep(arrives).await;
                playing.await
            })
        })
        .collect();

    // Exactly the cap play, each through the edge it joined on, and both
    // registries and both edges count them.
    wait_for(
        &cluster,
        &vibe,
        Duration::from_secs(20),
        "every seated listener hears the stream",
        || {
            seats
                .iter()
                .all(|(_, seat)| seat.playing_on.load(Ordering::SeqCst) == seat.home)
        },
    )
    .await;
    for (index, seat) in &seats {
        let elsewhere = seat.frames[(seat.home + 1) % EDGES].load(Ordering::SeqCst);
        assert_eq!(
            elsewhere, 0,
            "listener-{index} played through the other edge"
        );
    }
    assert_every_registry_counts(&cluster, &vibe, CAP).await;
    let joined_on = |edge: usize| seats.iter().filter(|(_, seat)| seat.home == edge).count();
    wait_for(
        &cluster,
        &vibe,
        Duration::from_secs(10),
        "each edge counts the listeners who joined on it",
        || (0..EDGES).all(|edge| counts.on_edge(edge) == joined_on(edge)),
    )
    .await;
    for address in &metrics {
        // One engine connection per stream and worker, however many listen.
        let text = reqwest::get(format!("{address}/metrics")).await.unwrap();
        let relays = sample(&text.text().await.unwrap(), "vibes_edge_flv_relays", &[]);
        assert!(
            (1.0..=f64::from(WORKERS)).contains(&relays),
            "{address}: {relays} relays"
        );
    }

    // The waiting listeners keep trying to join, through the edge that stays.
    let waiters_seated = Arc::new(AtomicUsize::new(0));
    let waiters: Vec<_> = waiting
        .iter()
        .map(|index| {
            let (http, urls, vibe) = (clients[*index].clone(), edge_urls.clone(), vibe.clone());
            let (audience, seated) = (audience.clone(), waiters_seated.clone());
            let surprises = surprises.clone();
            let participant = format!("listener-{index}");
            tokio::spawn(async move {
                loop {
                    sleep(Duration::from_millis(500)).await;
                    let (status, answer) = join(&http, &urls[STAYING], &vibe, &participant).await;
                    if status == 200 {
                        seated.fetch_add(1, Ordering::SeqCst);
                        let flv = answer["playback"]["flv"].as_str().unwrap();
                        let seat = Arc::new(Seat {
                            path: flv.strip_prefix(&urls[STAYING]).unwrap().to_owned(),
                            home: STAYING,
                            returns: true,
                            playing_on: AtomicUsize::new(NOWHERE),
                            frames: Default::default(),
                        });
                        return listen(http, urls, seat, audience).await;
                    }
                    // 409 stream_full; 429 if the gateway's per-caller join budget runs out.
                    if !matches!(status, 409 | 429) {
                        surprises.note(format!("join of {participant}: {status} {answer}"));
                    }
                }
            })
        })
        .collect();

    // SIGTERM to the edge's master: its workers end their FLV responses.
    let stopped_at = Instant::now();
    let exited = tokio::task::block_in_place(|| cluster.stop_edge(STOPPED));
    assert!(exited, "the edge stopped on SIGTERM");
    let returning: Vec<&(usize, Arc<Seat>)> =
        seats.iter().filter(|(_, seat)| seat.returns).collect();
    wait_for(
        &cluster,
        &vibe,
        Duration::from_secs(20),
        "the stopped edge's listeners play through the other",
        || {
            returning
                .iter()
                .all(|(_, seat)| seat.playing_on.load(Ordering::SeqCst) == STAYING)
        },
    )
    .await;
    // The seats of those who did not come back free within one lease of
    // the stop (their last renewal came before it; the slack is for the
    // waiters' 500 ms between tries and their join), and go to waiters.
    let lease_and_slack = Duration::from_secs(LEASE_SECONDS + 2);
    wait_for(
        &cluster,
        &vibe,
        (stopped_at + lease_and_slack).saturating_duration_since(Instant::now()),
        "the seats of the listeners who did not come back go to waiting listeners",
        || waiters_seated.load(Ordering::SeqCst) == NOT_RETURNING,
    )
    .await;
    let freed_after = stopped_at.elapsed();
    wait_for(
        &cluster,
        &vibe,
        Duration::from_secs(10),
        "the new listeners hear the stream",
        || audience.now.load(Ordering::SeqCst) == CAP,
    )
    .await;
    // Another few tries of every waiter: no seat beyond those.
    sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        waiters_seated.load(Ordering::SeqCst),
        NOT_RETURNING,
        "freed after {freed_after:?}"
    );
    assert_every_registry_counts(&cluster, &vibe, CAP).await;
    wait_for(
        &cluster,
        &vibe,
        Duration::from_secs(10),
        "the remaining edge counts every listener",
        || counts.on_edge(STAYING) == CAP,
    )
    .await;
    // No moved listener lost its seat to a waiter: all still play (one
    // whose response a busy machine broke off plays again at once; one
    // without a seat would be refused from then on).
    wait_for(
        &cluster,
        &vibe,
        Duration::from_secs(10),
        "every listener who came back still plays",
        || {
            returning
                .iter()
                .all(|(_, seat)| seat.playing_on.load(Ordering::SeqCst) == STAYING)
        },
    )
    .await;
    for (index, seat) in seats.iter().filter(|(_, seat)| !seat.returns) {
        assert_eq!(
            seat.frames[STAYING].load(Ordering::SeqCst),
            0,
            "listener-{index} did not come back"
        );
    }

    counting.abort();
    creator.abort();
    players.extend(waiters);
    for player in players {
        player.abort();
    }
    assert_eq!(surprises.all(), Vec::<String>::new());
    // Never more than the cap played, as the clients, the edges and the
    // registries saw it, and the samples did see a full house.
    assert_eq!(audience.most.load(Ordering::SeqCst), CAP);
    assert_eq!(counts.most_on_edges.load(Ordering::SeqCst), CAP);
    assert_eq!(counts.most_in_registries.load(Ordering::SeqCst), CAP);
}
