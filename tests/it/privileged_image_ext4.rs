//! The ext4 writer against the real thing: `e2fsck -fn` finds nothing to fix, and the kernel's
//! ext4 driver reads back every node, attribute and byte of the sample tree. Needs root (loop
//! mounts) and e2fsprogs.

use std::path::Path;
use std::process::Command;

use crate::common::images::{mounted_nodes, sample_tree};

const EPOCH: i64 = 1_700_000_000;

fn params() -> debroot::image::Params {
    debroot::image::Params {
        epoch: EPOCH,
        seed: [42; 32],
    }
}

/// Writes the sample tree as an ext4 image at `path`.
fn write_sample(path: &Path) {
    let (nodes, source) = sample_tree(EPOCH);
    let mut file = std::fs::File::create(path).unwrap();
    debroot::image::ext4::write(&nodes, &source, &params(), &mut file).unwrap();
}

#[test]
#[ignore = "privileged: needs root and loop devices"]
fn sample_tree_passes_e2fsck_and_mounts_as_written() {
    crate::common::tools::require("e2fsck");
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("sample.ext4");
    write_sample(&image);
    let fsck = Command::new("e2fsck")
        .args(["-fn"])
        .arg(&image)
        .output()
        .unwrap();
    assert!(
        fsck.status.success(),
        "e2fsck -fn: {}\n{}",
        String::from_utf8_lossy(&fsck.stdout),
        String::from_utf8_lossy(&fsck.stderr)
    );
    let (nodes, source) = sample_tree(EPOCH);
    let (mounted, contents) = mounted_nodes(&image, "ext4", &dir.path().join("mnt"));
    let mounted: Vec<_> = mounted
        .into_iter()
        .filter(|n| n.path != b"lost+found" && !n.path.starts_with(b"lost+found/"))
        .collect();
    assert_eq!(mounted.len(), nodes.len());
    for (got, want) in mounted.iter().zip(&nodes) {
        assert_eq!(got, want);
    }
    assert_eq!(contents.len(), source.0.len());
    for (path, data) in &source.0 {
        assert!(contents.get(path) == Some(data), "contents of {path:?}");
    }
}

#[test]
#[ignore = "privileged: needs root and loop devices"]
fn sample_tree_image_is_reproducible() {
    crate::common::tools::require("e2fsck");
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (dir.path().join("1.ext4"), dir.path().join("2.ext4"));
    write_sample(&first);
    write_sample(&second);
    assert!(std::fs::read(&first).unwrap() == std::fs::read(&second).unwrap());
}

/// A file of zeros after a few bytes, read without holding it in memory.
struct Sparse {
    size: u64,
}

impl debroot::image::Source for Sparse {
    fn open(&self, _path: &[u8]) -> std::io::Result<Box<dyn std::io::Read + '_>> {
        use std::io::Read;
        let zeros = std::io::repeat(0).take(self.size - 4);
        Ok(Box::new(std::io::Cursor::new(b"head").chain(zeros)))
    }
}

/// A file across more than four groups has more than four extents: a depth-1 extent tree,
/// with its leaf block, which e2fsck checks and the kernel reads.
#[test]
#[ignore = "privileged: needs root and loop devices"]
fn file_in_many_extents_has_an_extent_tree() {
    crate::common::tools::require("e2fsck");
    use debroot::output::{Node, NodeKind};
    let size = 5 * 128 * 1024 * 1024 + 12345;
    let node = |path: &str, kind| Node {
        path: path.as_bytes().to_vec(),
        kind,
        mode: 0o644,
        uid: 0,
        gid: 0,
        mtime: EPOCH,
        xattrs: Default::default(),
    };
    let nodes = vec![
        node("", NodeKind::Dir),
        node("big", NodeKind::File { size }),
    ];
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("big.ext4");
    let mut file = std::fs::File::create(&image).unwrap();
    debroot::image::ext4::write(&nodes, &Sparse { size }, &params(), &mut file).unwrap();
    drop(file);
    let fsck = Command::new("e2fsck")
        .arg("-fn")
        .arg(&image)
        .output()
        .unwrap();
    assert!(
        fsck.status.success(),
        "e2fsck -fn: {}",
        String::from_utf8_lossy(&fsck.stdout)
    );
    let (mounted, contents) = mounted_nodes(&image, "ext4", &dir.path().join("mnt"));
    assert!(mounted.iter().any(|n| n == &nodes[1]));
    let data = &contents[&b"big".to_vec()];
    assert_eq!(data.len() as u64, size);
    assert_eq!(&data[..4], b"head");
    assert!(data[4..].iter().all(|&b| b == 0));
}

