//! Durations in settings files and env vars are written the way people say
//! them (`"1s"`, `"500ms"`, `"2m"`), not as bare numbers of some unit.
//! Use with `#[serde(with = "vibes_config::duration")]`.

use serde::{Deserialize, Deserializer, Serializer};
use std::time::Duration;

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    humantime::parse_duration(text.trim()).map_err(|error| {
        serde::de::Error::custom(format!(
            "{text:?} is not a duration like \"1s\" or \"500ms\": {error}"
        ))
    })
}

pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&humantime::format_duration(*duration).to_string())
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use std::time::Duration;

    #[derive(Deserialize)]
    struct Holder {
        #[serde(with = "super")]
        every: Duration,
    }

    fn parse(text: &str) -> Result<Duration, config::ConfigError> {
        let file = format!("every = {text:?}");
        config::Config::builder()
            .add_source(config::File::from_str(&file, config::FileFormat::Toml))
            .build()?
            .try_deserialize::<Holder>()
            .map(|holder| holder.every)
    }

    #[test]
    fn reads_units_and_refuses_bare_numbers() {
        assert_eq!(parse("1s").unwrap(), Duration::from_secs(1));
        assert_eq!(parse("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("1m 30s").unwrap(), Duration::from_secs(90));
        let refused = parse("10").unwrap_err().to_string();
        assert!(refused.contains("not a duration"), "{refused}");
    }
}
