//! The engine's version, as its binary reports it.

use crate::configuration::EngineSettings;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineVersion {
    pub major: i64,
    pub minor: i64,
    pub revision: i64,
    pub text: String,
}

impl EngineVersion {
    /// Asks `<binary> --version` (xiu prints `XIU 0.13.0`); once, at start.
    pub fn probe(engine: &EngineSettings) -> Option<Self> {
        let output = std::process::Command::new(&engine.binary)
            .arg("--version")
            .output()
            .ok()?;
        Self::parse(&String::from_utf8_lossy(&output.stdout))
    }

    /// The first `a.b.c` in `text`.
    pub fn parse(text: &str) -> Option<Self> {
        text.split_whitespace().find_map(|word| {
            let mut numbers = word.split('.').map(|part| part.parse::<i64>().ok());
            match (
                numbers.next()?,
                numbers.next()?,
                numbers.next()?,
                numbers.next(),
            ) {
                (Some(major), Some(minor), Some(revision), None) => Some(Self {
                    major,
                    minor,
                    revision,
                    text: word.to_owned(),
                }),
                _ => None,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_version_word() {
        let version = EngineVersion::parse("XIU 0.13.0\n").unwrap();
        assert_eq!((version.major, version.minor, version.revision), (0, 13, 0));
        assert_eq!(version.text, "0.13.0");
        assert_eq!(EngineVersion::parse("no version here"), None);
        assert_eq!(EngineVersion::parse("v 1.2"), None);
    }
}
