//! Filesystem images of a built tree: squashfs, erofs and ext4, each written by debroot itself
//! from the same nodes the tarball is written from (see the README's formats table for why
//! debroot writes them rather than running `mksquashfs`, `mkfs.erofs` or `mke2fs`), and the
//! dm-verity hash tree of an image ([`verity`]).
//!
//! A writer takes the tree's nodes in [`crate::output::tree_order`] (the root first, its path
//! empty; a hard link after the path it names) and reads the contents of regular files from a
//! [`Source`]. It writes only what the nodes say: every time, owner, mode, extended attribute
//! and device number; every UUID, hash seed and salt comes from [`Params::seed`], and inode
//! numbers follow the nodes' order. So the same nodes give the same bytes on any machine, with
//! any number of jobs.

pub mod disk;
pub mod erofs;
pub mod ext4;
pub mod squashfs;
pub mod verity;

use std::io::{self, Read};
use std::path::Path;

/// Where a writer reads the contents of regular files.
pub trait Source {
    /// The contents of the regular file at `path` (relative to the root, as in a node).
    fn open(&self, path: &[u8]) -> io::Result<Box<dyn Read + '_>>;
}

/// The files of a tree on disk, under `root`. Never follows a symlink at the last component.
pub struct OnDisk<'a>(pub &'a Path);

impl Source for OnDisk<'_> {
    fn open(&self, path: &[u8]) -> io::Result<Box<dyn Read + '_>> {
        use std::os::unix::fs::OpenOptionsExt;
        let full = self
            .0
            .join(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(path));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(full)?;
        Ok(Box::new(file))
    }
}

/// What fixes an image's bytes besides its nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// `SOURCE_DATE_EPOCH`: the image's own times (superblock, creation, last check).
    pub epoch: i64,
    /// Where every UUID, hash seed and salt is taken from: the digest of the tree (its
    /// uncompressed tarball), so the same tree gives the same image.
    pub seed: [u8; 32],
}

impl Params {
    /// A 16-byte identifier for `purpose` (`"uuid"`, `"hash_seed"`, ...): SHA-256 of the seed and
    /// the purpose, cut to 16 bytes, marked as a version 4 (random) UUID.
    pub fn uuid(&self, purpose: &str) -> [u8; 16] {
        let mut hasher = crate::digest::Hasher::new();
        hasher.update(&self.seed);
        hasher.update(purpose.as_bytes());
        let digest = hasher.finish();
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest.0[..16]);
        id[6] = (id[6] & 0x0f) | 0x40;
        id[8] = (id[8] & 0x3f) | 0x80;
        id
    }
}

/// Why an image cannot be written, naming the member.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("cannot read `{}` of the built tree", crate::debian::escape(.path))]
    Read {
        path: Vec<u8>,
        #[source]
        source: io::Error,
    },
    #[error("cannot write the image")]
    Write(#[source] io::Error),
    /// A node the format cannot hold (a name too long, a file too large, too many inodes).
    #[error("`{}`: {reason}", crate::debian::escape(.path))]
    Unsupported { path: Vec<u8>, reason: String },
    /// Nodes not in tree order, a hard link to a path not seen before, a parent missing.
    #[error("the tree's nodes are malformed at `{}`: {reason}", crate::debian::escape(.path))]
    Malformed { path: Vec<u8>, reason: String },
}

impl From<io::Error> for ImageError {
    fn from(source: io::Error) -> Self {
        ImageError::Write(source)
    }
}
