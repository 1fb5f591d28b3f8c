//! Configuration file for the xiu engine (0.13).

use crate::configuration::EngineSettings;

/// Renders xiu's TOML. `gop_num = 0` matters: xiu only starts a new GOP on a
/// video key frame, so for audio-only streams any GOP cache grows without
/// bound and replays the whole stream to every new listener.
/// xiu requires an `[authsecret]` section even with auth off. Its notify
/// hooks are fire-and-forget: they tell the registry which player connected
/// with which token, and cannot refuse anyone.
pub fn render_config(engine: &EngineSettings) -> String {
    let mut config = format!(
        r#"[rtmp]
enabled = true
port = {rtmp}
gop_num = 0

[httpflv]
enabled = true
port = {flv}

[hls]
enabled = true
port = {hls}
need_record = false

[httpapi]
port = {api}

[authsecret]
key = ""
password = ""

[log]
level = "{level}"
"#,
        rtmp = engine.rtmp_port,
        flv = engine.httpflv_port,
        hls = engine.hls_port,
        api = engine.api_port,
        level = engine.log_level,
    );
    if !engine.hooks_url.is_empty() {
        let hooks = &engine.hooks_url;
        config.push_str(&format!(
            "\n[httpnotify]\nenabled = true\non_publish = \"{hooks}\"\non_unpublish = \"{hooks}\"\non_play = \"{hooks}\"\non_stop = \"{hooks}\"\n"
        ));
    }
    config
}
