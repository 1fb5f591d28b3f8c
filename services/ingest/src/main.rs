use ingest::{configuration, startup::Application};

const USAGE: vibes_config::Usage = vibes_config::Usage {
    name: "ingest",
    version: env!("CARGO_PKG_VERSION"),
    about: "Creators' PCM chunks to real-time paced ffmpeg (AAC) to RTMP at the media engine.",
    defaults_toml: configuration::DEFAULTS,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if vibes_config::answer_command_line(&USAGE)? {
        return Ok(());
    }
    let settings = configuration::load()?;
    let _telemetry = vibes_telemetry::init("ingest", &settings.log_level);
    Application::build(settings)
        .await?
        .run_until_stopped()
        .await?;
    Ok(())
}
