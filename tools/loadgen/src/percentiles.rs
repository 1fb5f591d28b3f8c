use serde::Serialize;
use std::time::Duration;

/// Latency percentiles of one run, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Percentiles {
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Percentiles {
    pub fn of(samples: Vec<Duration>) -> Self {
        Self::of_ms(
            samples
                .into_iter()
                .map(|sample| sample.as_secs_f64() * 1000.0)
                .collect(),
        )
    }

    pub fn of_ms(mut samples: Vec<f64>) -> Self {
        samples.sort_unstable_by(f64::total_cmp);
        Self {
            p50_ms: nearest_rank(&samples, 0.50),
            p95_ms: nearest_rank(&samples, 0.95),
            p99_ms: nearest_rank(&samples, 0.99),
            max_ms: nearest_rank(&samples, 1.0),
        }
    }
}

/// The nearest-rank percentile of sorted samples (0 when there are none).
pub fn nearest_rank(sorted: &[f64], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (sorted.len() as f64 * fraction).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let samples: Vec<f64> = (1..=200).map(f64::from).collect();
        let percentiles = Percentiles::of_ms(samples.into_iter().rev().collect());
        assert_eq!(percentiles.p50_ms, 100.0);
        assert_eq!(percentiles.p95_ms, 190.0);
        assert_eq!(percentiles.p99_ms, 198.0);
        assert_eq!(percentiles.max_ms, 200.0);
        assert_eq!(nearest_rank(&[], 0.5), 0.0);
        assert_eq!(nearest_rank(&[7.0], 0.01), 7.0);
    }
}
