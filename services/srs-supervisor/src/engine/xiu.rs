//! Configuration file for the xiu engine (0.13).

use crate::configuration::EngineSettings;

/// Renders xiu's TOML. `gop_num = 0` matters: xiu only starts a new GOP on a
/// video key frame, so for audio-only streams any GOP cache grows without
/// bound and replays the whole stream to every new listener.
/// xiu requires an `[authsecret]` section even with auth off.
pub fn render_config(engine: &EngineSettings) -> String {
    format!(
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
    )
}
