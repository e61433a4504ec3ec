//! No panic on any input: every parser that reads bytes from outside (a mirror, a `.deb`, a
//! keyring, a tarball, a lockfile) is fed random bytes and random mutations of valid inputs,
//! and must return, with a value or an error. This is the in-suite counterpart of the fuzz
//! targets docs/THREATS.md lists: the clearsign envelope and signatures, Release and Packages,
//! deb822, the ar container, tar headers, the decompressors, versions and relation fields.
//!
//! A mutation overwrites, inserts or deletes bytes of a seed and may cut it short, so most
//! cases get past the first checks (magic numbers, checksums of untouched headers) and reach
//! the deeper code. proptest shrinks a failure to a small case and prints it.

use crate::common;

use std::io::Read;
use std::sync::OnceLock;

use proptest::prelude::*;

use common::deb::{Member, Package, ar, gz, tar, xz};
use common::keys;
use debroot::compression::{self, Compression};
use debroot::debian::relation::{self, FieldKind};
use debroot::debian::{Architecture, PackageName, Version, deb822};
use debroot::repo::{clearsign, packages, release, signature};
use debroot::tar::read::TarReader;
use debroot::timestamp::Timestamp;
use debroot::unpack::deb::DebReader;

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

/// A lockfile as `debroot lock` writes it: two suites, a requested package and one required by it.
const LOCKFILE_SEED: &[u8] =
    br#"# This file is @generated by debroot from "minbase.toml". Do not edit it by hand:
# `debroot lock --update` rewrites it; `debroot why` explains each package.
version = 1
profile-digest = "sha256:b25a627528c73f2c8e0dd8762ed2720595efc224cb67ed1bf623e69bfad36649"
epoch = 1796005301
epoch-from = "release-date"
snapshot = "20261121T091544Z"

[[suite]]
name = "trixie"
archive = "debian"
date = "2026-11-21T09:15:44Z"
inrelease-sha256 = "bfacad4ca61899ce20d4a0d439f29339f66541561b67506364efb88e27dee870"

[[suite]]
name = "trixie-updates"
archive = "debian"
date = "2026-11-20T20:11:04Z"
inrelease-sha256 = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"

[[package]]
name = "apt"
version = "3.0.4"
architecture = "amd64"
suite = "trixie"
filename = "pool/main/a/apt/apt_3.0.4_amd64.deb"
size = 1500000
sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
essential = false
requested = "apt"

[[package]]
name = "libc6"
version = "2.41-12"
architecture = "amd64"
suite = "trixie-updates"
filename = "pool/main/g/glibc/libc6_2.41-12_amd64.deb"
size = 2800000
sha256 = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
essential = false
required-by = "apt"
via = "Depends: libc6 (>= 2.38)"
"#;

const RELATIONS_SEED: &[u8] =
    b"libc6 (>= 2.38), libgcc-s1 (>= 3.0) | libgcc1:any, perl:native (<< 5.41~), \
    foo [amd64 arm64] <!nocheck>, baz [!i386] <stage1 cross>, bar (= 1:2.3-4~bpo1)";

