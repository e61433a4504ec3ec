//! The erofs writer: an uncompressed EROFS image with 4096-byte blocks, every byte chosen here.
//!
//! The layout (the kernel's `fs/erofs/erofs_fs.h` is the reference):
//!
//! - block 0: 1024 zero bytes, then the 128-byte superblock (magic `0xE0F5E1E2`, the build time
//!   from [`Params::epoch`], the UUID from [`Params::uuid`]`("erofs")`, volume name `debroot`,
//!   a crc32c of bytes 1024..4096 of block 0 under `EROFS_FEATURE_COMPAT_SB_CHKSUM`, no
//!   incompatible features);
//! - the metadata area, from byte 0 (`meta_blkaddr` 0): the inodes, one per node (hard links
//!   share their target's), the root's right after the superblock, each on a 32-byte slot (its
//!   nid is its byte offset / 32, so the root's is 36). Every inode is an extended
//!   (64-byte) one, so 32-bit owners, a 64-bit mtime and the link count are exact; its
//!   extended attributes follow it (inline "ibody" xattrs with the name-index prefixes, no
//!   shared xattrs); then, for the `FLAT_INLINE` layout, the tail of its data;
//! - the data area, from the first block after the metadata: the whole blocks of each inode's
//!   data, in inode order, the last one zero-padded.
//!
//! An inode's data (a file's contents, a symlink's target, a directory's blocks) is
//! `FLAT_INLINE` when its tail (the bytes past the last whole block) fits in one block with the
//! inode and its xattrs: the three go together in one metadata block. Otherwise, and for data
//! that fills its blocks exactly, the layout is `FLAT_PLAIN`: every block in the data area.
//!
//! Inodes are placed in node order, each (with its xattrs and inline tail) in the one of the
//! last 64 metadata blocks opened that it fills best (the lowest block of equals), else in a new
//! block; an inode larger than a block (large xattrs) starts a new block. So tails pack the
//! metadata blocks as mkfs.erofs packs them, the placement depends on the nodes alone, and only
//! those 64 blocks of metadata are held in memory while writing.
//!
//! Directories are blocks of 12-byte entries (nid, name offset, file type) followed by the
//! names, `.` and `..` included, sorted by name in byte order across all blocks: the kernel
//! binary-searches the blocks by their first name, then the names within a block. A
//! directory's size is its whole blocks plus the used bytes of its last. Its link count is 2
//! plus its subdirectories; a file's is its number of names. Devices keep their number in the
//! inode (`new_encode_dev`: 12 bits of major, 20 of minor). Times are whole seconds
//! (`i_mtime_nsec` 0); a hard link's node adds a name to its target's inode and nothing else.
//!
//! Compression (lz4 or lzma clusters) is not written: uncompressed images are what dm-verity
//! and composefs commonly use, and reads need no decompression. Nor are shared xattrs,
//! chunk-based files or compact inodes.
//!
//! Regular files are streamed from the [`Source`], once each: their whole blocks to the data
//! area (written as a buffered sequential stream), their tails to the metadata held in memory.
//! So a tree larger than memory can be written.

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, Read, Seek, SeekFrom, Write};

use super::{ImageError, Params, Source};
use crate::output::{Node, NodeKind};

/// Block size, and its shift.
const BLOCK: u64 = 4096;
const BLOCK_BITS: u8 = 12;
/// Where the superblock starts, and its size.
const SUPER_OFFSET: u64 = 1024;
const SUPER_SIZE: usize = 128;
const MAGIC: u32 = 0xE0F5_E1E2;
const FEATURE_COMPAT_SB_CHKSUM: u32 = 0x1;
/// The first inode's offset: right after the superblock.
const META_START: u64 = SUPER_OFFSET + SUPER_SIZE as u64;
/// Inodes start on 32-byte slots; an extended inode is 64 bytes.
const SLOT: u64 = 32;
const INODE_SIZE: u64 = 64;
/// `i_format`: bit 0 the extended version, bits 1..3 the data layout.
const FORMAT_EXTENDED: u16 = 1;
const LAYOUT_FLAT_PLAIN: u16 = 0;
const LAYOUT_FLAT_INLINE: u16 = 2;
/// The xattr ibody header, and the alignment of its entries.
const XATTR_HEADER: usize = 12;
const XATTR_ALIGN: usize = 4;
/// A directory entry: nid (8), name offset (2), file type (1), reserved (1).
const DIRENT_SIZE: usize = 12;
const NAME_MAX: usize = 255;
/// Buffered bytes per stream before they are written out.
const FLUSH_AT: usize = 1 << 20;

/// `EROFS_FT_*`: a directory entry's file type.
mod file_type {
    pub const REG: u8 = 1;
    pub const DIR: u8 = 2;
    pub const CHR: u8 = 3;
    pub const BLK: u8 = 4;
    pub const FIFO: u8 = 5;
    pub const LNK: u8 = 7;
}

/// Writes `nodes` as an erofs image to `out`.
pub fn write<W: Write + Seek>(
    nodes: &[Node],
    source: &dyn Source,
    params: &Params,
    out: &mut W,
) -> Result<(), ImageError> {
    let mut inodes = plan(nodes)?;
    let layout = place(&mut inodes)?;
    let mut streams = Streams::new(out, layout.data_start.saturating_mul(BLOCK));
    for inode in &inodes {
        write_inode(inode, &inodes, source, &mut streams)?;
    }
    let meta_end = layout.data_start.saturating_mul(BLOCK);
    streams.meta(meta_end, &[])?;
    let head = streams.finish()?;
    let superblock = superblock(&inodes, &layout, params, &head);
    out.seek(SeekFrom::Start(0))?;
    out.write_all(&[0u8; SUPER_OFFSET as usize])?;
    out.write_all(&superblock)?;
    // Leave the writer at the image's end, where a verity hash tree may follow.
    out.seek(SeekFrom::Start(layout.blocks.saturating_mul(BLOCK)))?;
    out.flush()?;
    Ok(())
}

