//! Settings for every service are read the same way, in this order (later wins):
//! 1. the service's defaults, compiled into the binary (`config/default.toml`),
//! 2. an optional file named by `VIBES_CONFIG_FILE` (deployment-specific),
//! 3. environment variables prefixed `VIBES_`, with `__` between nesting levels,
//!    e.g. `VIBES_SERVER__PORT=8080` or `VIBES_REDIS__URL=redis://…`.

mod cli;
pub mod duration;
pub mod secrets;

pub use cli::{answer_command_line, Usage};

use config::{Config, Environment, File, FileFormat};
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// Environment variable naming an extra settings file layered over the defaults.
pub const CONFIG_FILE_ENV: &str = "VIBES_CONFIG_FILE";
/// Prefix of every settings override in the environment.
pub const ENV_PREFIX: &str = "VIBES";

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("settings could not be read: {0}")]
    Invalid(#[from] config::ConfigError),
}

/// Where a service listens (`[server]`, and `[metrics]` for its Prometheus
/// listener). Port 0 picks a free port (tests do this).
#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
}

impl ServerSettings {
    /// Binds the address; the error names it.
    pub fn bind(&self) -> std::io::Result<std::net::TcpListener> {
        std::net::TcpListener::bind((self.host.as_str(), self.port)).map_err(|error| {
            std::io::Error::new(
                error.kind(),
                format!("cannot listen on {}:{}: {error}", self.host, self.port),
            )
        })
    }
}

/// A Redis a service talks to (`[redis]`): its URL (with the service's own
/// user and password in deployments) and how long a call may take.
#[derive(Debug, Clone, Deserialize)]
pub struct RedisSettings {
    pub url: String,
    #[serde(with = "duration")]
    pub timeout: std::time::Duration,
}

/// Loads settings from the defaults, the optional file and the process environment.
pub fn load<T: DeserializeOwned>(defaults_toml: &str) -> Result<T, SettingsError> {
    let extra_file = std::env::var(CONFIG_FILE_ENV).ok();
    load_from(
        defaults_toml,
        extra_file.as_deref(),
        Environment::with_prefix(ENV_PREFIX),
    )
}

/// The defaults with one settings file over them, without the environment:
/// what a deployment's file alone makes of a service (generated configs and
/// their tests use it).
pub fn load_file_over_defaults<T: DeserializeOwned>(
    defaults_toml: &str,
    file: &std::path::Path,
) -> Result<T, SettingsError> {
    let builder = Config::builder()
        .add_source(File::from_str(defaults_toml, FileFormat::Toml))
        .add_source(File::from(file).required(true));
    Ok(builder.build()?.try_deserialize()?)
}

fn load_from<T: DeserializeOwned>(
    defaults_toml: &str,
    extra_file: Option<&str>,
    environment: Environment,
) -> Result<T, SettingsError> {
    let mut builder = Config::builder().add_source(File::from_str(defaults_toml, FileFormat::Toml));
    if let Some(path) = extra_file {
        builder = builder.add_source(File::with_name(path).required(true));
    }
    let settings = builder
        .add_source(
            environment
                .prefix_separator("_")
                .separator("__")
                .try_parsing(true),
        )
        .build()?;
    Ok(settings.try_deserialize()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::collections::HashMap;

    #[derive(Debug, Deserialize)]
    struct Example {
        server: Server,
    }

    #[derive(Debug, Deserialize)]
    struct Server {
        host: String,
        port: u16,
    }

    const DEFAULTS: &str = "[server]\nhost = \"127.0.0.1\"\nport = 3000\n";

    fn environment(vars: &[(&str, &str)]) -> Environment {
        let source: HashMap<String, String> = vars
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        Environment::with_prefix(ENV_PREFIX).source(Some(source))
    }

    #[test]
    fn defaults_apply_without_overrides() {
        let settings: Example = load_from(DEFAULTS, None, environment(&[])).unwrap();
        assert_eq!(settings.server.host, "127.0.0.1");
        assert_eq!(settings.server.port, 3000);
    }

    #[test]
    fn prefixed_nested_variables_override_defaults() {
        let settings: Example = load_from(
            DEFAULTS,
            None,
            environment(&[("VIBES_SERVER__PORT", "8080"), ("OTHER_SERVER__HOST", "x")]),
        )
        .unwrap();
        assert_eq!(settings.server.port, 8080);
        assert_eq!(
            settings.server.host, "127.0.0.1",
            "unprefixed vars are ignored"
        );
    }

    #[test]
    fn malformed_override_is_an_error_not_a_default() {
        let result: Result<Example, _> = load_from(
            DEFAULTS,
            None,
            environment(&[("VIBES_SERVER__PORT", "not-a-port")]),
        );
        assert!(result.is_err());
    }
}
