use srs_supervisor::{configuration, startup::Application};

const USAGE: vibes_config::Usage = vibes_config::Usage {
    name: "srs-supervisor",
    version: env!("CARGO_PKG_VERSION"),
    about: "Starts, probes and restarts the media engine; SRS-compatible stats API.",
    defaults_toml: configuration::DEFAULTS,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if vibes_config::answer_command_line(&USAGE)? {
        return Ok(());
    }
    let settings = configuration::load()?;
    let _telemetry = vibes_telemetry::init("srs-supervisor", &settings.log_level);
    Application::build(settings)?.run_until_stopped().await?;
    Ok(())
}
