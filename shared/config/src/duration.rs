//! Durations in settings files and env vars are written the way people say
//! them (`"1s"`, `"500ms"`, `"2m"`), not as bare numbers of some unit.
//! Use with `#[serde(with = "vibes_config::duration")]`, and lists of them
//! (`["250ms", "1s"]`) with `#[serde(with = "vibes_config::duration::list")]`.

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

pub mod list {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    #[derive(Deserialize)]
    struct Written(#[serde(with = "super")] Duration);

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<Duration>, D::Error> {
        let written = Vec::<Written>::deserialize(deserializer)?;
        Ok(written
            .into_iter()
            .map(|Written(duration)| duration)
            .collect())
    }

    pub fn serialize<S: Serializer>(
        durations: &[Duration],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(
            durations
                .iter()
                .map(|duration| humantime::format_duration(*duration).to_string()),
        )
    }
}

/// A setting that must not be zero was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} must be longer than 0s")]
pub struct ZeroDuration(pub &'static str);

/// Checks that none of the named durations is zero; the error names the first that is.
pub fn require_nonzero(durations: &[(&'static str, Duration)]) -> Result<(), ZeroDuration> {
    match durations.iter().find(|(_, duration)| duration.is_zero()) {
        Some((name, _)) => Err(ZeroDuration(name)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use serde::de::DeserializeOwned;
    use serde::Deserialize;
    use std::time::Duration;

    #[derive(Deserialize)]
    struct One {
        #[serde(with = "super")]
        value: Duration,
    }

    #[derive(Deserialize)]
    struct List {
        #[serde(with = "super::list")]
        value: Vec<Duration>,
    }

    fn parse<Holder: DeserializeOwned>(value: &str) -> Result<Holder, config::ConfigError> {
        config::Config::builder()
            .add_source(config::File::from_str(
                &format!("value = {value}"),
                config::FileFormat::Toml,
            ))
            .build()?
            .try_deserialize()
    }

    #[test]
    fn reads_units_and_refuses_bare_numbers() {
        let one = |text: &str| parse::<One>(&format!("{text:?}")).map(|holder| holder.value);
        assert_eq!(one("1s").unwrap(), Duration::from_secs(1));
        assert_eq!(one("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(one("1m 30s").unwrap(), Duration::from_secs(90));
        let refused = one("10").unwrap_err().to_string();
        assert!(refused.contains("not a duration"), "{refused}");
    }

    #[test]
    fn reads_lists_step_by_step_and_refuses_bare_numbers() {
        let list = |text: &str| parse::<List>(text).map(|holder| holder.value);
        assert_eq!(
            list(r#"["250ms", "1s"]"#).unwrap(),
            [Duration::from_millis(250), Duration::from_secs(1)]
        );
        assert!(list("[250, 1000]").is_err());
    }

    #[test]
    fn the_first_zero_duration_is_named() {
        let durations = [
            ("a", Duration::from_secs(1)),
            ("b", Duration::ZERO),
            ("c", Duration::ZERO),
        ];
        assert_eq!(
            super::require_nonzero(&durations).unwrap_err().to_string(),
            "b must be longer than 0s"
        );
        assert!(super::require_nonzero(&durations[..1]).is_ok());
    }
}
