//! No panic on any input: every parser that reads bytes from outside (a mirror, a `.deb`, a
//! keyring, a tarball, a lockfile) is fed random bytes and random mutations of valid inputs,
//! and must return, with a value or an error. This is the in-suite counterpart of the fuzz
//! targets THREATS.md lists: the clearsign envelope and signatures, Release and Packages,
//! deb822, the ar container, tar headers, the decompressors, versions and relation fields.
//!
//! A mutation overwrites, inserts or deletes bytes of a seed and may cut it short, so most
//! cases get past the first checks (magic numbers, checksums of untouched headers) and reach
//! the deeper code. proptest shrinks a failure to a small case and prints it.

mod common;

use std::io::Read;
use std::sync::OnceLock;

use proptest::prelude::*;

use common::deb::{Member, Package, ar, gz, tar, xz};
use common::keys;
use debroot::compression::{self, Compression};
use debroot::debian::relation::{self, FieldKind};
use debroot::debian::{Architecture, PackageName, Version, deb822};
use debroot::repo::{clearsign, packages, release, signature};
use debroot::timestamp::Timestamp;
use debroot::unpack::deb::DebReader;
use debroot::unpack::tar::TarReader;

const CASES: u32 = 256;

/// One change to a seed: overwrite, insert or delete a byte at a position (taken modulo the
/// length, so every position can be hit whatever the seed's size).
#[derive(Debug, Clone)]
enum Edit {
    Set(usize, u8),
    Insert(usize, u8),
    Delete(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Edit::Set(at, byte)),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Edit::Insert(at, byte)),
        1 => any::<usize>().prop_map(Edit::Delete),
    ]
}

/// Up to eight edits, and a cut to a fraction of the length one time in four.
fn mutation() -> impl Strategy<Value = (Vec<Edit>, Option<u16>)> {
    (
        prop::collection::vec(edit(), 1..8),
        prop_oneof![3 => Just(None), 1 => any::<u16>().prop_map(Some)],
    )
}

fn mutate(seed: &[u8], (edits, cut): &(Vec<Edit>, Option<u16>)) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for edit in edits {
        match *edit {
            Edit::Set(at, byte) if !bytes.is_empty() => {
                let at = at % bytes.len();
                bytes[at] = byte;
            }
            Edit::Insert(at, byte) => {
                let at = at % (bytes.len() + 1);
                bytes.insert(at, byte);
            }
            Edit::Delete(at) if !bytes.is_empty() => {
                let at = at % bytes.len();
                bytes.remove(at);
            }
            _ => {}
        }
    }
    if let Some(cut) = cut {
        let keep = bytes.len() * usize::from(*cut) / usize::from(u16::MAX);
        bytes.truncate(keep);
    }
    bytes
}

/// Text in the alphabet of Debian fields, versions and relations, where the parsers branch.
fn field_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            8 => prop::sample::select(
                b"abz09+-.~:_,|()<>=![] \t\n*".to_vec()
            ),
            1 => any::<u8>(),
        ],
        0..64,
    )
    .prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

const FIELD_KINDS: [FieldKind; 10] = [
    FieldKind::PreDepends,
    FieldKind::Depends,
    FieldKind::Recommends,
    FieldKind::Suggests,
    FieldKind::Enhances,
    FieldKind::Conflicts,
    FieldKind::Breaks,
    FieldKind::Replaces,
    FieldKind::Provides,
    FieldKind::BuildDepends,
];

/// The first stanzas of the real trixie index of the fixtures, with the pool fields the
/// fixture was trimmed of (a stanza without them is rejected before the deeper checks).
fn make_packages_seed() -> Vec<u8> {
    let index = common::fixture_packages();
    let mut seed = Vec::new();
    for (number, stanza) in index
        .split(|&b| b == b'\n')
        .collect::<Vec<_>>()
        .split(|line| line.is_empty())
        .filter(|stanza| !stanza.is_empty())
        .take(6)
        .enumerate()
    {
        for line in stanza {
            seed.extend_from_slice(line);
            seed.push(b'\n');
        }
        seed.extend_from_slice(
            format!(
                "Filename: pool/main/x/x{number}/x{number}_1.0_amd64.deb\n\
                 Size: {}\nSHA256: {}\n\n",
                1000 + number,
                format!("{number:x}")
                    .repeat(64)
                    .get(..64)
                    .unwrap_or_default(),
            )
            .as_bytes(),
        );
    }
    seed
}

