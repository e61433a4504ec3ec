//! The on-disk structures, byte by byte: the superblock, group descriptors, inodes, extent
//! trees, directory blocks, device numbers and the journal's superblock. All little-endian but
//! the journal (jbd2 is big-endian).

use super::layout::{BLOCK, Geometry, INODE_SIZE, Run};

/// `EXT4_EXTENTS_FL`: the inode's `i_block` holds an extent tree.
pub const EXTENTS_FL: u32 = 0x0008_0000;
/// Extents in the inode's `i_block`, after the header.
pub const INODE_EXTENTS: usize = 4;
/// Extents in a leaf block, after the header.
pub const LEAF_EXTENTS: usize = (BLOCK as usize - 12) / 12;

const SUPER_MAGIC: u16 = 0xEF53;
const EXTENT_MAGIC: u16 = 0xF30A;
const JOURNAL_MAGIC: u32 = 0xC03B_3998;

const COMPAT_HAS_JOURNAL: u32 = 0x4;
const COMPAT_EXT_ATTR: u32 = 0x8;
const INCOMPAT_FILETYPE: u32 = 0x2;
const INCOMPAT_EXTENTS: u32 = 0x40;
const RO_COMPAT_SPARSE_SUPER: u32 = 0x1;
const RO_COMPAT_LARGE_FILE: u32 = 0x2;
const RO_COMPAT_HUGE_FILE: u32 = 0x8;
const RO_COMPAT_DIR_NLINK: u32 = 0x20;
const RO_COMPAT_EXTRA_ISIZE: u32 = 0x40;

/// File type bits of `i_mode`.
pub const S_IFIFO: u16 = 0o010000;
pub const S_IFCHR: u16 = 0o020000;
pub const S_IFDIR: u16 = 0o040000;
pub const S_IFBLK: u16 = 0o060000;
pub const S_IFREG: u16 = 0o100000;
pub const S_IFLNK: u16 = 0o120000;

/// The directory entry's file type for `i_mode`'s type bits.
pub fn dirent_type(kind: u16) -> u8 {
    match kind {
        S_IFREG => 1,
        S_IFDIR => 2,
        S_IFCHR => 3,
        S_IFBLK => 4,
        S_IFIFO => 5,
        S_IFLNK => 7,
        _ => 0,
    }
}

pub fn put16(buf: &mut [u8], at: usize, value: u16) {
    if let Some(dst) = buf.get_mut(at..at + 2) {
        dst.copy_from_slice(&value.to_le_bytes());
    }
}

pub fn put32(buf: &mut [u8], at: usize, value: u32) {
    if let Some(dst) = buf.get_mut(at..at + 4) {
        dst.copy_from_slice(&value.to_le_bytes());
    }
}

fn put_be32(buf: &mut [u8], at: usize, value: u32) {
    if let Some(dst) = buf.get_mut(at..at + 4) {
        dst.copy_from_slice(&value.to_be_bytes());
    }
}

fn put_bytes(buf: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(dst) = buf.get_mut(at..at + bytes.len()) {
        dst.copy_from_slice(bytes);
    }
}

/// An inode time as `(seconds, extra)`: the low 32 bits and, in the extra field, the epoch
/// bits that carry it past 2038 (nanoseconds zero). `None` before 1901 or after 2446.
pub fn inode_time(time: i64) -> Option<(u32, u32)> {
    let low = (time & 0xFFFF_FFFF) as u32;
    let epoch = (time - i64::from(low as i32)) >> 32;
    (0..=3).contains(&epoch).then_some((low, epoch as u32))
}

/// What the superblock says besides the geometry.
pub struct SuperInfo {
    pub free_blocks: u64,
    pub free_inodes: u32,
    pub epoch: u64,
    pub uuid: [u8; 16],
    pub hash_seed: [u8; 16],
    /// The journal inode's `i_block`, `i_size_high` and `i_size`, kept as a backup.
    pub journal_blocks: [u32; 17],
}

