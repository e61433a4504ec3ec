//! The squashfs writer: a squashfs 4.0 image of the nodes, zstd-compressed, the same bytes for
//! the same nodes on every machine and with any number of threads.
//!
//! The image is laid out as `mksquashfs` lays it out (the kernel checks that each table ends
//! where the next one begins):
//!
//! ```text
//! superblock (96 bytes)
//! data: each file's full 128 KiB blocks, in node order, and the fragment blocks (the tails of
//!       files packed together, filled in node order) where they fill up
//! inode table      metadata blocks: children before their directory, the root last
//! directory table  metadata blocks: each directory's entries, headers every 256 entries
//! fragment table   metadata blocks of {start, size} entries, then their index
//! id table         metadata blocks of the uids and gids (first seen first), then their index
//! xattr table      metadata blocks of the name/value lists, of the {list, count, size} ids,
//!                  then the id table's header and index (it must end the image)
//! padding to 4 KiB
//! ```
//!
//! Metadata blocks hold 8 KiB each before compression, behind a 2-byte header with the stored
//! size (bit 15: stored uncompressed). A reference to something in a metadata table is the
//! compressed offset of its block from the table's start, shifted by 16, plus the offset within
//! the uncompressed block.
//!
//! Inode numbers follow node order (the root is 1; a hard link shares its target's number).
//! Data blocks are compressed in batches on a few threads and written in their order, so the
//! threads change the time, not the bytes. A block that compression does not make smaller is
//! stored as it is; a block of zeros is written as a sparse block (size 0). A file whose
//! contents (size and SHA-256) are those of an earlier file shares that file's blocks and
//! fragment, unless some of its blocks were already written (files over 4 MiB may be).
//!
//! The compressor options are not written: level 15 is squashfs-tools' default for zstd.

use std::collections::BTreeMap;
use std::io::{self, Read, Seek, SeekFrom, Write};

use super::{ImageError, Params, Source};
use crate::output::{Node, NodeKind};

const MAGIC: u32 = 0x7371_7368;
const BLOCK_SIZE: usize = 128 * 1024;
const BLOCK_LOG: u16 = 17;
const METADATA_SIZE: usize = 8192;
const ZSTD: u16 = 6;
const LEVEL: i32 = 15;
const SUPERBLOCK_LEN: usize = 96;
const NO_FRAGMENT: u32 = u32::MAX;
const NO_XATTR: u32 = u32::MAX;
const NO_TABLE: u64 = u64::MAX;
/// The superblock flag saying identical files share their data.
const DUPLICATES: u16 = 1 << 6;
const DATA_UNCOMPRESSED: u32 = 1 << 24;
const METADATA_UNCOMPRESSED: u16 = 1 << 15;
/// Entries a directory header may count.
const DIR_COUNT: usize = 256;
/// Blocks compressed together before they are written (4 MiB).
const BATCH_BLOCKS: usize = 32;
/// The longest symlink target the kernel reads.
const SYMLINK_MAX: usize = 4095;
/// Images are padded to a multiple of this, so a loop device sees all of it.
const PAD_TO: u64 = 4096;

/// Inode types; the extended ones (with nlink and xattr fields) are the basic one plus 7.
mod kind {
    pub const DIR: u16 = 1;
    pub const FILE: u16 = 2;
    pub const SYMLINK: u16 = 3;
    pub const BLOCK: u16 = 4;
    pub const CHAR: u16 = 5;
    pub const FIFO: u16 = 6;
    pub const EXTENDED: u16 = 7;
}

/// Writes `nodes` as a squashfs image to `out`, from its current position.
pub fn write<W: Write + Seek>(
    nodes: &[Node],
    source: &dyn Source,
    params: &Params,
    out: &mut W,
) -> Result<(), ImageError> {
    let root_path = || nodes.first().map(|n| n.path.clone()).unwrap_or_default();
    let mkfs_time = u32::try_from(params.epoch).map_err(|_| ImageError::Unsupported {
        path: root_path(),
        reason: format!(
            "the epoch {} does not fit squashfs (1970 to 2106)",
            params.epoch
        ),
    })?;
    let plan = Plan::new(nodes)?;
    let base = out.stream_position()?;
    let mut image = Counting { inner: out, pos: 0 };
    image.write_all(&[0u8; SUPERBLOCK_LEN])?;
    let data = write_data(nodes, &plan, source, &mut image)?;
    let tables = Tables::build(nodes, &plan, &data)?;
    let mut sb = tables.write(&data, &mut image)?;
    sb.mkfs_time = mkfs_time;
    sb.inodes = plan.inode_count;
    sb.bytes_used = image.pos;
    let padding = (PAD_TO - image.pos % PAD_TO) % PAD_TO;
    image.write_all(&vec![0u8; padding as usize])?;
    let end = image.pos;
    out.seek(SeekFrom::Start(base))?;
    out.write_all(&sb.bytes())?;
    let end = base
        .checked_add(end)
        .ok_or_else(|| io::Error::other("image too large"))?;
    out.seek(SeekFrom::Start(end))?;
    out.flush()?;
    Ok(())
}

fn malformed(node: &Node, reason: impl Into<String>) -> ImageError {
    ImageError::Malformed {
        path: node.path.clone(),
        reason: reason.into(),
    }
}

fn unsupported(node: &Node, reason: impl Into<String>) -> ImageError {
    ImageError::Unsupported {
        path: node.path.clone(),
        reason: reason.into(),
    }
}

/// A writer that counts the bytes written (offsets in the image are from its start).
struct Counting<'a, W> {
    inner: &'a mut W,
    pos: u64,
}

impl<W: Write> Counting<'_, W> {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.inner.write_all(bytes)?;
        self.pos = self
            .pos
            .checked_add(bytes.len() as u64)
            .ok_or_else(|| io::Error::other("image too large"))?;
        Ok(())
    }
}

/// The shape of the tree, checked: each node's parent, inode number and number of names.
struct Plan {
    /// Per node: the index of its parent directory (the root: itself).
    parent: Vec<usize>,
    /// Per node: the node whose inode it is (itself, or a hard link's target).
    owner: Vec<usize>,
    /// Per node: its inode number.
    number: Vec<u32>,
    /// Per node that owns an inode: the names it has (hard links included).
    names: Vec<u32>,
    inode_count: u32,
}

