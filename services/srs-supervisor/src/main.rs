use srs_supervisor::{configuration, startup::Application};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let settings = configuration::load()?;
    let _telemetry = vibes_telemetry::init("srs-supervisor", &settings.log_level);
    Application::build(settings)?.run_until_stopped().await?;
    Ok(())
}
