//! ffmpeg's stderr as log events at the level ffmpeg gave each line.
//!
//! ffmpeg runs with `-loglevel level+info`: every message is prefixed with
//! its level (`[error]`, `[warning]`, `[info]`…), after the name of the
//! component that wrote it when there is one (`[tcp @ 0x55…] [error] …`).
//! Levels map as: `panic`, `fatal`, `error` → ERROR; `warning` → WARN;
//! `info` → DEBUG (ffmpeg describes its input and output at start and sums up
//! at exit: useful when looking into one stream, noise otherwise);
//! `verbose`, `debug`, `trace` → TRACE. A line without a prefix continues the
//! message before it and keeps its level.

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::ChildStderr;
use tracing::Level;

/// The ffmpeg flag that makes its lines parseable here.
pub const LOGLEVEL: &str = "level+info";

/// One stderr line, taken apart.
#[derive(Debug, PartialEq, Eq)]
pub struct Line<'a> {
    /// `None` for a line without a level prefix.
    pub level: Option<Level>,
    /// The component that wrote it (`tcp`, `rtmp`, `aac`…), if named.
    pub component: Option<&'a str>,
    pub text: &'a str,
}

pub fn parse(line: &str) -> Line<'_> {
    let line = line.trim_end();
    let (component, rest) = match bracketed(line) {
        Some((inside, rest)) if inside.contains(" @ ") => (inside.split(" @ ").next(), rest),
        _ => (None, line),
    };
    match bracketed(rest).and_then(|(inside, text)| Some((level_of(inside)?, text))) {
        Some((level, text)) => Line {
            level: Some(level),
            component,
            text,
        },
        None => Line {
            level: None,
            component,
            text: rest,
        },
    }
}

/// `[inside] rest` → (`inside`, `rest`).
fn bracketed(text: &str) -> Option<(&str, &str)> {
    let (inside, rest) = text.strip_prefix('[')?.split_once(']')?;
    Some((inside, rest.strip_prefix(' ').unwrap_or(rest)))
}

fn level_of(name: &str) -> Option<Level> {
    Some(match name {
        "panic" | "fatal" | "error" => Level::ERROR,
        "warning" => Level::WARN,
        "info" => Level::DEBUG,
        "verbose" | "debug" | "trace" => Level::TRACE,
        _ => return None,
    })
}

/// Logs every line of `stderr` until ffmpeg closes it (it exits); call it
/// inside the encoder's span so the lines belong to that process.
pub async fn fold_into_log(stderr: ChildStderr) {
    let mut lines = BufReader::new(stderr).lines();
    let mut level = Level::DEBUG;
    while let Ok(Some(raw)) = lines.next_line().await {
        let line = parse(&raw);
        if line.text.is_empty() {
            continue;
        }
        level = line.level.unwrap_or(level);
        let component = line.component.unwrap_or_default();
        let text = line.text;
        match level {
            Level::ERROR => tracing::error!(origin = "ffmpeg", component, "{text}"),
            Level::WARN => tracing::warn!(origin = "ffmpeg", component, "{text}"),
            Level::INFO => tracing::info!(origin = "ffmpeg", component, "{text}"),
            Level::DEBUG => tracing::debug!(origin = "ffmpeg", component, "{text}"),
            _ => tracing::trace!(origin = "ffmpeg", component, "{text}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_components_are_read_from_ffmpegs_prefixes() {
        // Lines as ffmpeg 5.1 writes them with `-loglevel level+info`.
        let cases = [
            (
                "[tcp @ 0x55ec93b85040] [error] Connection to tcp://127.0.0.1:1?tcp_nodelay=0 failed: Connection refused",
                Some(Level::ERROR),
                Some("tcp"),
                "Connection to tcp://127.0.0.1:1?tcp_nodelay=0 failed: Connection refused",
            ),
            (
                "[error] rtmp://127.0.0.1:1/live/x: Connection refused",
                Some(Level::ERROR),
                None,
                "rtmp://127.0.0.1:1/live/x: Connection refused",
            ),
            (
                "[warning] Guessed Channel Layout for Input Stream #0.0 : stereo",
                Some(Level::WARN),
                None,
                "Guessed Channel Layout for Input Stream #0.0 : stereo",
            ),
            (
                "[aac @ 0x5585a7deca00] [info] Qavg: 219.928",
                Some(Level::DEBUG),
                Some("aac"),
                "Qavg: 219.928",
            ),
            (
                "[info]   Stream #0:0 -> #0:0 (pcm_s16le (native) -> aac (native))",
                Some(Level::DEBUG),
                None,
                "  Stream #0:0 -> #0:0 (pcm_s16le (native) -> aac (native))",
            ),
            ("[fatal] out of memory", Some(Level::ERROR), None, "out of memory"),
            (
                "[info] size=       3kB time=00:00:03.00 bitrate=   9.3kbits/s speed=1.01x    \r",
                Some(Level::DEBUG),
                None,
                "size=       3kB time=00:00:03.00 bitrate=   9.3kbits/s speed=1.01x",
            ),
            (
                "    Metadata: without a prefix",
                None,
                None,
                "    Metadata: without a prefix",
            ),
            (
                "[Parsed_anull_0] not a level",
                None,
                None,
                "[Parsed_anull_0] not a level",
            ),
        ];
        for (raw, level, component, text) in cases {
            assert_eq!(
                parse(raw),
                Line {
                    level,
                    component,
                    text
                },
                "{raw}"
            );
        }
    }
}
