//! Extended attributes: in the inode's spare bytes, and in one block for the rest.
//!
//! Both places hold the same list: a 4-byte magic (in the block, a 32-byte header), entries
//! (`ext4_xattr_entry`: name length, name index, value offset, value inode, value size, hash,
//! then the name without its prefix, padded to 4 bytes), a zero word ending the list, and the
//! values packed from the end of the space towards the entries. Names are sorted by (index,
//! length, name), the order the kernel's lookup in a block relies on. Attributes go into the
//! inode while they fit, in that order; the others into the block. A value that does not fit
//! the block is refused (ext4's `ea_inode`, a value in its own inode, is not used).
//!
//! POSIX ACLs (`system.posix_acl_access`, `system.posix_acl_default`) are stored in ext4's own
//! compact format, not the `getxattr` one: [`acl_to_disk`] converts them.

use std::collections::BTreeMap;

use super::layout::{BLOCK, INODE_SIZE};

/// The magic number before the entries, in the inode and in the block header.
const MAGIC: u32 = 0xEA02_0000;
/// The block header before the first entry.
const BLOCK_HEADER: usize = 32;
/// Where the in-inode attributes begin: after the 128-byte base inode and the 32 extra bytes.
pub const IBODY_START: usize = 128 + 32;
/// The fixed part of an entry, before the name.
const ENTRY_HEADER: usize = 16;

/// The encoded attributes of one inode.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The bytes from [`IBODY_START`] to the end of the inode (empty when none are there).
    pub ibody: Vec<u8>,
    /// The attribute block (`i_file_acl`), when some did not fit in the inode.
    pub block: Option<Vec<u8>>,
}

/// One attribute as stored: the name index, the name after its prefix, the value.
struct Attr<'a> {
    index: u8,
    name: &'a [u8],
    value: Vec<u8>,
}

impl Attr<'_> {
    fn entry_len(&self) -> usize {
        round4(ENTRY_HEADER + self.name.len())
    }

    fn value_len(&self) -> usize {
        round4(self.value.len())
    }
}

fn round4(n: usize) -> usize {
    n.div_ceil(4) * 4
}

/// The name index and the rest of `name`, as ext4 stores it; why not, if it cannot.
fn split_name(name: &[u8]) -> Result<(u8, &[u8]), String> {
    const PREFIXES: [(&[u8], u8); 4] = [
        (b"user.", 1),
        (b"trusted.", 4),
        (b"security.", 6),
        (b"system.", 7),
    ];
    match name {
        b"system.posix_acl_access" => return Ok((2, b"")),
        b"system.posix_acl_default" => return Ok((3, b"")),
        _ => {}
    }
    let (index, rest) = PREFIXES
        .iter()
        .find_map(|(prefix, index)| name.strip_prefix(*prefix).map(|rest| (*index, rest)))
        .ok_or_else(|| {
            format!(
                "extended attribute `{}` is in a namespace ext4 does not have",
                String::from_utf8_lossy(name)
            )
        })?;
    if index == 7 || rest.is_empty() || rest.len() > 255 {
        return Err(format!(
            "extended attribute `{}` cannot be stored in ext4",
            String::from_utf8_lossy(name)
        ));
    }
    Ok((index, rest))
}

