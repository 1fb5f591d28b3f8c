use srs_supervisor::engine::srs_config;
use srs_supervisor::{configuration, startup::Application};

const USAGE: vibes_config::Usage = vibes_config::Usage {
    name: "srs-supervisor",
    version: env!("CARGO_PKG_VERSION"),
    about: "Starts, probes and restarts SRS; SRS's stats API, read-only. \
            `srs-supervisor --engine-config` prints the SRS config its settings render.",
    defaults_toml: configuration::DEFAULTS,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Compose and Kubernetes mount the config this prints (from
    // config/container.toml), so they run what child mode runs.
    if std::env::args().nth(1).as_deref() == Some("--engine-config") {
        let settings = configuration::load()?;
        settings.validate()?;
        print!("{}", srs_config::render(&settings.engine));
        return Ok(());
    }
    if vibes_config::answer_command_line(&USAGE)? {
        return Ok(());
    }
    let settings = configuration::load()?;
    let _telemetry = vibes_telemetry::init("srs-supervisor", &settings.log_level);
    Application::build(settings)?.run_until_stopped().await?;
    Ok(())
}
