//! Participants per stream as metrics whose labels never name a stream: a
//! stream id per label value would grow the series count with every stream
//! ever started. Instead, every interval the live streams are counted into
//! fixed size classes, like the buckets of a histogram, plus the largest
//! stream and the streams close to their cap. Every registry instance reads
//! the same Redis, so instances report the same values: take `max` across
//! them, never `sum`.

use crate::error::RegistryError;
use crate::store::SessionStore;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// Upper bounds of the size classes (`le` label, cumulative like Prometheus
/// histogram buckets; `+Inf` is added). Chosen around the default cap of 1000.
pub const SIZE_BOUNDS: [u64; 10] = [0, 1, 10, 50, 100, 250, 500, 750, 900, 1000];

/// A stream is near its cap from this share of it on.
const NEAR_CAP: f64 = 0.9;

/// One count of the live streams and their participants.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Census {
    pub live_streams: u64,
    pub participants: u64,
    pub largest_stream: u64,
    pub near_cap: u64,
    pub full: u64,
    /// Streams with at most `SIZE_BOUNDS[i]` participants.
    pub at_most: [u64; SIZE_BOUNDS.len()],
}

impl Census {
    /// Counts streams given as (participants, cap).
    pub fn of(streams: impl IntoIterator<Item = (u64, u64)>) -> Self {
        let mut census = Self::default();
        for (participants, cap) in streams {
            census.live_streams += 1;
            census.participants += participants;
            census.largest_stream = census.largest_stream.max(participants);
            if participants >= cap {
                census.full += 1;
            }
            if participants as f64 >= cap as f64 * NEAR_CAP {
                census.near_cap += 1;
            }
            for (bound, streams) in SIZE_BOUNDS.iter().zip(census.at_most.iter_mut()) {
                if participants <= *bound {
                    *streams += 1;
                }
            }
        }
        census
    }

    fn publish(&self) {
        metrics::gauge!("vibes_registry_live_streams").set(self.live_streams as f64);
        metrics::gauge!("vibes_registry_participants").set(self.participants as f64);
        metrics::gauge!("vibes_registry_largest_stream_participants")
            .set(self.largest_stream as f64);
        metrics::gauge!("vibes_registry_streams_near_cap").set(self.near_cap as f64);
        metrics::gauge!("vibes_registry_streams_full").set(self.full as f64);
        for (bound, streams) in SIZE_BOUNDS.iter().zip(self.at_most) {
            metrics::gauge!("vibes_registry_streams_by_participants", "le" => bound.to_string())
                .set(streams as f64);
        }
        metrics::gauge!("vibes_registry_streams_by_participants", "le" => "+Inf")
            .set(self.live_streams as f64);
    }
}

pub struct StreamCensus {
    store: Arc<SessionStore>,
}

impl StreamCensus {
    pub fn new(store: Arc<SessionStore>) -> Self {
        Self { store }
    }

    /// Takes and publishes a census every `interval` until the application
    /// stops it.
    pub async fn run(self, interval: Duration) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let span = tracing::info_span!("stream_census");
            match self.take().instrument(span).await {
                Ok(census) => census.publish(),
                Err(error) => {
                    metrics::counter!("vibes_registry_census_failures_total").increment(1);
                    tracing::warn!(%error, "stream census skipped; the gauges keep their last values");
                }
            }
        }
    }

    pub async fn take(&self) -> Result<Census, RegistryError> {
        let default_cap = self.store.terms().default_cap;
        let streams = self.store.live_streams().await?;
        Ok(Census::of(streams.into_iter().map(|(record, count)| {
            (count, record.max_participants.unwrap_or(default_cap))
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_fall_into_cumulative_size_classes() {
        let census = Census::of([(0, 1000), (3, 1000), (950, 1000), (5, 5)]);
        assert_eq!(census.live_streams, 4);
        assert_eq!(census.participants, 958);
        assert_eq!(census.largest_stream, 950);
        assert_eq!(census.near_cap, 2, "950 of 1000, and 5 of 5");
        assert_eq!(census.full, 1);
        // le = 0, 1, 10, 50, 100, 250, 500, 750, 900, 1000
        assert_eq!(census.at_most, [1, 1, 3, 3, 3, 3, 3, 3, 3, 4]);
    }

    #[test]
    fn no_streams_count_as_zero_everywhere() {
        assert_eq!(Census::of([]), Census::default());
    }
}