impl Plan {
    fn new(nodes: &[Node]) -> Result<Plan, ImageError> {
        let root = nodes.first().ok_or_else(|| ImageError::Malformed {
            path: Vec::new(),
            reason: "no nodes (not even the root)".into(),
        })?;
        if !root.path.is_empty() || root.kind != NodeKind::Dir {
            return Err(malformed(root, "the first node is not the root directory"));
        }
        let mut plan = Plan {
            parent: vec![0],
            owner: vec![0],
            number: vec![1],
            names: vec![1],
            inode_count: 1,
        };
        check_fits(root)?;
        let mut by_path: BTreeMap<&[u8], usize> = BTreeMap::new();
        // The open directories (the root first) and the last name seen in each.
        let mut open: Vec<(usize, Option<&[u8]>)> = vec![(0, None)];
        for (index, node) in nodes.iter().enumerate().skip(1) {
            let (parent_path, name) = split_path(&node.path);
            check_name(node, name)?;
            check_fits(node)?;
            while let Some(&(dir, _)) = open.last() {
                if nodes.get(dir).map(|d| d.path.as_slice()) == Some(parent_path) {
                    break;
                }
                open.pop();
            }
            let Some((parent, last)) = open.last_mut() else {
                return Err(malformed(
                    node,
                    "its directory is not before it (nodes not in tree order)",
                ));
            };
            if last.is_some_and(|last| name <= last) {
                return Err(malformed(node, "a duplicate name, or not in tree order"));
            }
            *last = Some(name);
            plan.parent.push(*parent);
            if let NodeKind::Hardlink { target } = &node.kind {
                let owner = by_path
                    .get(target.as_slice())
                    .and_then(|&t| plan.owner.get(t).copied())
                    .ok_or_else(|| malformed(node, "a hard link to a path not before it"))?;
                if nodes.get(owner).map(|o| &o.kind) == Some(&NodeKind::Dir) {
                    return Err(malformed(node, "a hard link to a directory"));
                }
                let names = plan
                    .names
                    .get_mut(owner)
                    .ok_or_else(|| malformed(node, "?"))?;
                *names = names
                    .checked_add(1)
                    .ok_or_else(|| unsupported(node, "too many hard links"))?;
                let number = plan.number.get(owner).copied().unwrap_or(0);
                plan.owner.push(owner);
                plan.number.push(number);
                plan.names.push(0);
            } else {
                plan.inode_count = plan
                    .inode_count
                    .checked_add(1)
                    .ok_or_else(|| unsupported(node, "too many inodes"))?;
                plan.owner.push(index);
                plan.number.push(plan.inode_count);
                plan.names.push(1);
            }
            by_path.insert(&node.path, index);
            if node.kind == NodeKind::Dir {
                open.push((index, None));
            }
        }
        Ok(plan)
    }
}

/// A path's directory and last name (`a/b/c`: `a/b` and `c`; `a`: the root and `a`).
fn split_path(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&b| b == b'/') {
        Some(slash) => (
            path.get(..slash).unwrap_or_default(),
            path.get(slash + 1..).unwrap_or_default(),
        ),
        None => (&[], path),
    }
}

/// Checks what squashfs cannot hold before any data is written (the tables check it again).
fn check_fits(node: &Node) -> Result<(), ImageError> {
    if u32::try_from(node.mtime).is_err() {
        return Err(unsupported(
            node,
            format!("mtime {} does not fit squashfs (1970 to 2106)", node.mtime),
        ));
    }
    if let NodeKind::CharDevice { major, minor } | NodeKind::BlockDevice { major, minor } =
        node.kind
        && encode_dev(major, minor).is_none()
    {
        return Err(unsupported(
            node,
            format!("device {major}:{minor} (squashfs holds majors to 4095, minors to 1048575)"),
        ));
    }
    if let Some(name) = node.xattrs.keys().find(|name| xattr_prefix(name).is_none()) {
        return Err(unsupported(
            node,
            format!(
                "extended attribute `{}`: squashfs holds only user.*, trusted.* and security.*",
                String::from_utf8_lossy(name)
            ),
        ));
    }
    Ok(())
}

fn check_name(node: &Node, name: &[u8]) -> Result<(), ImageError> {
    if name.is_empty() || name == b"." || name == b".." || name.contains(&0) {
        return Err(malformed(
            node,
            "an empty, `.`, `..` or NUL-containing name",
        ));
    }
    if name.len() > 256 {
        return Err(unsupported(node, "a name longer than 256 bytes"));
    }
    Ok(())
}

/// Where a data block went: its offset in the image and its size word (bit 24: stored as it
/// is; 0: a sparse block of zeros).
#[derive(Debug, Clone, Copy)]
struct Placed {
    pos: u64,
    size: u32,
}

/// Where a regular file's data went.
#[derive(Debug, Clone, Default)]
struct FileData {
    size: u64,
    /// The first of its full blocks (a job number of the [`DataWriter`]), if any.
    first_block: Option<usize>,
    blocks: usize,
    /// Its tail: the fragment block's number and the offset in it.
    fragment: Option<(u32, u32)>,
}

/// The data written: per node, a regular file's [`FileData`]; every block's [`Placed`], and
/// the job number of each fragment block.
struct Data {
    files: Vec<Option<FileData>>,
    placed: Vec<Placed>,
    fragments: Vec<usize>,
}

/// Writes the contents of every regular file, in node order.
fn write_data<W: Write>(
    nodes: &[Node],
    plan: &Plan,
    source: &dyn Source,
    image: &mut Counting<'_, W>,
) -> Result<Data, ImageError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let mut writer = DataWriter {
        image,
        threads,
        batch: Vec::new(),
        placed: Vec::new(),
        fragment: Vec::new(),
        fragments: Vec::new(),
        seen: BTreeMap::new(),
    };
    let mut files = vec![None; nodes.len()];
    for (index, node) in nodes.iter().enumerate() {
        if let (NodeKind::File { size }, Some(slot)) = (&node.kind, files.get_mut(index))
            && plan.owner.get(index) == Some(&index)
        {
            *slot = Some(write_file(node, *size, source, &mut writer)?);
        }
    }
    writer.seal_fragment()?;
    writer.flush()?;
    Ok(Data {
        files,
        placed: writer.placed,
        fragments: writer.fragments,
    })
}

/// Streams one file: its full blocks to the data, its tail to a fragment block.
fn write_file<W: Write>(
    node: &Node,
    size: u64,
    source: &dyn Source,
    writer: &mut DataWriter<'_, '_, W>,
) -> Result<FileData, ImageError> {
    let read_error = |source: io::Error| ImageError::Read {
        path: node.path.clone(),
        source,
    };
    let mut reader = source.open(&node.path).map_err(read_error)?;
    let mut reader = (&mut reader).take(size.saturating_add(1));
    let mut data = FileData {
        size,
        ..FileData::default()
    };
    let mut total: u64 = 0;
    let mut hasher = crate::digest::Hasher::new();
    loop {
        let mut block = Vec::with_capacity(BLOCK_SIZE);
        (&mut reader)
            .take(BLOCK_SIZE as u64)
            .read_to_end(&mut block)
            .map_err(read_error)?;
        total = total.saturating_add(block.len() as u64);
        if total > size {
            return Err(read_error(io::Error::other(format!(
                "the file is longer than its {size} bytes"
            ))));
        }
        hasher.update(&block);
        if block.len() == BLOCK_SIZE {
            let job = writer.block(block, true)?;
            data.first_block.get_or_insert(job);
            data.blocks += 1;
            continue;
        }
        if total != size {
            return Err(read_error(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the file has {total} bytes, not {size}"),
            )));
        }
        let key = (size, hasher.finish().0);
        if let Some(earlier) = writer.seen.get(&key).cloned()
            && writer.retract(data.first_block, data.blocks)
        {
            return Ok(earlier);
        }
        if !block.is_empty() {
            data.fragment = Some(writer.tail(node, &block)?);
        }
        writer.seen.entry(key).or_insert_with(|| data.clone());
        return Ok(data);
    }
}

/// Compresses and writes data blocks in batches, and packs tails into fragment blocks.
struct DataWriter<'a, 'w, W> {
    image: &'a mut Counting<'w, W>,
    threads: usize,
    /// Blocks waiting to be compressed, and whether each may be sparse.
    batch: Vec<(Vec<u8>, bool)>,
    placed: Vec<Placed>,
    /// The fragment block being filled.
    fragment: Vec<u8>,
    /// The job number of each fragment block sealed.
    fragments: Vec<usize>,
    /// The data of each distinct content written (by size and SHA-256), the first file's.
    seen: BTreeMap<(u64, [u8; 32]), FileData>,
}

