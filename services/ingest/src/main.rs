use ingest::{configuration, startup::Application};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let settings = configuration::load()?;
    let _telemetry = vibes_telemetry::init("ingest", &settings.log_level);
    Application::build(settings)
        .await?
        .run_until_stopped()
        .await?;
    Ok(())
}
