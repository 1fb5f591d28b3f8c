//! `--help` and `--version` for the service binaries.

use crate::{CONFIG_FILE_ENV, ENV_PREFIX};

/// What `--help` prints for a service binary.
pub struct Usage {
    pub name: &'static str,
    pub version: &'static str,
    pub about: &'static str,
    /// The service's compiled-in defaults, shown so operators see every key.
    pub defaults_toml: &'static str,
}

/// Handles `--help`/`-h` and `--version`/`-V` before a service starts.
/// Returns true when the process should exit (the flag was answered); any
/// other argument is an error, since settings come from files and env.
pub fn answer_command_line(usage: &Usage) -> Result<bool, String> {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    match arguments.first().map(String::as_str) {
        None => Ok(false),
        Some("--help" | "-h") => {
            print_quietly(&help_text(usage));
            Ok(true)
        }
        Some("--version" | "-V") => {
            print_quietly(&format!("{} {}", usage.name, usage.version));
            Ok(true)
        }
        Some(other) => Err(format!(
            "{}: unexpected argument {other:?}; try --help",
            usage.name
        )),
    }
}

/// Prints a line; a closed stdout (`--help | head`) is not an error worth a panic.
fn print_quietly(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{text}");
}

fn help_text(usage: &Usage) -> String {
    format!(
        "{name} {version}\n{about}\n\n\
         Usage: {name} [--help | --version]\n\n\
         Settings come from the defaults below, then the file named by {CONFIG_FILE_ENV},\n\
         then environment variables: {ENV_PREFIX}_<SECTION>__<KEY>, e.g. {ENV_PREFIX}_SERVER__PORT=8080.\n\n\
         Defaults:\n{defaults}",
        name = usage.name,
        version = usage.version,
        about = usage.about,
        defaults = usage.defaults_toml,
    )
}