impl<W: Write> DataWriter<'_, '_, W> {
    /// Queues a block; returns its job number.
    fn block(&mut self, data: Vec<u8>, may_be_sparse: bool) -> io::Result<usize> {
        let job = self.placed.len() + self.batch.len();
        self.batch.push((data, may_be_sparse));
        if self.batch.len() >= BATCH_BLOCKS {
            self.flush()?;
        }
        Ok(job)
    }

    /// Packs a file's tail; returns the fragment's number and the offset in it.
    fn tail(&mut self, node: &Node, tail: &[u8]) -> Result<(u32, u32), ImageError> {
        if self.fragment.len() + tail.len() > BLOCK_SIZE {
            self.seal_fragment()?;
        }
        let too_many = || unsupported(node, "too many fragment blocks");
        let index = u32::try_from(self.fragments.len()).map_err(|_| too_many())?;
        if index == NO_FRAGMENT {
            return Err(too_many());
        }
        let offset = u32::try_from(self.fragment.len()).map_err(|_| too_many())?;
        self.fragment.extend_from_slice(tail);
        Ok((index, offset))
    }

    /// Takes back the last `blocks` blocks queued, from job `first` on, if none was written
    /// yet (a file found to be a duplicate); whether they were.
    fn retract(&mut self, first: Option<usize>, blocks: usize) -> bool {
        let Some(first) = first else {
            return true;
        };
        match first.checked_sub(self.placed.len()) {
            Some(queued) if queued.checked_add(blocks) == Some(self.batch.len()) => {
                self.batch.truncate(queued);
                true
            }
            _ => false,
        }
    }

    fn seal_fragment(&mut self) -> io::Result<()> {
        if !self.fragment.is_empty() {
            let block = std::mem::take(&mut self.fragment);
            let job = self.block(block, false)?;
            self.fragments.push(job);
        }
        Ok(())
    }

    /// Compresses the batch on the threads and writes it in order.
    fn flush(&mut self) -> io::Result<()> {
        let batch = std::mem::take(&mut self.batch);
        let compressed = compress_all(&batch, self.threads)?;
        for ((data, _), stored) in batch.iter().zip(compressed) {
            let pos = self.image.pos;
            let size = match stored {
                Stored::Sparse => 0,
                Stored::Compressed(bytes) => {
                    self.image.write_all(&bytes)?;
                    u32::try_from(bytes.len()).map_err(io::Error::other)?
                }
                Stored::Raw => {
                    self.image.write_all(data)?;
                    u32::try_from(data.len()).map_err(io::Error::other)? | DATA_UNCOMPRESSED
                }
            };
            self.placed.push(Placed { pos, size });
        }
        Ok(())
    }
}

/// How a block is stored.
enum Stored {
    Sparse,
    Compressed(Vec<u8>),
    Raw,
}

/// Compresses blocks on up to `threads` threads, each a contiguous run, results in order.
fn compress_all(blocks: &[(Vec<u8>, bool)], threads: usize) -> io::Result<Vec<Stored>> {
    fn run(part: &[(Vec<u8>, bool)]) -> io::Result<Vec<Stored>> {
        let mut compressor = zstd::bulk::Compressor::new(LEVEL)?;
        part.iter()
            .map(|(data, may_be_sparse)| {
                if *may_be_sparse && data.iter().all(|&b| b == 0) {
                    return Ok(Stored::Sparse);
                }
                Ok(match compress(&mut compressor, data)? {
                    Some(bytes) => Stored::Compressed(bytes),
                    None => Stored::Raw,
                })
            })
            .collect()
    }
    if threads <= 1 || blocks.len() <= 1 {
        return run(blocks);
    }
    let chunk = blocks.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = blocks
            .chunks(chunk)
            .map(|part| scope.spawn(move || run(part)))
            .collect();
        let mut all = Vec::with_capacity(blocks.len());
        for handle in handles {
            let part = handle
                .join()
                .map_err(|_| io::Error::other("a compression thread panicked"))??;
            all.extend(part);
        }
        Ok(all)
    })
}

/// `data` compressed, or `None` when that does not make it smaller.
fn compress(
    compressor: &mut zstd::bulk::Compressor<'_>,
    data: &[u8],
) -> io::Result<Option<Vec<u8>>> {
    let bytes = compressor.compress(data)?;
    Ok((bytes.len() < data.len()).then_some(bytes))
}

/// A metadata table being written: 8 KiB blocks, each compressed when full.
struct Metadata {
    compressor: zstd::bulk::Compressor<'static>,
    written: Vec<u8>,
    /// Where each block starts in `written`.
    starts: Vec<u64>,
    pending: Vec<u8>,
}

/// A place in a metadata table: the block's offset from the table's start, and the offset in
/// the uncompressed block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Location {
    block: u64,
    offset: u16,
}

impl Location {
    /// The 64-bit reference to it (inode references, xattr references).
    fn reference(self) -> u64 {
        (self.block << 16) | u64::from(self.offset)
    }
}

impl Metadata {
    fn new() -> io::Result<Metadata> {
        Ok(Metadata {
            compressor: zstd::bulk::Compressor::new(LEVEL)?,
            written: Vec::new(),
            starts: Vec::new(),
            pending: Vec::new(),
        })
    }

    /// Where the next byte appended goes.
    fn location(&self) -> Location {
        Location {
            block: self.written.len() as u64,
            offset: u16::try_from(self.pending.len()).unwrap_or(u16::MAX),
        }
    }

    /// The position of the next byte in the uncompressed table.
    fn position(&self) -> u64 {
        (self.starts.len() as u64)
            .saturating_mul(METADATA_SIZE as u64)
            .saturating_add(self.pending.len() as u64)
    }

    /// Where the `block`th block starts (or will), if it is written or the one being filled.
    fn block_start(&self, block: u64) -> Option<u64> {
        let block = usize::try_from(block).ok()?;
        match self.starts.get(block) {
            Some(&start) => Some(start),
            None => (block == self.starts.len()).then_some(self.written.len() as u64),
        }
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.pending.extend_from_slice(bytes);
        while self.pending.len() >= METADATA_SIZE {
            let rest = self.pending.split_off(METADATA_SIZE);
            let block = std::mem::replace(&mut self.pending, rest);
            self.seal(&block)?;
        }
        Ok(())
    }

    fn seal(&mut self, block: &[u8]) -> io::Result<()> {
        self.starts.push(self.written.len() as u64);
        let (header, bytes) = match compress(&mut self.compressor, block)? {
            Some(bytes) => (bytes.len() as u16, bytes),
            None => (block.len() as u16 | METADATA_UNCOMPRESSED, block.to_vec()),
        };
        self.written.extend_from_slice(&header.to_le_bytes());
        self.written.extend_from_slice(&bytes);
        Ok(())
    }

    /// The table's bytes and where each block starts in them.
    fn finish(mut self) -> io::Result<(Vec<u8>, Vec<u64>)> {
        if !self.pending.is_empty() {
            let block = std::mem::take(&mut self.pending);
            self.seal(&block)?;
        }
        Ok((self.written, self.starts))
    }
}

/// The id table: each uid and gid once, in the order first seen.
#[derive(Default)]
struct Ids {
    index: BTreeMap<u32, u16>,
    list: Vec<u32>,
}

impl Ids {
    fn get(&mut self, node: &Node, id: u32) -> Result<u16, ImageError> {
        if let Some(&index) = self.index.get(&id) {
            return Ok(index);
        }
        let index = u16::try_from(self.list.len())
            .ok()
            .filter(|&i| i < u16::MAX)
            .ok_or_else(|| unsupported(node, "more than 65535 distinct owners"))?;
        self.index.insert(id, index);
        self.list.push(id);
        Ok(index)
    }
}

