//! The ext4 writer: a whole image from the nodes, without `mke2fs`.
//!
//! Debian stable's `mke2fs` cannot make a reproducible image (change and creation times from
//! the clock, inodes in `readdir` order), so debroot lays the filesystem out itself, the way a
//! fresh `mke2fs -t ext4` would but with every byte following from the nodes and [`Params`]:
//!
//! - 4 KiB blocks, 256-byte inodes (32 extra bytes: creation time, the epoch bits of times after
//!   2038), 32768 blocks per group, no `flex_bg`, `resize_inode`, `metadata_csum` or
//!   `dir_index`. Features: `has_journal`, `ext_attr`; `filetype`, `extents`; `sparse_super`,
//!   `large_file`, `huge_file`, `dir_nlink`, `extra_isize`.
//! - Each group starts with its metadata ([`layout`]): superblock backup and descriptor table
//!   (groups 0, 1 and powers of 3, 5, 7), block bitmap, inode bitmap, inode table.
//! - Inodes: 1 to 10 reserved as `mke2fs` leaves them (2 the root, 8 the journal, the others
//!   zero), 11 `lost+found` (the tree's own if it has one, else an empty one, mode 0700, four
//!   blocks as `mke2fs` makes it), then the tree's other nodes from 12 on, in node order; a hard
//!   link shares its target's inode.
//! - Data blocks are handed out in order from group 0: the journal (jbd2 v2, empty, sized by
//!   e2fsprogs' rule for the tree's size), then each inode's blocks in node order (contents,
//!   extent leaf blocks when a file has more than 4 extents, the extended attribute block).
//!   Every file is contiguous but for the group metadata it crosses.
//! - Directories are linear blocks of `ext4_dir_entry_2`: `.`, `..`, then the entries by name.
//! - Every time is fixed: inode times are the node's mtime (nanoseconds zero), the superblock's
//!   creation, write and check times are `params.epoch`, it was never mounted. The UUID and the
//!   directory hash seed come from `params`.
//!
//! Regular files are streamed from the [`Source`] straight into place; all-zero blocks are
//! skipped (seeked over), so `out` must start empty (a new file): they read back as zeros.
//!
//! Refused as [`ImageError::Unsupported`], naming the node: names over 255 bytes, symlink
//! targets over 4095 bytes (or empty, or with a NUL), device numbers past a 12-bit major and a
//! 20-bit minor, times before 1901 or after 2446 (an epoch before 1970), more than 65000 links
//! to a file, extended attributes in a namespace ext4 lacks or too large for the inode and one
//! block together, files in more than 1360 extents (about 170 GiB), images of 16 TiB or more.

mod encode;
mod layout;
mod xattr;

use std::io::{self, Read, Seek, SeekFrom, Write};

use super::{ImageError, Params, Source};
use crate::output::{Node, NodeKind};
use encode::{
    Entry, INODE_EXTENTS, LEAF_EXTENTS, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG,
};
use layout::{Allocator, BLOCK, BLOCKS_PER_GROUP, Geometry, Run};

const ROOT_INO: u32 = 2;
const JOURNAL_INO: u32 = 8;
/// The first inode not reserved: `lost+found`.
const FIRST_INO: u32 = 11;
const LOST_FOUND: &[u8] = b"lost+found";
/// `lost+found`'s size in blocks, as `mke2fs` makes it (room for e2fsck to reconnect files).
const LOST_FOUND_BLOCKS: u64 = 4;
/// The most links an inode counts; a directory with more subdirectories says 1 (`dir_nlink`).
const MAX_LINKS: u32 = 65000;
/// Without the `64bit` feature a block number has 32 bits.
const MAX_GROUPS: u32 = ((1u64 << 32) / BLOCKS_PER_GROUP - 1) as u32;
/// The smallest data area of the last group (as `mke2fs`, which drops a shorter last group).
const MIN_LAST_GROUP_DATA: u64 = 64;
/// Blocks read from a source at once.
const CHUNK_BLOCKS: u64 = 256;

