//! The reproducibility job whose inputs are fully fixed (`reproducibility/README.md`): the
//! fixture archive's generated packages, built in `extract` mode with the epoch their build
//! times give (no `SOURCE_DATE_EPOCH`: the default every user gets) into every
//! output format, must give the digests recorded in `reproducibility/fixture.sha256`, on every
//! machine and every day, from a cold cache and from a warm one, as root and as a user.
//!
//! Nothing of the machine enters these outputs: the packages are made by the test from bytes
//! written here (`common::deb`, fixed mtimes), the archive's signing key only decides whether
//! the indexes are trusted (it changes the lock, not the tree), and the compressors are the
//! crates pinned by `Cargo.lock` with fixed settings. A change of these digests is a change of
//! debroot's output: say so in the commit that updates the file.

use crate::common;

use std::collections::BTreeMap;

use common::deb::{Member, Package};
use common::fixture::Fixture;
use common::{repo, stderr};

/// The epoch of the fixture job: r-data's build time, the newest of the packages'.
pub const EPOCH: i64 = 1_700_000_000;

/// Deterministic filler: `len` bytes of a fixed pseudo-random sequence (xorshift), so the
/// compressors have something to do.
fn filler(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Half text-like, half noise.
            if (i / 4096) % 2 == 0 {
                b"debroot reproducible "[i % 21]
            } else {
                (state >> 24) as u8
            }
        })
        .collect()
}

/// The fixture packages: every kind of entry the writers handle.
fn packages() -> Vec<Package> {
    let long = format!("./usr/share/r-base/{}/file", "long-folder-name".repeat(8));
    let mut owned = Member::file("./etc/r-base/shadowed", 0o640, b"group-owned\n");
    owned.gid = 42;
    let mut user = Member::file("./srv/r-data/owned-by-1000", 0o600, b"user file\n");
    user.uid = 1000;
    user.gid = 1000;
    vec![
        Package::new("r-base", "1.0-1")
            .built(EPOCH.unsigned_abs() - 86_400 * 30)
            .essential()
            .member(Member::dir("./etc/", 0o755))
            .member(Member::dir("./etc/r-base/", 0o755))
            .member(Member::dir("./tmp/", 0o1777))
            .member(Member::dir("./usr/", 0o755))
            .member(Member::dir("./usr/bin/", 0o755))
            .member(Member::file(
                "./usr/bin/r-tool",
                0o755,
                b"#!/bin/sh\necho r\n",
            ))
            .member(Member::file("./usr/bin/r-suid", 0o4755, b"setuid\n"))
            .member(Member::file("./usr/bin/r-sgid", 0o2755, b"setgid\n"))
            .member(Member::hardlink(
                "./usr/bin/r-tool-again",
                "./usr/bin/r-tool",
            ))
            .member(Member::symlink("./usr/bin/r-alias", "r-tool"))
            .member(Member::symlink(
                "./etc/localtime",
                "/usr/share/zoneinfo/Etc/UTC",
            ))
            .member(Member::file("./etc/r-base/empty", 0o644, b""))
            .member(owned)
            .member(Member::file(
                &long,
                0o644,
                b"a name longer than 100 bytes\n",
            ))
            .member(Member::file(
                "./usr/share/r-base/caf\u{e9}-\u{65e5}\u{672c}.txt",
                0o644,
                b"utf-8 name\n",
            ))
            // A folder and a file that sort around it (`Carp/` before `Carp.pm` depth-first,
            // after it in byte order of whole paths): the member order of `tar --sort=name`.
            .member(Member::file(
                "./usr/share/r-base/Carp.pm",
                0o644,
                b"package Carp;\n",
            ))
            .member(Member::file(
                "./usr/share/r-base/Carp/Heavy.pm",
                0o644,
                b"package Carp::Heavy;\n",
            )),
        Package::new("r-data", "2.0-1")
            .built(EPOCH.unsigned_abs())
            .depends("r-base")
            .member(Member::dir("./srv/", 0o755))
            .member(Member::dir("./srv/r-data/", 0o750))
            .member(Member::file(
                "./srv/r-data/blob",
                0o644,
                &filler(300_000, 0x5eed),
            ))
            .member(user),
    ]
}