fn release_seed() -> Vec<u8> {
    b"Origin: Debian\n\
Label: Debian\n\
Suite: stable\n\
Codename: trixie\n\
Version: 13.2\n\
Date: Sat, 15 Nov 2025 09:23:14 UTC\n\
Valid-Until: Sat, 22 Nov 2025 09:23:14 UTC\n\
Acquire-By-Hash: yes\n\
Architectures: all amd64 arm64\n\
Components: main contrib\n\
Description: Debian 13.2 Released 15 November 2025\n\
SHA256:\n \
0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  1024 main/binary-amd64/Packages\n \
fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210   512 main/binary-amd64/Packages.xz\n"
        .to_vec()
}

/// A real clearsigned `Release`, signed by the trusted test key.
fn make_inrelease_seed() -> Vec<u8> {
    let text = String::from_utf8(release_seed()).unwrap();
    let signer = keys::SignWith::new(&keys::keys().trusted, keys::KEY_CREATED + 86_400);
    keys::clearsign(&text, &[signer]).into_bytes()
}

/// Seeds are made once per test process: the index is decompressed, and signing takes time.
fn once(cell: &'static OnceLock<Vec<u8>>, make: fn() -> Vec<u8>) -> &'static [u8] {
    cell.get_or_init(make)
}

fn packages_seed() -> &'static [u8] {
    static SEED: OnceLock<Vec<u8>> = OnceLock::new();
    once(&SEED, make_packages_seed)
}

fn inrelease_seed() -> &'static [u8] {
    static SEED: OnceLock<Vec<u8>> = OnceLock::new();
    once(&SEED, make_inrelease_seed)
}

fn plain_deb() -> &'static [u8] {
    static SEED: OnceLock<Vec<u8>> = OnceLock::new();
    once(&SEED, make_plain_deb)
}

fn compressed_deb() -> &'static [u8] {
    static SEED: OnceLock<Vec<u8>> = OnceLock::new();
    once(&SEED, || fixture_package().deb())
}

fn keyring_seed() -> &'static [u8] {
    static SEED: OnceLock<Vec<u8>> = OnceLock::new();
    once(&SEED, || {
        keys::keyring(&[&keys::keys().trusted, &keys::keys().untrusted])
    })
}

/// The seed's signed part and its signature packets, decoded from the armor.
fn signature_parts() -> &'static (Vec<u8>, Vec<u8>) {
    static PARTS: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    PARTS.get_or_init(|| {
        let seed = inrelease_seed();
        let begin = b"-----BEGIN PGP SIGNATURE-----";
        let at = seed.windows(begin.len()).position(|w| w == begin).unwrap();
        let mut packets = Vec::new();
        pgp::armor::Dearmor::new(&seed[at..])
            .read_to_end(&mut packets)
            .unwrap();
        (seed[..at].to_vec(), packets)
    })
}

/// An armored signature block of `packets` (RFC 9580 armor; its checksum is optional).
fn armor(packets: &[u8]) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut base64 = Vec::new();
    for chunk in packets.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
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

fn keyring() -> &'static signature::Keyring {
    static KEYRING: OnceLock<signature::Keyring> = OnceLock::new();
    KEYRING.get_or_init(|| {
        signature::Keyring::parse(&keys::keyring(&[&keys::keys().trusted])).unwrap()
    })
}

fn fixture_package() -> Package {
    Package::new("hello", "2.10-3")
        .file("usr/bin/hello", "#!/bin/sh\necho hello\n")
        .file("usr/share/doc/hello/README", "hello\n")
        .member(Member::symlink("usr/bin/hi", "hello"))
        .member(Member::hardlink("usr/bin/hello2", "usr/bin/hello"))
        .script("postinst", "#!/bin/sh\nexit 0\n")
}