/// Writes `nodes` as an ext4 image to `out`, which must be empty (holes are left unwritten).
pub fn write<W: Write + Seek>(
    nodes: &[Node],
    source: &dyn Source,
    params: &Params,
    out: &mut W,
) -> Result<(), ImageError> {
    let root = nodes.first().map(|n| n.path.clone()).unwrap_or_default();
    let epoch = u64::try_from(params.epoch)
        .ok()
        .filter(|e| *e < 1 << 40)
        .zip(encode::inode_time(params.epoch))
        .ok_or_else(|| ImageError::Unsupported {
            path: root.clone(),
            reason: format!("the epoch {} does not fit ext4's times", params.epoch),
        })?;
    let mut inodes = collect(nodes, epoch.1)?;
    let data: u64 = inodes.iter().map(Inode::blocks).sum();
    inodes.insert(0, journal(journal_blocks(data), epoch.1, params));
    let (geometry, placed, next) = lay_out(&inodes, &root)?;
    let image = Image {
        geometry,
        inodes: &inodes,
        placed: &placed,
        next,
        last_ino: inodes.iter().map(|i| i.ino).max().unwrap_or(FIRST_INO),
    };
    let mut out = Out { w: out, end: 0 };
    image.write_metadata(&mut out, epoch.0, params)?;
    image.write_data(&mut out, source)?;
    out.finish(geometry.blocks_count * BLOCK)
}

/// What an inode holds besides its metadata.
enum Body {
    /// Nothing: a FIFO.
    Empty,
    /// `i_block` itself: a short symlink's target (`size` bytes), a device number.
    Inline { bytes: [u8; 60], size: u64 },
    /// A regular file's contents, `size` bytes read from the source when written.
    File { size: u64 },
    /// Contents made here (a directory, a long symlink's target, the journal), `size` bytes of
    /// which `bytes` are the first (the rest zeros).
    Built { bytes: Vec<u8>, size: u64 },
}

/// An inode to write.
struct Inode<'a> {
    ino: u32,
    /// The node's path, for errors and to read a file's contents.
    path: &'a [u8],
    /// Type and permission bits.
    mode: u16,
    uid: u32,
    gid: u32,
    time: (u32, u32),
    links: u16,
    body: Body,
    xattrs: xattr::Encoded,
}

impl Inode<'_> {
    fn size(&self) -> u64 {
        match &self.body {
            Body::Empty => 0,
            Body::Inline { size, .. } | Body::File { size } | Body::Built { size, .. } => *size,
        }
    }

    /// Blocks of contents and extended attributes (extent leaves not counted).
    fn blocks(&self) -> u64 {
        let contents = match &self.body {
            Body::File { size } | Body::Built { size, .. } => size.div_ceil(BLOCK),
            Body::Empty | Body::Inline { .. } => 0,
        };
        contents + u64::from(self.xattrs.block.is_some())
    }
}

/// Where an inode's blocks went.
struct Placed {
    runs: Vec<Run>,
    leaves: Vec<u64>,
    xattr_block: Option<u64>,
}

impl Placed {
    fn blocks(&self) -> u64 {
        self.runs.iter().map(|r| r.len).sum::<u64>()
            + self.leaves.len() as u64
            + u64::from(self.xattr_block.is_some())
    }
}

fn malformed(path: &[u8], reason: impl Into<String>) -> ImageError {
    ImageError::Malformed {
        path: path.to_vec(),
        reason: reason.into(),
    }
}

fn unsupported(path: &[u8], reason: impl Into<String>) -> ImageError {
    ImageError::Unsupported {
        path: path.to_vec(),
        reason: reason.into(),
    }
}

/// A path's parent and last component.
fn split_path(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&c| c == b'/') {
        Some(slash) => (
            path.get(..slash).unwrap_or_default(),
            path.get(slash + 1..).unwrap_or_default(),
        ),
        None => (b"", path),
    }
}

/// Inode numbers and parents of the nodes, checked.
struct Numbering {
    /// Each node's inode (a hard link its target's).
    ino: Vec<u32>,
    /// Each node's parent (the root its own).
    parent: Vec<usize>,
    last_ino: u32,
    /// Whether the tree has its own `lost+found`.
    own_lost_found: bool,
}

