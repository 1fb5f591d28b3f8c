use session_registry::{configuration, startup::Application};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let settings = configuration::load()?;
    let _telemetry = vibes_telemetry::init("session-registry", &settings.log_level);
    Application::build(settings)?.run_until_stopped().await?;
    Ok(())
}