/// Encodes `xattrs` for an inode; the error says why they cannot be.
pub fn encode(xattrs: &BTreeMap<Vec<u8>, Vec<u8>>) -> Result<Encoded, String> {
    let mut attrs = Vec::with_capacity(xattrs.len());
    for (name, value) in xattrs {
        let (index, rest) = split_name(name)?;
        let value = if index == 2 || index == 3 {
            acl_to_disk(value)
                .ok_or_else(|| format!("`{}` is not a POSIX ACL", String::from_utf8_lossy(name)))?
        } else {
            value.clone()
        };
        attrs.push(Attr {
            index,
            name: rest,
            value,
        });
    }
    attrs.sort_by(|a, b| (a.index, a.name.len(), a.name).cmp(&(b.index, b.name.len(), b.name)));
    // The space after the magic, and a terminating zero word in each list.
    let ibody_space = INODE_SIZE as usize - IBODY_START - 4;
    let block_space = BLOCK as usize - BLOCK_HEADER;
    let (mut in_inode, mut in_block) = (Vec::new(), Vec::new());
    let mut ibody_used = 4;
    for attr in attrs {
        let need = attr.entry_len() + attr.value_len();
        if ibody_used + need <= ibody_space {
            ibody_used += need;
            in_inode.push(attr);
        } else {
            in_block.push(attr);
        }
    }
    let block_used: usize = 4 + in_block
        .iter()
        .map(|a| a.entry_len() + a.value_len())
        .sum::<usize>();
    if block_used > block_space {
        return Err("extended attributes too large for one 4 KiB block".into());
    }
    let ibody = if in_inode.is_empty() {
        Vec::new()
    } else {
        let mut ibody = vec![0u8; INODE_SIZE as usize - IBODY_START];
        put32(&mut ibody, 0, MAGIC);
        if let Some(space) = ibody.get_mut(4..) {
            write_entries(space, 0, &in_inode);
        }
        ibody
    };
    let block = if in_block.is_empty() {
        None
    } else {
        let mut block = vec![0u8; BLOCK as usize];
        let hash = write_entries(&mut block, BLOCK_HEADER, &in_block);
        put32(&mut block, 0, MAGIC);
        put32(&mut block, 4, 1); // h_refcount
        put32(&mut block, 8, 1); // h_blocks
        put32(&mut block, 12, hash);
        Some(block)
    };
    Ok(Encoded { ibody, block })
}