/// The xattr table: each distinct set of extended attributes once, in the order first seen.
struct Xattrs<'n> {
    index: BTreeMap<&'n BTreeMap<Vec<u8>, Vec<u8>>, u32>,
    table: Metadata,
    /// Per set: its reference, count of attributes and size in bytes.
    ids: Vec<(u64, u32, u32)>,
}

impl<'n> Xattrs<'n> {
    /// The index of the node's set, `NO_XATTR` for none.
    fn get(&mut self, node: &'n Node) -> Result<u32, ImageError> {
        if node.xattrs.is_empty() {
            return Ok(NO_XATTR);
        }
        if let Some(&index) = self.index.get(&node.xattrs) {
            return Ok(index);
        }
        let start = self.table.location();
        let mut bytes = Vec::new();
        for (name, value) in &node.xattrs {
            let (prefix, rest) = xattr_prefix(name).ok_or_else(|| {
                unsupported(
                    node,
                    format!(
                        "extended attribute `{}`: squashfs holds only user.*, trusted.* and \
                         security.*",
                        String::from_utf8_lossy(name)
                    ),
                )
            })?;
            let name_len = u16::try_from(rest.len())
                .map_err(|_| unsupported(node, "an extended attribute name too long"))?;
            let value_len = u32::try_from(value.len())
                .map_err(|_| unsupported(node, "an extended attribute value too large"))?;
            bytes.extend_from_slice(&prefix.to_le_bytes());
            bytes.extend_from_slice(&name_len.to_le_bytes());
            bytes.extend_from_slice(rest);
            bytes.extend_from_slice(&value_len.to_le_bytes());
            bytes.extend_from_slice(value);
        }
        let too_large = || unsupported(node, "extended attributes too large");
        let count = u32::try_from(node.xattrs.len()).map_err(|_| too_large())?;
        let size = u32::try_from(bytes.len()).map_err(|_| too_large())?;
        self.table.append(&bytes)?;
        let index = u32::try_from(self.ids.len())
            .ok()
            .filter(|&i| i < NO_XATTR)
            .ok_or_else(too_large)?;
        self.ids.push((start.reference(), count, size));
        self.index.insert(&node.xattrs, index);
        Ok(index)
    }
}

/// Whether squashfs can hold an extended attribute of this name: only `user.`, `trusted.` and
/// `security.` ones (the kernel reads no others; POSIX ACLs, `system.posix_acl_*`, have no
/// place in the format).
pub fn holds_xattr(name: &[u8]) -> bool {
    xattr_prefix(name).is_some()
}

/// The prefix type of an attribute name and the rest of the name.
fn xattr_prefix(name: &[u8]) -> Option<(u16, &[u8])> {
    [
        (b"user.".as_slice(), 0),
        (b"trusted.", 1),
        (b"security.", 2),
    ]
    .into_iter()
    .find_map(|(prefix, kind)| name.strip_prefix(prefix).map(|rest| (kind, rest)))
}

/// An entry of a directory's index: the offset of a header in the listing, the offset of its
/// metadata block from the directory table's start, and the first name after it.
type IndexEntry<'e> = (u32, u32, &'e [u8]);

/// An entry of a directory being listed.
struct Entry<'n> {
    name: &'n [u8],
    number: u32,
    inode: Location,
    kind: u16,
}

/// A directory whose entries are being collected.
struct Open<'n> {
    node: usize,
    entries: Vec<Entry<'n>>,
    subdirs: u32,
}

/// The metadata tables, built in memory (a few bytes per node).
struct Tables<'n> {
    inodes: Metadata,
    dirs: Metadata,
    ids: Ids,
    xattrs: Xattrs<'n>,
    root: Location,
}