/// The superblock (1024 bytes) as stored in `group` (its number is recorded in backups).
pub fn superblock(geometry: &Geometry, info: &SuperInfo, group: u32) -> Vec<u8> {
    let mut sb = vec![0u8; 1024];
    let time_low = (info.epoch & 0xFFFF_FFFF) as u32;
    let time_high = (info.epoch >> 32) as u8;
    put32(&mut sb, 0x00, geometry.inodes_count());
    put32(&mut sb, 0x04, geometry.blocks_count as u32);
    put32(&mut sb, 0x0C, info.free_blocks as u32);
    put32(&mut sb, 0x10, info.free_inodes);
    put32(&mut sb, 0x14, 0); // s_first_data_block
    put32(&mut sb, 0x18, 2); // s_log_block_size: 1024 << 2
    put32(&mut sb, 0x1C, 2); // s_log_cluster_size
    put32(&mut sb, 0x20, super::layout::BLOCKS_PER_GROUP as u32);
    put32(&mut sb, 0x24, super::layout::BLOCKS_PER_GROUP as u32);
    put32(&mut sb, 0x28, geometry.inodes_per_group);
    put32(&mut sb, 0x30, time_low); // s_wtime
    put16(&mut sb, 0x36, 0xFFFF); // s_max_mnt_count: no periodic check
    put16(&mut sb, 0x38, SUPER_MAGIC);
    put16(&mut sb, 0x3A, 1); // s_state: clean
    put16(&mut sb, 0x3C, 1); // s_errors: continue
    put32(&mut sb, 0x40, time_low); // s_lastcheck
    put32(&mut sb, 0x4C, 1); // s_rev_level: dynamic
    put32(&mut sb, 0x54, super::FIRST_INO);
    put16(&mut sb, 0x58, INODE_SIZE as u16);
    put16(&mut sb, 0x5A, group as u16);
    put32(&mut sb, 0x5C, COMPAT_HAS_JOURNAL | COMPAT_EXT_ATTR);
    put32(&mut sb, 0x60, INCOMPAT_FILETYPE | INCOMPAT_EXTENTS);
    put32(
        &mut sb,
        0x64,
        RO_COMPAT_SPARSE_SUPER
            | RO_COMPAT_LARGE_FILE
            | RO_COMPAT_HUGE_FILE
            | RO_COMPAT_DIR_NLINK
            | RO_COMPAT_EXTRA_ISIZE,
    );
    put_bytes(&mut sb, 0x68, &info.uuid);
    put32(&mut sb, 0xE0, super::JOURNAL_INO);
    put_bytes(&mut sb, 0xEC, &info.hash_seed);
    // s_def_hash_version: half MD4; s_jnl_backup_type: the journal inode's blocks.
    put_bytes(&mut sb, 0xFC, &[1, 1]);
    put32(&mut sb, 0x100, 0x0C); // s_default_mount_opts: user_xattr, acl
    put32(&mut sb, 0x108, time_low); // s_mkfs_time
    for (i, word) in info.journal_blocks.iter().enumerate() {
        put32(&mut sb, 0x10C + 4 * i, *word);
    }
    put32(&mut sb, 0x150, (geometry.blocks_count >> 32) as u32);
    put32(&mut sb, 0x158, (info.free_blocks >> 32) as u32);
    put16(&mut sb, 0x15C, 32); // s_min_extra_isize
    put16(&mut sb, 0x15E, 32); // s_want_extra_isize
    put32(&mut sb, 0x160, 1); // s_flags: signed directory hash, as mke2fs on x86
    // s_wtime_hi, s_mtime_hi (zero: never mounted), s_mkfs_time_hi, s_lastcheck_hi.
    put_bytes(&mut sb, 0x274, &[time_high, 0, time_high, time_high]);
    sb
}

/// One group's descriptor (32 bytes, no checksum).
pub struct GroupDesc {
    pub block_bitmap: u64,
    pub inode_bitmap: u64,
    pub inode_table: u64,
    pub free_blocks: u32,
    pub free_inodes: u32,
    pub used_dirs: u32,
}

pub fn group_desc(desc: &GroupDesc) -> [u8; 32] {
    let mut d = [0u8; 32];
    put32(&mut d, 0, desc.block_bitmap as u32);
    put32(&mut d, 4, desc.inode_bitmap as u32);
    put32(&mut d, 8, desc.inode_table as u32);
    put16(&mut d, 12, desc.free_blocks as u16);
    put16(&mut d, 14, desc.free_inodes as u16);
    put16(&mut d, 16, desc.used_dirs as u16);
    d
}

/// A bitmap block with the first `used` bits set, and those from `valid` on (the padding past
/// the group's end, which e2fsck wants set).
pub fn bitmap(used: u64, valid: u64) -> Vec<u8> {
    let mut bits = vec![0u8; BLOCK as usize];
    for (i, byte) in bits.iter_mut().enumerate() {
        for bit in 0..8 {
            let n = (i * 8 + bit) as u64;
            if n < used || n >= valid {
                *byte |= 1 << bit;
            }
        }
    }
    bits
}

/// An inode's fields.
pub struct InodeFields<'a> {
    pub mode: u16,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub time: (u32, u32),
    pub links: u16,
    pub sectors: u64,
    pub flags: u32,
    pub i_block: [u8; 60],
    pub file_acl: u64,
    pub ibody: &'a [u8],
}