fn tar_seed() -> Vec<u8> {
    tar(&[
        Member::dir("./etc/", 0o755),
        Member::file("./etc/motd", 0o644, b"hello\n"),
        Member::symlink("./etc/link", "/etc/motd"),
    ])
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
        parse_relations(&String::from_utf8_lossy(&mutate(RELATIONS_SEED, &m)));
    }

    #[test]
    fn release_and_packages_never_panic(m in mutation()) {
        let _ = release::parse(&mutate(&release_seed(), &m));
        let amd64 = Architecture::parse("amd64").unwrap();
        let _ = packages::parse(&mutate(packages_seed(), &m), &amd64);
    }

    #[test]
    fn the_compact_index_decoder_never_panics(m in mutation()) {
        use debroot::digest::Sha256Digest;
        use debroot::repo::compact;
        let amd64 = Architecture::parse("amd64").unwrap();
        let source = Sha256Digest::of(b"");
        let parsed = packages::parse(packages_seed(), &amd64).unwrap();
        let input = mutate(&compact::encode(&parsed, &source, &amd64), &m);
        if let Ok(index) = compact::decode(&input, &source, &amd64) {
            prop_assert_eq!(compact::encode(&index, &source, &amd64), input);
        }
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
        read_tar(&mutate(&tar_seed(), &m)[..]);
        read_tar(&raw[..]);
        let _ = debroot::tar::read::normalize(&raw);
        let _ = debroot::tar::header::shown_name(&raw);
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
        let _ = debroot::lock::Lock::parse(&String::from_utf8_lossy(&mutate(LOCKFILE_SEED, &m)));
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
    debroot::lock::Lock::parse(std::str::from_utf8(LOCKFILE_SEED).unwrap()).unwrap();
    relation::parse(
        FieldKind::BuildDepends,
        std::str::from_utf8(RELATIONS_SEED).unwrap(),
    )
    .unwrap();
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

/// A `.deb` whose members are all plain (uncompressed), with `data` as its `data.tar`.
fn plain_deb_of(control: &Package, data: &[Member]) -> Vec<u8> {
    ar(&[
        ("debian-binary", b"2.0\n".to_vec()),
        ("control.tar", control.control_tar()),
        ("data.tar", tar(data)),
    ])
}

/// The seeds of the fuzz targets (fuzz/README.md), one folder per target, and beside them the
/// keyring and the signed text the signature targets verify against: the seeds above, the
/// fixture package in each compression, and packages that aim at the fuzz target's sentinel
/// outside its root. `fuzz/run` runs this with `DEBROOT_FUZZ_CORPUS` set; each seed is checked
/// to get past the first checks of its parser, as `the_seeds_are_valid` does.
#[test]
#[ignore = "writes the fuzz corpus; fuzz/run runs it"]
// Where to write is fuzz/run's to say.
#[allow(clippy::disallowed_methods)]
fn write_fuzz_corpus() {
    let dir = std::path::PathBuf::from(
        std::env::var_os("DEBROOT_FUZZ_CORPUS").expect("DEBROOT_FUZZ_CORPUS names a folder"),
    );
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let folder = dir.join(target);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join(name), bytes).unwrap();
    };

    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("keyring.pgp"),
        keys::keyring(&[&keys::keys().trusted]),
    )
    .unwrap();
    let (signed, packets) = signature_parts();
    std::fs::write(dir.join("signed-part.txt"), signed).unwrap();

    // deb_extract: the fixture package plain and in every compression, and attempts on the
    // sentinel beside the root: through a link, by `..`, by a hard link, through a link made
    // by the first package and written through by the second (which replaces it).
    let package = fixture_package();
    let data = [
        Member::dir("./", 0o755),
        Member::dir("./usr/", 0o755),
        Member::dir("./usr/bin/", 0o755),
        Member::file("./usr/bin/hello", 0o755, b"#!/bin/sh\necho hello\n"),
        Member::symlink("./usr/bin/hi", "hello"),
        Member::hardlink("./usr/bin/hello2", "./usr/bin/hello"),
    ];
    let compressed = |kind: &str, compress: fn(&[u8]) -> Vec<u8>| {
        ar(&[
            ("debian-binary", b"2.0\n".to_vec()),
            (
                &format!("control.tar.{kind}"),
                compress(&package.control_tar()),
            ),
            (&format!("data.tar.{kind}"), compress(&tar(&data))),
        ])
    };
    write("deb_extract", "plain.deb", plain_deb());
    write("deb_extract", "xz.deb", compressed_deb());
    write("deb_extract", "gz.deb", &compressed("gz", gz));
    write(
        "deb_extract",
        "zst.deb",
        &compressed("zst", |d| zstd::encode_all(d, 3).unwrap()),
    );
    let hostile = Package::new("hello", "2.10-3")
        .field("Replaces", "hello (<< 3)")
        .script(
            "conffiles",
            "/etc/hello.conf\nremove-on-upgrade /etc/old.conf\n",
        );
    let attempts: [(&str, Vec<Member>); 5] = [
        (
            "through-link.deb",
            vec![
                Member::symlink("./s", "../sentinel"),
                Member::file("./s/written", 0o644, b"x"),
            ],
        ),
        (
            "dotdot.deb",
            vec![Member::file("./../sentinel/written", 0o644, b"x")],
        ),
        (
            "hardlink.deb",
            vec![
                Member::file("./f", 0o644, b"x"),
                Member::hardlink("./h", "../sentinel/file"),
                Member::hardlink("./../sentinel/new", "./f"),
            ],
        ),
        (
            "link-then-file.deb",
            vec![
                Member::file("./d/written", 0o644, b"x"),
                Member::symlink("./d", "../sentinel/folder"),
                Member::symlink("./a", "/../sentinel"),
            ],
        ),
        (
            "conffiles.deb",
            vec![
                Member::dir("./etc/", 0o700),
                Member::file("./etc/hello.conf", 0o600, b"x = 1\n"),
                Member::symlink("./etc/link", "../../sentinel/file"),
            ],
        ),
    ];
    for (name, members) in attempts {
        write("deb_extract", name, &plain_deb_of(&hostile, &members));
    }

    // clearsign: the signed `Release`, and one signed by two keys (one outside the keyring).
    write("clearsign", "inrelease.txt", inrelease_seed());
    let text = String::from_utf8(release_seed()).unwrap();
    let when = keys::KEY_CREATED + 86_400;
    let two = keys::clearsign(
        &text,
        &[
            keys::SignWith::new(&keys::keys().untrusted, when),
            keys::SignWith::new(&keys::keys().trusted, when),
        ],
    );
    write("clearsign", "two-signatures.txt", two.as_bytes());

    // signature: the seed's signature packets, and a keyring of two keys.
    write("signature", "packets.bin", packets);
    write("signature", "keyring.pgp", keyring_seed());

    // deb822: the index, the `Release`, a `control` paragraph.
    write("deb822", "packages.txt", packages_seed());
    // packages_compact: the seed index in the cache's compact form, and as text (the target
    // reads both).
    let amd64 = Architecture::parse("amd64").unwrap();
    let parsed = packages::parse(packages_seed(), &amd64).unwrap();
    let compact =
        debroot::repo::compact::encode(&parsed, &debroot::digest::Sha256Digest::of(b""), &amd64);
    write("packages_compact", "compact.bin", &compact);
    write("packages_compact", "packages.txt", packages_seed());
    write("deb822", "release.txt", &release_seed());
    write("deb822", "control.txt", package.control().as_bytes());

    // relation: real relation fields, and versions one a line.
    write("relation", "relations.txt", RELATIONS_SEED);
    write(
        "relation",
        "versions.txt",
        b"1:2.3-4~bpo1\n2.38\n1.0~rc1-1+b2\n",
    );
    let index = common::fixture_packages();
    let depends: Vec<&[u8]> = index
        .split(|&b| b == b'\n')
        .filter_map(|line| line.strip_prefix(b"Depends: "))
        .filter(|value| value.contains(&b'|') && value.contains(&b'('))
        .take(4)
        .collect();
    assert!(!depends.is_empty());
    for (number, value) in depends.into_iter().enumerate() {
        write("relation", &format!("depends-{number}.txt"), value);
    }

    // lockfile.
    write("lockfile", "lock.toml", LOCKFILE_SEED);

    // tar: a small archive, the control and data archives of the fixture package.
    write("tar", "small.tar", &tar_seed());
    write("tar", "control.tar", &package.control_tar());
    write("tar", "data.tar", &tar(&data));

    // The seeds reach past the first checks.
    let amd64 = Architecture::parse("amd64").unwrap();
    assert!(packages::parse(packages_seed(), &amd64).is_ok());
    assert!(debroot::lock::Lock::parse(std::str::from_utf8(LOCKFILE_SEED).unwrap()).is_ok());
    relation::parse(
        FieldKind::BuildDepends,
        std::str::from_utf8(RELATIONS_SEED).unwrap(),
    )
    .unwrap();
    let cleartext = clearsign::split(two.as_bytes()).unwrap();
    assert!(signature::verify(keyring(), &cleartext, Timestamp(i64::from(when) + 86_400)).is_ok());
    for name in [
        "plain.deb",
        "xz.deb",
        "gz.deb",
        "zst.deb",
        "through-link.deb",
        "dotdot.deb",
        "hardlink.deb",
        "link-then-file.deb",
        "conffiles.deb",
    ] {
        // The folder also holds what libFuzzer added, which need not parse.
        let bytes = std::fs::read(dir.join("deb_extract").join(name)).unwrap();
        let mut reader = DebReader::open(std::io::Cursor::new(bytes)).unwrap();
        let control = reader.control_tar().unwrap();
        debroot::unpack::parse_control_tar(&control).unwrap();
        reader.data_tar().unwrap();
    }
}