impl<'n> Tables<'n> {
    /// Writes every inode (children before their directory) and every directory listing.
    fn build(nodes: &'n [Node], plan: &Plan, data: &Data) -> Result<Tables<'n>, ImageError> {
        let mut tables = Tables {
            inodes: Metadata::new()?,
            dirs: Metadata::new()?,
            ids: Ids::default(),
            xattrs: Xattrs {
                index: BTreeMap::new(),
                table: Metadata::new()?,
                ids: Vec::new(),
            },
            root: Location {
                block: 0,
                offset: 0,
            },
        };
        // Each node's inode, once written: (where, basic type).
        let mut written: Vec<Option<(Location, u16)>> = vec![None; nodes.len()];
        let mut open = vec![Open {
            node: 0,
            entries: Vec::new(),
            subdirs: 0,
        }];
        for (index, node) in nodes.iter().enumerate().skip(1) {
            let parent = plan.parent.get(index).copied().unwrap_or(0);
            while open.last().is_some_and(|dir| dir.node != parent) {
                tables.close(nodes, plan, &mut open, &mut written)?;
            }
            let owner = plan.owner.get(index).copied().unwrap_or(index);
            let inode = if node.kind == NodeKind::Dir {
                open.push(Open {
                    node: index,
                    entries: Vec::new(),
                    subdirs: 0,
                });
                continue;
            } else if owner == index {
                let inode = tables.leaf(node, plan, index, data)?;
                if let Some(slot) = written.get_mut(index) {
                    *slot = Some(inode);
                }
                inode
            } else {
                written
                    .get(owner)
                    .copied()
                    .flatten()
                    .ok_or_else(|| malformed(node, "a hard link before its target"))?
            };
            let (_, name) = split_path(&node.path);
            let Some(dir) = open.last_mut() else {
                return Err(malformed(node, "no directory open"));
            };
            dir.entries.push(Entry {
                name,
                number: plan.number.get(owner).copied().unwrap_or(0),
                inode: inode.0,
                kind: inode.1,
            });
        }
        while !open.is_empty() {
            tables.close(nodes, plan, &mut open, &mut written)?;
        }
        Ok(tables)
    }

    /// Closes the innermost open directory: writes its listing and its inode, and enters it in
    /// its parent (or makes it the root).
    fn close(
        &mut self,
        nodes: &'n [Node],
        plan: &Plan,
        open: &mut Vec<Open<'n>>,
        written: &mut [Option<(Location, u16)>],
    ) -> Result<(), ImageError> {
        let Some(dir) = open.pop() else {
            return Ok(());
        };
        let Some(node) = nodes.get(dir.node) else {
            return Ok(());
        };
        let parent_number = match open.last() {
            Some(parent) => plan.number.get(parent.node).copied().unwrap_or(0),
            // The root's parent: one past the last inode, as mksquashfs writes it.
            None => plan.inode_count.saturating_add(1),
        };
        let number = plan.number.get(dir.node).copied().unwrap_or(0);
        let listing_at = self.dirs.location();
        let listing_start = self.dirs.position();
        let Listing {
            bytes: listing,
            headers,
        } = listing(node, &dir.entries, listing_start)?;
        self.dirs.append(&listing)?;
        let index = self.dir_index(node, listing_start, &headers)?;
        let nlink = dir
            .subdirs
            .checked_add(2)
            .ok_or_else(|| unsupported(node, "too many subdirectories"))?;
        let xattr = self.xattrs.get(node)?;
        let file_size = listing.len().saturating_add(3);
        let start = u32::try_from(listing_at.block)
            .map_err(|_| unsupported(node, "a directory table over 4 GiB"))?;
        let at = self.inodes.location();
        let mut inode = Vec::new();
        match u16::try_from(file_size) {
            Ok(size16) if xattr == NO_XATTR && index.is_empty() => {
                self.header(&mut inode, kind::DIR, node, number)?;
                inode.extend_from_slice(&start.to_le_bytes());
                inode.extend_from_slice(&nlink.to_le_bytes());
                inode.extend_from_slice(&size16.to_le_bytes());
                inode.extend_from_slice(&listing_at.offset.to_le_bytes());
                inode.extend_from_slice(&parent_number.to_le_bytes());
            }
            _ => {
                let size32 = u32::try_from(file_size)
                    .map_err(|_| unsupported(node, "a directory listing over 4 GiB"))?;
                self.header(&mut inode, kind::DIR + kind::EXTENDED, node, number)?;
                inode.extend_from_slice(&nlink.to_le_bytes());
                inode.extend_from_slice(&size32.to_le_bytes());
                inode.extend_from_slice(&start.to_le_bytes());
                inode.extend_from_slice(&parent_number.to_le_bytes());
                let count = u16::try_from(index.len())
                    .map_err(|_| unsupported(node, "a directory too large"))?;
                inode.extend_from_slice(&count.to_le_bytes());
                inode.extend_from_slice(&listing_at.offset.to_le_bytes());
                inode.extend_from_slice(&xattr.to_le_bytes());
                for (at, block, name) in &index {
                    inode.extend_from_slice(&at.to_le_bytes());
                    inode.extend_from_slice(&block.to_le_bytes());
                    let size = name.len().saturating_sub(1) as u32;
                    inode.extend_from_slice(&size.to_le_bytes());
                    inode.extend_from_slice(name);
                }
            }
        }
        self.inodes.append(&inode)?;
        if let Some(slot) = written.get_mut(dir.node) {
            *slot = Some((at, kind::DIR));
        }
        match open.last_mut() {
            Some(parent) => {
                parent.subdirs = parent
                    .subdirs
                    .checked_add(1)
                    .ok_or_else(|| unsupported(node, "too many subdirectories"))?;
                parent.entries.push(Entry {
                    name: split_path(&node.path).1,
                    number,
                    inode: at,
                    kind: kind::DIR,
                });
            }
            None => self.root = at,
        }
        Ok(())
    }

    /// A directory's index: for the first header in each metadata block after the listing's
    /// first, its offset in the listing, the offset of its block from the directory table's
    /// start, and its first name (the kernel looks names up from the last entry before them).
    fn dir_index<'e>(
        &self,
        node: &Node,
        listing_start: u64,
        headers: &[(usize, &'e [u8])],
    ) -> Result<Vec<IndexEntry<'e>>, ImageError> {
        let too_large = || unsupported(node, "a directory table over 4 GiB");
        let block_of = |at: usize| listing_start.saturating_add(at as u64) / METADATA_SIZE as u64;
        let mut last = block_of(0);
        let mut index = Vec::new();
        for &(at, name) in headers {
            let block = block_of(at);
            if block == last {
                continue;
            }
            last = block;
            let start = self.dirs.block_start(block).ok_or_else(too_large)?;
            let start = u32::try_from(start).map_err(|_| too_large())?;
            index.push((u32::try_from(at).map_err(|_| too_large())?, start, name));
        }
        Ok(index)
    }

    /// The fields every inode starts with.
    fn header(
        &mut self,
        inode: &mut Vec<u8>,
        kind: u16,
        node: &Node,
        number: u32,
    ) -> Result<(), ImageError> {
        let mtime = u32::try_from(node.mtime).map_err(|_| {
            unsupported(
                node,
                format!("mtime {} does not fit squashfs (1970 to 2106)", node.mtime),
            )
        })?;
        let mode = (node.mode & 0o7777) as u16;
        let uid = self.ids.get(node, node.uid)?;
        let gid = self.ids.get(node, node.gid)?;
        inode.extend_from_slice(&kind.to_le_bytes());
        inode.extend_from_slice(&mode.to_le_bytes());
        inode.extend_from_slice(&uid.to_le_bytes());
        inode.extend_from_slice(&gid.to_le_bytes());
        inode.extend_from_slice(&mtime.to_le_bytes());
        inode.extend_from_slice(&number.to_le_bytes());
        Ok(())
    }

    /// Writes the inode of a node that is not a directory; returns where, and its basic type.
    fn leaf(
        &mut self,
        node: &'n Node,
        plan: &Plan,
        index: usize,
        data: &Data,
    ) -> Result<(Location, u16), ImageError> {
        let number = plan.number.get(index).copied().unwrap_or(0);
        let nlink = plan.names.get(index).copied().unwrap_or(1);
        let xattr = self.xattrs.get(node)?;
        let extended = nlink > 1 || xattr != NO_XATTR;
        let basic = match &node.kind {
            NodeKind::File { .. } => kind::FILE,
            NodeKind::Symlink { .. } => kind::SYMLINK,
            NodeKind::BlockDevice { .. } => kind::BLOCK,
            NodeKind::CharDevice { .. } => kind::CHAR,
            NodeKind::Fifo => kind::FIFO,
            NodeKind::Dir | NodeKind::Hardlink { .. } => {
                return Err(malformed(node, "not a leaf inode"));
            }
        };
        let at = self.inodes.location();
        let mut inode = Vec::new();
        match &node.kind {
            NodeKind::File { .. } => {
                let file = data
                    .files
                    .get(index)
                    .and_then(Option::as_ref)
                    .ok_or_else(|| malformed(node, "a file without data"))?;
                self.file_inode(&mut inode, node, number, nlink, xattr, file, data)?;
            }
            NodeKind::Symlink { target } => {
                if target.is_empty() || target.len() > SYMLINK_MAX {
                    return Err(unsupported(
                        node,
                        "a symlink target empty or over 4095 bytes",
                    ));
                }
                let kind = if xattr == NO_XATTR {
                    basic
                } else {
                    basic + kind::EXTENDED
                };
                self.header(&mut inode, kind, node, number)?;
                inode.extend_from_slice(&nlink.to_le_bytes());
                inode.extend_from_slice(&(target.len() as u32).to_le_bytes());
                inode.extend_from_slice(target);
                if xattr != NO_XATTR {
                    inode.extend_from_slice(&xattr.to_le_bytes());
                }
            }
            NodeKind::BlockDevice { major, minor } | NodeKind::CharDevice { major, minor } => {
                let rdev = encode_dev(*major, *minor).ok_or_else(|| {
                    unsupported(
                        node,
                        format!("device {major}:{minor} (squashfs holds majors to 4095, minors to 1048575)"),
                    )
                })?;
                let kind = if extended {
                    basic + kind::EXTENDED
                } else {
                    basic
                };
                self.header(&mut inode, kind, node, number)?;
                inode.extend_from_slice(&nlink.to_le_bytes());
                inode.extend_from_slice(&rdev.to_le_bytes());
                if extended {
                    inode.extend_from_slice(&xattr.to_le_bytes());
                }
            }
            _ => {
                let kind = if extended {
                    basic + kind::EXTENDED
                } else {
                    basic
                };
                self.header(&mut inode, kind, node, number)?;
                inode.extend_from_slice(&nlink.to_le_bytes());
                if extended {
                    inode.extend_from_slice(&xattr.to_le_bytes());
                }
            }
        }
        self.inodes.append(&inode)?;
        Ok((at, basic))
    }

    /// A regular file's inode: where its blocks start, their sizes, its fragment.
    #[allow(clippy::too_many_arguments)]
    fn file_inode(
        &mut self,
        inode: &mut Vec<u8>,
        node: &Node,
        number: u32,
        nlink: u32,
        xattr: u32,
        file: &FileData,
        data: &Data,
    ) -> Result<(), ImageError> {
        let blocks: Vec<Placed> = match file.first_block {
            Some(first) => data
                .placed
                .get(first..first.saturating_add(file.blocks))
                .ok_or_else(|| malformed(node, "blocks not written"))?
                .to_vec(),
            None => Vec::new(),
        };
        let start = blocks.first().map_or(0, |b| b.pos);
        let sparse = blocks.iter().filter(|b| b.size == 0).count() as u64 * BLOCK_SIZE as u64;
        let (fragment, offset) = file.fragment.unwrap_or((NO_FRAGMENT, 0));
        let small = (u32::try_from(file.size), u32::try_from(start));
        match small {
            (Ok(size32), Ok(start32)) if nlink == 1 && xattr == NO_XATTR => {
                self.header(inode, kind::FILE, node, number)?;
                inode.extend_from_slice(&start32.to_le_bytes());
                inode.extend_from_slice(&fragment.to_le_bytes());
                inode.extend_from_slice(&offset.to_le_bytes());
                inode.extend_from_slice(&size32.to_le_bytes());
            }
            _ => {
                self.header(inode, kind::FILE + kind::EXTENDED, node, number)?;
                inode.extend_from_slice(&start.to_le_bytes());
                inode.extend_from_slice(&file.size.to_le_bytes());
                inode.extend_from_slice(&sparse.to_le_bytes());
                inode.extend_from_slice(&nlink.to_le_bytes());
                inode.extend_from_slice(&fragment.to_le_bytes());
                inode.extend_from_slice(&offset.to_le_bytes());
                inode.extend_from_slice(&xattr.to_le_bytes());
            }
        }
        for block in &blocks {
            inode.extend_from_slice(&block.size.to_le_bytes());
        }
        Ok(())
    }

    /// Writes the tables after the data; returns the superblock, its table offsets filled in.
    fn write<W: Write>(
        self,
        data: &Data,
        image: &mut Counting<'_, W>,
    ) -> Result<Superblock, ImageError> {
        let mut sb = Superblock {
            root_inode: self.root.reference(),
            ..Superblock::default()
        };
        let (inodes, _) = self.inodes.finish()?;
        sb.inode_table_start = image.pos;
        image.write_all(&inodes)?;
        let (dirs, _) = self.dirs.finish()?;
        sb.directory_table_start = image.pos;
        image.write_all(&dirs)?;

        let mut fragments = Metadata::new()?;
        for &job in &data.fragments {
            let placed = data
                .placed
                .get(job)
                .ok_or_else(|| io::Error::other("a fragment block not written"))?;
            fragments.append(&placed.pos.to_le_bytes())?;
            fragments.append(&placed.size.to_le_bytes())?;
            fragments.append(&0u32.to_le_bytes())?;
        }
        sb.fragments = u32::try_from(data.fragments.len()).map_err(io::Error::other)?;
        sb.fragment_table_start = write_indexed(fragments, image)?;

        let mut ids = Metadata::new()?;
        for id in &self.ids.list {
            ids.append(&id.to_le_bytes())?;
        }
        sb.no_ids = u16::try_from(self.ids.list.len()).map_err(io::Error::other)?;
        sb.id_table_start = write_indexed(ids, image)?;

        sb.xattr_id_table_start = NO_TABLE;
        if !self.xattrs.ids.is_empty() {
            let (table, _) = self.xattrs.table.finish()?;
            let table_start = image.pos;
            image.write_all(&table)?;
            let mut ids = Metadata::new()?;
            for (reference, count, size) in &self.xattrs.ids {
                ids.append(&reference.to_le_bytes())?;
                ids.append(&count.to_le_bytes())?;
                ids.append(&size.to_le_bytes())?;
            }
            let (ids_bytes, starts) = ids.finish()?;
            let ids_start = image.pos;
            image.write_all(&ids_bytes)?;
            sb.xattr_id_table_start = image.pos;
            image.write_all(&table_start.to_le_bytes())?;
            let count = u32::try_from(self.xattrs.ids.len()).map_err(io::Error::other)?;
            image.write_all(&count.to_le_bytes())?;
            image.write_all(&0u32.to_le_bytes())?;
            for start in starts {
                image.write_all(&ids_start.saturating_add(start).to_le_bytes())?;
            }
        }
        Ok(sb)
    }
}

/// Writes a table of fixed-size entries (its metadata blocks, then the offset of each block);
/// returns where the index starts, which is what the superblock points at.
fn write_indexed<W: Write>(table: Metadata, image: &mut Counting<'_, W>) -> io::Result<u64> {
    let (bytes, starts) = table.finish()?;
    let table_start = image.pos;
    image.write_all(&bytes)?;
    let index_start = image.pos;
    for start in starts {
        image.write_all(&table_start.saturating_add(start).to_le_bytes())?;
    }
    Ok(index_start)
}

/// A directory's listing and where its headers are.
struct Listing<'e> {
    bytes: Vec<u8>,
    /// Each header's offset in the listing and the first name after it.
    headers: Vec<(usize, &'e [u8])>,
}

/// A directory's listing, to be placed at `start` (the position in the uncompressed directory
/// table): runs of up to 256 entries whose inodes are in one metadata block, whose numbers are
/// within ±32767 of the run's first, and which begin in the metadata block of their header (so
/// that the directory index can point at a header in every block), each run behind a header.
fn listing<'e>(node: &Node, entries: &[Entry<'e>], start: u64) -> Result<Listing<'e>, ImageError> {
    let metadata_block = |at: usize| start.saturating_add(at as u64) / METADATA_SIZE as u64;
    let mut listing = Listing {
        bytes: Vec::new(),
        headers: Vec::new(),
    };
    // The run being written: where its header is, its first entry, and its length.
    let mut run: Option<(usize, &Entry<'e>, u32)> = None;
    for entry in entries {
        let delta = |first: &Entry<'_>| {
            i16::try_from(i64::from(entry.number) - i64::from(first.number)).ok()
        };
        let same_run = run.filter(|&(at, first, count)| {
            (count as usize) < DIR_COUNT
                && entry.inode.block == first.inode.block
                && delta(first).is_some()
                && metadata_block(at) == metadata_block(listing.bytes.len())
        });
        let (at, first, count) = match same_run {
            Some(run) => run,
            None => {
                if let Some((at, _, count)) = run {
                    set_count(&mut listing.bytes, at, count);
                }
                let at = listing.bytes.len();
                let block = u32::try_from(entry.inode.block)
                    .map_err(|_| unsupported(node, "an inode table over 4 GiB"))?;
                listing.bytes.extend_from_slice(&0u32.to_le_bytes());
                listing.bytes.extend_from_slice(&block.to_le_bytes());
                listing.bytes.extend_from_slice(&entry.number.to_le_bytes());
                listing.headers.push((at, entry.name));
                (at, entry, 0)
            }
        };
        let delta = delta(first).ok_or_else(|| malformed(node, "inode numbers out of range"))?;
        let name_len = u16::try_from(entry.name.len().saturating_sub(1))
            .map_err(|_| unsupported(node, "a name too long"))?;
        listing
            .bytes
            .extend_from_slice(&entry.inode.offset.to_le_bytes());
        listing.bytes.extend_from_slice(&delta.to_le_bytes());
        listing.bytes.extend_from_slice(&entry.kind.to_le_bytes());
        listing.bytes.extend_from_slice(&name_len.to_le_bytes());
        listing.bytes.extend_from_slice(entry.name);
        run = Some((at, first, count.saturating_add(1)));
    }
    if let Some((at, _, count)) = run {
        set_count(&mut listing.bytes, at, count);
    }
    Ok(listing)
}

