//! The skeleton every service is built on: settings are checked before
//! anything starts, the service learns its API port, and stopping the
//! application runs the service's own stop and ends its background tasks.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use tokio::sync::oneshot;
use vibes_config::ServerSettings;
use vibes_domain::api::{HealthReport, PartHealth};
use vibes_web::{Application, Listeners, Service, Startup};

#[derive(Deserialize)]
struct ProbeSettings {
    log_level: String,
    server: ServerSettings,
    metrics: ServerSettings,
    greeting: String,
}

#[derive(Debug, thiserror::Error)]
#[error("greeting must not be empty")]
struct EmptyGreeting;

impl ProbeSettings {
    fn validate(&self) -> Result<(), EmptyGreeting> {
        match self.greeting.is_empty() {
            true => Err(EmptyGreeting),
            false => Ok(()),
        }
    }
}

vibes_web::service_settings!(ProbeSettings, "");

/// A service with one background task that holds `task_alive` open while it runs.
struct Probe {
    api_port: u16,
    task_alive: Mutex<oneshot::Receiver<()>>,
    stopped: AtomicBool,
}

impl Service for Probe {
    type Settings = ProbeSettings;
    async fn build(
        settings: ProbeSettings,
        startup: &mut Startup,
    ) -> Result<Self, vibes_web::service::BoxError> {
        startup.share(settings.greeting);
        let (holder, task_alive) = oneshot::channel::<()>();
        startup.spawn("holder", async move {
            let _held = holder;
            std::future::pending::<()>().await
        });
        Ok(Self {
            api_port: startup.api_port(),
            task_alive: Mutex::new(task_alive),
            stopped: AtomicBool::new(false),
        })
    }

    fn configure(&self, config: &mut web::ServiceConfig) {
        let port = self.api_port;
        config
            .route(
                "/port",
                web::get().to(move || async move { HttpResponse::Ok().body(port.to_string()) }),
            )
            .route(
                "/greeting",
                web::get().to(|greeting: web::Data<String>| async move {
                    HttpResponse::Ok().body(greeting.to_string())
                }),
            );
    }

    async fn readiness(&self) -> HealthReport {
        vibes_web::health::report([("probe", PartHealth::up())])
    }

    async fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
    }
}

fn settings(greeting: &str) -> ProbeSettings {
    let loopback = ServerSettings {
        host: "127.0.0.1".to_owned(),
        port: 0,
    };
    ProbeSettings {
        log_level: "info".to_owned(),
        server: loopback.clone(),
        metrics: loopback,
        greeting: greeting.to_owned(),
    }
}

#[tokio::test]
async fn settings_that_do_not_validate_stop_the_build_naming_the_setting() {
    let refused = Application::<Probe>::build(settings("")).await;
    let error = refused.err().expect("the build fails");
    assert_eq!(error.to_string(), "greeting must not be empty");
}

#[tokio::test]
async fn stopping_runs_the_services_stop_and_ends_its_background_tasks() {
    let application =
        Application::<Probe>::build_on(Listeners::loopback().unwrap(), settings("hi"))
            .await
            .unwrap();
    let port = application.port();
    let probe = application.service();
    let stop = application.stop_handle();
    let running = tokio::spawn(application.run_until_stopped());

    let get = |path: &'static str| async move {
        let response = reqwest::get(format!("http://127.0.0.1:{port}{path}")).await;
        response.unwrap().text().await.unwrap()
    };
    assert_eq!(
        get("/port").await,
        port.to_string(),
        "built knowing its port"
    );
    assert_eq!(
        get("/greeting").await,
        "hi",
        "handlers get what the build shared"
    );
    let ready: serde_json::Value = serde_json::from_str(&get("/health/ready").await).unwrap();
    assert_eq!(ready["parts"]["probe"]["status"], "up", "{ready}");
    assert_eq!(
        probe.task_alive.lock().unwrap().try_recv(),
        Err(oneshot::error::TryRecvError::Empty),
        "the background task runs while the application does"
    );
    assert!(!probe.stopped.load(Ordering::SeqCst));

    stop.stop(true).await;
    running.await.unwrap().unwrap();
    assert!(probe.stopped.load(Ordering::SeqCst));
    assert_eq!(
        probe.task_alive.lock().unwrap().try_recv(),
        Err(oneshot::error::TryRecvError::Closed),
        "the background task is gone"
    );
}
