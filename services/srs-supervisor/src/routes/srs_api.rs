//! SRS-compatible HTTP API (`/api/v1/...`) over whichever engine runs, so the
//! registry and on-call tooling speak one API. Types are SRS's own, from the
//! `srs-client` crate.

use crate::engine::xiu_api::{EngineApiError, XiuApi, XiuStream};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use srs_client::{Client, Kbps, SrsClientResp, SrsClientRespData};
use vibes_problem::Problem;

/// The names SRS gives its client types.
const SRS_PUBLISHER_TYPE: &str = "fmle-publish";
const SRS_FLV_PLAYER_TYPE: &str = "flv-play";
const SRS_RTMP_PLAYER_TYPE: &str = "rtmp-play";

/// `GET /api/v1/clients`: every publisher and player the engine has now.
pub async fn clients(engine: web::Data<XiuApi>) -> Result<HttpResponse, Problem> {
    let streams = engine.streams().await.map_err(engine_problem)?;
    let clients = streams.iter().flat_map(srs_clients).collect();
    Ok(HttpResponse::Ok().json(srs_response(SrsClientRespData::Clients { clients })))
}

/// `DELETE /api/v1/clients/{id}`: disconnects a client, as SRS's kickoff does.
pub async fn kick_client(
    engine: web::Data<XiuApi>,
    id: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    engine.kick(&id).await.map_err(engine_problem)?;
    tracing::info!(client_id = %id, "engine client kicked");
    Ok(HttpResponse::Ok().json(serde_json::json!({ "code": 0 })))
}

fn srs_response(data: SrsClientRespData) -> SrsClientResp {
    SrsClientResp {
        code: 0,
        server: "vibes-srs-supervisor".to_owned(),
        service: "xiu".to_owned(),
        pid: std::process::id().to_string(),
        data,
    }
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
