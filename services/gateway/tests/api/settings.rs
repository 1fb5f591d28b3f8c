//! Settings the gateway refuses to start with: placeholder or guessable token
//! keys, and proxies that are not CIDRs. Each refusal names the setting.

use crate::helpers::test_settings;
use gateway::startup::Gateway;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vibes_testkit::tokens::AUTH_SECRET;

async fn build_error(customize: impl FnOnce(&mut gateway::configuration::Settings)) -> String {
    let mut settings = test_settings();
    customize(&mut settings);
    vibes_testkit::service::build_error::<Gateway>(settings).await
}

#[tokio::test]
async fn the_build_fails_naming_a_placeholder_or_weak_key() {
    let placeholder = vibes_config::secrets::env_example_values()
        .find(|value| value.starts_with("change-me-to-another"))
        .unwrap();
    assert_eq!(
        build_error(|settings| settings.auth.secret = placeholder.to_owned().into()).await,
        "auth.secret is a placeholder from compose/.env.example; \
         generate one with `openssl rand -base64 48`"
    );
    let error = build_error(|settings| settings.auth.secret = "changeme".to_owned().into()).await;
    assert!(
        error.starts_with("auth.secret looks like a placeholder"),
        "{error}"
    );
    let error = build_error(|settings| {
        settings.auth.previous_kid = "k0".to_owned();
        settings.auth.previous_secret = "0123456789abcdef0123456789abcdef0123".to_owned().into();
    })
    .await;
    assert!(
        error.starts_with("auth.previous_secret is too easy to guess"),
        "{error}"
    );
    let error = build_error(|settings| {
        settings.auth.previous_secret = AUTH_SECRET.to_owned().into();
    })
    .await;
    assert!(error.contains("auth.previous_kid is empty"), "{error}");
}

#[test]
fn the_defaults_expect_the_app_as_issuer_and_a_day_at_most() {
    let settings = gateway::configuration::load().unwrap();
    assert_eq!(settings.auth.audience, "vibesflow-streaming");
    assert_eq!(settings.auth.issuer, "vibesflow-app");
    assert_eq!(settings.auth.max_lifetime, Duration::from_secs(24 * 3600));
    assert_eq!(settings.metrics.port, 9100);
    assert_ne!(settings.metrics.port, settings.server.port);
}

/// Runs the gateway binary with `env` (and nothing else of ours) and returns
/// its exit code and standard error; fails if it is still running after 10 s.
fn run_binary(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gateway"));
    for (name, _) in std::env::vars() {
        if name.starts_with("VIBES_") {
            command.env_remove(name);
        }
    }
    let mut child = command
        .envs(env.iter().copied())
        .env("VIBES_SERVER__PORT", "0")
        .env("VIBES_METRICS__PORT", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the gateway did not stop at startup");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    (status.code(), stderr)
}

#[test]
fn the_service_exits_at_startup_with_the_setting_named() {
    let (code, stderr) = run_binary(&[("VIBES_AUTH__SECRET", "password")]);
    assert_ne!(code, Some(0));
    assert!(
        stderr.contains("auth.secret looks like a placeholder"),
        "{stderr}"
    );

    // A valid list in one variable passes: the refusal is about the key.
    let (code, stderr) = run_binary(&[
        ("VIBES_AUTH__SECRET", "Tr0ub4dor&3"),
        ("VIBES_TRUST__PROXIES", "10.0.0.0/8, 172.16.0.0/12 fd00::/8"),
    ]);
    assert_ne!(code, Some(0));
    assert!(
        stderr.contains("auth.secret is too easy to guess"),
        "{stderr}"
    );
    assert!(!stderr.contains("trust.proxies"), "{stderr}");

    let (code, stderr) = run_binary(&[
        ("VIBES_AUTH__SECRET", AUTH_SECRET),
        ("VIBES_TRUST__PROXIES", "10.0.0.0/8, 10.0.0.300/8"),
    ]);
    assert_ne!(code, Some(0));
    assert!(stderr.contains("trust.proxies"), "{stderr}");
    assert!(stderr.contains("10.0.0.300/8"), "{stderr}");
}
