//! What the fuzz targets share: the keyring and signed text the seed corpus was made with, and
//! the armor that turns raw packets into a signature block.
//!
//! `fuzz/run` writes both files next to the corpus, from the generator in `tests/it/no_panic.rs`
//! (the same deterministic test keys and the same signed `Release`), so that the signature
//! targets verify mutations of real signatures against the key that made them.

use std::path::PathBuf;
use std::sync::OnceLock;

use debroot::repo::signature::Keyring;
use debroot::timestamp::Timestamp;

/// When the seed signatures are judged: two days after the test keys were made (2020-01-01), one
/// day after the seeds were signed (`tests/it/common/keys.rs`).
pub const REFERENCE: Timestamp = Timestamp(1_577_836_800 + 2 * 86_400);

/// The folder of the seed corpus, `fuzz/corpus`.
pub fn corpus_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/corpus"))
}

/// A file the corpus generator writes beside the corpus. Its absence is a set-up error, told
/// before any input runs (a panic here is not a finding).
fn generated(name: &str) -> Vec<u8> {
    let path = corpus_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|error| {
        panic!(
            "{}: {error}; write the corpus first (fuzz/README.md: `fuzz/run seeds`)",
            path.display()
        )
    })
}

/// The keyring the seeds verify against (the trusted test key).
pub fn keyring() -> &'static Keyring {
    static KEYRING: OnceLock<Keyring> = OnceLock::new();
    KEYRING.get_or_init(|| {
        Keyring::parse(&generated("keyring.pgp"))
            .unwrap_or_else(|error| panic!("the generated keyring does not parse: {error}"))
    })
}

/// The signed part of the seed `InRelease` (armor header, `Hash:` line and text), to which the
/// `signature` target appends its input as the signature block.
pub fn signed_part() -> &'static [u8] {
    static SIGNED: OnceLock<Vec<u8>> = OnceLock::new();
    SIGNED.get_or_init(|| generated("signed-part.txt"))
}

/// An armored signature block of `packets` (RFC 9580 armor; its checksum is optional).
pub fn armor(packets: &[u8]) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut base64 = Vec::with_capacity(packets.len() / 3 * 4 + 4);
    for chunk in packets.chunks(3) {
        let byte = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (byte(0) << 16) | (byte(1) << 8) | byte(2);
        for i in 0..4 {
            if i <= chunk.len() {
                base64.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]);
            } else {
                base64.push(b'=');
            }
        }
    }
    let mut out = b"-----BEGIN PGP SIGNATURE-----\n\n".to_vec();
    for line in base64.chunks(64) {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out.extend_from_slice(b"-----END PGP SIGNATURE-----\n");
    out
}