/// Writes a header's count (one less than its entries) at `at`.
fn set_count(bytes: &mut [u8], at: usize, entries: u32) {
    if let Some(field) = bytes.get_mut(at..at.saturating_add(4)) {
        field.copy_from_slice(&entries.saturating_sub(1).to_le_bytes());
    }
}

/// The kernel's `new_encode_dev`: minor's low 8 bits, 12 bits of major, minor's upper 12 bits.
fn encode_dev(major: u32, minor: u32) -> Option<u32> {
    if major > 0xfff || minor > 0xf_ffff {
        return None;
    }
    Some((minor & 0xff) | (major << 8) | ((minor & !0xff) << 12))
}

/// The superblock's fields that vary.
#[derive(Debug, Default)]
struct Superblock {
    inodes: u32,
    mkfs_time: u32,
    fragments: u32,
    no_ids: u16,
    root_inode: u64,
    bytes_used: u64,
    id_table_start: u64,
    xattr_id_table_start: u64,
    inode_table_start: u64,
    directory_table_start: u64,
    fragment_table_start: u64,
}

impl Superblock {
    fn bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(SUPERBLOCK_LEN);
        b.extend_from_slice(&MAGIC.to_le_bytes());
        b.extend_from_slice(&self.inodes.to_le_bytes());
        b.extend_from_slice(&self.mkfs_time.to_le_bytes());
        b.extend_from_slice(&(BLOCK_SIZE as u32).to_le_bytes());
        b.extend_from_slice(&self.fragments.to_le_bytes());
        b.extend_from_slice(&ZSTD.to_le_bytes());
        b.extend_from_slice(&BLOCK_LOG.to_le_bytes());
        b.extend_from_slice(&DUPLICATES.to_le_bytes()); // flags
        b.extend_from_slice(&self.no_ids.to_le_bytes());
        b.extend_from_slice(&4u16.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&self.root_inode.to_le_bytes());
        b.extend_from_slice(&self.bytes_used.to_le_bytes());
        b.extend_from_slice(&self.id_table_start.to_le_bytes());
        b.extend_from_slice(&self.xattr_id_table_start.to_le_bytes());
        b.extend_from_slice(&self.inode_table_start.to_le_bytes());
        b.extend_from_slice(&self.directory_table_start.to_le_bytes());
        b.extend_from_slice(&self.fragment_table_start.to_le_bytes());
        b.extend_from_slice(&NO_TABLE.to_le_bytes()); // no export (lookup) table
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Mem(BTreeMap<Vec<u8>, Vec<u8>>);

