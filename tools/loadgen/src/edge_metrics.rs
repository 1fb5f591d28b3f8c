//! The edge's FLV relay counters (`vibes_edge_flv_listener_tags_total` and
//! `..._writes_total`, Prometheus text on the edge's internal metrics port),
//! read at the start and end of a measurement: tags per write is what the
//! relay's write window (`EDGE_FLV_MERGE_MS`) merges.

use serde::Serialize;
use std::time::Duration;

const LISTENERS: &str = "vibes_edge_flv_listeners";
const TAGS: &str = "vibes_edge_flv_listener_tags_total";
const WRITES: &str = "vibes_edge_flv_listener_writes_total";

/// Tags written to FLV listeners and the writes that carried them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct FlvWrites {
    pub tags: u64,
    pub writes: u64,
}

/// The value of an unlabelled series in Prometheus text.
fn series_value(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.split_once(' ')?;
            (series == name).then(|| value.trim().parse::<f64>().ok())?
        })
        .map(|value| value as u64)
}

/// FLV listeners the edge is writing to (`vibes_edge_flv_listeners`).
pub fn flv_listeners(text: &str) -> Option<u64> {
    series_value(text, LISTENERS)
}

impl FlvWrites {
    /// Counters from the edge's Prometheus text (None when either is missing).
    pub fn parse(text: &str) -> Option<Self> {
        Some(Self {
            tags: series_value(text, TAGS)?,
            writes: series_value(text, WRITES)?,
        })
    }

    /// What happened between `earlier` and `self`.
    pub fn since(self, earlier: Self) -> Self {
        Self {
            tags: self.tags.saturating_sub(earlier.tags),
            writes: self.writes.saturating_sub(earlier.writes),
        }
    }

    pub fn tags_per_write(self) -> Option<f64> {
        (self.writes > 0).then(|| self.tags as f64 / self.writes as f64)
    }
}

/// The edge's metrics endpoint (`--edge-metrics-url`), if the scenario was given one.
#[derive(Clone)]
pub struct EdgeMetrics {
    url: String,
    http: reqwest::Client,
}

impl EdgeMetrics {
    pub fn new(url: Option<String>) -> Result<Option<Self>, reqwest::Error> {
        let Some(url) = url else {
            return Ok(None);
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()?;
        Ok(Some(Self { url, http }))
    }

    /// The counters now (None, with a line on stderr, when the edge does not answer).
    pub async fn read(&self) -> Option<FlvWrites> {
        match self.text().await {
            Ok(text) => FlvWrites::parse(&text).or_else(|| {
                eprintln!("edge metrics at {} lack {TAGS} / {WRITES}", self.url);
                None
            }),
            Err(error) => {
                eprintln!("edge metrics at {}: {error}", self.url);
                None
            }
        }
    }

    /// The FLV listeners the edge is writing to now; None when it does not
    /// answer (a stopped edge: then it writes to nobody).
    pub async fn listeners(&self) -> Option<u64> {
        flv_listeners(&self.text().await.ok()?)
    }

    async fn text(&self) -> Result<String, reqwest::Error> {
        self.http.get(&self.url).send().await?.text().await
    }
}

/// Reads the counters when created and again at `finish`: the writes in between.
pub struct WritesWindow {
    metrics: Option<EdgeMetrics>,
    start: Option<FlvWrites>,
}

impl WritesWindow {
    pub async fn start(metrics: Option<&EdgeMetrics>) -> Self {
        let start = match metrics {
            Some(metrics) => metrics.read().await,
            None => None,
        };
        Self {
            metrics: metrics.cloned(),
            start,
        }
    }

    pub async fn finish(self) -> Option<FlvWrites> {
        let (metrics, start) = (self.metrics?, self.start?);
        Some(metrics.read().await?.since(start))
    }
}

/// The edge's write window and what it merged, for the report's text.
pub fn describe(merge_ms: Option<u64>, writes: Option<FlvWrites>) -> String {
    let window = merge_ms.map_or("write window not given".to_owned(), |ms| {
        format!("write window `EDGE_FLV_MERGE_MS` = **{ms} ms**")
    });
    match writes {
        Some(writes) => format!(
            "{window}; measured: {} tags to listeners in {} writes, **{}** tags per write",
            writes.tags,
            writes.writes,
            writes
                .tags_per_write()
                .map_or("–".to_owned(), |ratio| format!("{ratio:.2}"))
        ),
        None => window,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# HELP vibes_edge_flv_listeners FLV listeners\n\
        # TYPE vibes_edge_flv_listeners gauge\n\
        vibes_edge_flv_listeners 3\n\
        # TYPE vibes_edge_flv_listener_tags_total counter\n\
        vibes_edge_flv_listener_tags_total 9400\n\
        vibes_edge_flv_listener_writes_total 3100\n\
        vibes_edge_flv_listener_ends_total{reason=\"client_gone\"} 2\n";

    #[test]
    fn counters_are_read_from_prometheus_text() {
        let writes = FlvWrites::parse(TEXT).unwrap();
        assert_eq!(
            writes,
            FlvWrites {
                tags: 9400,
                writes: 3100
            }
        );
        assert_eq!(
            FlvWrites::parse("vibes_edge_flv_listener_tags_total 1\n"),
            None
        );
        assert_eq!(
            FlvWrites::parse("# vibes_edge_flv_listener_tags_total 1\n"),
            None
        );
    }

    #[test]
    fn the_listener_gauge_is_read_from_prometheus_text() {
        assert_eq!(flv_listeners(TEXT), Some(3));
        assert_eq!(flv_listeners("vibes_edge_flv_listeners_total 3\n"), None);
    }

    #[test]
    fn tags_per_write_is_over_the_window() {
        let start = FlvWrites {
            tags: 100,
            writes: 100,
        };
        let end = FlvWrites {
            tags: 400,
            writes: 200,
        };
        assert_eq!(end.since(start).tags_per_write(), Some(3.0));
        assert_eq!(start.since(start).tags_per_write(), None);
    }
}