pub fn inode(f: &InodeFields<'_>) -> Vec<u8> {
    let mut raw = vec![0u8; INODE_SIZE as usize];
    let (seconds, extra) = f.time;
    put16(&mut raw, 0x00, f.mode);
    put16(&mut raw, 0x02, f.uid as u16);
    put32(&mut raw, 0x04, f.size as u32);
    put32(&mut raw, 0x08, seconds); // atime
    put32(&mut raw, 0x0C, seconds); // ctime
    put32(&mut raw, 0x10, seconds); // mtime
    put16(&mut raw, 0x18, f.gid as u16);
    put16(&mut raw, 0x1A, f.links);
    put32(&mut raw, 0x1C, f.sectors as u32);
    put32(&mut raw, 0x20, f.flags);
    put_bytes(&mut raw, 0x28, &f.i_block);
    put32(&mut raw, 0x68, f.file_acl as u32);
    put32(&mut raw, 0x6C, (f.size >> 32) as u32);
    put16(&mut raw, 0x74, (f.sectors >> 32) as u16);
    put16(&mut raw, 0x76, (f.file_acl >> 32) as u16);
    put16(&mut raw, 0x78, (f.uid >> 16) as u16);
    put16(&mut raw, 0x7A, (f.gid >> 16) as u16);
    put16(&mut raw, 0x80, 32); // i_extra_isize
    put32(&mut raw, 0x84, extra); // ctime_extra
    put32(&mut raw, 0x88, extra); // mtime_extra
    put32(&mut raw, 0x8C, extra); // atime_extra
    put32(&mut raw, 0x90, seconds); // crtime
    put32(&mut raw, 0x94, extra); // crtime_extra
    put_bytes(&mut raw, super::xattr::IBODY_START, f.ibody);
    raw
}

fn extent_header(buf: &mut [u8], entries: usize, max: usize, depth: u16) {
    put16(buf, 0, EXTENT_MAGIC);
    put16(buf, 2, entries as u16);
    put16(buf, 4, max as u16);
    put16(buf, 6, depth);
}

/// The extents of `runs` (in file order) into `buf` after a header, `max` of them at most.
fn extents(buf: &mut [u8], runs: &[Run], first_logical: u64, max: usize) {
    extent_header(buf, runs.len(), max, 0);
    let mut logical = first_logical;
    for (i, run) in runs.iter().enumerate() {
        let at = 12 + 12 * i;
        put32(buf, at, logical as u32);
        put16(buf, at + 4, run.len as u16);
        put16(buf, at + 6, (run.start >> 32) as u16);
        put32(buf, at + 8, run.start as u32);
        logical += run.len;
    }
}

/// The extent tree's root in `i_block`, and its leaf blocks when the runs do not fit there
/// (`leaves` are the blocks allocated for them, one per [`LEAF_EXTENTS`] runs).
pub fn extent_tree(runs: &[Run], leaves: &[u64]) -> ([u8; 60], Vec<Vec<u8>>) {
    let mut root = [0u8; 60];
    if leaves.is_empty() {
        extents(&mut root, runs, 0, INODE_EXTENTS);
        return (root, Vec::new());
    }
    extent_header(&mut root, leaves.len(), INODE_EXTENTS, 1);
    let mut blocks = Vec::with_capacity(leaves.len());
    let mut logical = 0u64;
    for (i, (chunk, leaf)) in runs.chunks(LEAF_EXTENTS).zip(leaves).enumerate() {
        let at = 12 + 12 * i;
        put32(&mut root, at, logical as u32);
        put32(&mut root, at + 4, *leaf as u32);
        put16(&mut root, at + 8, (*leaf >> 32) as u16);
        let mut block = vec![0u8; BLOCK as usize];
        extents(&mut block, chunk, logical, LEAF_EXTENTS);
        logical += chunk.iter().map(|r| r.len).sum::<u64>();
        blocks.push(block);
    }
    (root, blocks)
}

/// A device number in `i_block`: the old 16-bit encoding when both halves fit a byte, else the
/// new one in the second word; `None` beyond 12-bit majors and 20-bit minors.
pub fn device(major: u32, minor: u32) -> Option<[u8; 60]> {
    let mut block = [0u8; 60];
    if major < 256 && minor < 256 {
        put32(&mut block, 0, (major << 8) | minor);
    } else if major < 4096 && minor < (1 << 20) {
        put32(
            &mut block,
            4,
            (minor & 0xFF) | (major << 8) | ((minor & !0xFF) << 12),
        );
    } else {
        return None;
    }
    Some(block)
}