/// Writes the entries from `first` and their values from the end of `space` (offsets relative
/// to the start of `space`), and returns the block hash of the entries.
fn write_entries(space: &mut [u8], first: usize, attrs: &[Attr<'_>]) -> u32 {
    let mut at = first;
    let mut value_end = space.len();
    let mut block_hash = 0u32;
    for attr in attrs {
        let offset = if attr.value.is_empty() {
            0
        } else {
            value_end -= attr.value_len();
            if let Some(slot) = space.get_mut(value_end..value_end + attr.value.len()) {
                slot.copy_from_slice(&attr.value);
            }
            value_end
        };
        let hash = entry_hash(attr.name, &attr.value);
        if let Some(head) = space.get_mut(at..at + 2) {
            head.copy_from_slice(&[attr.name.len() as u8, attr.index]);
        }
        put16(space, at + 2, offset as u16);
        put32(space, at + 4, 0); // e_value_inum
        put32(space, at + 8, attr.value.len() as u32);
        put32(space, at + 12, hash);
        if let Some(slot) = space.get_mut(at + ENTRY_HEADER..at + ENTRY_HEADER + attr.name.len()) {
            slot.copy_from_slice(attr.name);
        }
        at += attr.entry_len();
        block_hash = (block_hash << 16) ^ (block_hash >> 16) ^ hash;
    }
    block_hash
}

/// The hash of an entry, as e2fsprogs' `ext2fs_ext_attr_hash_entry` and the kernel compute it:
/// the name's bytes rotated in 5 bits at a time, then the value's little-endian words (zero
/// padded) 16 bits at a time.
pub fn entry_hash(name: &[u8], value: &[u8]) -> u32 {
    let mut hash = 0u32;
    for &c in name {
        hash = (hash << 5) ^ (hash >> 27) ^ u32::from(c);
    }
    for word in value.chunks(4) {
        let mut bytes = [0u8; 4];
        if let Some(dst) = bytes.get_mut(..word.len()) {
            dst.copy_from_slice(word);
        }
        hash = (hash << 16) ^ (hash >> 16) ^ u32::from_le_bytes(bytes);
    }
    hash
}

/// A POSIX ACL in the `getxattr` form (version 2, 8-byte entries) in ext4's on-disk form
/// (version 1; owner, group, mask and other entries without the id); `None` if malformed.
pub fn acl_to_disk(value: &[u8]) -> Option<Vec<u8>> {
    let (version, entries) = value.split_first_chunk::<4>()?;
    if u32::from_le_bytes(*version) != 2 || entries.len() % 8 != 0 {
        return None;
    }
    let mut disk = 1u32.to_le_bytes().to_vec();
    for entry in entries.chunks_exact(8) {
        let (short, id) = entry.split_at(4);
        let tag = u16::from_le_bytes([*short.first()?, *short.get(1)?]);
        match tag {
            // ACL_USER, ACL_GROUP: with the id.
            0x02 | 0x08 => {
                disk.extend_from_slice(short);
                disk.extend_from_slice(id);
            }
            // ACL_USER_OBJ, ACL_GROUP_OBJ, ACL_MASK, ACL_OTHER.
            0x01 | 0x04 | 0x10 | 0x20 => disk.extend_from_slice(short),
            _ => return None,
        }
    }
    Some(disk)
}

fn put16(buf: &mut [u8], at: usize, value: u16) {
    if let Some(dst) = buf.get_mut(at..at + 2) {
        dst.copy_from_slice(&value.to_le_bytes());
    }
}

fn put32(buf: &mut [u8], at: usize, value: u32) {
    if let Some(dst) = buf.get_mut(at..at + 4) {
        dst.copy_from_slice(&value.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Worked by hand from e2fsprogs' description (`ext_attr.c`): the name "ab" gives
    /// `(0x61 << 5) ^ 0x62` = 0xc42; the value "xyz" is the word 0x007a7978:
    /// `(0xc42 << 16) ^ (0xc42 >> 16) ^ 0x007a7978` = 0x0c387978.
    #[test]
    fn entry_hash_as_e2fsprogs() {
        assert_eq!(entry_hash(b"ab", b""), 0xc42);
        assert_eq!(entry_hash(b"ab", b"xyz"), 0x0c38_7978);
    }

    #[test]
    fn small_attributes_stay_in_the_inode_large_ones_go_to_the_block() {
        let mut xattrs = BTreeMap::new();
        xattrs.insert(b"security.capability".to_vec(), vec![1; 20]);
        xattrs.insert(b"user.large".to_vec(), vec![7; 3000]);
        let encoded = encode(&xattrs).unwrap();
        assert_eq!(encoded.ibody.len(), 96);
        assert_eq!(&encoded.ibody[..4], &MAGIC.to_le_bytes());
        assert_eq!(encoded.ibody[4], 10); // "capability"
        assert_eq!(encoded.ibody[5], 6); // security
        let block = encoded.block.unwrap();
        assert_eq!(block[BLOCK_HEADER + 1], 1); // user
        let value_offset = u16::from_le_bytes([block[BLOCK_HEADER + 2], block[BLOCK_HEADER + 3]]);
        assert_eq!(usize::from(value_offset), BLOCK as usize - 3000);
        let entry = entry_hash(b"large", &[7; 3000]);
        assert_eq!(
            &block[BLOCK_HEADER + 12..BLOCK_HEADER + 16],
            &entry.to_le_bytes()
        );
        // One entry: the block hash is the entry's hash.
        assert_eq!(&block[12..16], &entry.to_le_bytes());
    }

    #[test]
    fn refuses_what_ext4_cannot_hold() {
        let mut xattrs = BTreeMap::new();
        xattrs.insert(b"user.big".to_vec(), vec![0; 5000]);
        assert!(encode(&xattrs).is_err());
        let mut xattrs = BTreeMap::new();
        xattrs.insert(b"other.x".to_vec(), vec![0; 5]);
        assert!(encode(&xattrs).is_err());
    }

    #[test]
    fn acl_in_disk_form() {
        let mut acl = 2u32.to_le_bytes().to_vec();
        for (tag, perm, id) in [
            (1u16, 6u16, u32::MAX),
            (2, 4, 1000),
            (4, 4, u32::MAX),
            (0x10, 4, u32::MAX),
            (0x20, 0, u32::MAX),
        ] {
            acl.extend_from_slice(&tag.to_le_bytes());
            acl.extend_from_slice(&perm.to_le_bytes());
            acl.extend_from_slice(&id.to_le_bytes());
        }
        let disk = acl_to_disk(&acl).unwrap();
        assert_eq!(disk.len(), 4 + 4 + 8 + 4 + 4 + 4);
        assert_eq!(&disk[8..16], &[2, 0, 4, 0, 0xe8, 3, 0, 0]);
        assert!(acl_to_disk(&[2, 0, 0, 0, 1]).is_none());
    }
}