fn number(nodes: &[Node]) -> Result<Numbering, ImageError> {
    if nodes.is_empty() {
        return Err(malformed(b"", "no nodes, not even the root"));
    }
    let mut by_path = std::collections::BTreeMap::new();
    let mut numbering = Numbering {
        ino: Vec::with_capacity(nodes.len()),
        parent: Vec::with_capacity(nodes.len()),
        last_ino: FIRST_INO,
        own_lost_found: false,
    };
    for (index, node) in nodes.iter().enumerate() {
        let (ino, parent) = if index == 0 {
            if !node.path.is_empty() || node.kind != NodeKind::Dir {
                return Err(malformed(
                    &node.path,
                    "the first node is not the root directory",
                ));
            }
            (ROOT_INO, 0)
        } else {
            let (parent_path, name) = split_path(&node.path);
            check_name(&node.path, name)?;
            let parent: usize = *by_path
                .get(parent_path)
                .ok_or_else(|| malformed(&node.path, "its directory is not an earlier node"))?;
            if !matches!(nodes.get(parent).map(|p| &p.kind), Some(NodeKind::Dir)) {
                return Err(malformed(&node.path, "its parent is not a directory"));
            }
            (number_node(nodes, node, &by_path, &mut numbering)?, parent)
        };
        if by_path.insert(node.path.as_slice(), index).is_some() {
            return Err(malformed(&node.path, "the path appears twice"));
        }
        numbering.ino.push(ino);
        numbering.parent.push(parent);
    }
    Ok(numbering)
}

/// The inode of a node other than the root.
fn number_node(
    nodes: &[Node],
    node: &Node,
    by_path: &std::collections::BTreeMap<&[u8], usize>,
    numbering: &mut Numbering,
) -> Result<u32, ImageError> {
    if let NodeKind::Hardlink { target } = &node.kind {
        let index = by_path
            .get(target.as_slice())
            .copied()
            .ok_or_else(|| malformed(&node.path, "a hard link to a path not seen before"))?;
        if !matches!(
            nodes.get(index).map(|n| &n.kind),
            Some(NodeKind::File { .. })
        ) {
            return Err(malformed(&node.path, "a hard link to a non-regular file"));
        }
        return numbering
            .ino
            .get(index)
            .copied()
            .ok_or_else(|| malformed(&node.path, "a hard link to a path not seen before"));
    }
    if node.path == LOST_FOUND {
        if node.kind != NodeKind::Dir {
            return Err(unsupported(
                &node.path,
                "ext4's lost+found must be a directory",
            ));
        }
        numbering.own_lost_found = true;
        return Ok(FIRST_INO);
    }
    numbering.last_ino = numbering
        .last_ino
        .checked_add(1)
        .ok_or_else(|| unsupported(&node.path, "too many inodes"))?;
    Ok(numbering.last_ino)
}

fn check_name(path: &[u8], name: &[u8]) -> Result<(), ImageError> {
    if name.is_empty() || name == b"." || name == b".." || name.contains(&0) {
        return Err(malformed(path, "not a valid file name"));
    }
    if name.len() > 255 {
        return Err(unsupported(path, "a name longer than 255 bytes"));
    }
    Ok(())
}

/// The inode type bits of a node (a hard link's are its target's: a regular file).
fn type_bits(kind: &NodeKind) -> u16 {
    match kind {
        NodeKind::Dir => S_IFDIR,
        NodeKind::File { .. } | NodeKind::Hardlink { .. } => S_IFREG,
        NodeKind::Symlink { .. } => S_IFLNK,
        NodeKind::CharDevice { .. } => S_IFCHR,
        NodeKind::BlockDevice { .. } => S_IFBLK,
        NodeKind::Fifo => S_IFIFO,
    }
}

