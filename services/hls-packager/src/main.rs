use hls_packager::{configuration, startup::Application};

const USAGE: vibes_config::Usage = vibes_config::Usage {
    name: "hls-packager",
    version: env!("CARGO_PKG_VERSION"),
    about: "Low-latency HLS for audio: reads each stream's HTTP-FLV from the engine once, \
            serves LL-HLS (fMP4 parts and segments, blocking playlist reload).",
    defaults_toml: configuration::DEFAULTS,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if vibes_config::answer_command_line(&USAGE)? {
        return Ok(());
    }
    let settings = configuration::load()?;
    let _telemetry = vibes_telemetry::init("hls-packager", &settings.log_level);
    Application::build(settings)?.run_until_stopped().await?;
    Ok(())
}
