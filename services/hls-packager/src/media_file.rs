//! The files of a stream under `/live/<vibe>/`, named so that no two runs
//! (engine connections, packager restarts, replicas) ever share a name:
//! every media name carries its run's id. The edge matches the same shapes.

use std::fmt;

/// The low-latency playlist (parts, preload hint, blocking reload). Its stem
/// holds a dot, so it can never be the engine's own `<vibe>.m3u8`.
pub const LOW_LATENCY_PLAYLIST: &str = "index.ll.m3u8";
/// The same segments without parts, for players without LL-HLS.
pub const CLASSIC_PLAYLIST: &str = "index.classic.m3u8";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaFile {
    LowLatencyPlaylist,
    ClassicPlaylist,
    /// `init-<run>.mp4`
    Init {
        run: String,
    },
    /// `seg-<run>-<msn>.m4s`
    Segment {
        run: String,
        msn: u64,
    },
    /// `part-<run>-<msn>-<index>.m4s`
    Part {
        run: String,
        msn: u64,
        index: u64,
    },
}

fn run_id(text: &str) -> Option<String> {
    let valid = text.len() == 8
        && text
            .bytes()
            .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'));
    valid.then(|| text.to_owned())
}

/// Digits only (no sign, no leading '+'), at most 20 of them.
fn number(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

impl MediaFile {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            LOW_LATENCY_PLAYLIST => return Some(Self::LowLatencyPlaylist),
            CLASSIC_PLAYLIST => return Some(Self::ClassicPlaylist),
            _ => {}
        }
        if let Some(run) = name
            .strip_prefix("init-")
            .and_then(|rest| rest.strip_suffix(".mp4"))
        {
            return Some(Self::Init { run: run_id(run)? });
        }
        if let Some(rest) = name
            .strip_prefix("seg-")
            .and_then(|rest| rest.strip_suffix(".m4s"))
        {
            let (run, msn) = rest.split_once('-')?;
            return Some(Self::Segment {
                run: run_id(run)?,
                msn: number(msn)?,
            });
        }
        let rest = name.strip_prefix("part-")?.strip_suffix(".m4s")?;
        let mut fields = rest.splitn(3, '-');
        let (run, msn, index) = (fields.next()?, fields.next()?, fields.next()?);
        Some(Self::Part {
            run: run_id(run)?,
            msn: number(msn)?,
            index: number(index)?,
        })
    }
}

impl fmt::Display for MediaFile {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LowLatencyPlaylist => formatter.write_str(LOW_LATENCY_PLAYLIST),
            Self::ClassicPlaylist => formatter.write_str(CLASSIC_PLAYLIST),
            Self::Init { run } => write!(formatter, "init-{run}.mp4"),
            Self::Segment { run, msn } => write!(formatter, "seg-{run}-{msn}.m4s"),
            Self::Part { run, msn, index } => write!(formatter, "part-{run}-{msn}-{index}.m4s"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_to_what_wrote_it() {
        let run = "0a1b2c3d".to_owned();
        for file in [
            MediaFile::LowLatencyPlaylist,
            MediaFile::ClassicPlaylist,
            MediaFile::Init { run: run.clone() },
            MediaFile::Segment {
                run: run.clone(),
                msn: 1_700_000_000,
            },
            MediaFile::Part {
                run,
                msn: 0,
                index: 3,
            },
        ] {
            assert_eq!(MediaFile::parse(&file.to_string()), Some(file));
        }
    }

    #[test]
    fn anything_else_is_no_file() {
        for name in [
            "index.m3u8",
            "v1.m3u8",
            "init-0A1B2C3D.mp4",
            "init-0a1b2c3.mp4",
            "seg-0a1b2c3d-+1.m4s",
            "seg-0a1b2c3d--1.m4s",
            "seg-0a1b2c3d-1.mp4",
            "seg-0a1b2c3d-123456789012345678901.m4s",
            "part-0a1b2c3d-1.m4s",
            "part-0a1b2c3d-1-2-3.m4s",
            "part-0a1b2c3d-1-.m4s",
            "0.ts",
            "",
        ] {
            assert_eq!(MediaFile::parse(name), None, "{name}");
        }
    }
}
