//! Hermetic tests of the ext4 writer: the bytes, not the kernel (the privileged integration
//! tests mount the image and run e2fsck).

use std::collections::BTreeMap;
use std::io::{self, Cursor, Read};

use super::*;

struct Files(BTreeMap<Vec<u8>, Vec<u8>>);

impl Source for Files {
    fn open(&self, path: &[u8]) -> io::Result<Box<dyn Read + '_>> {
        let data = self
            .0
            .get(path)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))?;
        Ok(Box::new(&data[..]))
    }
}

const EPOCH: i64 = 1_700_000_000;

fn params() -> Params {
    Params {
        epoch: EPOCH,
        seed: [7; 32],
    }
}

fn node(path: &str, kind: NodeKind) -> Node {
    Node {
        path: path.as_bytes().to_vec(),
        kind,
        mode: 0o755,
        uid: 0,
        gid: 0,
        mtime: EPOCH - 10,
        xattrs: BTreeMap::new(),
    }
}

fn tree() -> (Vec<Node>, Files) {
    let data = (0..20_000u32).map(|i| (i % 251) as u8).collect::<Vec<u8>>();
    let mut files = BTreeMap::new();
    files.insert(b"bin/tool".to_vec(), data.clone());
    let mut tool = node(
        "bin/tool",
        NodeKind::File {
            size: data.len() as u64,
        },
    );
    tool.xattrs
        .insert(b"security.capability".to_vec(), vec![1, 0, 0, 2]);
    let nodes = vec![
        node("", NodeKind::Dir),
        node("bin", NodeKind::Dir),
        tool,
        node(
            "bin/tool2",
            NodeKind::Hardlink {
                target: b"bin/tool".to_vec(),
            },
        ),
        node(
            "link",
            NodeKind::Symlink {
                target: b"bin/tool".to_vec(),
            },
        ),
    ];
    (nodes, Files(files))
}

fn image(nodes: &[Node], files: &Files) -> Result<Vec<u8>, ImageError> {
    let mut out = Cursor::new(Vec::new());
    write(nodes, files, &params(), &mut out)?;
    Ok(out.into_inner())
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

#[test]
fn same_nodes_same_bytes() {
    let (nodes, files) = tree();
    let first = image(&nodes, &files).unwrap();
    let second = image(&nodes, &files).unwrap();
    assert!(first == second);
}

#[test]
fn superblock_says_what_was_laid_out() {
    let (nodes, files) = tree();
    let bytes = image(&nodes, &files).unwrap();
    let sb = &bytes[1024..2048];
    assert_eq!(u16_at(sb, 0x38), 0xEF53);
    assert_eq!(u64::from(u32_at(sb, 0x04)) * 4096, bytes.len() as u64);
    assert_eq!(u32_at(sb, 0x18), 2); // 4 KiB blocks
    assert_eq!(u32_at(sb, 0x20), 32768);
    assert_eq!(u16_at(sb, 0x58), 256);
    assert_eq!(u32_at(sb, 0x54), 11);
    assert_eq!(u32_at(sb, 0xE0), 8); // the journal
    // Inodes 1-11 reserved and lost+found, then bin, tool, link: 14 used.
    assert_eq!(u32_at(sb, 0x00) - u32_at(sb, 0x10), 14);
    for time in [0x30, 0x40, 0x108] {
        assert_eq!(i64::from(u32_at(sb, time)), EPOCH);
    }
    assert_eq!(u32_at(sb, 0x2C), 0); // never mounted
    assert_eq!(u16_at(sb, 0x34), 0);
    assert_eq!(&sb[0x68..0x78], &params().uuid("ext4"));
    assert_eq!(&sb[0xEC..0xFC], &params().uuid("ext4 hash seed"));
    assert_eq!(u32_at(sb, 0x5C), 0x4 | 0x8);
    assert_eq!(u32_at(sb, 0x60), 0x2 | 0x40);
    assert_eq!(u32_at(sb, 0x64), 0x1 | 0x2 | 0x8 | 0x20 | 0x40);
}

#[test]
fn hard_link_to_unknown_path_is_an_error() {
    let (mut nodes, files) = tree();
    nodes[3].kind = NodeKind::Hardlink {
        target: b"bin/none".to_vec(),
    };
    let err = image(&nodes, &files).unwrap_err();
    assert!(matches!(err, ImageError::Malformed { ref path, .. } if path == b"bin/tool2"));
}

#[test]
fn source_short_or_long_of_the_size_is_a_read_error() {
    for size in [30_000, 10_000] {
        let (mut nodes, files) = tree();
        nodes[2].kind = NodeKind::File { size };
        let err = image(&nodes, &files).unwrap_err();
        assert!(
            matches!(err, ImageError::Read { ref path, .. } if path == b"bin/tool"),
            "{err}"
        );
    }
}

#[test]
fn malformed_trees_are_errors() {
    let (nodes, files) = tree();
    assert!(image(&nodes[1..], &files).is_err());
    assert!(image(&[], &files).is_err());
    let mut orphan = nodes.clone();
    orphan.push(node("nowhere/x", NodeKind::Fifo));
    assert!(image(&orphan, &files).is_err());
    let mut long = nodes.clone();
    long.push(node(&"n".repeat(256), NodeKind::Fifo));
    assert!(matches!(
        image(&long, &files).unwrap_err(),
        ImageError::Unsupported { .. }
    ));
    let mut lost = nodes;
    lost.push(node("lost+found", NodeKind::Fifo));
    assert!(image(&lost, &files).is_err());
}

#[test]
fn times_out_of_range_are_unsupported() {
    let (mut nodes, files) = tree();
    nodes[1].mtime = i64::MIN;
    assert!(matches!(
        image(&nodes, &files).unwrap_err(),
        ImageError::Unsupported { ref path, .. } if path == b"bin"
    ));
}
