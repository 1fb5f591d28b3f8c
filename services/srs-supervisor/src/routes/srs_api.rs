//! SRS-compatible HTTP API (`/api/v1/...`) over whichever engine runs, so the
//! registry and on-call tooling speak one API. Types are SRS's own, from the
//! `srs-client` crate.

use crate::engine::srs_api::SrsApi;
use crate::engine::version::EngineVersion;
use crate::engine::xiu_api::{EngineApiError, XiuApi, XiuStream};
use crate::engine::EngineSupervisor;
use crate::listeners::LeaseCounts;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde_json::{json, Value};
use srs_client::{Audio, Client, Kbps, Publish, SrsClientResp, SrsClientRespData, Stream, Version};
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use vibes_problem::Problem;

/// The engine's own API: xiu's, mapped to SRS's shape, or SRS's, passed through.
pub enum EngineApi {
    Xiu(XiuApi),
    Srs(SrsApi),
}

/// Under SRS, its own answer to `GET /api/v1/<resource>`.
async fn passthrough(srs: &SrsApi, resource: &str) -> Result<Value, Problem> {
    srs.get(resource).await.map_err(engine_problem)
}

/// `GET /api/v1/versions`: the engine's version.
pub async fn versions(
    engine: web::Data<EngineApi>,
    version: web::Data<Option<EngineVersion>>,
) -> Result<HttpResponse, Problem> {
    if let EngineApi::Srs(srs) = engine.get_ref() {
        return Ok(HttpResponse::Ok().json(passthrough(srs, "versions").await?));
    }
    let version = version.as_ref().as_ref().ok_or_else(|| {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "engine_version_unknown",
            "Engine version unknown",
        )
        .with_detail("the engine binary did not report a version")
    })?;
    let data = Version {
        major: version.major,
        minor: version.minor,
        revision: version.revision,
        version: version.text.clone(),
    };
    Ok(HttpResponse::Ok().json(srs_response(SrsClientRespData::Version { data })))
}

/// `GET /api/v1/summaries`: the engine process and the machine, in SRS's
/// `data.self` / `data.system` shape (the fields this machine can tell).
pub async fn summaries(
    engine: web::Data<EngineApi>,
    supervisor: web::Data<EngineSupervisor>,
    version: web::Data<Option<EngineVersion>>,
) -> Result<HttpResponse, Problem> {
    if let EngineApi::Srs(srs) = engine.get_ref() {
        return Ok(HttpResponse::Ok().json(passthrough(srs, "summaries").await?));
    }
    let status = supervisor.status();
    let now_ms = epoch_ms(SystemTime::now());
    let uptime = status
        .started_at
        .and_then(|started| started.elapsed().ok())
        .unwrap_or_default();
    let memory = status.pid.and_then(resident_kbytes);
    let summary = json!({
        "ok": status.pid.is_some(),
        "now_ms": now_ms,
        "self": {
            "version": version.as_ref().as_ref().map(|version| version.text.clone()),
            "pid": status.pid,
            "ppid": std::process::id(),
            "mem_kbyte": memory,
            "srs_uptime": uptime.as_secs_f64(),
        },
        "system": {
            "cpus": std::thread::available_parallelism().map(|cpus| cpus.get()).ok(),
            "load_1m": load_averages().map(|loads| loads[0]),
            "load_5m": load_averages().map(|loads| loads[1]),
            "load_15m": load_averages().map(|loads| loads[2]),
            "mem_ram_kbyte": memory_total_kbytes(),
        },
    });
    Ok(HttpResponse::Ok().json(srs_value(json!({ "data": summary }))))
}