/// One directory entry.
pub struct Entry<'a> {
    pub name: &'a [u8],
    pub ino: u32,
    pub file_type: u8,
}

/// A linear directory: `.`, `..`, then `entries` (in their order), packed into blocks, the last
/// entry of each block stretched to its end; then empty blocks up to `min_blocks`.
pub fn directory(ino: u32, parent: u32, entries: &[Entry<'_>], min_blocks: u64) -> Vec<u8> {
    let block = BLOCK as usize;
    let mut out: Vec<u8> = Vec::with_capacity(block);
    let mut last: Option<usize> = None;
    let dots = [
        Entry {
            name: b".",
            ino,
            file_type: 2,
        },
        Entry {
            name: b"..",
            ino: parent,
            file_type: 2,
        },
    ];
    for entry in dots.iter().chain(entries) {
        let len = (8 + entry.name.len()).div_ceil(4) * 4;
        if out.len() % block + len > block || out.is_empty() {
            stretch(&mut out, last);
            out.resize(out.len().div_ceil(block) * block, 0);
        }
        let at = out.len();
        out.resize(at + len, 0);
        put32(&mut out, at, entry.ino);
        put16(&mut out, at + 4, len as u16);
        if let Some(head) = out.get_mut(at + 6..at + 8) {
            head.copy_from_slice(&[entry.name.len() as u8, entry.file_type]);
        }
        put_bytes(&mut out, at + 8, entry.name);
        last = Some(at);
    }
    stretch(&mut out, last);
    while (out.len() as u64) < min_blocks * BLOCK {
        let at = out.len();
        out.resize(at + block, 0);
        put16(&mut out, at + 4, BLOCK as u16);
    }
    out
}

/// Stretches the entry at `last` to the end of its block, and the buffer with it.
fn stretch(out: &mut Vec<u8>, last: Option<usize>) {
    let Some(at) = last else { return };
    let end = (at / BLOCK as usize + 1) * BLOCK as usize;
    put16(out, at + 4, (end - at) as u16);
    out.resize(end, 0);
}

/// The journal's superblock (jbd2 v2, big-endian): `blocks` long, empty (nothing to replay).
pub fn journal_superblock(blocks: u32, uuid: &[u8; 16]) -> Vec<u8> {
    let mut jsb = vec![0u8; BLOCK as usize];
    put_be32(&mut jsb, 0, JOURNAL_MAGIC);
    put_be32(&mut jsb, 4, 4); // h_blocktype: superblock v2
    put_be32(&mut jsb, 12, BLOCK as u32);
    put_be32(&mut jsb, 16, blocks); // s_maxlen
    put_be32(&mut jsb, 20, 1); // s_first
    put_be32(&mut jsb, 24, 1); // s_sequence
    put_bytes(&mut jsb, 48, uuid);
    put_be32(&mut jsb, 64, 1); // s_nr_users
    jsb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_carry_epoch_bits() {
        assert_eq!(inode_time(0), Some((0, 0)));
        assert_eq!(inode_time(-1), Some((u32::MAX, 0)));
        assert_eq!(inode_time(1 << 31), Some((1 << 31, 1)));
        assert_eq!(inode_time(i64::from(i32::MIN) - 1), None);
        assert_eq!(inode_time(1 << 34), None);
    }

    #[test]
    fn devices_old_and_new() {
        let old = device(1, 3).unwrap();
        assert_eq!(&old[..8], &[3, 1, 0, 0, 0, 0, 0, 0]);
        let new = device(300, 70000).unwrap();
        let word = u32::from_le_bytes(new[4..8].try_into().unwrap());
        assert_eq!((word & 0xfff00) >> 8, 300);
        assert_eq!((word & 0xff) | ((word >> 12) & 0xfff00), 70000);
        assert!(device(5000, 1).is_none());
    }

    #[test]
    fn directory_entries_fill_their_blocks() {
        let names: Vec<Vec<u8>> = (0..400)
            .map(|i| format!("name-{i:05}").into_bytes())
            .collect();
        let entries: Vec<Entry<'_>> = names
            .iter()
            .map(|n| Entry {
                name: n,
                ino: 12,
                file_type: 1,
            })
            .collect();
        let dir = directory(2, 2, &entries, 1);
        assert_eq!(dir.len() % BLOCK as usize, 0);
        let mut count = 0;
        for block in dir.chunks(BLOCK as usize) {
            let mut at = 0;
            while at < block.len() {
                count += 1;
                at += usize::from(u16::from_le_bytes([block[at + 4], block[at + 5]]));
            }
            assert_eq!(at, block.len());
        }
        assert_eq!(count, 402);
    }
}