/// The inodes of the tree (with `lost+found`, without the journal), in node order.
fn collect(nodes: &[Node], epoch_time: (u32, u32)) -> Result<Vec<Inode<'_>>, ImageError> {
    let numbering = number(nodes)?;
    let mut entries: Vec<Vec<Entry<'_>>> = nodes.iter().map(|_| Vec::new()).collect();
    let mut links = vec![0u32; numbering.last_ino as usize + 1];
    let mut bump = |ino: u32, by: u32| {
        if let Some(count) = links.get_mut(ino as usize) {
            *count = count.saturating_add(by);
        }
    };
    bump(ROOT_INO, 2);
    for (index, node) in nodes.iter().enumerate().skip(1) {
        let (ino, parent) = (
            numbering.ino.get(index).copied().unwrap_or_default(),
            numbering.parent.get(index).copied().unwrap_or_default(),
        );
        let kind = type_bits(&node.kind);
        if let Some(list) = entries.get_mut(parent) {
            list.push(Entry {
                name: split_path(&node.path).1,
                ino,
                file_type: encode::dirent_type(kind),
            });
        }
        if kind == S_IFDIR {
            bump(ino, 2);
            bump(numbering.ino.get(parent).copied().unwrap_or_default(), 1);
        } else {
            bump(ino, 1);
        }
    }
    if !numbering.own_lost_found {
        bump(FIRST_INO, 2);
        bump(ROOT_INO, 1);
        if let Some(root) = entries.first_mut() {
            root.push(Entry {
                name: LOST_FOUND,
                ino: FIRST_INO,
                file_type: 2,
            });
        }
    }
    let mut inodes = Vec::with_capacity(nodes.len() + 1);
    for (index, node) in nodes.iter().enumerate() {
        if matches!(node.kind, NodeKind::Hardlink { .. }) {
            continue;
        }
        let ino = numbering.ino.get(index).copied().unwrap_or_default();
        let parent_ino = numbering
            .parent
            .get(index)
            .and_then(|p| numbering.ino.get(*p))
            .copied()
            .unwrap_or(ROOT_INO);
        let children = entries
            .get_mut(index)
            .map(std::mem::take)
            .unwrap_or_default();
        let count = links.get(ino as usize).copied().unwrap_or(1);
        inodes.push(node_inode(node, ino, parent_ino, children, count)?);
        if index == 0 && !numbering.own_lost_found {
            inodes.push(lost_found(epoch_time));
        }
    }
    Ok(inodes)
}

/// The inode of a node (not a hard link) with its directory entries and link count.
fn node_inode<'a>(
    node: &'a Node,
    ino: u32,
    parent_ino: u32,
    mut children: Vec<Entry<'_>>,
    links: u32,
) -> Result<Inode<'a>, ImageError> {
    let path = node.path.as_slice();
    if node.mode & !0o7777 != 0 {
        return Err(malformed(path, "a mode with more than permission bits"));
    }
    let time = encode::inode_time(node.mtime)
        .ok_or_else(|| unsupported(path, "a time ext4 cannot hold (before 1901 or after 2446)"))?;
    let kind = type_bits(&node.kind);
    let body = match &node.kind {
        NodeKind::Dir => {
            children.sort_by(|a, b| a.name.cmp(b.name));
            let min_blocks = if ino == FIRST_INO {
                LOST_FOUND_BLOCKS
            } else {
                1
            };
            let bytes = encode::directory(ino, parent_ino, &children, min_blocks);
            let size = bytes.len() as u64;
            Body::Built { bytes, size }
        }
        NodeKind::File { size } => {
            if size.div_ceil(BLOCK) > u64::from(u32::MAX) {
                return Err(unsupported(path, "a file of 16 TiB or more"));
            }
            Body::File { size: *size }
        }
        NodeKind::Symlink { target } => symlink(path, target)?,
        NodeKind::CharDevice { major, minor } | NodeKind::BlockDevice { major, minor } => {
            let bytes = encode::device(*major, *minor).ok_or_else(|| {
                unsupported(path, "a device number beyond 12-bit major, 20-bit minor")
            })?;
            Body::Inline { bytes, size: 0 }
        }
        NodeKind::Fifo => Body::Empty,
        NodeKind::Hardlink { .. } => return Err(malformed(path, "a hard link has no inode")),
    };
    let links = match links {
        n if n <= MAX_LINKS => n as u16,
        _ if kind == S_IFDIR => 1,
        _ => return Err(unsupported(path, "more than 65000 hard links")),
    };
    let xattrs = xattr::encode(&node.xattrs).map_err(|reason| unsupported(path, reason))?;
    Ok(Inode {
        ino,
        path,
        mode: kind | node.mode as u16,
        uid: node.uid,
        gid: node.gid,
        time,
        links,
        body,
        xattrs,
    })
}

