//! Where things go: the groups' metadata and the blocks handed out after it.
//!
//! Every group is [`BLOCKS_PER_GROUP`] blocks (the last may be shorter) and begins with its
//! metadata: a superblock backup and the group descriptor table where `sparse_super` puts them
//! (groups 0, 1 and the powers of 3, 5 and 7), then the block bitmap, the inode bitmap and the
//! inode table. The rest of the group is data. [`Allocator`] hands data blocks out in order,
//! from group 0 onwards, never leaving a gap: so each group's used blocks are a prefix of it,
//! and the bitmaps follow from where the allocator stopped.

/// The block size: 4 KiB, the only one the writer makes.
pub const BLOCK: u64 = 4096;
/// Blocks (and so block bitmap bits) in a group: one bitmap block's worth.
pub const BLOCKS_PER_GROUP: u64 = BLOCK * 8;
/// The on-disk size of an inode.
pub const INODE_SIZE: u64 = 256;
/// Inodes in one block of the inode table.
const INODES_PER_BLOCK: u32 = (BLOCK / INODE_SIZE) as u32;
/// The most inodes a group can have (one inode bitmap block).
const MAX_INODES_PER_GROUP: u32 = (BLOCK * 8) as u32;
/// The longest initialized extent.
pub const MAX_EXTENT: u64 = 32768;
/// A group descriptor without the `64bit` feature.
pub const DESC_SIZE: u64 = 32;

/// A contiguous run of blocks: one extent's worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    pub start: u64,
    pub len: u64,
}

/// The image's shape: how many groups, inodes and blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub groups: u32,
    pub inodes_per_group: u32,
    pub blocks_count: u64,
}

impl Geometry {
    /// `groups` groups, all whole, with room for at least `inodes` inodes (a whole number of
    /// inode table blocks per group); `None` when a group cannot hold that many.
    pub fn new(groups: u32, inodes: u64) -> Option<Geometry> {
        let per_group = inodes.div_ceil(u64::from(groups.max(1)));
        let per_group = per_group
            .max(1)
            .div_ceil(u64::from(INODES_PER_BLOCK))
            .checked_mul(u64::from(INODES_PER_BLOCK))?;
        let inodes_per_group = u32::try_from(per_group).ok()?;
        if inodes_per_group > MAX_INODES_PER_GROUP {
            return None;
        }
        u64::from(groups)
            .checked_mul(u64::from(inodes_per_group))
            .filter(|total| *total <= u64::from(u32::MAX))?;
        Some(Geometry {
            groups,
            inodes_per_group,
            blocks_count: u64::from(groups) * BLOCKS_PER_GROUP,
        })
    }

    /// All the inodes of the image.
    pub fn inodes_count(&self) -> u32 {
        self.groups.saturating_mul(self.inodes_per_group)
    }

    /// Blocks of the group descriptor table.
    pub fn gdt_blocks(&self) -> u64 {
        (u64::from(self.groups) * DESC_SIZE).div_ceil(BLOCK)
    }

    /// Blocks of one group's inode table.
    pub fn itable_blocks(&self) -> u64 {
        u64::from(self.inodes_per_group / INODES_PER_BLOCK)
    }

    /// Whether `group` holds a superblock backup and the descriptor table (`sparse_super`).
    pub fn has_super(group: u32) -> bool {
        group <= 1 || [3, 5, 7].iter().any(|&base| is_power_of(group, base))
    }

    /// The group's first block.
    pub fn group_start(&self, group: u32) -> u64 {
        u64::from(group) * BLOCKS_PER_GROUP
    }

    /// One past the group's last block.
    pub fn group_end(&self, group: u32) -> u64 {
        (self.group_start(group) + BLOCKS_PER_GROUP).min(self.blocks_count)
    }

    pub fn block_bitmap(&self, group: u32) -> u64 {
        let skip = if Self::has_super(group) {
            1 + self.gdt_blocks()
        } else {
            0
        };
        self.group_start(group) + skip
    }

    pub fn inode_bitmap(&self, group: u32) -> u64 {
        self.block_bitmap(group) + 1
    }

    pub fn inode_table(&self, group: u32) -> u64 {
        self.block_bitmap(group) + 2
    }

    /// The group's first data block.
    pub fn data_start(&self, group: u32) -> u64 {
        self.inode_table(group) + self.itable_blocks()
    }

    /// Blocks of `group` in use when the allocator stopped at `next`: its metadata and the data
    /// handed out.
    pub fn used_in_group(&self, group: u32, next: u64) -> u64 {
        let start = self.group_start(group);
        let used_end = next.clamp(self.data_start(group), self.group_end(group));
        used_end - start
    }

    /// Inodes of `group` in use when inodes 1 to `last_ino` are.
    pub fn used_inodes_in_group(&self, group: u32, last_ino: u32) -> u32 {
        let before = group.saturating_mul(self.inodes_per_group);
        last_ino.saturating_sub(before).min(self.inodes_per_group)
    }
}

/// Whether `n` is `base` to some power of 1 or more.
fn is_power_of(mut n: u32, base: u32) -> bool {
    if n < base {
        return false;
    }
    while n.is_multiple_of(base) {
        n /= base;
    }
    n == 1
}

/// Hands out data blocks in order, from group 0 on, skipping each group's metadata.
pub struct Allocator<'a> {
    geometry: &'a Geometry,
    group: u32,
    next: u64,
}

impl<'a> Allocator<'a> {
    pub fn new(geometry: &'a Geometry) -> Self {
        Allocator {
            geometry,
            group: 0,
            next: geometry.data_start(0),
        }
    }

    /// `count` blocks as runs of at most [`MAX_EXTENT`] blocks; `None` when the image is full.
    pub fn allocate(&mut self, count: u64) -> Option<Vec<Run>> {
        let mut runs = Vec::new();
        let mut left = count;
        while left > 0 {
            let end = self.geometry.group_end(self.group);
            if self.next >= end {
                self.group = self.group.checked_add(1)?;
                if self.group >= self.geometry.groups {
                    return None;
                }
                self.next = self.geometry.data_start(self.group);
                continue;
            }
            let len = left.min(end - self.next).min(MAX_EXTENT);
            runs.push(Run {
                start: self.next,
                len,
            });
            self.next += len;
            left -= len;
        }
        Some(runs)
    }

    /// The first block not handed out.
    pub fn next(&self) -> u64 {
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backups_in_groups_0_1_and_powers_of_3_5_7() {
        let with: Vec<u32> = (0..50).filter(|&g| Geometry::has_super(g)).collect();
        assert_eq!(with, [0, 1, 3, 5, 7, 9, 25, 27, 49]);
    }

    #[test]
    fn allocation_skips_metadata_and_splits_runs() {
        let geometry = Geometry::new(3, 100).unwrap();
        let mut alloc = Allocator::new(&geometry);
        let first = geometry.data_start(0);
        let runs = alloc.allocate(BLOCKS_PER_GROUP).unwrap();
        assert_eq!(
            runs[0],
            Run {
                start: first,
                len: BLOCKS_PER_GROUP - first
            }
        );
        assert_eq!(runs[1].start, geometry.data_start(1));
        assert_eq!(runs.iter().map(|r| r.len).sum::<u64>(), BLOCKS_PER_GROUP);
        assert!(alloc.allocate(3 * BLOCKS_PER_GROUP).is_none());
    }
}
