use std::collections::HashMap;
use std::path::PathBuf;

pub const USAGE: &str = "usage: vibes-loadgen <scenario> --out DIR [--option value …]
  registry --registry-url URL --redis-url URL [--joins 5000] [--cap 1000] [--concurrency 64]
           [--rate 2000] [--rate-seconds 5]
  latency  --edge-url URL --ca-cert PEM --registry-url URL --engine-flv-url URL --rtmp-base-url URL
           [--seconds 60] [--chunk-ms 2000]
  hls      --edge-url URL --ca-cert PEM --engine-hls-url URL [--seconds 40] [--chunk-ms 2000] [--ll-hls-listeners 8]
           [--browser-script hls-ear.mjs --web-dir DIR [--chromium PATH] [--node node]]
  fanout   --ingest-url URL --registry-url URL --edge-url URL --ca-cert PEM --engine-flv-url URL
           --edge-pid PID --supervisor-pid PID [--listeners 1000] [--ramp 100] [--seconds 20]
  ll-fanout --ingest-url URL --registry-url URL --edge-url URL --ca-cert PEM --edge-pid PID
           --packager-pid PID [--listeners 1000] [--ramp 100] [--seconds 20]
  cluster  --edge-urls URL,URL… --edge-pids PID,PID… --edge-metrics-urls URL,URL… --ca-cert PEM
           --registry-urls URL,URL… (one per edge, in its order; the first edge is stopped)
           [--listeners 1500] [--cap 1000] [--ramp 100] [--listeners-per-address 25]
           [--leaving-percent 10] [--lease-seconds 30] [--seconds 20] [--edge-workers N]
  chaos    --edge-url URL --ca-cert PEM --registry-url URL --timeline FILE --ready-file FILE
           --done-file FILE [--streams 20] [--listeners 10] [--hls-every 2] [--cap LISTENERS]
           [--recovery-limit-seconds 20] [--lost-bound-ms 4000] [--max-seconds 900]
           (the audience of ./scripts/chaos, which does the faults and notes them in FILE)
  streams  --gateway-url URL --gateway-pid PID --ingest-pid PID --registry-url URL
           --engine-flv-url URL --rtmp-base-url URL [--streams 30] [--seconds 20]
  merge-window --runs DIR [--p50-goal-ms 100] [--p99-goal-ms 200] [--cpu-goal-us 150]
           (folds DIR/<window>ms-r<round>/{latency,fanout}.json of ./scripts/bench merge into one table)
latency, hls, fanout, ll-fanout, cluster, chaos and streams take --engine NAME (\"SRS 6.0.157\"): the engine's name in the report.
latency, fanout and cluster take --edge-merge-ms MS (the edge's EDGE_FLV_MERGE_MS, for the report);
latency and fanout --edge-metrics-url URL (the edge's /metrics: FLV tags per write to listeners).
Scenarios that sign tokens read the gateway's key from VIBES_AUTH__SECRET (and VIBES_AUTH__KID).";

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

    /// A base URL, without a trailing slash (paths are appended to it).
    pub fn url(&self, name: &str) -> Result<String, String> {
        Ok(self.text(name)?.trim_end_matches('/').to_owned())
    }

    pub fn number(&self, name: &str, default: u64) -> Result<u64, String> {
        match self.options.get(name) {
            Some(value) => value
                .parse()
                .map_err(|_| format!("--{name} must be a whole number")),
            None => Ok(default),
        }
    }

    /// A whole number that has no default: None when the option is absent.
    pub fn optional_number(&self, name: &str) -> Result<Option<u64>, String> {
        self.options
            .get(name)
            .map(|_| self.number(name, 0))
            .transpose()
    }

    /// An optional base URL, without a trailing slash.
    pub fn optional_url(&self, name: &str) -> Option<String> {
        self.url(name).ok()
    }

    /// What the report calls the media engine (`--engine`, e.g. "SRS 6.0.157").
    pub fn engine(&self) -> String {
        self.text("engine").unwrap_or("SRS").to_owned()
    }

    pub fn out_dir(&self) -> Result<PathBuf, String> {
        Ok(PathBuf::from(self.text("out")?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(words: &[&str]) -> Result<Arguments, String> {
        Arguments::parse(words.iter().map(|word| word.to_string()))
    }

    #[test]
    fn options_follow_the_scenario_as_name_value_pairs() {
        let arguments = parse(&["fanout", "--listeners", "1000", "--out", "bench/out"]).unwrap();
        assert_eq!(arguments.scenario, "fanout");
        assert_eq!(arguments.number("listeners", 5).unwrap(), 1000);
        assert_eq!(
            arguments.number("seconds", 20).unwrap(),
            20,
            "defaults apply"
        );
        assert_eq!(arguments.out_dir().unwrap(), PathBuf::from("bench/out"));
        assert_eq!(arguments.optional_number("edge-merge-ms").unwrap(), None);
        assert_eq!(arguments.optional_url("edge-metrics-url"), None);
        let arguments = parse(&["fanout", "--edge-merge-ms", "50"]).unwrap();
        assert_eq!(
            arguments.optional_number("edge-merge-ms").unwrap(),
            Some(50)
        );
        let arguments = parse(&["hls", "--edge-url", "https://localhost:8443//"]).unwrap();
        assert_eq!(arguments.url("edge-url").unwrap(), "https://localhost:8443");
    }

    #[test]
    fn bad_command_lines_say_what_is_wrong() {
        assert_eq!(parse(&[]).err().unwrap(), "no scenario given");
        assert_eq!(
            parse(&["fanout", "listeners"]).err().unwrap(),
            "unexpected \"listeners\""
        );
        assert_eq!(
            parse(&["fanout", "--out"]).err().unwrap(),
            "--out needs a value"
        );
        let arguments = parse(&["fanout", "--listeners", "many"]).unwrap();
        assert_eq!(
            arguments.number("listeners", 1).err().unwrap(),
            "--listeners must be a whole number"
        );
        assert_eq!(
            arguments.optional_number("listeners").err().unwrap(),
            "--listeners must be a whole number"
        );
        assert_eq!(
            arguments.text("edge-url").err().unwrap(),
            "--edge-url is required"
        );
    }
}