/// A symlink: its target in `i_block` when shorter than 60 bytes, else in a block.
fn symlink(path: &[u8], target: &[u8]) -> Result<Body, ImageError> {
    if target.is_empty() || target.contains(&0) || target.len() >= BLOCK as usize {
        return Err(unsupported(
            path,
            "a symlink target must be 1 to 4095 bytes, without NUL",
        ));
    }
    let size = target.len() as u64;
    if target.len() < 60 {
        let mut bytes = [0u8; 60];
        if let Some(dst) = bytes.get_mut(..target.len()) {
            dst.copy_from_slice(target);
        }
        return Ok(Body::Inline { bytes, size });
    }
    Ok(Body::Built {
        bytes: target.to_vec(),
        size,
    })
}

/// The `lost+found` of a tree without one: empty, root's, 0700.
fn lost_found(time: (u32, u32)) -> Inode<'static> {
    let bytes = encode::directory(FIRST_INO, ROOT_INO, &[], LOST_FOUND_BLOCKS);
    Inode {
        ino: FIRST_INO,
        path: LOST_FOUND,
        mode: S_IFDIR | 0o700,
        uid: 0,
        gid: 0,
        time,
        links: 2,
        body: Body::Built {
            size: bytes.len() as u64,
            bytes,
        },
        xattrs: xattr::Encoded::default(),
    }
}

/// e2fsprogs' default journal size (`ext2fs_default_journal_size`) for a filesystem of `blocks`
/// blocks, at least its minimum of 1024 blocks (4 MiB).
fn journal_blocks(blocks: u64) -> u64 {
    const RULE: [(u64, u64); 7] = [
        (32_768, 1024),
        (262_144, 4096),
        (524_288, 8192),
        (4_194_304, 16_384),
        (8_388_608, 32_768),
        (16_777_216, 65_536),
        (33_554_432, 131_072),
    ];
    RULE.iter()
        .find(|(below, _)| blocks < *below)
        .map_or(262_144, |(_, journal)| *journal)
}

/// The journal's inode: an empty jbd2 journal of `blocks` blocks.
fn journal(blocks: u64, time: (u32, u32), params: &Params) -> Inode<'static> {
    Inode {
        ino: JOURNAL_INO,
        path: b"",
        mode: S_IFREG | 0o600,
        uid: 0,
        gid: 0,
        time,
        links: 1,
        body: Body::Built {
            bytes: encode::journal_superblock(blocks as u32, &params.uuid("ext4")),
            size: blocks * BLOCK,
        },
        xattrs: xattr::Encoded::default(),
    }
}

/// Free blocks left for later use: none are needed to read the image, but `e2fsck -fy` may
/// need a few (to grow `lost+found`, rewrite a directory), and a system that mounts the image
/// read-write writes some files on its first boot. 1 MiB and 1/64 of the data, on top of what
/// the kernel keeps back from every writer when mounted read-write (2% of the blocks, at most
/// 4096: `ext4_calculate_resv_clusters`), or the margin could not be used.
fn margin_blocks(data: u64) -> u64 {
    256 + data / 64 + (data / 49 + 1).min(4096)
}

/// Free inodes left, for the same reasons: 16 and 1/64 of those used (rounded up to whole
/// inode table blocks in every group).
fn margin_inodes(used: u64) -> u64 {
    16 + used / 64
}