/// A POSIX ACL in the `getxattr` form: owner rwx, user 1000 r-x, group r-x, mask r-x, other
/// nothing (the kernel's order, ids of the short entries undefined).
fn acl() -> Vec<u8> {
    let mut acl = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in [
        (1u16, 7u16, u32::MAX),
        (2, 5, 1000),
        (4, 5, u32::MAX),
        (0x10, 5, u32::MAX),
        (0x20, 0, u32::MAX),
    ] {
        acl.extend_from_slice(&tag.to_le_bytes());
        acl.extend_from_slice(&perm.to_le_bytes());
        acl.extend_from_slice(&id.to_le_bytes());
    }
    acl
}

/// The corners the sample tree leaves out: the tree's own `lost+found` (with a file in it),
/// owners past 16 bits, POSIX ACLs, times after 2038 and before 1970, attributes that overflow
/// the inode into the attribute block.
#[test]
#[ignore = "privileged: needs root and loop devices"]
fn own_lost_found_acls_wide_owners_and_far_times() {
    crate::common::tools::require("e2fsck");
    use std::collections::BTreeMap;

    use debroot::output::{Node, NodeKind};
    let node = |path: &str, kind, mode, owner: u32, mtime| Node {
        path: path.as_bytes().to_vec(),
        kind,
        mode,
        uid: owner,
        gid: owner + 1,
        mtime,
        xattrs: BTreeMap::new(),
    };
    let mut data = node("data", NodeKind::Dir, 0o750, 100_000, EPOCH);
    data.xattrs
        .insert(b"system.posix_acl_access".to_vec(), acl());
    data.xattrs
        .insert(b"system.posix_acl_default".to_vec(), acl());
    let mut future = node(
        "data/future",
        NodeKind::File { size: 10 },
        0o640,
        70_000,
        4_102_444_800,
    );
    for i in 0..10 {
        future
            .xattrs
            .insert(format!("user.attr{i}").into_bytes(), vec![b'a' + i; 40]);
    }
    let mut nodes = vec![
        node("", NodeKind::Dir, 0o755, 0, EPOCH),
        data,
        future,
        node("lost+found", NodeKind::Dir, 0o700, 0, EPOCH - 50),
        node(
            "lost+found/old",
            NodeKind::File { size: 3 },
            0o600,
            0,
            -1_000_000,
        ),
    ];
    nodes.sort_by(|a, b| debroot::output::tree_order(&a.path, &b.path));
    let mut files = BTreeMap::new();
    files.insert(b"data/future".to_vec(), b"0123456789".to_vec());
    files.insert(b"lost+found/old".to_vec(), b"old".to_vec());
    let source = crate::common::images::MemSource(files);
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("corners.ext4");
    let mut file = std::fs::File::create(&image).unwrap();
    debroot::image::ext4::write(&nodes, &source, &params(), &mut file).unwrap();
    drop(file);
    let fsck = Command::new("e2fsck")
        .arg("-fn")
        .arg(&image)
        .output()
        .unwrap();
    assert!(
        fsck.status.success(),
        "e2fsck -fn: {}",
        String::from_utf8_lossy(&fsck.stdout)
    );
    let (mounted, contents) = mounted_nodes(&image, "ext4", &dir.path().join("mnt"));
    assert_eq!(mounted, nodes);
    assert_eq!(contents, source.0);
}
