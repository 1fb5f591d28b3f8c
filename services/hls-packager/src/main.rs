#[tokio::main]
async fn main() -> std::process::ExitCode {
    vibes_web::service::main::<hls_packager::startup::Packager>().await
}
