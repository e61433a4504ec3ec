//! The kiosk-sway profile built live from the host's Debian mirror, as root, to an OCI archive
//! twice (the archive, its manifest's digests and its provenance the same bytes), read by
//! `skopeo inspect`, and unpacked by `umoci unpack`, whose tree `debroot diff` finds equal to
//! the `.tar` build of the same lock. `bash tests/run` runs this when the mirror answers and it
//! runs as root.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::{debroot, stderr};

fn sha256_file(path: &Path) -> String {
    common::repo::sha256_hex(&std::fs::read(path).unwrap())
}

fn run(dir: &Path, program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e} (apt-get install {program})"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[ignore = "live: needs the host's Debian mirror, root, skopeo and umoci"]
fn kiosk_oci_archive_rebuilds_the_same_and_unpacks_to_the_tarball_tree() {
    assert!(
        rustix::process::geteuid().is_root(),
        "run as root (bash tests/run skips this group otherwise)"
    );
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let copy = Command::new("cp")
        .arg("-a")
        .arg(common::repo_root().join("profiles"))
        .arg(common::repo_root().join("hooks"))
        .arg(dir)
        .status()
        .unwrap();
    assert!(copy.success());
    for entry in std::fs::read_dir(dir.join("profiles")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "lock") {
            std::fs::remove_file(path).unwrap();
        }
    }
    // The kiosk tests' cache: the packages are downloaded once.
    let cache = std::env::temp_dir().join("debroot-live-kiosk-cache");
    let build = |output: &str, extra: &[&str]| {
        let mut args = vec![
            "build",
            "profiles/kiosk-sway.toml",
            "-o",
            output,
            "--mode",
            "root",
            "--cache-dir",
            cache.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let out = debroot(dir, &args, &[]);
        assert_eq!(out.status.code(), Some(0), "{output}: {}", stderr(&out));
    };
    build("a.oci.tar", &[]);
    std::fs::create_dir(dir.join("b")).unwrap();
    build("b/a.oci.tar", &["--frozen"]);
    build("k.tar", &["--frozen"]);
    for name in ["a.oci.tar", "a.oci.tar.provenance.json"] {
        assert_eq!(
            sha256_file(&dir.join(name)),
            sha256_file(&dir.join("b").join(name)),
            "{name}: two builds from one lock differ"
        );
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("a.oci.tar.manifest.json")).unwrap())
            .unwrap();
    let tar: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("k.tar.manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["tree_sha256"], tar["output_sha256"]);

    let inspected: serde_json::Value =
        serde_json::from_str(&run(dir, "skopeo", &["inspect", "oci-archive:a.oci.tar"])).unwrap();
    assert_eq!(inspected["Os"], "linux");
    assert_eq!(inspected["Layers"].as_array().unwrap().len(), 1);
    assert_eq!(
        inspected["Digest"], manifest["oci"]["manifest_digest"],
        "skopeo names the image by the manifest's digest"
    );
    run(
        dir,
        "skopeo",
        &["copy", "oci-archive:a.oci.tar", "oci:layout:latest"],
    );
    run(
        dir,
        "umoci",
        &["unpack", "--image", "layout:latest", "bundle"],
    );
    let diff = debroot(dir, &["diff", "k.tar", "bundle/rootfs"], &[]);
    assert_eq!(
        diff.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&diff.stdout),
        stderr(&diff)
    );
}
