//! Live tests against the Debian mirror of the host's apt sources. Ignored by plain `cargo test`;
//! `bash tests/run` runs them (with `--run-ignored only`) when the mirror answers.

mod common;

use std::process::Command;

use common::{debroot, stderr, stdout};

#[test]
#[ignore = "live: needs the host's Debian mirror (bash tests/run runs it when reachable)"]
fn index_verifies_trixie_from_the_host_mirror() {
    let cache = tempfile::tempdir().unwrap();
    let root = common::repo_root();
    let output = debroot(
        &root,
        &[
            "index",
            "profiles/minbase.toml",
            "--format",
            "json",
            "--cache-dir",
            cache.path().to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let suites = summary["suites"].as_array().unwrap();
    let names: Vec<&str> = suites
        .iter()
        .map(|s| s["suite"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["trixie", "trixie-updates", "trixie-security"]);
    assert!(suites[0]["indexes"][0]["packages"].as_u64().unwrap() > 50_000);
    for suite in suites {
        // The InRelease debroot verified is the mirror's file, byte for byte (fetched again
        // independently with curl).
        let url = suite["source"].as_str().unwrap();
        let curl = Command::new("curl")
            .args(["-fsS", url])
            .output()
            .expect("curl runs");
        assert!(curl.status.success(), "curl {url}");
        assert_eq!(
            suite["inrelease_sha256"].as_str().unwrap(),
            common::repo::sha256_hex(&curl.stdout),
            "{url}"
        );
        assert!(!suite["signatures"].as_array().unwrap().is_empty());
    }
}