    impl Source for Mem {
        fn open(&self, path: &[u8]) -> io::Result<Box<dyn Read + '_>> {
            let data = self.0.get(path).ok_or(io::ErrorKind::NotFound)?;
            Ok(Box::new(&data[..]))
        }
    }

    const EPOCH: i64 = 1_700_000_000;

    fn node(path: &str, kind: NodeKind) -> Node {
        Node {
            path: path.as_bytes().to_vec(),
            kind,
            mode: 0o755,
            uid: 0,
            gid: 0,
            mtime: EPOCH,
            xattrs: BTreeMap::new(),
        }
    }

    fn file(path: &str, len: usize) -> (Node, Vec<u8>) {
        let data = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        (node(path, NodeKind::File { size: len as u64 }), data)
    }

    /// A small tree: the root, a directory, files small and large, a hard link, a symlink, a
    /// device, a FIFO and attributes.
    fn tree() -> (Vec<Node>, Mem) {
        let mut nodes = vec![node("", NodeKind::Dir), node("bin", NodeKind::Dir)];
        let mut files = BTreeMap::new();
        for (path, len) in [("bin/a", 10), ("bin/big", 300_000), ("bin/c", 0)] {
            let (n, data) = file(path, len);
            nodes.push(n);
            files.insert(path.as_bytes().to_vec(), data);
        }
        nodes.push(node(
            "bin/d",
            NodeKind::Hardlink {
                target: b"bin/a".to_vec(),
            },
        ));
        nodes.push(node("dev", NodeKind::Dir));
        let mut null = node("dev/null", NodeKind::CharDevice { major: 1, minor: 3 });
        null.uid = 1000;
        null.xattrs
            .insert(b"security.selinux".to_vec(), b"x".to_vec());
        nodes.push(null);
        nodes.push(node("dev/p", NodeKind::Fifo));
        nodes.push(node(
            "link",
            NodeKind::Symlink {
                target: b"bin".to_vec(),
            },
        ));
        (nodes, Mem(files))
    }

    fn image(nodes: &[Node], source: &Mem, epoch: i64) -> Result<Vec<u8>, ImageError> {
        let mut out = io::Cursor::new(Vec::new());
        let params = Params {
            epoch,
            seed: [7; 32],
        };
        write(nodes, source, &params, &mut out)?;
        Ok(out.into_inner())
    }

    fn u16_at(b: &[u8], at: usize) -> u16 {
        u16::from_le_bytes([b[at], b[at + 1]])
    }

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }

    fn u64_at(b: &[u8], at: usize) -> u64 {
        u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
    }

    #[test]
    fn same_nodes_same_bytes() {
        let (nodes, source) = tree();
        let first = image(&nodes, &source, EPOCH).unwrap();
        let second = image(&nodes, &source, EPOCH).unwrap();
        assert_eq!(first, second);
    }

    #[test]
    fn superblock_says_what_was_written() {
        let (nodes, source) = tree();
        let b = image(&nodes, &source, EPOCH).unwrap();
        assert_eq!(&b[..4], b"hsqs");
        // Inodes: root, bin, a (and d), big, c, dev, null, p, link.
        assert_eq!(u32_at(&b, 4), 9);
        assert_eq!(u32_at(&b, 8), EPOCH as u32);
        assert_eq!(u32_at(&b, 12), 131_072);
        assert_eq!(u32_at(&b, 16), 1, "one fragment block for the tails");
        assert_eq!(u16_at(&b, 20), 6, "zstd");
        assert_eq!(u16_at(&b, 22), 17);
        assert_eq!(u16_at(&b, 26), 2, "ids 0 and 1000");
        assert_eq!((u16_at(&b, 28), u16_at(&b, 30)), (4, 0));
        let bytes_used = u64_at(&b, 40);
        assert!(bytes_used <= b.len() as u64 && b.len() as u64 - bytes_used < 4096);
        assert_eq!(b.len() % 4096, 0);
        let (id, xattr, inode, dir, frag, lookup) = (
            u64_at(&b, 48),
            u64_at(&b, 56),
            u64_at(&b, 64),
            u64_at(&b, 72),
            u64_at(&b, 80),
            u64_at(&b, 88),
        );
        assert!(96 < inode && inode < dir && dir < frag && frag < id && id < xattr);
        assert!(xattr < bytes_used);
        assert_eq!(lookup, u64::MAX);
    }

    #[test]
    fn identical_files_share_their_data() {
        let (mut nodes, mut source) = tree();
        let distinct = image(&nodes, &source, EPOCH).unwrap();
        for (path, len) in [("e", 300_000), ("f", 10)] {
            nodes.push(node(path, NodeKind::File { size: len as u64 }));
            let data = file(if len == 10 { "bin/a" } else { "bin/big" }, len).1;
            source.0.insert(path.as_bytes().to_vec(), data);
        }
        nodes.sort_by(|a, b| crate::output::tree_order(&a.path, &b.path));
        let shared = image(&nodes, &source, EPOCH).unwrap();
        // Two more inodes and entries, no more data.
        assert_eq!(u32_at(&shared, 4), 11);
        assert_eq!(u32_at(&shared, 16), 1);
        assert_eq!(u64_at(&shared, 64), u64_at(&distinct, 64));
    }

    #[test]
    fn no_xattrs_no_xattr_table() {
        let (mut nodes, source) = tree();
        for n in &mut nodes {
            n.xattrs.clear();
        }
        let b = image(&nodes, &source, EPOCH).unwrap();
        assert_eq!(u64_at(&b, 56), u64::MAX);
    }

    #[test]
    fn threads_do_not_change_bytes() {
        let batch: Vec<(Vec<u8>, bool)> = (0..10u8)
            .map(|i| (vec![i; 1000 + usize::from(i)], i % 2 == 0))
            .collect();
        let one: Vec<Vec<u8>> = stored(compress_all(&batch, 1).unwrap());
        let three = stored(compress_all(&batch, 3).unwrap());
        assert_eq!(one, three);
    }

    fn stored(all: Vec<Stored>) -> Vec<Vec<u8>> {
        all.into_iter()
            .map(|s| match s {
                Stored::Sparse => b"sparse".to_vec(),
                Stored::Raw => b"raw".to_vec(),
                Stored::Compressed(bytes) => bytes,
            })
            .collect()
    }

    #[test]
    fn devices_are_encoded_as_the_kernel_decodes() {
        assert_eq!(encode_dev(1, 3), Some(0x103));
        assert_eq!(
            encode_dev(300, 70000),
            Some(0x70 | (300 << 8) | (0x11100 << 12))
        );
        assert_eq!(encode_dev(4096, 0), None);
        assert_eq!(encode_dev(0, 1 << 20), None);
    }

    fn error_path(result: Result<Vec<u8>, ImageError>) -> (String, Vec<u8>) {
        match result {
            Ok(_) => panic!("an image written"),
            Err(e) => {
                let path = match &e {
                    ImageError::Read { path, .. }
                    | ImageError::Unsupported { path, .. }
                    | ImageError::Malformed { path, .. } => path.clone(),
                    ImageError::Write(_) => Vec::new(),
                };
                (format!("{e:?}"), path)
            }
        }
    }

    #[test]
    fn hard_link_to_unknown_path_is_malformed() {
        let (mut nodes, source) = tree();
        nodes.push(node(
            "z",
            NodeKind::Hardlink {
                target: b"nowhere".to_vec(),
            },
        ));
        let (error, path) = error_path(image(&nodes, &source, EPOCH));
        assert!(error.starts_with("Malformed"), "{error}");
        assert_eq!(path, b"z");
    }

    #[test]
    fn short_and_long_sources_are_read_errors() {
        for (len, size) in [(10usize, 11u64), (10, 9), (300_000, 300_001), (0, 1)] {
            let (mut nodes, mut source) = tree();
            let (mut n, data) = file("zz", len);
            n.kind = NodeKind::File { size };
            nodes.push(n);
            source.0.insert(b"zz".to_vec(), data);
            let (error, path) = error_path(image(&nodes, &source, EPOCH));
            assert!(error.starts_with("Read"), "{error}");
            assert_eq!(path, b"zz");
        }
        let (mut nodes, source) = tree();
        nodes.push(file("missing", 3).0);
        let (error, path) = error_path(image(&nodes, &source, EPOCH));
        assert!(error.starts_with("Read"), "{error}");
        assert_eq!(path, b"missing");
    }

    #[test]
    fn times_and_devices_out_of_range_are_unsupported() {
        let (nodes, source) = tree();
        let (error, _) = error_path(image(&nodes, &source, -1));
        assert!(error.starts_with("Unsupported"), "{error}");
        let (error, _) = error_path(image(&nodes, &source, 1 << 33));
        assert!(error.starts_with("Unsupported"), "{error}");
        let mut old = nodes.clone();
        old[2].mtime = -5;
        let (error, path) = error_path(image(&old, &source, EPOCH));
        assert!(error.starts_with("Unsupported"), "{error}");
        assert_eq!(path, b"bin/a");
        let mut wide = nodes.clone();
        wide.push(node(
            "zz",
            NodeKind::BlockDevice {
                major: 5000,
                minor: 0,
            },
        ));
        let (error, path) = error_path(image(&wide, &source, EPOCH));
        assert!(error.starts_with("Unsupported"), "{error}");
        assert_eq!(path, b"zz");
        let mut acl = nodes;
        acl[1]
            .xattrs
            .insert(b"system.posix_acl_access".to_vec(), vec![2]);
        let (error, path) = error_path(image(&acl, &source, EPOCH));
        assert!(error.starts_with("Unsupported"), "{error}");
        assert_eq!(path, b"bin");
    }

    #[test]
    fn what_cannot_fit_is_found_before_data_is_written() {
        let (mut nodes, source) = tree();
        nodes.push(node("zz", NodeKind::Fifo));
        nodes.last_mut().unwrap().mtime = 1 << 32;
        let mut out = io::Cursor::new(Vec::new());
        let params = Params {
            epoch: EPOCH,
            seed: [0; 32],
        };
        let result = write(&nodes, &source, &params, &mut out);
        assert!(matches!(result, Err(ImageError::Unsupported { path, .. }) if path == b"zz"));
        assert!(out.into_inner().is_empty());
    }

    #[test]
    fn malformed_trees_are_errors() {
        let (nodes, source) = tree();
        let cases: Vec<Vec<Node>> = vec![
            Vec::new(),
            nodes[1..].to_vec(),
            // Siblings out of order, a duplicate, an orphan, an empty name, a link to a dir.
            [nodes.clone(), vec![node("a", NodeKind::Fifo)]].concat(),
            [nodes.clone(), vec![node("link", NodeKind::Fifo)]].concat(),
            [nodes.clone(), vec![node("x/y", NodeKind::Fifo)]].concat(),
            [nodes.clone(), vec![node("z/", NodeKind::Fifo)]].concat(),
            [
                nodes.clone(),
                vec![node(
                    "z",
                    NodeKind::Hardlink {
                        target: b"bin".to_vec(),
                    },
                )],
            ]
            .concat(),
            vec![node("", NodeKind::Fifo)],
        ];
        for case in cases {
            let (error, _) = error_path(image(&case, &source, EPOCH));
            assert!(error.starts_with("Malformed"), "{error}");
        }
    }

    #[test]
    fn wide_directories_get_several_headers() {
        let mut nodes = vec![node("", NodeKind::Dir)];
        for i in 0..700 {
            nodes.push(node(&format!("f{i:04}"), NodeKind::Fifo));
        }
        let b = image(&nodes, &Mem(BTreeMap::new()), EPOCH).unwrap();
        assert_eq!(u32_at(&b, 4), 701);
        let plan = Plan::new(&nodes).unwrap();
        let entries: Vec<Entry<'_>> = nodes[1..]
            .iter()
            .enumerate()
            .map(|(i, n)| Entry {
                name: &n.path,
                number: plan.number[i + 1],
                inode: Location {
                    block: 0,
                    offset: 0,
                },
                kind: kind::FIFO,
            })
            .collect();
        // From the start of a block: a new header at each 256 entries and each 8 KiB.
        let listing = listing(&nodes[0], &entries, 8192).unwrap();
        let at: Vec<usize> = listing.headers.iter().map(|h| h.0).collect();
        assert_eq!(at, [0, 3340, 6680, 8200]);
        assert_eq!(listing.bytes.len(), 4 * 12 + 700 * (8 + 5));
        assert_eq!(u32_at(&listing.bytes, 0), 255);
    }
}
