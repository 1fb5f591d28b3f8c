use session_registry::{configuration, startup::Application};

const USAGE: vibes_config::Usage = vibes_config::Usage {
    name: "session-registry",
    version: env!("CARGO_PKG_VERSION"),
    about:
        "Streams and participant leases in Redis: the exact per-stream cap, playback authorization.",
    defaults_toml: configuration::DEFAULTS,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if vibes_config::answer_command_line(&USAGE)? {
        return Ok(());
    }
    let settings = configuration::load()?;
    let _telemetry = vibes_telemetry::init("session-registry", &settings.log_level);
    Application::build(settings)?.run_until_stopped().await?;
    Ok(())
}