/// One inode: the node it was made from, and where it goes.
struct Inode<'a> {
    node: &'a Node,
    nlink: u32,
    /// The xattr ibody (header and entries), empty without xattrs.
    xattrs: Vec<u8>,
    /// A directory's entries, sorted by name (`.` and `..` included).
    entries: Vec<Entry<'a>>,
    /// The data's size: a file's contents, a symlink's target, a directory's blocks.
    size: u64,
    inline: bool,
    nid: u64,
    /// The metadata below this offset is final once this inode is placed.
    final_below: u64,
    blkaddr: u32,
}

/// A directory entry: a name and the inode it names.
struct Entry<'a> {
    name: &'a [u8],
    inode: usize,
    file_type: u8,
}

fn malformed(node: &Node, reason: &str) -> ImageError {
    ImageError::Malformed {
        path: node.path.clone(),
        reason: reason.into(),
    }
}

fn unsupported(node: &Node, reason: &str) -> ImageError {
    ImageError::Unsupported {
        path: node.path.clone(),
        reason: reason.into(),
    }
}

/// The inodes of `nodes`, with their link counts, xattrs, directory entries and data sizes.
fn plan(nodes: &[Node]) -> Result<Vec<Inode<'_>>, ImageError> {
    let root = nodes.first().ok_or_else(|| ImageError::Malformed {
        path: Vec::new(),
        reason: "no nodes: the root is missing".into(),
    })?;
    if !root.path.is_empty() || root.kind != NodeKind::Dir {
        return Err(malformed(root, "the first node is not the root directory"));
    }
    let mut inodes = vec![new_inode(root)?];
    let mut by_path: BTreeMap<&[u8], usize> = BTreeMap::new();
    by_path.insert(&root.path, 0);
    for node in nodes.iter().skip(1) {
        let (parent_path, name) = split_path(node)?;
        let parent = *by_path
            .get(parent_path)
            .ok_or_else(|| malformed(node, "its parent directory comes nowhere before it"))?;
        if by_path.contains_key(node.path.as_slice()) {
            return Err(malformed(node, "the path appears twice"));
        }
        let (inode, file_type) = match &node.kind {
            NodeKind::Hardlink { target } => {
                (link(&mut inodes, &by_path, node, target)?, file_type::REG)
            }
            kind => {
                inodes.push(new_inode(node)?);
                (inodes.len() - 1, kind_file_type(kind))
            }
        };
        by_path.insert(&node.path, inode);
        let entry = Entry {
            name,
            inode,
            file_type,
        };
        add_entry(&mut inodes, node, parent, entry)?;
    }
    for index in 0..inodes.len() {
        finish_directory(&mut inodes, index)?;
    }
    Ok(inodes)
}

/// The inode a hard link names, one more link to it.
fn link(
    inodes: &mut [Inode<'_>],
    by_path: &BTreeMap<&[u8], usize>,
    node: &Node,
    target: &[u8],
) -> Result<usize, ImageError> {
    let inode = *by_path
        .get(target)
        .ok_or_else(|| malformed(node, "a hard link to a path not seen before"))?;
    let linked = inodes
        .get_mut(inode)
        .filter(|linked| matches!(linked.node.kind, NodeKind::File { .. }))
        .ok_or_else(|| malformed(node, "a hard link to something not a regular file"))?;
    linked.nlink = linked
        .nlink
        .checked_add(1)
        .ok_or_else(|| unsupported(node, "too many hard links"))?;
    Ok(inode)
}

/// Adds `entry` (naming `node`) to the directory `parent`; a subdirectory counts as one more
/// link of its parent and gets the parent as its `..`.
fn add_entry<'a>(
    inodes: &mut [Inode<'a>],
    node: &Node,
    parent: usize,
    entry: Entry<'a>,
) -> Result<(), ImageError> {
    let child = entry.inode;
    let is_dir = entry.file_type == file_type::DIR;
    let dir = inodes
        .get_mut(parent)
        .filter(|dir| dir.node.kind == NodeKind::Dir)
        .ok_or_else(|| malformed(node, "its parent is not a directory"))?;
    dir.entries.push(entry);
    if is_dir {
        dir.nlink = dir
            .nlink
            .checked_add(1)
            .ok_or_else(|| unsupported(node, "too many subdirectories"))?;
        if let Some(subdir) = inodes.get_mut(child) {
            subdir.entries.push(Entry {
                name: b"..",
                inode: parent,
                file_type: file_type::DIR,
            });
        }
    }
    Ok(())
}

/// An inode for `node` alone: one link (two for a directory: its `.` and its name).
fn new_inode(node: &Node) -> Result<Inode<'_>, ImageError> {
    if node.mode & !0o7777 != 0 {
        return Err(malformed(node, "the mode has bits beyond 0o7777"));
    }
    let size = match &node.kind {
        NodeKind::File { size } => *size,
        NodeKind::Symlink { target } => {
            if target.is_empty() || target.len() >= BLOCK as usize {
                return Err(unsupported(node, "a symlink target of 0 or 4096+ bytes"));
            }
            target.len() as u64
        }
        _ => 0,
    };
    let mut entries = Vec::new();
    if node.path.is_empty() {
        // The root is its own parent.
        entries.push(Entry {
            name: b"..",
            inode: 0,
            file_type: file_type::DIR,
        });
    }
    if node.kind == NodeKind::Dir {
        // The inode's index is not known here; `finish_directory` fixes `.`.
        entries.push(Entry {
            name: b".",
            inode: usize::MAX,
            file_type: file_type::DIR,
        });
    }
    Ok(Inode {
        node,
        nlink: if node.kind == NodeKind::Dir { 2 } else { 1 },
        xattrs: xattr_ibody(node)?,
        entries,
        size,
        inline: false,
        nid: 0,
        final_below: 0,
        blkaddr: 0,
    })
}

