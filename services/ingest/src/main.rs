#[tokio::main]
async fn main() -> std::process::ExitCode {
    vibes_web::service::main::<ingest::startup::Ingest>().await
}