/// The smallest geometry (fewest groups) the inodes fit in, where their blocks went and the
/// first block after them.
fn lay_out(inodes: &[Inode<'_>], root: &[u8]) -> Result<(Geometry, Vec<Placed>, u64), ImageError> {
    let data: u64 = inodes.iter().map(Inode::blocks).sum();
    let last_ino = u64::from(inodes.iter().map(|i| i.ino).max().unwrap_or(FIRST_INO));
    let want_inodes = last_ino + margin_inodes(last_ino);
    let mut groups = u32::try_from(data.div_ceil(BLOCKS_PER_GROUP).max(1)).unwrap_or(MAX_GROUPS);
    while groups <= MAX_GROUPS {
        if let Some(geometry) = Geometry::new(groups, want_inodes)
            && let Some((placed, next)) = place(&geometry, inodes)?
        {
            let last = groups - 1;
            let blocks =
                (next + margin_blocks(data)).max(geometry.data_start(last) + MIN_LAST_GROUP_DATA);
            if blocks <= geometry.blocks_count {
                let geometry = Geometry {
                    blocks_count: blocks,
                    ..geometry
                };
                return Ok((geometry, placed, next));
            }
        }
        groups += 1;
    }
    Err(unsupported(
        root,
        "the tree needs an image of 16 TiB or more",
    ))
}

/// Hands out every inode's blocks in `geometry`; `None` when they do not fit.
fn place(
    geometry: &Geometry,
    inodes: &[Inode<'_>],
) -> Result<Option<(Vec<Placed>, u64)>, ImageError> {
    let mut alloc = Allocator::new(geometry);
    let mut placed = Vec::with_capacity(inodes.len());
    for inode in inodes {
        let contents = inode.blocks() - u64::from(inode.xattrs.block.is_some());
        let Some(runs) = alloc.allocate(contents) else {
            return Ok(None);
        };
        let leaves = if runs.len() > INODE_EXTENTS {
            runs.len().div_ceil(LEAF_EXTENTS)
        } else {
            0
        };
        if leaves > INODE_EXTENTS {
            return Err(unsupported(inode.path, "a file in more than 1360 extents"));
        }
        let Some(leaves) = (0..leaves)
            .map(|_| alloc.allocate(1).and_then(|r| r.first().map(|r| r.start)))
            .collect::<Option<Vec<u64>>>()
        else {
            return Ok(None);
        };
        let xattr_block = match inode.xattrs.block {
            Some(_) => match alloc.allocate(1).and_then(|r| r.first().map(|r| r.start)) {
                Some(block) => Some(block),
                None => return Ok(None),
            },
            None => None,
        };
        placed.push(Placed {
            runs,
            leaves,
            xattr_block,
        });
    }
    Ok(Some((placed, alloc.next())))
}

/// The output, written at block offsets; all-zero blocks are skipped.
struct Out<'w, W: Write + Seek> {
    w: &'w mut W,
    /// One past the last byte written.
    end: u64,
}

impl<W: Write + Seek> Out<'_, W> {
    /// Writes `bytes` at `block`, but for their all-zero blocks.
    fn put(&mut self, block: u64, bytes: &[u8]) -> Result<(), ImageError> {
        let mut chunks = bytes.chunks(BLOCK as usize).enumerate().peekable();
        while let Some((first, chunk)) = chunks.next() {
            if chunk.iter().all(|&b| b == 0) {
                continue;
            }
            let mut len = chunk.len();
            while let Some((_, next)) = chunks.next_if(|(_, c)| c.iter().any(|&b| b != 0)) {
                len += next.len();
            }
            let start = first * BLOCK as usize;
            let offset = block * BLOCK + start as u64;
            self.w.seek(SeekFrom::Start(offset))?;
            self.w
                .write_all(bytes.get(start..start + len).unwrap_or_default())?;
            self.end = self.end.max(offset + len as u64);
        }
        Ok(())
    }

    /// Makes the output `size` bytes long (its tail unwritten zeros).
    fn finish(&mut self, size: u64) -> Result<(), ImageError> {
        if self.end < size {
            self.w.seek(SeekFrom::Start(size - 1))?;
            self.w.write_all(&[0])?;
        }
        self.w.flush()?;
        Ok(())
    }
}

/// The laid-out image.
struct Image<'i, 'a> {
    geometry: Geometry,
    inodes: &'i [Inode<'a>],
    placed: &'i [Placed],
    /// The first block after the allocated ones.
    next: u64,
    last_ino: u32,
}

