#[tokio::main]
async fn main() -> std::process::ExitCode {
    vibes_web::service::main::<session_registry::startup::Registry>().await
}
