//! Validating SBOMs with tools that are not debroot's: `tests/sbom/validate.py` run in a
//! Python virtual environment (made once, in `target/sbom-tools`) holding spdx-tools (SPDX's
//! own Python library and validator), jsonschema and lib4sbom (for the official SPDX 2.3 and
//! CycloneDX 1.5 JSON schemas it ships). Making it needs PyPI, so only live tests use it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Pinned: a newer release could accept or refuse other documents.
const PACKAGES: &[&str] = &[
    "spdx-tools==0.8.5",
    "jsonschema==4.26.0",
    "lib4sbom==0.10.4",
];

fn venv() -> PathBuf {
    let dir = super::repo_root().join("target/sbom-tools");
    let python = dir.join("bin/python3");
    let stamp = dir.join("installed");
    let want = PACKAGES.join(" ");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(want.as_str()) {
        return python;
    }
    super::tools::require("python3");
    let _ = std::fs::remove_dir_all(&dir);
    let out = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&dir)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python3 -m venv (apt-get install python3-venv): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(PACKAGES)
        .output()
        .expect("pip runs");
    assert!(
        out.status.success(),
        "pip install {want}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&stamp, &want).unwrap();
    python
}

/// Validates `file` as `kind` (`spdx` or `cyclonedx`); panics with every problem found.
pub fn validate(kind: &str, file: &Path) {
    let script = super::repo_root().join("tests/sbom/validate.py");
    let out = Command::new(venv())
        .arg(script)
        .arg(kind)
        .arg(file)
        .output()
        .expect("the validator runs");
    assert!(
        out.status.success(),
        "{kind} validation of {} failed:\n{}{}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