/// The parent's path and the node's name; the name must fit a directory entry.
fn split_path(node: &Node) -> Result<(&[u8], &[u8]), ImageError> {
    let (parent, name) = match node.path.iter().rposition(|&c| c == b'/') {
        Some(at) => (
            node.path.get(..at).unwrap_or_default(),
            node.path.get(at + 1..).unwrap_or_default(),
        ),
        None => (&[][..], node.path.as_slice()),
    };
    if name.is_empty() || name == b"." || name == b".." || name.contains(&0) {
        return Err(malformed(node, "not a valid file name"));
    }
    if name.len() > NAME_MAX {
        return Err(unsupported(node, "a name longer than 255 bytes"));
    }
    Ok((parent, name))
}

fn kind_file_type(kind: &NodeKind) -> u8 {
    match kind {
        NodeKind::Dir => file_type::DIR,
        NodeKind::File { .. } | NodeKind::Hardlink { .. } => file_type::REG,
        NodeKind::Symlink { .. } => file_type::LNK,
        NodeKind::CharDevice { .. } => file_type::CHR,
        NodeKind::BlockDevice { .. } => file_type::BLK,
        NodeKind::Fifo => file_type::FIFO,
    }
}

/// Sorts a directory's entries, points `.` at itself and sets its size.
fn finish_directory(inodes: &mut [Inode<'_>], index: usize) -> Result<(), ImageError> {
    let Some(dir) = inodes.get_mut(index) else {
        return Ok(());
    };
    if dir.node.kind != NodeKind::Dir {
        return Ok(());
    }
    for entry in &mut dir.entries {
        if entry.name == b"." {
            entry.inode = index;
        }
    }
    dir.entries.sort_by(|a, b| a.name.cmp(b.name));
    if dir
        .entries
        .windows(2)
        .any(|w| w.first().map(|e| e.name) == w.get(1).map(|e| e.name))
    {
        return Err(malformed(
            dir.node,
            "two entries of the directory have the same name",
        ));
    }
    dir.size = dir_size(&dir_blocks(&dir.entries));
    Ok(())
}

/// The entries of one directory block: how many, and the bytes they use.
struct DirBlock {
    count: usize,
    bytes: usize,
}

/// Packs sorted entries into blocks, in order, as many in each as fit.
fn dir_blocks(entries: &[Entry<'_>]) -> Vec<DirBlock> {
    let mut blocks = vec![DirBlock { count: 0, bytes: 0 }];
    for entry in entries {
        let need = DIRENT_SIZE + entry.name.len();
        let fits = blocks
            .last()
            .is_some_and(|b| b.bytes + need <= BLOCK as usize);
        if !fits {
            blocks.push(DirBlock { count: 0, bytes: 0 });
        }
        if let Some(block) = blocks.last_mut() {
            block.count += 1;
            block.bytes += need;
        }
    }
    blocks
}

/// A directory's size: its whole blocks and the used bytes of its last.
fn dir_size(blocks: &[DirBlock]) -> u64 {
    let whole = blocks.len().saturating_sub(1) as u64 * BLOCK;
    whole + blocks.last().map_or(0, |b| b.bytes as u64)
}

/// A directory's data: each block's entries, then their names; blocks but the last padded.
fn dir_data(dir: &Inode<'_>, inodes: &[Inode<'_>]) -> Result<Vec<u8>, ImageError> {
    let blocks = dir_blocks(&dir.entries);
    let mut data = Vec::new();
    let mut rest = dir.entries.as_slice();
    for (i, block) in blocks.iter().enumerate() {
        let (entries, after) = rest.split_at(block.count.min(rest.len()));
        rest = after;
        if i > 0 {
            data.resize(i * BLOCK as usize, 0);
        }
        let mut nameoff = DIRENT_SIZE * entries.len();
        for entry in entries {
            let nid = inodes
                .get(entry.inode)
                .map(|inode| inode.nid)
                .ok_or_else(|| malformed(dir.node, "an entry names no inode"))?;
            data.extend_from_slice(&nid.to_le_bytes());
            let off = u16::try_from(nameoff)
                .map_err(|_| unsupported(dir.node, "a directory block overflows"))?;
            data.extend_from_slice(&off.to_le_bytes());
            data.push(entry.file_type);
            data.push(0);
            nameoff += entry.name.len();
        }
        for entry in entries {
            data.extend_from_slice(entry.name);
        }
    }
    Ok(data)
}

/// The xattr name prefixes erofs stores as an index: `(index, prefix, whole name)`.
const XATTR_PREFIXES: [(u8, &[u8], bool); 5] = [
    (1, b"user.", false),
    (2, b"system.posix_acl_access", true),
    (3, b"system.posix_acl_default", true),
    (4, b"trusted.", false),
    (6, b"security.", false),
];

/// The name index and the rest of an xattr name.
fn xattr_index<'n>(node: &Node, name: &'n [u8]) -> Result<(u8, &'n [u8]), ImageError> {
    for (index, prefix, whole) in XATTR_PREFIXES {
        if let Some(suffix) = name.strip_prefix(prefix)
            && (suffix.is_empty() == whole)
        {
            return Ok((index, suffix));
        }
    }
    Err(unsupported(
        node,
        "an extended attribute outside user., trusted., security. and ACLs",
    ))
}

