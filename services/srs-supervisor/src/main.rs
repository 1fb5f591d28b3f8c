use srs_supervisor::configuration;
use srs_supervisor::engine::srs_config;
use srs_supervisor::startup::Supervisor;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    // Compose and Kubernetes mount the config this prints (from
    // config/container.toml), so they run what child mode runs.
    if std::env::args().nth(1).as_deref() == Some("--engine-config") {
        return print_engine_config();
    }
    vibes_web::service::main::<Supervisor>().await
}

fn print_engine_config() -> ExitCode {
    let settings = match configuration::load() {
        Ok(settings) => settings,
        Err(error) => return fail(&error),
    };
    if let Err(error) = settings.validate() {
        return fail(&error);
    }
    print!("{}", srs_config::render(&settings.engine));
    ExitCode::SUCCESS
}

fn fail(error: &dyn std::error::Error) -> ExitCode {
    eprintln!("Error: {}", vibes_problem::cause_chain(error));
    ExitCode::FAILURE
}