/// The package with plain (uncompressed) members, so mutations reach the tar headers.
fn make_plain_deb() -> Vec<u8> {
    let package = fixture_package();
    let data = tar(&[
        Member::dir("./", 0o755),
        Member::dir("./usr/", 0o755),
        Member::dir("./usr/bin/", 0o755),
        Member::file("./usr/bin/hello", 0o755, b"#!/bin/sh\necho hello\n"),
        Member::symlink("./usr/bin/hi", "hello"),
        Member::hardlink("./usr/bin/hello2", "./usr/bin/hello"),
    ]);
    ar(&[
        ("debian-binary", b"2.0\n".to_vec()),
        ("control.tar", package.control_tar()),
        ("data.tar", data),
    ])
}

/// Reads a `.deb` as the unpacker does: the container, the control members, then every entry
/// of `data.tar` and its bytes, to the end.
fn read_deb(bytes: &[u8]) {
    let Ok(mut deb) = DebReader::open(std::io::Cursor::new(bytes.to_vec())) else {
        return;
    };
    if let Ok(control) = deb.control_tar() {
        let _ = debroot::unpack::parse_control_tar(&control);
    }
    let Ok((_, data)) = deb.data_tar() else {
        return;
    };
    read_tar(data);
}

fn read_tar(inner: impl Read) {
    let mut reader = TarReader::new(inner);
    let mut buffer = [0u8; 4096];
    // Every entry of a well-formed archive costs at least one header block, so the loop ends.
    while let Ok(Some(_entry)) = reader.next_entry() {
        while let Ok(n) = reader.read(&mut buffer) {
            if n == 0 {
                break;
            }
        }
    }
}

fn parse_relations(text: &str) {
    for kind in FIELD_KINDS {
        let _ = relation::parse(kind, text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn deb822_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512), m in mutation()) {
        for input in [bytes.clone(), mutate(packages_seed(), &m)] {
            let _ = deb822::parse(&input);
            for paragraph in deb822::paragraphs_recovering(&input).flatten() {
                let _ = paragraph.get("Package");
                let _ = paragraph.get("description");
            }
            let _ = deb822::folded(&input);
            let _ = deb822::lines(&input).count();
        }
    }

    #[test]
    fn vocabulary_never_panics(text in field_text(), raw in ".{0,40}") {
        for input in [text.as_str(), raw.as_str()] {
            let _ = Version::parse(input);
            let _ = PackageName::parse(input);
            let _ = Architecture::parse(input);
            let _ = debroot::debian::arch::is_valid_pattern(input);
            let _ = Timestamp::parse_snapshot(input);
            let _ = Timestamp::parse_release_date(input);
            parse_relations(input);
        }
    }

    #[test]
    fn relations_from_real_fields_mutated_never_panic(m in mutation()) {
        let seed = b"libc6 (>= 2.38), libgcc-s1 (>= 3.0) | libgcc1:any, perl:native (<< 5.41~), \
            foo [amd64 !i386] <!nocheck>, bar (= 1:2.3-4~bpo1)";
        parse_relations(&String::from_utf8_lossy(&mutate(seed, &m)));
    }

    #[test]
    fn release_and_packages_never_panic(m in mutation()) {
        let _ = release::parse(&mutate(&release_seed(), &m));
        let amd64 = Architecture::parse("amd64").unwrap();
        let _ = packages::parse(&mutate(packages_seed(), &m), &amd64);
    }

    #[test]
    fn clearsign_and_signatures_never_panic(m in mutation()) {
        let input = mutate(inrelease_seed(), &m);
        if let Ok(cleartext) = clearsign::split(&input) {
            let _ = cleartext.text();
            let _ = signature::verify(keyring(), &cleartext, Timestamp(i64::from(keys::KEY_CREATED) + 2 * 86_400));
        }
    }

    #[test]
    fn signature_packets_never_panic(m in mutation()) {
        let (signed, packets) = signature_parts();
        let mut input = signed.clone();
        input.extend_from_slice(&armor(&mutate(packets, &m)));
        if let Ok(cleartext) = clearsign::split(&input) {
            let _ = signature::verify(keyring(), &cleartext, Timestamp(i64::from(keys::KEY_CREATED) + 2 * 86_400));
        }
    }

    #[test]
    fn keyrings_never_panic(m in mutation()) {
        let _ = signature::Keyring::parse(&mutate(keyring_seed(), &m));
    }

    #[test]
    fn debs_never_panic(m in mutation()) {
        read_deb(&mutate(plain_deb(), &m));
        read_deb(&mutate(compressed_deb(), &m));
    }

    #[test]
    fn tar_headers_never_panic(m in mutation(), raw in prop::collection::vec(any::<u8>(), 0..2048)) {
        let seed = tar(&[
            Member::dir("./etc/", 0o755),
            Member::file("./etc/motd", 0o644, b"hello\n"),
            Member::symlink("./etc/link", "/etc/motd"),
        ]);
        read_tar(&mutate(&seed, &m)[..]);
        read_tar(&raw[..]);
        let _ = debroot::unpack::tar::normalize(&raw);
        let _ = debroot::unpack::tar::shown_name(&raw);
    }

    #[test]
    fn decompressors_never_panic(m in mutation()) {
        let plain = tar(&[Member::file("./a", 0o644, &[7u8; 3000])]);
        let seeds = [
            (Compression::Xz, xz(&plain)),
            (Compression::Gzip, gz(&plain)),
            (Compression::Zstd, zstd::encode_all(&plain[..], 3).unwrap()),
        ];
        for (kind, seed) in seeds {
            let _ = compression::decompress(kind, &mutate(&seed, &m), 1 << 20);
        }
    }

    #[test]
    fn lockfiles_never_panic(m in mutation()) {
        let seed = br#"# This file is @generated by debroot from "minbase.toml".
version = 1
profile-digest = "sha256:b25a627528c73f2c8e0dd8762ed2720595efc224cb67ed1bf623e69bfad36649"
epoch = 1796005301
epoch-from = "release-date"

[[suite]]
name = "trixie"
archive = "debian"
date = "2026-11-21T09:15:44Z"
inrelease-sha256 = "bfacad4ca61899ce20d4a0d439f29339f66541561b67506364efb88e27dee870"

[[package]]
name = "apt"
version = "3.0.4"
architecture = "amd64"
suite = "trixie"
filename = "pool/main/a/apt/apt_3.0.4_amd64.deb"
size = 1500000
sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
essential = false
reason = "priority"
"#;
        let _ = debroot::lock::Lock::parse(&String::from_utf8_lossy(&mutate(seed, &m)));
    }

    #[test]
    fn dpkg_status_for_diff_never_panics(m in mutation()) {
        let _ = debroot::diff::dpkg_packages(&mutate(packages_seed(), &m));
    }
}