impl Image<'_, '_> {
    /// Superblocks, descriptor tables, bitmaps and inode tables.
    fn write_metadata<W: Write + Seek>(
        &self,
        out: &mut Out<'_, W>,
        epoch: u64,
        params: &Params,
    ) -> Result<(), ImageError> {
        let g = &self.geometry;
        let mut dirs = vec![0u32; g.groups as usize];
        for inode in self.inodes.iter().filter(|i| i.mode & 0o170000 == S_IFDIR) {
            if let Some(count) = dirs.get_mut(((inode.ino - 1) / g.inodes_per_group) as usize) {
                *count += 1;
            }
        }
        let mut table = Vec::with_capacity(g.gdt_blocks() as usize * BLOCK as usize);
        let mut free_blocks = 0u64;
        for group in 0..g.groups {
            let size = g.group_end(group) - g.group_start(group);
            let used = g.used_in_group(group, self.next);
            let used_inodes = g.used_inodes_in_group(group, self.last_ino);
            free_blocks += size - used;
            table.extend_from_slice(&encode::group_desc(&encode::GroupDesc {
                block_bitmap: g.block_bitmap(group),
                inode_bitmap: g.inode_bitmap(group),
                inode_table: g.inode_table(group),
                free_blocks: (size - used) as u32,
                free_inodes: g.inodes_per_group - used_inodes,
                used_dirs: dirs.get(group as usize).copied().unwrap_or_default(),
            }));
        }
        let info = encode::SuperInfo {
            free_blocks,
            free_inodes: g.inodes_count() - self.last_ino,
            epoch,
            uuid: params.uuid("ext4"),
            hash_seed: params.uuid("ext4 hash seed"),
            journal_blocks: self.journal_backup(),
        };
        for group in 0..g.groups {
            let start = g.group_start(group);
            if Geometry::has_super(group) {
                let sb = encode::superblock(g, &info, group);
                let mut first = vec![0u8; if group == 0 { 1024 } else { 0 }];
                first.extend_from_slice(&sb);
                out.put(start, &first)?;
                out.put(start + 1, &table)?;
            }
            let size = g.group_end(group) - start;
            out.put(
                g.block_bitmap(group),
                &encode::bitmap(g.used_in_group(group, self.next), size),
            )?;
            let used_inodes = g.used_inodes_in_group(group, self.last_ino);
            out.put(
                g.inode_bitmap(group),
                &encode::bitmap(u64::from(used_inodes), u64::from(g.inodes_per_group)),
            )?;
            out.put(g.inode_table(group), &self.inode_table(group, used_inodes))?;
        }
        Ok(())
    }

    /// The journal inode's `i_block`, `i_size_high` and `i_size`, for the superblock.
    fn journal_backup(&self) -> [u32; 17] {
        let mut words = [0u32; 17];
        let journal = self
            .inodes
            .iter()
            .zip(self.placed)
            .find(|(i, _)| i.ino == JOURNAL_INO);
        if let Some((inode, placed)) = journal {
            let (i_block, _) = encode::extent_tree(&placed.runs, &placed.leaves);
            for (word, bytes) in words.iter_mut().zip(i_block.chunks_exact(4)) {
                *word = u32::from_le_bytes([
                    bytes.first().copied().unwrap_or_default(),
                    bytes.get(1).copied().unwrap_or_default(),
                    bytes.get(2).copied().unwrap_or_default(),
                    bytes.get(3).copied().unwrap_or_default(),
                ]);
            }
            let size = inode.size();
            words[15] = (size >> 32) as u32;
            words[16] = size as u32;
        }
        words
    }

    /// A group's inode table, as far as its last used inode.
    fn inode_table(&self, group: u32, used: u32) -> Vec<u8> {
        let first = group * self.geometry.inodes_per_group + 1;
        let mut table = vec![0u8; used as usize * layout::INODE_SIZE as usize];
        for (inode, placed) in self.inodes.iter().zip(self.placed) {
            let Some(slot) = inode.ino.checked_sub(first).filter(|i| *i < used) else {
                continue;
            };
            let at = slot as usize * layout::INODE_SIZE as usize;
            if let Some(dst) = table.get_mut(at..at + layout::INODE_SIZE as usize) {
                dst.copy_from_slice(&inode_bytes(inode, placed));
            }
        }
        table
    }

