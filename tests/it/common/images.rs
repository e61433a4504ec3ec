//! A sample tree for the image writers (every kind of node and the corners of each format) and
//! an image read back by the kernel: loop-mounted read-only and walked into nodes again.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::Path;
use std::process::Command;

use debroot::output::{Node, NodeKind};

/// File contents by path: the [`debroot::image::Source`] of a sample tree.
pub struct MemSource(pub BTreeMap<Vec<u8>, Vec<u8>>);

impl debroot::image::Source for MemSource {
    fn open(&self, path: &[u8]) -> io::Result<Box<dyn Read + '_>> {
        let data = self
            .0
            .get(path)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such sample file"))?;
        Ok(Box::new(&data[..]))
    }
}

/// Deterministic bytes that compress somewhat, `len` of them.
pub fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            if i % 7 < 3 {
                b'a' + (i % 26) as u8
            } else {
                state as u8
            }
        })
        .collect()
}

/// A tree with every kind of node: directories (one with 600 entries, a deep chain), files of
/// 0 bytes, a few bytes, exactly one block, several blocks plus a tail and 300 KiB of zeros,
/// setuid/setgid/sticky modes, owners other than root, `security.capability` and `user.*`
/// extended attributes (one large), short and long symlinks, hard links (three names for one
/// file), character and block devices, a FIFO, and names of 1 and 255 bytes.
pub fn sample_tree(epoch: i64) -> (Vec<Node>, MemSource) {
    let mut nodes = Vec::new();
    let mut files = BTreeMap::new();
    let node = |path: &str, kind: NodeKind, mode: u32, uid: u32, gid: u32, mtime: i64| Node {
        path: path.as_bytes().to_vec(),
        kind,
        mode,
        uid,
        gid,
        mtime,
        xattrs: BTreeMap::new(),
    };
    let mut file =
        |nodes: &mut Vec<Node>, path: &str, data: Vec<u8>, mode: u32, owner: (u32, u32)| {
            nodes.push(node(
                path,
                NodeKind::File {
                    size: data.len() as u64,
                },
                mode,
                owner.0,
                owner.1,
                epoch - 100,
            ));
            files.insert(path.as_bytes().to_vec(), data);
        };
    nodes.push(node("", NodeKind::Dir, 0o755, 0, 0, epoch));
    nodes.push(node("a", NodeKind::Dir, 0o755, 0, 0, epoch - 5));
    file(&mut nodes, "a/b", b"b\n".to_vec(), 0o644, (0, 0));
    nodes.push(node("big", NodeKind::Dir, 0o755, 0, 0, epoch));
    let mut names: Vec<String> = (0..600)
        .map(|i| format!("entry-{i:04}-{}", "x".repeat(i % 40)))
        .collect();
    names.sort();
    for (i, name) in names.iter().enumerate() {
        file(
            &mut nodes,
            &format!("big/{name}"),
            pattern(i % 50, i as u32),
            0o644,
            (0, 0),
        );
    }
    nodes.push(node("deep", NodeKind::Dir, 0o700, 1000, 1000, epoch - 1));
    let mut path = String::from("deep");
    for level in 0..20 {
        path.push_str(&format!("/d{level}"));
        nodes.push(node(&path, NodeKind::Dir, 0o755, 1000, 1000, epoch - 2));
    }
    file(
        &mut nodes,
        &format!("{path}/leaf"),
        b"leaf".to_vec(),
        0o600,
        (1000, 1000),
    );
    nodes.push(node("dev", NodeKind::Dir, 0o755, 0, 0, epoch));
    nodes.push(node("dev/fifo", NodeKind::Fifo, 0o644, 0, 0, epoch));
    nodes.push(node(
        "dev/loop0",
        NodeKind::BlockDevice { major: 7, minor: 0 },
        0o660,
        0,
        6,
        epoch,
    ));
    nodes.push(node(
        "dev/null",
        NodeKind::CharDevice { major: 1, minor: 3 },
        0o666,
        0,
        0,
        epoch,
    ));
    nodes.push(node(
        "dev/tty1",
        NodeKind::CharDevice { major: 4, minor: 1 },
        0o620,
        0,
        5,
        epoch,
    ));
    nodes.push(node(
        "dev/wide",
        NodeKind::CharDevice {
            major: 300,
            minor: 70000,
        },
        0o600,
        0,
        0,
        epoch,
    ));
    nodes.push(node("etc", NodeKind::Dir, 0o755, 0, 0, epoch));
    file(&mut nodes, "etc/empty", Vec::new(), 0o644, (0, 0));
    file(
        &mut nodes,
        "etc/shadow",
        b"root:*:1::::::\n".to_vec(),
        0o640,
        (0, 42),
    );
    nodes.push(node(
        "etc/x",
        NodeKind::Symlink {
            target: b"../usr/bin/ping".to_vec(),
        },
        0o777,
        0,
        0,
        epoch,
    ));
    nodes.push(node(
        "long",
        NodeKind::Symlink {
            target: format!("/{}", "t/".repeat(300)).into_bytes(),
        },
        0o777,
        0,
        0,
        epoch,
    ));
    nodes.push(node(&"n".repeat(255), NodeKind::Dir, 0o755, 0, 0, epoch));
    nodes.push(node("tmp", NodeKind::Dir, 0o1777, 0, 0, epoch));
    nodes.push(node("usr", NodeKind::Dir, 0o755, 0, 0, epoch));
    nodes.push(node("usr/bin", NodeKind::Dir, 0o755, 0, 0, epoch));
    file(&mut nodes, "usr/bin/block", pattern(4096, 1), 0o755, (0, 0));
    file(
        &mut nodes,
        "usr/bin/huge",
        pattern(3 * 131_072 + 4000, 2),
        0o755,
        (0, 0),
    );
    file(
        &mut nodes,
        "usr/bin/passwd",
        pattern(5000, 3),
        0o4755,
        (0, 0),
    );
    file(&mut nodes, "usr/bin/ping", pattern(7000, 4), 0o755, (0, 0));
    if let Some(ping) = nodes.last_mut() {
        ping.xattrs.insert(
            b"security.capability".to_vec(),
            vec![1, 0, 0, 2, 0, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        );
        ping.xattrs
            .insert(b"user.note".to_vec(), b"pinged".to_vec());
    }
    file(&mut nodes, "usr/bin/same", pattern(9000, 5), 0o755, (0, 0));
    nodes.push(node(
        "usr/bin/same2",
        NodeKind::Hardlink {
            target: b"usr/bin/same".to_vec(),
        },
        0o755,
        0,
        0,
        epoch - 100,
    ));
    nodes.push(node(
        "usr/bin/same3",
        NodeKind::Hardlink {
            target: b"usr/bin/same".to_vec(),
        },
        0o755,
        0,
        0,
        epoch - 100,
    ));
    file(&mut nodes, "usr/bin/wall", pattern(300, 6), 0o2755, (0, 5));
    file(
        &mut nodes,
        "usr/bin/x",
        b"#!/bin/sh\n".to_vec(),
        0o755,
        (0, 0),
    );
    if let Some(x) = nodes.last_mut() {
        x.xattrs.insert(b"user.large".to_vec(), pattern(3000, 9));
        x.xattrs.insert(b"trusted.t".to_vec(), b"1".to_vec());
    }
    file(
        &mut nodes,
        "usr/zeros",
        vec![0u8; 300 * 1024],
        0o644,
        (0, 0),
    );
    nodes.push(node("z", NodeKind::Dir, 0o755, 0, 0, epoch));
    nodes.sort_by(|a, b| debroot::output::tree_order(&a.path, &b.path));
    (nodes, MemSource(files))
}

/// The nodes of `image` as the kernel reads it, and the contents of its regular files:
/// loop-mounted read-only as `fstype` under `mountpoint`, walked with debroot's own walker
/// (owners as on disk), then unmounted. Needs root.
pub fn mounted_nodes(
    image: &Path,
    fstype: &str,
    mountpoint: &Path,
) -> (Vec<Node>, BTreeMap<Vec<u8>, Vec<u8>>) {
    std::fs::create_dir_all(mountpoint).unwrap();
    let status = Command::new("mount")
        .args(["-t", fstype, "-o", "ro,loop"])
        .arg(image)
        .arg(mountpoint)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "mount -t {fstype} {} failed",
        image.display()
    );
    let walked = debroot::output::walk(mountpoint, &debroot::output::OnDisk).map(|nodes| {
        let data = contents(mountpoint, &nodes);
        (nodes, data)
    });
    let status = Command::new("umount").arg(mountpoint).status().unwrap();
    assert!(status.success(), "umount {}", mountpoint.display());
    walked.unwrap()
}

/// The contents of every regular file under `root`, by path relative to it.
pub fn contents(root: &Path, nodes: &[Node]) -> BTreeMap<Vec<u8>, Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    nodes
        .iter()
        .filter(|n| matches!(n.kind, NodeKind::File { .. }))
        .map(|n| {
            let data = std::fs::read(root.join(std::ffi::OsStr::from_bytes(&n.path))).unwrap();
            (n.path.clone(), data)
        })
        .collect()
}

/// Whether `tool` runs (`tool --help` or `-V` answers at all).
pub fn have(tool: &str) -> bool {
    Command::new(tool).arg("-V").output().is_ok()
}
