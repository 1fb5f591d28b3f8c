//! CPU time and resident memory of processes, read from /proc.

use std::collections::HashSet;
use std::time::{Duration, Instant};

/// Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// A process and all its descendants, found through /proc/<pid>/task/*/children.
pub fn with_descendants(root: u32) -> Vec<u32> {
    let mut found = vec![root];
    let mut seen = HashSet::from([root]);
    let mut index = 0;
    while index < found.len() {
        let pid = found[index];
        index += 1;
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let Ok(children) = std::fs::read_to_string(task.path().join("children")) else {
                continue;
            };
            for child in children
                .split_whitespace()
                .filter_map(|child| child.parse().ok())
            {
                if seen.insert(child) {
                    found.push(child);
                }
            }
        }
    }
    found
}

/// utime + stime of a process in seconds (0 once it is gone).
pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name, which is in parentheses and may hold spaces.
    let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|field| field.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / TICKS_PER_SECOND
}

/// Proportional memory in kB (`Pss`): shared pages (ffmpeg's libraries) are
/// split between the processes that map them, so sums over many processes
/// are honest, unlike sums of RSS.
pub fn pss_kbytes(pid: u32) -> u64 {
    kbytes_line(&format!("/proc/{pid}/smaps_rollup"), "Pss:")
}

/// Resident memory in kB (`VmRSS`): shared pages (nginx's shared memory
/// zones, code) count in every process that maps them, so compare sums of
/// the same processes over time rather than across them.
pub fn rss_kbytes(pid: u32) -> u64 {
    kbytes_line(&format!("/proc/{pid}/status"), "VmRSS:")
}

/// The kB figure of the line starting with `label` in a /proc file (0 if
/// the process or the line is gone).
fn kbytes_line(path: &str, label: &str) -> u64 {
    let Ok(text) = std::fs::read_to_string(path) else {
        return 0;
    };
    text.lines()
        .find(|line| line.starts_with(label))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|value| value.parse().ok())
        .unwrap_or(0)
}

/// CPU used by `pids` between two samples, as a share of one core.
pub struct CpuWindow {
    started: Instant,
    cpu_at_start: f64,
}

impl CpuWindow {
    pub fn start(pids: &[u32]) -> Self {
        Self {
            started: Instant::now(),
            cpu_at_start: pids.iter().map(|pid| cpu_seconds(*pid)).sum(),
        }
    }

    /// Percent of one core used by `pids` since `start`.
    pub fn percent(&self, pids: &[u32]) -> (f64, Duration) {
        let used: f64 = pids.iter().map(|pid| cpu_seconds(*pid)).sum::<f64>() - self.cpu_at_start;
        let elapsed = self.started.elapsed();
        (100.0 * used / elapsed.as_secs_f64(), elapsed)
    }
}

/// The whole machine's busy time (all cores) between two samples of /proc/stat.
pub struct MachineWindow {
    busy_at_start: f64,
    total_at_start: f64,
}

impl MachineWindow {
    pub fn start() -> Self {
        let (busy, total) = machine_ticks();
        Self {
            busy_at_start: busy,
            total_at_start: total,
        }
    }

    /// Percent of all cores busy since `start` (with any other load on the machine).
    pub fn busy_percent(&self) -> f64 {
        let (busy, total) = machine_ticks();
        let total = total - self.total_at_start;
        if total <= 0.0 {
            return 0.0;
        }
        100.0 * (busy - self.busy_at_start) / total
    }
}

/// (busy, total) ticks of all cores: idle and iowait are not busy.
fn machine_ticks() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|field| field.parse().ok())
        .collect();
    let total: f64 = fields.iter().take(8).sum();
    let idle = fields.get(3).copied().unwrap_or(0.0) + fields.get(4).copied().unwrap_or(0.0);
    (total - idle, total)
}

/// This process's soft limit on open files.
pub fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}
