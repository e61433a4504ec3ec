//! The parsed `Packages` index kept in the cache (`repo::compact`): its decoder reads bytes that
//! passed a digest check but are still treated as untrusted. Any input decodes to an index or
//! an error, never a panic; an index that decodes is encoded back to the same bytes (the form
//! is canonical); and a `Packages` text, parsed, encoded and decoded, is the same index.
#![no_main]

use std::sync::OnceLock;

use debroot::debian::Architecture;
use debroot::digest::Sha256Digest;
use debroot::repo::{compact, packages};

fn amd64() -> &'static Architecture {
    static ARCH: OnceLock<Architecture> = OnceLock::new();
    ARCH.get_or_init(|| Architecture::parse("amd64").expect("amd64 is an architecture"))
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // The seeds are made with the digest of the empty text as their source.
    let source = Sha256Digest::of(b"");
    if let Ok(index) = compact::decode(data, &source, amd64()) {
        assert_eq!(compact::encode(&index, &source, amd64()), data);
    }
    if let Ok(index) = packages::parse(data, amd64()) {
        let bytes = compact::encode(&index, &source, amd64());
        assert_eq!(compact::decode(&bytes, &source, amd64()), Ok(index));
    }
});