/// `GET /api/v1/streams`: the engine's streams with their audio and
/// listeners. Each stream's `clients` (publisher + listeners) counts the
/// listeners holding a lease in the registry where it knows the stream: the
/// engine cannot see HLS viewers. `listeners` says the count, its source and
/// what the engine itself sees; `listeners_source` says whether the registry answered.
pub async fn streams(
    engine: web::Data<EngineApi>,
    leases: web::Data<LeaseCounts>,
) -> Result<HttpResponse, Problem> {
    let (mut body, leased) = match engine.get_ref() {
        EngineApi::Srs(srs) => {
            let (body, leased) = tokio::join!(passthrough(srs, "streams"), leases.per_stream());
            (body?, leased)
        }
        EngineApi::Xiu(xiu) => {
            let (streams, leased) = tokio::join!(xiu.streams(), leases.per_stream());
            let streams = streams
                .map_err(engine_problem)?
                .iter()
                .map(srs_stream)
                .collect();
            let body = srs_response(SrsClientRespData::Streams { streams });
            (
                serde_json::to_value(body).expect("SRS types serialize"),
                leased,
            )
        }
    };
    count_listeners(&mut body, leased.as_ref());
    Ok(HttpResponse::Ok().json(body))
}

/// Where a listener count comes from.
const FROM_LEASES: &str = "registry_leases";
const FROM_ENGINE: &str = "engine";

fn count_listeners(body: &mut Value, leased: Option<&HashMap<String, u64>>) {
    body["listeners_source"] = json!(if leased.is_some() {
        FROM_LEASES
    } else {
        FROM_ENGINE
    });
    let Some(streams) = body["streams"].as_array_mut() else {
        return;
    };
    for stream in streams {
        let publishers = u64::from(stream["publish"]["active"].as_bool().unwrap_or(false));
        let engine_players = stream["clients"]
            .as_u64()
            .unwrap_or(0)
            .saturating_sub(publishers);
        let name = stream["name"].as_str().unwrap_or_default();
        let (count, source) = match leased.and_then(|leased| leased.get(name)) {
            Some(&holding_a_lease) => (holding_a_lease, FROM_LEASES),
            None => (engine_players, FROM_ENGINE),
        };
        stream["clients"] = json!(count + publishers);
        stream["listeners"] = json!({
            "count": count,
            "source": source,
            "engine_players": engine_players,
        });
    }
}

fn srs_stream(stream: &XiuStream) -> Stream {
    let publisher = &stream.publisher;
    let name = &publisher.identifier.rtmp.stream_name;
    let app = &publisher.identifier.rtmp.app_name;
    let live_since =
        humantime::parse_rfc3339_weak(&publisher.start_time.replace("+00:00", "Z")).ok();
    Stream {
        id: name.clone(),
        name: name.clone(),
        vhost: "__defaultVhost__".to_owned(),
        app: app.clone(),
        tc_url: format!("rtmp://127.0.0.1/{app}"),
        url: format!("/{app}/{name}"),
        live_ms: live_since.map(epoch_ms).unwrap_or(0) as i64,
        clients: stream.subscribers.len() as i64 + 1,
        frames: 0,
        send_bytes: stream.total_send_bytes,
        recv_bytes: stream.total_recv_bytes,
        kbps: Kbps {
            recv_30s: publisher.recv_kbps,
            send_30s: 0,
        },
        publish: Publish {
            active: true,
            cid: Some(publisher.id.clone()),
        },
        video: None,
        audio: publisher.audio.as_ref().map(|audio| Audio {
            codec: audio.sound_format.clone(),
            sample_rate: audio.samplerate,
            channel: audio.channels,
            profile: audio.profile.clone(),
        }),
    }
}

fn epoch_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis() as u64
}

/// Resident memory of a process, from `/proc/<pid>/status` (`VmRSS`).
fn resident_kbytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    proc_field_kbytes(&status, "VmRSS:")
}

fn memory_total_kbytes() -> Option<u64> {
    proc_field_kbytes(&std::fs::read_to_string("/proc/meminfo").ok()?, "MemTotal:")
}