    /// Contents, extent leaves and attribute blocks, in block order.
    fn write_data<W: Write + Seek>(
        &self,
        out: &mut Out<'_, W>,
        source: &dyn Source,
    ) -> Result<(), ImageError> {
        for (inode, placed) in self.inodes.iter().zip(self.placed) {
            match &inode.body {
                Body::File { size } => copy_file(out, source, inode.path, *size, &placed.runs)?,
                Body::Built { bytes, .. } => {
                    let mut offset = 0usize;
                    for run in &placed.runs {
                        let end = (offset + run.len as usize * BLOCK as usize).min(bytes.len());
                        if let Some(part) = bytes.get(offset..end) {
                            out.put(run.start, part)?;
                        }
                        offset = end;
                    }
                }
                Body::Empty | Body::Inline { .. } => {}
            }
            let (_, leaves) = encode::extent_tree(&placed.runs, &placed.leaves);
            for (block, leaf) in placed.leaves.iter().zip(&leaves) {
                out.put(*block, leaf)?;
            }
            if let (Some(block), Some(bytes)) = (placed.xattr_block, &inode.xattrs.block) {
                out.put(block, bytes)?;
            }
        }
        Ok(())
    }
}

/// The 256 bytes of an inode.
fn inode_bytes(inode: &Inode<'_>, placed: &Placed) -> Vec<u8> {
    let (i_block, flags) = match &inode.body {
        Body::Empty => ([0u8; 60], 0),
        Body::Inline { bytes, .. } => (*bytes, 0),
        Body::File { .. } | Body::Built { .. } => (
            encode::extent_tree(&placed.runs, &placed.leaves).0,
            encode::EXTENTS_FL,
        ),
    };
    encode::inode(&encode::InodeFields {
        mode: inode.mode,
        uid: inode.uid,
        gid: inode.gid,
        size: inode.size(),
        time: inode.time,
        links: inode.links,
        sectors: placed.blocks() * (BLOCK / 512),
        flags,
        i_block,
        file_acl: placed.xattr_block.unwrap_or_default(),
        ibody: &inode.xattrs.ibody,
    })
}

/// Streams a regular file's `size` bytes from `source` into its `runs`; the source must end
/// there.
fn copy_file<W: Write + Seek>(
    out: &mut Out<'_, W>,
    source: &dyn Source,
    path: &[u8],
    size: u64,
    runs: &[Run],
) -> Result<(), ImageError> {
    let read_error = |source: io::Error| ImageError::Read {
        path: path.to_vec(),
        source,
    };
    let mut reader = source.open(path).map_err(read_error)?;
    let mut buffer = vec![0u8; (CHUNK_BLOCKS * BLOCK) as usize];
    let mut left = size;
    for run in runs {
        let mut done = 0;
        while done < run.len {
            let blocks = CHUNK_BLOCKS.min(run.len - done);
            let want = (blocks * BLOCK).min(left) as usize;
            let chunk = buffer.get_mut(..want).unwrap_or_default();
            fill(&mut reader, chunk).map_err(read_error)?;
            out.put(run.start + done, chunk)?;
            left -= want as u64;
            done += blocks;
        }
    }
    let mut probe = [0u8; 1];
    loop {
        match reader.read(&mut probe) {
            Ok(0) => return Ok(()),
            Ok(_) => {
                return Err(read_error(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("longer than its size in the tree, {size} bytes"),
                )));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(read_error(e)),
        }
    }
}

/// Fills `buf` from `reader`; an error if it ends first.
fn fill(reader: &mut dyn Read, buf: &mut [u8]) -> io::Result<()> {
    let mut at = 0;
    while at < buf.len() {
        match reader.read(buf.get_mut(at..).unwrap_or_default()) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "shorter than its size in the tree",
                ));
            }
            Ok(n) => at += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
