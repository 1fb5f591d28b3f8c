//! The keys the gateway writes.

/// String: a client's GCRA state for one class of requests.
pub fn rate_limit(class: &str, client: &str) -> String {
    format!("vibes:rl:{class}:{client}")
}