/// A node's xattr ibody: a 12-byte header (no shared xattrs), then each entry (name length,
/// name index, value size, name, value) padded to 4 bytes; empty without xattrs.
fn xattr_ibody(node: &Node) -> Result<Vec<u8>, ImageError> {
    if node.xattrs.is_empty() {
        return Ok(Vec::new());
    }
    let mut body = vec![0u8; XATTR_HEADER];
    for (name, value) in &node.xattrs {
        let (index, suffix) = xattr_index(node, name)?;
        let name_len = u8::try_from(suffix.len())
            .map_err(|_| unsupported(node, "an extended attribute name too long"))?;
        let value_size = u16::try_from(value.len())
            .map_err(|_| unsupported(node, "an extended attribute value of 64 KiB or more"))?;
        body.push(name_len);
        body.push(index);
        body.extend_from_slice(&value_size.to_le_bytes());
        body.extend_from_slice(suffix);
        body.extend_from_slice(value);
        body.resize(body.len().next_multiple_of(XATTR_ALIGN), 0);
    }
    if xattr_icount(node, &body)? == 0 {
        return Err(unsupported(node, "extended attributes too large"));
    }
    Ok(body)
}

/// `i_xattr_icount`: 0 without xattrs, else 1 plus the 4-byte units past the header.
fn xattr_icount(node: &Node, body: &[u8]) -> Result<u16, ImageError> {
    if body.is_empty() {
        return Ok(0);
    }
    let units = (body.len().saturating_sub(XATTR_HEADER) / XATTR_ALIGN).saturating_add(1);
    u16::try_from(units).map_err(|_| unsupported(node, "extended attributes too large"))
}

/// Where the areas end: the first data block and the image's size in blocks.
struct Layout {
    data_start: u64,
    blocks: u64,
}

/// Places each inode in the metadata area (its nid, whether its tail is inline), then its whole
/// blocks in the data area.
fn place(inodes: &mut [Inode<'_>]) -> Result<Layout, ImageError> {
    let mut meta = MetaBlocks::new();
    for inode in inodes.iter_mut() {
        let base = INODE_SIZE + inode.xattrs.len() as u64;
        let tail = inode.size % BLOCK;
        inode.inline = tail > 0 && base + tail <= BLOCK;
        let inline_bytes = if inode.inline { tail } else { 0 };
        inode.nid = meta.place((base + inline_bytes).next_multiple_of(SLOT)) / SLOT;
        inode.final_below = meta.window_start();
    }
    let data_start = meta.next_block;
    let mut next = data_start;
    for inode in inodes.iter_mut() {
        let blocks = if inode.inline {
            inode.size / BLOCK
        } else {
            inode.size.div_ceil(BLOCK)
        };
        if blocks > 0 {
            inode.blkaddr = u32::try_from(next)
                .map_err(|_| unsupported(inode.node, "the image would exceed 2^32 blocks"))?;
        }
        next = next
            .checked_add(blocks)
            .ok_or_else(|| unsupported(inode.node, "the image is too large"))?;
    }
    if u32::try_from(next).is_err() {
        return Err(ImageError::Unsupported {
            path: Vec::new(),
            reason: "the image would exceed 2^32 blocks".into(),
        });
    }
    Ok(Layout {
        data_start,
        blocks: next,
    })
}

/// How many of the last metadata blocks stay open for inodes: a bound on the metadata held in
/// memory while writing.
const WINDOW: usize = 64;

/// The metadata area as it fills: the last [`WINDOW`] blocks opened, with the bytes used in
/// each. An inode (with its xattrs and inline tail) goes in the open block it fills best (the
/// lowest of equals), else in a new block; one larger than a block starts a new block.
struct MetaBlocks {
    open: VecDeque<(u64, u64)>,
    next_block: u64,
}

impl MetaBlocks {
    fn new() -> Self {
        MetaBlocks {
            open: VecDeque::from([(0, META_START)]),
            next_block: 1,
        }
    }

    /// The offset for `len` bytes (a multiple of [`SLOT`]).
    fn place(&mut self, len: u64) -> u64 {
        if len <= BLOCK {
            let best = self
                .open
                .iter_mut()
                .filter(|(_, used)| BLOCK - *used >= len)
                .min_by_key(|(block, used)| (BLOCK - *used - len, *block));
            if let Some((block, used)) = best {
                let at = *block * BLOCK + *used;
                *used += len;
                return at;
            }
        }
        let first = self.next_block;
        let blocks = len.div_ceil(BLOCK).max(1);
        self.next_block = first.saturating_add(blocks);
        let last = first + blocks - 1;
        self.open.push_back((last, len - (blocks - 1) * BLOCK));
        while self.open.len() > WINDOW {
            self.open.pop_front();
        }
        first * BLOCK
    }

    /// Where the open blocks start: no inode placed from now on goes below.
    fn window_start(&self) -> u64 {
        let block = self
            .open
            .front()
            .map_or(self.next_block, |(block, _)| *block);
        block * BLOCK
    }
}

/// One sequential stream of bytes at a known offset of the image, buffered.
struct Stream {
    at: u64,
    buf: Vec<u8>,
}

impl Stream {
    fn position(&self) -> u64 {
        self.at + self.buf.len() as u64
    }

    fn pad_to(&mut self, offset: u64) {
        while self.position() < offset {
            let gap = (offset - self.position()).min(FLUSH_AT as u64) as usize;
            self.buf.resize(self.buf.len() + gap, 0);
        }
    }
}

/// The metadata and data areas: the data written as a sequential stream, the metadata held from
/// the first byte not yet final (see [`MetaBlocks`]) and written out as it becomes final. The
/// metadata bytes in block 0 are kept for the superblock's checksum.
struct Streams<'w, W: Write + Seek> {
    out: &'w mut W,
    meta: Stream,
    data: Stream,
    head: Vec<u8>,
}

