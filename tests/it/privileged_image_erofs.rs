//! The erofs writer read back by erofs-utils and by the kernel: the sample tree written as an
//! image, checked with `fsck.erofs`, loop-mounted and walked; the mounted nodes and contents
//! must equal the written ones. Needs root and loop devices.

use std::path::Path;
use std::process::Command;

use crate::common::images::{mounted_nodes, sample_tree};
use debroot::image::{Params, erofs};

const EPOCH: i64 = 1_700_000_000;

fn params() -> Params {
    Params {
        epoch: EPOCH,
        seed: [7; 32],
    }
}

/// The sample tree's image, written to `path`.
fn write_sample(path: &Path) {
    let (nodes, source) = sample_tree(EPOCH);
    let mut file = std::fs::File::create(path).unwrap();
    erofs::write(&nodes, &source, &params(), &mut file).unwrap();
}

#[test]
#[ignore = "privileged: needs root and loop devices"]
fn sample_tree_passes_fsck_and_mounts_as_written() {
    crate::common::tools::require("fsck.erofs");
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("sample.erofs");
    write_sample(&image);
    // `--extract` without a directory reads and checks every file's data too.
    let output = Command::new("fsck.erofs")
        .arg("--extract")
        .arg(&image)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "fsck.erofs: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let (nodes, source) = sample_tree(EPOCH);
    let (mounted, contents) = mounted_nodes(&image, "erofs", &dir.path().join("mnt"));
    for (written, read) in nodes.iter().zip(&mounted) {
        assert_eq!(written, read, "the node as written, then as mounted");
    }
    assert_eq!(nodes.len(), mounted.len(), "the number of nodes");
    assert_eq!(contents, source.0, "the contents of the files");
}

#[test]
#[ignore = "privileged: needs root and loop devices"]
fn sample_tree_image_is_the_same_twice() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (dir.path().join("1.erofs"), dir.path().join("2.erofs"));
    write_sample(&first);
    write_sample(&second);
    let (first, second) = (
        std::fs::read(first).unwrap(),
        std::fs::read(second).unwrap(),
    );
    assert_eq!(first.len() % 4096, 0, "a whole number of blocks");
    assert!(first == second, "the two images differ");
}
