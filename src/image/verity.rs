//! The dm-verity hash tree of an image, as `veritysetup format` writes it with its defaults:
//! format version 1, SHA-256, 4096-byte data and hash blocks, a 32-byte salt, and the verity
//! superblock first in the hash file.
//!
//! The tree is computed here rather than by `veritysetup`, so a build needs no cryptsetup and
//! no device-mapper; the tests check it with `veritysetup verify`. Its salt and UUID are
//! derived from the image's SHA-256, so the same image gives the same hash file and root hash
//! on every rebuild.
//!
//! Layout (cryptsetup's `lib/verity/verity_hash.c`): level 0 hashes the data blocks, each level
//! above hashes the blocks of the one below, 128 digests to a hash block, the last block of a
//! level padded with zeros; every digest is `SHA-256(salt || block)`. After the 4096-byte block
//! that holds the 512-byte superblock, the levels are stored top first. The root hash is the
//! digest of the top level's only block. Pure: the caller reads the image and writes the file.

use crate::digest::{Hasher, Sha256Digest};

/// The data and hash block size.
pub const BLOCK: usize = 4096;
const DIGEST: usize = 32;

/// What `veritysetup` needs besides the two files, as the manifest records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verity {
    pub root_hash: Sha256Digest,
    pub salt: [u8; 32],
    pub uuid: [u8; 16],
    pub data_blocks: u64,
    /// The hash file: superblock block, then the levels, top first.
    pub hash_file: Vec<u8>,
}

impl Verity {
    /// The UUID as `veritysetup` prints it.
    pub fn uuid_text(&self) -> String {
        let hex = hex::encode(self.uuid);
        format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )
    }
}

/// Hashes an image block by block; [`Tree::finish`] gives the hash file and root hash.
pub struct Tree {
    salt: [u8; 32],
    uuid: [u8; 16],
    /// The digests of the data blocks seen so far (level 0's contents).
    level0: Vec<u8>,
    /// A data block being filled.
    pending: Vec<u8>,
}

/// Why the tree cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum VerityError {
    #[error("a dm-verity image must be whole 4096-byte blocks; {0} bytes are left over")]
    Partial(usize),
    #[error("a dm-verity image cannot be empty")]
    Empty,
}

impl Tree {
    /// A tree for the image whose SHA-256 is `image_digest` (salt and UUID derive from it).
    pub fn new(image_digest: &Sha256Digest) -> Self {
        let derive = |purpose: &[u8]| {
            let mut hasher = Hasher::new();
            hasher.update(b"debroot dm-verity ");
            hasher.update(purpose);
            hasher.update(&image_digest.0);
            hasher.finish().0
        };
        let salt = derive(b"salt");
        let mut uuid = [0u8; 16];
        uuid.copy_from_slice(&derive(b"uuid")[..16]);
        uuid[6] = (uuid[6] & 0x0f) | 0x40;
        uuid[8] = (uuid[8] & 0x3f) | 0x80;
        Tree {
            salt,
            uuid,
            level0: Vec::new(),
            pending: Vec::with_capacity(BLOCK),
        }
    }

