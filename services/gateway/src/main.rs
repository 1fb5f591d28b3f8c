use gateway::{configuration, startup::Application};

const USAGE: vibes_config::Usage = vibes_config::Usage {
    name: "gateway",
    version: env!("CARGO_PKG_VERSION"),
    about: "The public API: validates requests and routes them to ingest and the session registry.",
    defaults_toml: configuration::DEFAULTS,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if vibes_config::answer_command_line(&USAGE)? {
        return Ok(());
    }
    let settings = configuration::load()?;
    let _telemetry = vibes_telemetry::init("gateway", &settings.log_level);
    Application::build(settings)?.run_until_stopped().await?;
    Ok(())
}
