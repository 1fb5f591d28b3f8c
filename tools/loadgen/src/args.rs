use std::collections::HashMap;
use std::path::PathBuf;

pub const USAGE: &str =
    "usage: vibes-loadgen registry --registry-url URL --redis-url URL --out DIR \
[--joins 5000] [--cap 1000] [--concurrency 64]\n       \
vibes-loadgen ingest --ingest-url URL --ingest-pid PID --rtmp-base-url URL --out DIR \
[--streams 20] [--seconds 20]";

pub struct Arguments {
    pub scenario: String,
    options: HashMap<String, String>,
}

impl Arguments {
    pub fn parse(mut words: impl Iterator<Item = String>) -> Result<Self, String> {
        let scenario = words.next().ok_or("no scenario given")?;
        let mut options = HashMap::new();
        while let Some(word) = words.next() {
            let name = word
                .strip_prefix("--")
                .ok_or(format!("unexpected {word:?}"))?;
            let value = words.next().ok_or(format!("--{name} needs a value"))?;
            options.insert(name.to_owned(), value);
        }
        Ok(Self { scenario, options })
    }

    pub fn text(&self, name: &str) -> Result<&str, String> {
        self.options
            .get(name)
            .map(String::as_str)
            .ok_or(format!("--{name} is required"))
    }

    pub fn number(&self, name: &str, default: u64) -> Result<u64, String> {
        match self.options.get(name) {
            Some(value) => value
                .parse()
                .map_err(|_| format!("--{name} must be a whole number")),
            None => Ok(default),
        }
    }

    pub fn out_dir(&self) -> Result<PathBuf, String> {
        Ok(PathBuf::from(self.text("out")?))
    }
}
