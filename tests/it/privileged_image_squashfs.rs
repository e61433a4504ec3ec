//! The squashfs writer read back by squashfs-tools and by the kernel: `sample_tree` written,
//! listed and extracted with `unsquashfs`, loop-mounted and walked, and compared node for node
//! and byte for byte with what was written. Needs root and loop devices.

use std::path::Path;
use std::process::Command;

use debroot::output::{Node, NodeKind};

use crate::common::images::{MemSource, mounted_nodes, pattern, sample_tree};

const EPOCH: i64 = 1_700_000_000;

fn write_image(path: &Path) -> Vec<u8> {
    let (nodes, source) = sample_tree(EPOCH);
    write_nodes(&nodes, &source, path)
}

fn write_nodes(nodes: &[Node], source: &MemSource, path: &Path) -> Vec<u8> {
    let params = debroot::image::Params {
        epoch: EPOCH,
        seed: [3; 32],
    };
    let mut file = std::fs::File::create(path).unwrap();
    debroot::image::squashfs::write(nodes, source, &params, &mut file).unwrap();
    drop(file);
    std::fs::read(path).unwrap()
}

/// The nodes equal, the first that differs shown alone (a whole sample tree is too long to read).
fn assert_same(mounted: &[Node], nodes: &[Node]) {
    for (got, want) in mounted.iter().zip(nodes) {
        assert_eq!(got, want, "{}", String::from_utf8_lossy(&want.path));
    }
    assert_eq!(mounted.len(), nodes.len());
}

#[test]
#[ignore = "privileged: needs root and loop devices"]
fn unsquashfs_lists_and_extracts_every_path() {
    crate::common::tools::require("unsquashfs");
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("sample.sqfs");
    write_image(&image);
    let (nodes, _) = sample_tree(EPOCH);
    let listing = Command::new("unsquashfs")
        .args(["-lln", "-no-progress"])
        .arg(&image)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&listing.stdout);
    assert!(
        listing.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&listing.stderr)
    );
    let listed: std::collections::BTreeSet<&str> = text
        .lines()
        .filter_map(|line| line.split_once(" squashfs-root").map(|(_, rest)| rest))
        .map(|rest| rest.split(" -> ").next().unwrap_or(rest))
        .collect();
    for node in &nodes {
        let path = String::from_utf8_lossy(&node.path);
        let name = if path.is_empty() {
            String::new()
        } else {
            format!("/{path}")
        };
        assert!(listed.contains(name.as_str()), "{name} not listed:\n{text}");
    }
    assert!(text.contains("crw------- 0/0"), "{text}");
    // (unsquashfs 4.5's listing prints a device as the stored number's bits above and below
    // bit 8, so the wide one is not compared here; the extracted one is.)
    let extracted = dir.path().join("x");
    let output = Command::new("unsquashfs")
        .args(["-no-progress", "-d"])
        .arg(&extracted)
        .arg(&image)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let wide = std::fs::symlink_metadata(extracted.join("dev/wide")).unwrap();
    assert!(wide.file_type().is_char_device());
    let rdev = wide.rdev();
    let (major, minor) = (
        ((rdev >> 8) & 0xfff) | ((rdev >> 32) & !0xfff),
        (rdev & 0xff) | ((rdev >> 12) & !0xff),
    );
    assert_eq!((major, minor), (300, 70000));
    let (_, source) = sample_tree(EPOCH);
    for (path, data) in &source.0 {
        let path = extracted.join(String::from_utf8_lossy(path).as_ref());
        assert!(std::fs::read(&path).unwrap() == *data, "{}", path.display());
    }
}

#[test]
#[ignore = "privileged: needs root and loop devices"]
fn mounted_image_is_the_tree_written() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("sample.sqfs");
    write_image(&image);
    let (nodes, source) = sample_tree(EPOCH);
    let (mounted, contents) = mounted_nodes(&image, "squashfs", &dir.path().join("mnt"));
    assert_same(&mounted, &nodes);
    assert_eq!(contents, source.0);
}

#[test]
#[ignore = "privileged: needs root and loop devices"]
fn same_tree_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let first = write_image(&dir.path().join("1.sqfs"));
    let second = write_image(&dir.path().join("2.sqfs"));
    assert!(first == second, "two writes differ");
}