/// The seeds are what they claim: each parses when it is not mutated, so the mutations start
/// from inputs that reach past the first checks.
#[test]
fn the_seeds_are_valid() {
    assert!(release::parse(&release_seed()).is_ok());
    let amd64 = Architecture::parse("amd64").unwrap();
    let index = packages::parse(packages_seed(), &amd64).unwrap();
    assert!(
        index.packages.len() >= 5,
        "{} packages",
        index.packages.len()
    );
    let cleartext = clearsign::split(inrelease_seed()).unwrap();
    let good = signature::verify(
        keyring(),
        &cleartext,
        Timestamp(i64::from(keys::KEY_CREATED) + 2 * 86_400),
    );
    assert!(good.is_ok(), "{good:?}");
    let (signed, packets) = signature_parts();
    let rearmored = [signed.clone(), armor(packets)].concat();
    let cleartext = clearsign::split(&rearmored).unwrap();
    let good = signature::verify(
        keyring(),
        &cleartext,
        Timestamp(i64::from(keys::KEY_CREATED) + 2 * 86_400),
    );
    assert!(good.is_ok(), "re-armored: {good:?}");
    for deb in [plain_deb(), compressed_deb()] {
        let mut reader = DebReader::open(std::io::Cursor::new(deb.to_vec())).unwrap();
        let control = reader.control_tar().unwrap();
        debroot::unpack::parse_control_tar(&control).unwrap();
        let (_, data) = reader.data_tar().unwrap();
        let mut entries = 0;
        let mut tar = TarReader::new(data);
        while let Some(_entry) = tar.next_entry().unwrap() {
            entries += 1;
        }
        assert!(entries >= 4, "{entries} entries");
    }
}
