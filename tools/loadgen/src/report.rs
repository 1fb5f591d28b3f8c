//! Each scenario leaves `<scenario>.json` and `<scenario>.md` in the output
//! folder; `scripts/bench` joins them into `bench/report.{md,json}`.

use serde::Serialize;
use std::error::Error;
use std::path::Path;

pub fn write(
    out: &Path,
    scenario: &str,
    report: &impl Serialize,
    markdown: &str,
) -> Result<(), Box<dyn Error>> {
    std::fs::create_dir_all(out)?;
    std::fs::write(
        out.join(format!("{scenario}.json")),
        serde_json::to_string_pretty(report)?,
    )?;
    std::fs::write(out.join(format!("{scenario}.md")), markdown)?;
    eprintln!("{scenario}: written to {}", out.display());
    Ok(())
}