impl<'w, W: Write + Seek> Streams<'w, W> {
    fn new(out: &'w mut W, data_start: u64) -> Self {
        Streams {
            out,
            meta: Stream {
                at: META_START,
                buf: Vec::new(),
            },
            data: Stream {
                at: data_start,
                buf: Vec::new(),
            },
            head: Vec::new(),
        }
    }

    /// Puts `bytes` at `offset` of the metadata area, which must not be final yet.
    fn meta(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        let start = offset
            .checked_sub(self.meta.at)
            .and_then(|start| usize::try_from(start).ok())
            .ok_or_else(|| io::Error::other("erofs metadata placed below what is final"))?;
        let end = start.saturating_add(bytes.len());
        if self.meta.buf.len() < end {
            self.meta.buf.resize(end, 0);
        }
        if let Some(slot) = self.meta.buf.get_mut(start..end) {
            slot.copy_from_slice(bytes);
        }
        Ok(())
    }

    /// Writes out the metadata below `limit`, once it is at least [`FLUSH_AT`] bytes.
    fn meta_final_below(&mut self, limit: u64) -> io::Result<()> {
        let ready = usize::try_from(limit.saturating_sub(self.meta.at)).unwrap_or(usize::MAX);
        if ready < FLUSH_AT {
            return Ok(());
        }
        let rest = self.meta.buf.split_off(ready.min(self.meta.buf.len()));
        self.flush_meta()?;
        self.meta.buf = rest;
        Ok(())
    }

    fn data(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.data.buf.extend_from_slice(bytes);
        if self.data.buf.len() >= FLUSH_AT {
            flush(self.out, &mut self.data)?;
        }
        Ok(())
    }

    fn flush_meta(&mut self) -> io::Result<()> {
        let in_head = BLOCK.saturating_sub(self.meta.at) as usize;
        let take = in_head.min(self.meta.buf.len());
        self.head
            .extend_from_slice(self.meta.buf.get(..take).unwrap_or_default());
        flush(self.out, &mut self.meta)
    }

    /// Writes out what is buffered; the metadata bytes of block 0 past the superblock.
    fn finish(mut self) -> io::Result<Vec<u8>> {
        self.flush_meta()?;
        flush(self.out, &mut self.data)?;
        Ok(self.head)
    }
}

fn flush<W: Write + Seek>(out: &mut W, stream: &mut Stream) -> io::Result<()> {
    if stream.buf.is_empty() {
        return Ok(());
    }
    out.seek(SeekFrom::Start(stream.at))?;
    out.write_all(&stream.buf)?;
    stream.at += stream.buf.len() as u64;
    stream.buf.clear();
    Ok(())
}

/// Writes one inode, its xattrs and its data (the tail inline or all of it in the data area).
fn write_inode<W: Write + Seek>(
    inode: &Inode<'_>,
    inodes: &[Inode<'_>],
    source: &dyn Source,
    streams: &mut Streams<'_, W>,
) -> Result<(), ImageError> {
    let at = inode.nid * SLOT;
    streams.meta(at, &inode_bytes(inode)?)?;
    streams.meta(at + INODE_SIZE, &inode.xattrs)?;
    let tail_at = at + INODE_SIZE + inode.xattrs.len() as u64;
    let whole = if inode.inline {
        inode.size - inode.size % BLOCK
    } else {
        inode.size
    };
    match &inode.node.kind {
        NodeKind::File { .. } => copy_file(inode, whole, tail_at, source, streams)?,
        NodeKind::Symlink { target } => write_bytes(target, whole, tail_at, streams)?,
        NodeKind::Dir => write_bytes(&dir_data(inode, inodes)?, whole, tail_at, streams)?,
        _ => {}
    }
    streams.meta_final_below(inode.final_below)?;
    Ok(())
}

/// Writes in-memory data: `whole` bytes to the data area (padded to a block), the rest inline.
fn write_bytes<W: Write + Seek>(
    data: &[u8],
    whole: u64,
    tail_at: u64,
    streams: &mut Streams<'_, W>,
) -> Result<(), ImageError> {
    let (blocks, tail) = data.split_at((whole as usize).min(data.len()));
    streams.data(blocks)?;
    let end = streams.data.position().next_multiple_of(BLOCK);
    streams.data.pad_to(end);
    streams.meta(tail_at, tail)?;
    Ok(())
}

/// Streams a regular file from `source`: `whole` bytes to the data area, the tail inline; the
/// file must hold exactly the node's size.
fn copy_file<W: Write + Seek>(
    inode: &Inode<'_>,
    whole: u64,
    tail_at: u64,
    source: &dyn Source,
    streams: &mut Streams<'_, W>,
) -> Result<(), ImageError> {
    let path = &inode.node.path;
    let read_error = |source: io::Error| ImageError::Read {
        path: path.clone(),
        source,
    };
    let mut reader = source.open(path).map_err(read_error)?;
    let mut buf = vec![0u8; 1 << 16];
    let mut left = inode.size;
    while left > 0 {
        let want = (left.min(buf.len() as u64)) as usize;
        let chunk = buf.get_mut(..want).unwrap_or_default();
        let got = match reader.read(chunk) {
            Ok(0) => return Err(read_error(size_mismatch("shorter"))),
            // A reader claiming more than it was given is cut to what it was given.
            Ok(got) => got.min(want),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_error(e)),
        };
        let done = inode.size - left;
        let bytes = chunk.get(..got).unwrap_or_default();
        // The part of this chunk before `whole` goes to the data area, the rest inline.
        let split = (whole.saturating_sub(done) as usize).min(bytes.len());
        let (to_data, to_meta) = bytes.split_at(split);
        streams.data(to_data)?;
        // The tail's offset within it: what was read past `whole` before this chunk.
        let into_tail = (done + split as u64).saturating_sub(whole);
        streams.meta(tail_at + into_tail, to_meta)?;
        left -= got as u64;
    }
    let mut extra = [0u8; 1];
    loop {
        match reader.read(&mut extra) {
            Ok(0) => break,
            Ok(_) => return Err(read_error(size_mismatch("longer"))),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_error(e)),
        }
    }
    let end = streams.data.position().next_multiple_of(BLOCK);
    streams.data.pad_to(end);
    Ok(())
}