/// The recorded digests, by output name.
fn recorded() -> BTreeMap<String, String> {
    let path = common::repo_root().join("reproducibility/fixture.sha256");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (digest, name) = l.split_once("  ").expect("`DIGEST  NAME` lines");
            (name.to_owned(), digest.to_owned())
        })
        .collect()
}

const OUTPUTS: [&str; 5] = [
    "fixture.dir",
    "fixture.tar",
    "fixture.tar.gz",
    "fixture.tar.xz",
    "fixture.tar.zst",
];

#[test]
fn fixture_outputs_have_the_recorded_digests_cold_and_warm() {
    let fixture = Fixture::new(repo::trixie(packages()));
    fixture.write_profile(
        "",
        "[packages]\nvariant = \"essential\"\ninclude = [\"r-data\"]\n",
    );
    let recorded = recorded();
    let mut actual: BTreeMap<String, String> = BTreeMap::new();
    for pass in ["cold", "warm"] {
        if pass == "cold" {
            let _ = std::fs::remove_dir_all(fixture.path().join("cache"));
        }
        for name in OUTPUTS {
            let output = format!("{pass}-{name}");
            let format = name.strip_prefix("fixture.").unwrap();
            let run = fixture.run(
                &[
                    "build", "p.toml", "-o", &output, "--format", format, "--mode", "extract",
                ],
                &[],
            );
            assert_eq!(run.status.code(), Some(0), "{output}: {}", stderr(&run));
            // The digest of every output, a directory's included, is the manifest's.
            let manifest: serde_json::Value =
                serde_json::from_str(&fixture.read(&format!("{output}.manifest.json"))).unwrap();
            assert_eq!(manifest["epoch"], EPOCH, "{output}");
            assert_eq!(manifest["epoch_from"], "packages", "{output}");
            let digest = manifest["output_sha256"].as_str().unwrap().to_owned();
            if format != "dir" {
                assert_eq!(
                    repo::sha256_hex(&std::fs::read(fixture.path().join(&output)).unwrap()),
                    digest,
                    "{output}: the manifest's digest is the file's"
                );
            }
            if let Some(previous) = actual.insert(name.to_owned(), digest.clone()) {
                assert_eq!(previous, digest, "{name}: cold and warm cache differ");
            }
        }
        // `cold` filled the cache, including the decompressed copies of data.tar.
        if pass == "cold" {
            fixture.run(&["cache", "info"], &[]);
        }
    }
    // As root, once more as a user (`nobody`): the owners come from the packages, never from
    // who built.
    if rustix::process::geteuid().is_root() {
        let shared = tempfile::tempdir().unwrap();
        std::fs::set_permissions(
            shared.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o777),
        )
        .unwrap();
        for file in ["p.toml", "p.lock", "keyring.gpg"] {
            std::fs::copy(fixture.path().join(file), shared.path().join(file)).unwrap();
        }
        let debroot = env!("CARGO_BIN_EXE_debroot");
        let cache = shared.path().join("cache");
        let output = shared.path().join("user.tar");
        let run = std::process::Command::new("runuser")
            .args(["-u", "nobody", "--", debroot, "build", "p.toml", "--frozen"])
            .args(["--mode", "extract", "--mirror", &fixture.mirror(), "-o"])
            .arg(&output)
            .arg("--cache-dir")
            .arg(&cache)
            .current_dir(shared.path())
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .output()
            .unwrap();
        assert_eq!(run.status.code(), Some(0), "as nobody: {}", stderr(&run));
        assert_eq!(
            repo::sha256_hex(&std::fs::read(&output).unwrap()),
            actual["fixture.tar"],
            "built as a user, the tarball differs from root's"
        );
    }
    // A directory is digested as the uncompressed tarball of what it holds; the `.tar` also
    // holds the static `/dev` nodes a directory cannot (without privilege), so they differ.
    assert_ne!(actual["fixture.dir"], actual["fixture.tar"]);
    let lines: String = actual
        .iter()
        .map(|(name, digest)| format!("{digest}  {name}\n"))
        .collect();
    assert_eq!(
        actual, recorded,
        "the fixture's digests changed; if on purpose, reproducibility/fixture.sha256 becomes:\n{lines}"
    );
}