    /// Feeds the next bytes of the image.
    pub fn update(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.pending.is_empty() && bytes.len() >= BLOCK {
                let (block, rest) = bytes.split_at(BLOCK);
                self.level0.extend_from_slice(&self.digest(block));
                bytes = rest;
                continue;
            }
            let take = (BLOCK - self.pending.len()).min(bytes.len());
            let (head, rest) = bytes.split_at(take);
            self.pending.extend_from_slice(head);
            bytes = rest;
            if self.pending.len() == BLOCK {
                let digest = self.digest(&self.pending);
                self.level0.extend_from_slice(&digest);
                self.pending.clear();
            }
        }
    }

    fn digest(&self, block: &[u8]) -> [u8; 32] {
        let mut hasher = Hasher::new();
        hasher.update(&self.salt);
        hasher.update(block);
        hasher.finish().0
    }

    /// The hash file and root hash of the image fed so far.
    pub fn finish(self) -> Result<Verity, VerityError> {
        if !self.pending.is_empty() {
            return Err(VerityError::Partial(self.pending.len()));
        }
        let data_blocks = (self.level0.len() / DIGEST) as u64;
        if data_blocks == 0 {
            return Err(VerityError::Empty);
        }
        // Each level as whole hash blocks, from level 0 up, until one block is left; with a
        // single data block there is no level and the root is that block's digest.
        let mut levels: Vec<Vec<u8>> = Vec::new();
        let mut digests = self.level0.clone();
        while digests.len() > DIGEST {
            let mut level = digests;
            let padded = level.len().div_ceil(BLOCK) * BLOCK;
            level.resize(padded, 0);
            digests = level
                .chunks(BLOCK)
                .flat_map(|block| self.digest(block))
                .collect();
            levels.push(level);
        }
        let root_hash = Sha256Digest(digests[..DIGEST].try_into().unwrap_or([0; 32]));
        let mut hash_file = self.superblock(data_blocks);
        for level in levels.iter().rev() {
            hash_file.extend_from_slice(level);
        }
        Ok(Verity {
            root_hash,
            salt: self.salt,
            uuid: self.uuid,
            data_blocks,
            hash_file,
        })
    }

    /// The verity superblock (`struct verity_sb`), padded to a hash block.
    fn superblock(&self, data_blocks: u64) -> Vec<u8> {
        let mut sb = Vec::with_capacity(BLOCK);
        sb.extend_from_slice(b"verity\0\0");
        sb.extend_from_slice(&1u32.to_le_bytes()); // superblock version
        sb.extend_from_slice(&1u32.to_le_bytes()); // hash type: normal (salt first)
        sb.extend_from_slice(&self.uuid);
        let mut algorithm = [0u8; 32];
        algorithm[..6].copy_from_slice(b"sha256");
        sb.extend_from_slice(&algorithm);
        sb.extend_from_slice(&(BLOCK as u32).to_le_bytes()); // data block size
        sb.extend_from_slice(&(BLOCK as u32).to_le_bytes()); // hash block size
        sb.extend_from_slice(&data_blocks.to_le_bytes());
        sb.extend_from_slice(&(self.salt.len() as u16).to_le_bytes());
        sb.extend_from_slice(&[0u8; 6]);
        let mut salt = [0u8; 256];
        salt[..32].copy_from_slice(&self.salt);
        sb.extend_from_slice(&salt);
        sb.resize(BLOCK, 0);
        sb
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree_of(data: &[u8]) -> Verity {
        let mut tree = Tree::new(&Sha256Digest::of(data));
        // Fed in odd pieces: the result must not depend on how the image is read.
        for piece in data.chunks(1000) {
            tree.update(piece);
        }
        tree.finish().unwrap()
    }

    #[test]
    fn the_hash_file_has_a_superblock_then_the_levels_top_first() {
        // 300 blocks: level 0 has 3 hash blocks, level 1 one; the file is 1 + 1 + 3 blocks.
        let data: Vec<u8> = (0..300 * BLOCK).map(|i| (i / BLOCK) as u8).collect();
        let verity = tree_of(&data);
        assert_eq!(verity.data_blocks, 300);
        assert_eq!(verity.hash_file.len(), 5 * BLOCK);
        assert_eq!(&verity.hash_file[..8], b"verity\0\0");
        let top = &verity.hash_file[BLOCK..2 * BLOCK];
        let mut hasher = Hasher::new();
        hasher.update(&verity.salt);
        hasher.update(top);
        assert_eq!(hasher.finish(), verity.root_hash);
        // The first digest of level 0 is that of the first data block.
        let mut hasher = Hasher::new();
        hasher.update(&verity.salt);
        hasher.update(&data[..BLOCK]);
        assert_eq!(
            &verity.hash_file[2 * BLOCK..2 * BLOCK + 32],
            &hasher.finish().0
        );
    }

    #[test]
    fn the_same_image_gives_the_same_tree_and_another_a_different_one() {
        let data = vec![7u8; 10 * BLOCK];
        assert_eq!(tree_of(&data), tree_of(&data));
        let mut flipped = data.clone();
        flipped[5 * BLOCK + 3] ^= 1;
        let other = tree_of(&flipped);
        assert_ne!(other.root_hash, tree_of(&data).root_hash);
        assert_ne!(other.salt, tree_of(&data).salt);
    }

    #[test]
    fn partial_blocks_and_empty_images_are_refused() {
        let mut tree = Tree::new(&Sha256Digest::of(b""));
        tree.update(&[1, 2, 3]);
        assert!(matches!(tree.finish(), Err(VerityError::Partial(3))));
        assert!(matches!(
            Tree::new(&Sha256Digest::of(b"")).finish(),
            Err(VerityError::Empty)
        ));
    }

    #[test]
    fn a_single_block_image_has_no_level() {
        let verity = tree_of(&[1u8; BLOCK]);
        assert_eq!(verity.hash_file.len(), BLOCK);
        assert_eq!(verity.uuid_text().len(), 36);
    }
}