fn size_mismatch(how: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("the file is {how} than its size in the tree"),
    )
}

/// The 64-byte extended inode.
fn inode_bytes(inode: &Inode<'_>) -> Result<[u8; INODE_SIZE as usize], ImageError> {
    let node = inode.node;
    let layout = if inode.inline {
        LAYOUT_FLAT_INLINE
    } else {
        LAYOUT_FLAT_PLAIN
    };
    let format = FORMAT_EXTENDED | (layout << 1);
    let mode = u16::try_from(type_bits(&node.kind) | node.mode)
        .map_err(|_| malformed(node, "the mode has bits beyond 0o7777"))?;
    let union = match node.kind {
        NodeKind::CharDevice { major, minor } | NodeKind::BlockDevice { major, minor } => {
            encode_dev(node, major, minor)?
        }
        _ => inode.blkaddr,
    };
    // `i_ino` (only for 32-bit stat) is the nid, cut to 32 bits as the kernel does.
    let ino = inode.nid as u32;
    let mut raw = [0u8; INODE_SIZE as usize];
    let fields: [&[u8]; 12] = [
        &format.to_le_bytes(),
        &xattr_icount(node, &inode.xattrs)?.to_le_bytes(),
        &mode.to_le_bytes(),
        &0u16.to_le_bytes(),
        &inode.size.to_le_bytes(),
        &union.to_le_bytes(),
        &ino.to_le_bytes(),
        &node.uid.to_le_bytes(),
        &node.gid.to_le_bytes(),
        &node.mtime.to_le_bytes(), // the kernel reads it signed
        &0u32.to_le_bytes(),
        &inode.nlink.to_le_bytes(),
    ];
    let mut at = 0;
    for field in fields {
        if let Some(slot) = raw.get_mut(at..at + field.len()) {
            slot.copy_from_slice(field);
        }
        at += field.len();
    }
    Ok(raw)
}

/// The file type bits of `i_mode`.
fn type_bits(kind: &NodeKind) -> u32 {
    match kind {
        NodeKind::Dir => 0o040000,
        NodeKind::File { .. } | NodeKind::Hardlink { .. } => 0o100000,
        NodeKind::Symlink { .. } => 0o120000,
        NodeKind::CharDevice { .. } => 0o020000,
        NodeKind::BlockDevice { .. } => 0o060000,
        NodeKind::Fifo => 0o010000,
    }
}

/// `new_encode_dev`: minor's low 8 bits, 12 bits of major, minor's high 12 bits.
fn encode_dev(node: &Node, major: u32, minor: u32) -> Result<u32, ImageError> {
    if major > 0xfff || minor > 0xf_ffff {
        return Err(unsupported(
            node,
            "a device number beyond 12 bits of major, 20 of minor",
        ));
    }
    Ok((minor & 0xff) | (major << 8) | ((minor & !0xff) << 12))
}

