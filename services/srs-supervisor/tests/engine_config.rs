//! The SRS config compose and Kubernetes mount is the one srs-supervisor
//! renders from `config/container.toml`, and real SRS accepts it (and the
//! child mode's) as valid.

use srs_supervisor::configuration::{self, Settings};
use srs_supervisor::engine::{child, srs_config};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    vibes_testkit::repo_root()
}

fn container_settings() -> Settings {
    let file = repo_root().join("services/srs-supervisor/config/container.toml");
    vibes_config::load_file_over_defaults(configuration::DEFAULTS, &file).unwrap()
}

/// `srs -t -c <file>`: SRS parses and checks the file as it would at start.
fn srs_accepts(config: &Path, work_dir: &Path) {
    let output = Command::new(vibes_testkit::engine_binary())
        .args(["-t", "-c"])
        .arg(config)
        .current_dir(work_dir)
        .output()
        .expect("SRS runs");
    let printed = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && printed.contains("test is successful"),
        "SRS refuses {}: {printed}",
        config.display()
    );
}

#[test]
fn compose_and_kubernetes_mount_the_rendered_container_config() {
    let settings = container_settings();
    settings.validate().unwrap();
    let rendered = srs_config::render(&settings.engine);
    let update = std::env::var_os("VIBES_UPDATE_GENERATED").is_some();
    for generated in ["compose/srs.conf", "k8s/base/srs.conf"] {
        let path = repo_root().join(generated);
        if update {
            std::fs::write(&path, &rendered).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == rendered,
            "{generated} is not what srs-supervisor renders from config/container.toml; \
             regenerate with VIBES_UPDATE_GENERATED=1 cargo test -p srs-supervisor --test engine_config"
        );
    }
    assert!(rendered.contains("listen              0.0.0.0:1935;"));
    assert!(rendered
        .contains("on_play         http://session-registry:3001/internal/engine-hooks/srs;"));
    assert!(rendered.contains("srs_log_tank        console;"));

    let work_dir = tempfile::tempdir().unwrap();
    let file = work_dir.path().join("container.conf");
    std::fs::write(&file, &rendered).unwrap();
    srs_accepts(&file, work_dir.path());
}

#[test]
fn the_child_modes_config_is_valid_srs() {
    let work_dir = tempfile::tempdir().unwrap();
    let mut engine = configuration::load().unwrap().engine;
    engine.work_dir = work_dir.path().to_path_buf();
    child::prepare(&engine).unwrap();
    srs_accepts(&work_dir.path().join(child::CONFIG_FILE), work_dir.path());
}