#[test]
#[ignore = "privileged: needs root and loop devices"]
fn files_sharing_data_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let (mut nodes, mut source) = sample_tree(EPOCH);
    // Copies of a file of blocks and a tail, of a small file, and of the zeros (sparse).
    for (copy, of) in [
        ("usr/bin/huge-copy", "usr/bin/huge"),
        ("usr/bin/wall-copy", "usr/bin/wall"),
        ("usr/zeros-copy", "usr/zeros"),
    ] {
        let mut node = nodes
            .iter()
            .find(|n| n.path == of.as_bytes())
            .unwrap()
            .clone();
        node.path = copy.as_bytes().to_vec();
        nodes.push(node);
        let data = source.0[of.as_bytes()].clone();
        source.0.insert(copy.as_bytes().to_vec(), data);
    }
    // And contents that only differ in their last byte.
    let mut near = pattern(3 * 131_072 + 4000, 2);
    *near.last_mut().unwrap() ^= 1;
    nodes.push(Node {
        path: b"usr/bin/huge-near".to_vec(),
        kind: NodeKind::File {
            size: near.len() as u64,
        },
        ..nodes[0].clone()
    });
    source.0.insert(b"usr/bin/huge-near".to_vec(), near);
    nodes.sort_by(|a, b| debroot::output::tree_order(&a.path, &b.path));
    let image = dir.path().join("dup.sqfs");
    write_nodes(&nodes, &source, &image);
    let (mounted, contents) = mounted_nodes(&image, "squashfs", &dir.path().join("mnt"));
    assert_same(&mounted, &nodes);
    assert_eq!(contents, source.0);
}

#[test]
#[ignore = "privileged: needs root and loop devices"]
fn xattrs_on_every_kind_of_inode_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let (mut nodes, source) = sample_tree(EPOCH);
    for node in &mut nodes {
        let value = node.path.clone();
        match node.kind {
            // user.* is for files and directories only; trusted.* goes anywhere.
            NodeKind::Dir => {
                node.xattrs.insert(b"user.dir".to_vec(), value);
            }
            NodeKind::File { .. } | NodeKind::Hardlink { .. } => {}
            _ => {
                node.xattrs.insert(b"trusted.kind".to_vec(), value);
            }
        }
    }
    let image = dir.path().join("xattrs.sqfs");
    write_nodes(&nodes, &source, &image);
    // The walker does not read a symlink's attributes: they are read here, from the mount.
    let mnt = dir.path().join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let status = Command::new("mount")
        .args(["-t", "squashfs", "-o", "ro,loop"])
        .arg(&image)
        .arg(&mnt)
        .status()
        .unwrap();
    assert!(status.success());
    let mut value = [0u8; 64];
    let read = rustix::fs::lgetxattr(mnt.join("etc/x"), "trusted.kind", &mut value[..]);
    let status = Command::new("umount").arg(&mnt).status().unwrap();
    assert!(status.success());
    assert_eq!(&value[..read.unwrap()], b"etc/x");
    for node in &mut nodes {
        if matches!(node.kind, NodeKind::Symlink { .. }) {
            node.xattrs.clear();
        }
    }
    let (mounted, contents) = mounted_nodes(&image, "squashfs", &mnt);
    assert_same(&mounted, &nodes);
    assert_eq!(contents, source.0);
}

#[test]
#[ignore = "privileged: needs root and loop devices"]
fn an_empty_root_reads_back() {
    crate::common::tools::require("unsquashfs");
    let dir = tempfile::tempdir().unwrap();
    let (nodes, source) = sample_tree(EPOCH);
    let root = vec![nodes[0].clone()];
    let image = dir.path().join("empty.sqfs");
    write_nodes(&root, &source, &image);
    let listing = Command::new("unsquashfs")
        .args(["-lln", "-no-progress"])
        .arg(&image)
        .output()
        .unwrap();
    assert!(
        listing.status.success(),
        "{}",
        String::from_utf8_lossy(&listing.stderr)
    );
    let (mounted, _) = mounted_nodes(&image, "squashfs", &dir.path().join("mnt"));
    assert_eq!(mounted, root);
}