fn proc_field_kbytes(text: &str, field: &str) -> Option<u64> {
    let line = text.lines().find(|line| line.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn load_averages() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut loads = text.split_whitespace().map(|load| load.parse::<f64>().ok());
    Some([loads.next()??, loads.next()??, loads.next()??])
}

/// The names SRS gives its client types.
const SRS_PUBLISHER_TYPE: &str = "fmle-publish";
const SRS_FLV_PLAYER_TYPE: &str = "flv-play";
const SRS_RTMP_PLAYER_TYPE: &str = "rtmp-play";

/// `GET /api/v1/clients`: every publisher and player the engine has now.
pub async fn clients(engine: web::Data<EngineApi>) -> Result<HttpResponse, Problem> {
    let engine = match engine.get_ref() {
        EngineApi::Srs(srs) => {
            return Ok(HttpResponse::Ok().json(passthrough(srs, "clients").await?))
        }
        EngineApi::Xiu(xiu) => xiu,
    };
    let streams = engine.streams().await.map_err(engine_problem)?;
    let clients = streams.iter().flat_map(srs_clients).collect();
    Ok(HttpResponse::Ok().json(srs_response(SrsClientRespData::Clients { clients })))
}

/// `DELETE /api/v1/clients/{id}`: disconnects a client, as SRS's kickoff
/// does. Under SRS only the GET paths pass: its own API kicks.
pub async fn kick_client(
    engine: web::Data<EngineApi>,
    id: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let engine = match engine.get_ref() {
        EngineApi::Xiu(xiu) => xiu,
        EngineApi::Srs(_) => {
            return Err(Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Method not allowed",
            )
            .with_detail("under SRS this API is read-only; kick through SRS's own API"))
        }
    };
    engine.kick(&id).await.map_err(engine_problem)?;
    tracing::info!(client_id = %id, "engine client kicked");
    Ok(HttpResponse::Ok().json(serde_json::json!({ "code": 0 })))
}

const SERVER: &str = "vibes-srs-supervisor";
const SERVICE: &str = "xiu";

fn srs_response(data: SrsClientRespData) -> SrsClientResp {
    SrsClientResp {
        code: 0,
        server: SERVER.to_owned(),
        service: SERVICE.to_owned(),
        pid: std::process::id().to_string(),
        data,
    }
}

/// The SRS envelope around a body built as JSON (for shapes whose types the
/// `srs-client` crate does not let us build).
fn srs_value(mut body: Value) -> Value {
    body["code"] = json!(0);
    body["server"] = json!(SERVER);
    body["service"] = json!(SERVICE);
    body["pid"] = json!(std::process::id().to_string());
    body
}

fn srs_clients(stream: &XiuStream) -> Vec<Client> {
    let name = &stream.publisher.identifier.rtmp.stream_name;
    let app = &stream.publisher.identifier.rtmp.app_name;
    let client = |id: &str, remote: &str, kind: &str, publish: bool, send: i64, recv: i64| Client {
        id: id.to_owned(),
        vhost: "__defaultVhost__".to_owned(),
        stream: name.clone(),
        ip: remote
            .rsplit_once(':')
            .map(|(ip, _)| ip)
            .unwrap_or(remote)
            .to_owned(),
        page_url: String::new(),
        swf_url: String::new(),
        tc_url: format!("rtmp://127.0.0.1/{app}"),
        url: format!("/{app}/{name}"),
        name: name.clone(),
        r#type: kind.to_owned(),
        publish,
        alive: 0.0,
        send_bytes: send,
        recv_bytes: recv,
        kbps: Kbps {
            recv_30s: 0,
            send_30s: 0,
        },
    };
    let publisher = &stream.publisher;
    let mut clients = vec![client(
        &publisher.id,
        &publisher.remote_address,
        SRS_PUBLISHER_TYPE,
        true,
        0,
        stream.total_recv_bytes,
    )];
    for subscriber in stream.subscribers.values() {
        let kind = if subscriber.sub_type.contains("HttpFlv") {
            SRS_FLV_PLAYER_TYPE
        } else {
            SRS_RTMP_PLAYER_TYPE
        };
        clients.push(client(
            &subscriber.id,
            &subscriber.remote_address,
            kind,
            false,
            0,
            0,
        ));
    }
    clients
}

fn engine_problem(error: EngineApiError) -> Problem {
    Problem::new(
        StatusCode::BAD_GATEWAY,
        "engine_api_unavailable",
        "Engine API unavailable",
    )
    .with_detail(error.to_string())
}
