use vibes_domain::api::PlaybackUrls;
use vibes_domain::VibeId;

/// Playback URLs under the public edge. The HLS path is the engine's layout
/// (`/live/<stream>/<stream>.m3u8`), which the edge passes through.
pub fn playback_urls(public_base_url: &str, vibe: &VibeId) -> PlaybackUrls {
    let base = public_base_url.trim_end_matches('/');
    PlaybackUrls {
        flv: format!("{base}/live/{vibe}.flv"),
        hls: format!("{base}/live/{vibe}/{vibe}.m3u8"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_sit_under_the_edge_without_double_slashes() {
        let vibe = VibeId::parse("v1").unwrap();
        let urls = playback_urls("https://edge.example:8443/", &vibe);
        assert_eq!(urls.flv, "https://edge.example:8443/live/v1.flv");
        assert_eq!(urls.hls, "https://edge.example:8443/live/v1/v1.m3u8");
    }
}