/// The superblock, its checksum over bytes 1024..4096 of block 0 (`head` being the metadata
/// there).
fn superblock(
    inodes: &[Inode<'_>],
    layout: &Layout,
    params: &Params,
    head: &[u8],
) -> [u8; SUPER_SIZE] {
    let root_nid = inodes
        .first()
        .and_then(|root| u16::try_from(root.nid).ok())
        .unwrap_or_default();
    let mut volume_name = [0u8; 16];
    volume_name[..7].copy_from_slice(b"debroot");
    let mut raw = [0u8; SUPER_SIZE];
    let fields: [&[u8]; 14] = [
        &MAGIC.to_le_bytes(),
        &0u32.to_le_bytes(), // checksum, below
        &FEATURE_COMPAT_SB_CHKSUM.to_le_bytes(),
        &[BLOCK_BITS, 0], // blkszbits, sb_extslots
        &root_nid.to_le_bytes(),
        &(inodes.len() as u64).to_le_bytes(),
        &params.epoch.to_le_bytes(),
        &0u32.to_le_bytes(), // build_time_nsec
        &(layout.blocks as u32).to_le_bytes(),
        &0u32.to_le_bytes(), // meta_blkaddr
        &0u32.to_le_bytes(), // xattr_blkaddr
        &params.uuid("erofs"),
        &volume_name,
        &0u32.to_le_bytes(), // feature_incompat; the rest stays zero
    ];
    let mut at = 0;
    for field in fields {
        if let Some(slot) = raw.get_mut(at..at + field.len()) {
            slot.copy_from_slice(field);
        }
        at += field.len();
    }
    let mut block0 = vec![0u8; (BLOCK - SUPER_OFFSET) as usize];
    block0[..SUPER_SIZE].copy_from_slice(&raw);
    let room = block0.len() - SUPER_SIZE;
    let head = head.get(..head.len().min(room)).unwrap_or_default();
    if let Some(slot) = block0.get_mut(SUPER_SIZE..SUPER_SIZE + head.len()) {
        slot.copy_from_slice(head);
    }
    raw[4..8].copy_from_slice(&crc32c(!0, &block0).to_le_bytes());
    raw
}

/// CRC-32C (Castagnoli) without the final inversion, as erofs uses it (`crc32c(~0, ...)`).
fn crc32c(mut crc: u32, data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = crc32c_table();
    for &byte in data {
        let index = ((crc ^ u32::from(byte)) & 0xff) as usize;
        crc = TABLE.get(index).copied().unwrap_or_default() ^ (crc >> 8);
    }
    crc
}

const fn crc32c_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    const EPOCH: i64 = 1_700_000_000;

    struct Mem(BTreeMap<Vec<u8>, Vec<u8>>);

    impl Source for Mem {
        fn open(&self, path: &[u8]) -> io::Result<Box<dyn Read + '_>> {
            let data = self.0.get(path).ok_or(io::ErrorKind::NotFound)?;
            Ok(Box::new(&data[..]))
        }
    }

    fn node(path: &str, kind: NodeKind) -> Node {
        Node {
            path: path.as_bytes().to_vec(),
            kind,
            mode: 0o755,
            uid: 1000,
            gid: 100_000,
            mtime: EPOCH - 1,
            xattrs: BTreeMap::new(),
        }
    }

    fn params() -> Params {
        Params {
            epoch: EPOCH,
            seed: [1; 32],
        }
    }

    /// A small tree of every kind, with its files' contents.
    fn tree() -> (Vec<Node>, Mem) {
        let mut nodes = vec![
            node("", NodeKind::Dir),
            node("-dash", NodeKind::Fifo),
            node("bin", NodeKind::Dir),
            node("bin/big", NodeKind::File { size: 10_000 }),
            node("bin/small", NodeKind::File { size: 5 }),
            node(
                "bin/small2",
                NodeKind::Hardlink {
                    target: b"bin/small".to_vec(),
                },
            ),
            node("null", NodeKind::CharDevice { major: 1, minor: 3 }),
            node(
                "sh",
                NodeKind::Symlink {
                    target: b"bin/small".to_vec(),
                },
            ),
        ];
        if let Some(big) = nodes.get_mut(3) {
            big.xattrs
                .insert(b"security.capability".to_vec(), vec![1, 2, 3]);
        }
        let mut files = BTreeMap::new();
        files.insert(b"bin/big".to_vec(), vec![7u8; 10_000]);
        files.insert(b"bin/small".to_vec(), b"hello".to_vec());
        (nodes, Mem(files))
    }

    fn image(nodes: &[Node], source: &Mem) -> Result<Vec<u8>, ImageError> {
        let mut out = Cursor::new(Vec::new());
        write(nodes, source, &params(), &mut out)?;
        assert_eq!(
            out.position() as usize,
            out.get_ref().len(),
            "left at the end"
        );
        Ok(out.into_inner())
    }

    fn le32(bytes: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
    }

    #[test]
    fn the_same_nodes_give_the_same_bytes() {
        let (nodes, source) = tree();
        assert_eq!(
            image(&nodes, &source).unwrap(),
            image(&nodes, &source).unwrap()
        );
    }

    #[test]
    fn the_superblock_says_what_the_image_is() {
        let (nodes, source) = tree();
        let image = image(&nodes, &source).unwrap();
        let sb = &image[1024..1024 + SUPER_SIZE];
        assert_eq!(le32(sb, 0), MAGIC);
        assert_eq!(le32(sb, 8), FEATURE_COMPAT_SB_CHKSUM);
        assert_eq!(sb[12], 12, "4096-byte blocks");
        assert_eq!(
            u16::from_le_bytes([sb[14], sb[15]]),
            36,
            "the root right after it"
        );
        assert_eq!(
            u64::from_le_bytes(sb[16..24].try_into().unwrap()),
            7,
            "inodes"
        );
        assert_eq!(i64::from_le_bytes(sb[24..32].try_into().unwrap()), EPOCH);
        assert_eq!(le32(sb, 36) as usize * 4096, image.len(), "blocks");
        assert_eq!(&sb[48..64], &params().uuid("erofs"));
        assert_eq!(&sb[64..71], b"debroot");
        assert_eq!(le32(sb, 80), 0, "no incompatible features");
        let mut block0 = image[1024..4096].to_vec();
        block0[4..8].fill(0);
        assert_eq!(le32(sb, 4), crc32c(!0, &block0), "the checksum");
    }

    #[test]
    fn crc32c_is_castagnoli_without_the_final_inversion() {
        assert_eq!(!crc32c(!0, b"123456789"), 0xE306_9283);
    }

    #[test]
    fn inodes_carry_owners_links_and_devices() {
        let (nodes, source) = tree();
        let image = image(&nodes, &source).unwrap();
        let mut inodes = plan(&nodes).unwrap();
        place(&mut inodes).unwrap();
        let at = |index: usize| inodes[index].nid as usize * 32;
        let root = at(0);
        assert_eq!(le32(&image, root + 44), 3, "the root's links: 2 and bin");
        let small = at(4);
        assert_eq!(le32(&image, small + 24), 1000);
        assert_eq!(le32(&image, small + 28), 100_000);
        assert_eq!(le32(&image, small + 44), 2, "two names");
        assert_eq!(image[small] >> 1, LAYOUT_FLAT_INLINE as u8, "a tail inline");
        assert_eq!(&image[small + 64..small + 69], b"hello");
        let null = at(5);
        assert_eq!(le32(&image, null + 16), 0x103, "new_encode_dev(1, 3)");
        let big = at(3);
        // The header, then one entry of 4 + 10 ("capability") + 3 bytes padded to 20.
        assert_eq!(
            u16::from_le_bytes([image[big + 2], image[big + 3]]),
            1 + 20 / 4
        );
    }

    #[test]
    fn only_a_partial_last_block_is_inline() {
        let mut nodes = vec![node("", NodeKind::Dir)];
        let mut files = BTreeMap::new();
        for (name, size) in [("a", 4096), ("b", 4097), ("c", 0), ("d", 8191)] {
            nodes.push(node(name, NodeKind::File { size }));
            files.insert(name.as_bytes().to_vec(), vec![1u8; size as usize]);
        }
        image(&nodes, &Mem(files)).unwrap();
        let mut inodes = plan(&nodes).unwrap();
        place(&mut inodes).unwrap();
        let inline: Vec<bool> = inodes.iter().map(|inode| inode.inline).collect();
        assert_eq!(inline, [true, false, true, false, false]);
    }

    #[test]
    fn inodes_fill_the_open_block_they_fit_best() {
        let mut meta = MetaBlocks::new();
        assert_eq!(meta.place(64), META_START, "the root after the superblock");
        assert_eq!(
            meta.place(4000),
            BLOCK,
            "too large for block 0: a new block"
        );
        assert_eq!(meta.place(64), BLOCK + 4000, "the fullest block it fits");
        assert_eq!(meta.place(2000), META_START + 64, "back in block 0");
        assert_eq!(
            meta.place(9000),
            2 * BLOCK,
            "larger than a block: new blocks"
        );
        assert_eq!(meta.place(32), BLOCK + 4064, "an exact fit");
        assert_eq!(meta.place(3200), 4 * BLOCK + 808, "its last block's rest");
        for _ in 0..WINDOW {
            meta.place(BLOCK);
        }
        assert_eq!(meta.window_start(), 5 * BLOCK, "the last 64 blocks open");
        let fresh = meta.next_block;
        assert_eq!(meta.place(32), fresh * BLOCK, "block 0 is closed");
    }

    #[test]
    fn directory_entries_are_in_byte_order_with_dot_and_dotdot() {
        let (nodes, _) = tree();
        let inodes = plan(&nodes).unwrap();
        let names: Vec<&[u8]> = inodes[0].entries.iter().map(|e| e.name).collect();
        let want: [&[u8]; 6] = [b"-dash", b".", b"..", b"bin", b"null", b"sh"];
        assert_eq!(names, want);
    }

    #[test]
    fn a_hard_link_to_an_unknown_path_is_malformed() {
        let (mut nodes, source) = tree();
        nodes.push(node(
            "z",
            NodeKind::Hardlink {
                target: b"nowhere".to_vec(),
            },
        ));
        let err = image(&nodes, &source).unwrap_err();
        assert!(matches!(err, ImageError::Malformed { ref path, .. } if path == b"z"));
    }

    #[test]
    fn a_file_short_of_or_past_its_size_is_a_read_error() {
        for size in [4, 6, 0] {
            let (mut nodes, source) = tree();
            nodes[4].kind = NodeKind::File { size };
            let err = image(&nodes, &source).unwrap_err();
            assert!(
                matches!(err, ImageError::Read { ref path, .. } if path == b"bin/small"),
                "{size}: {err:?}"
            );
        }
        let (mut nodes, source) = tree();
        nodes[3].kind = NodeKind::File { size: 10_001 };
        assert!(matches!(
            image(&nodes, &source),
            Err(ImageError::Read { .. })
        ));
    }

    #[test]
    fn what_erofs_cannot_hold_is_unsupported() {
        let cases: [fn(&mut Vec<Node>); 4] = [
            |nodes| nodes.push(node(&"n".repeat(256), NodeKind::Dir)),
            |nodes| {
                nodes[6].kind = NodeKind::CharDevice {
                    major: 4096,
                    minor: 0,
                }
            },
            |nodes| {
                nodes[4].xattrs.insert(b"system.other".to_vec(), vec![1]);
            },
            |nodes| {
                nodes[4]
                    .xattrs
                    .insert(b"user.big".to_vec(), vec![0; 70_000]);
            },
        ];
        for change in cases {
            let (mut nodes, source) = tree();
            change(&mut nodes);
            let err = image(&nodes, &source).unwrap_err();
            assert!(matches!(err, ImageError::Unsupported { .. }), "{err:?}");
        }
    }

    #[test]
    fn malformed_trees_are_errors() {
        let (nodes, source) = tree();
        assert!(image(&[], &source).is_err());
        assert!(image(&nodes[1..], &source).is_err(), "no root");
        let mut orphan = nodes.clone();
        orphan.push(node("nowhere/x", NodeKind::Fifo));
        assert!(image(&orphan, &source).is_err());
        let mut twice = nodes.clone();
        twice.push(node("sh", NodeKind::Fifo));
        assert!(image(&twice, &source).is_err());
        let mut under_file = nodes;
        under_file.push(node("sh/x", NodeKind::Fifo));
        assert!(image(&under_file, &source).is_err());
    }

    #[test]
    fn a_directory_spans_blocks_in_order() {
        let mut nodes = vec![node("", NodeKind::Dir)];
        for i in 0..500 {
            nodes.push(node(&format!("f{i:04}-{}", "x".repeat(20)), NodeKind::Fifo));
        }
        let mut inodes = plan(&nodes).unwrap();
        place(&mut inodes).unwrap();
        let blocks = dir_blocks(&inodes[0].entries);
        assert!(blocks.len() > 1);
        let data = dir_data(&inodes[0], &inodes).unwrap();
        assert_eq!(data.len() as u64, inodes[0].size);
        let second = &data[4096..];
        let first_nameoff = u16::from_le_bytes([second[8], second[9]]) as usize;
        let count = blocks[0].count;
        assert_eq!(
            &second[first_nameoff..first_nameoff + 5],
            &inodes[0].entries[count].name[..5]
        );
    }
}
