//! `debroot build` on the fixture archive, in extract mode (no privilege): outputs, manifest,
//! determinism, the output preflight, and the cache's decompressed copies of `data.tar`.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::deb::{Member, Package};
use common::fixture::Fixture;
use common::repo;
use common::{stderr, tree};

fn fixture() -> Fixture {
    let fixture = Fixture::new(repo::trixie(vec![
        Package::new("base-files", "13.8")
            .essential()
            .file("./etc/debian_version", "13.8\n")
            .member(Member::dir("./tmp/", 0o1777)),
        Package::new("hello", "2.10-3")
            .member(Member::file(
                "./usr/bin/hello",
                0o4755,
                b"#!/bin/sh\necho hello\n",
            ))
            .member(Member::hardlink("./usr/bin/hello-again", "./usr/bin/hello"))
            .member(Member::symlink("./usr/bin/hi", "hello"))
            .file("./usr/share/doc/hello/copyright", &"free\n".repeat(400)),
    ]));
    fixture.write_profile(
        "",
        "[packages]\nvariant = \"minbase\"\ninclude = [\"hello\"]\n",
    );
    fixture
}

fn build(fixture: &Fixture, output: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["build", "p.toml", "-o", output, "--mode", "extract"];
    args.extend_from_slice(extra);
    fixture.run(&args, &[("SOURCE_DATE_EPOCH", "1700000000")])
}

fn sha256_file(path: &Path) -> String {
    repo::sha256_hex(&std::fs::read(path).unwrap())
}

fn derived_records(cache: &Path) -> Vec<PathBuf> {
    let dir = cache.join("v1/derived/data-tar-zst");
    let mut records: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    records.sort();
    records
}

#[test]
fn extract_mode_writes_directory_and_tarball_with_manifest() {
    let fixture = fixture();
    let out = build(&fixture, "out", &["--format", "dir"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let root = fixture.path().join("out");
    let hello = std::fs::symlink_metadata(root.join("usr/bin/hello")).unwrap();
    assert_eq!(hello.permissions().mode() & 0o7777, 0o4755, "setuid kept");
    assert_eq!(
        std::fs::read_link(root.join("usr/bin/hi")).unwrap(),
        Path::new("hello")
    );
    use std::os::unix::fs::MetadataExt;
    let again = std::fs::symlink_metadata(root.join("usr/bin/hello-again")).unwrap();
    assert_eq!(again.ino(), hello.ino(), "hardlink shares the inode");
    assert_eq!(
        std::fs::symlink_metadata(root.join("tmp"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        0o1777
    );
    // Nothing of the build is left in the tree or beside it.
    let names: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with(".debroot")),
        "{names:?}"
    );

    for (name, format) in [
        ("a.tar", "tar"),
        ("b.tar.zst", "tar.zst"),
        ("c.tar.gz", "tar.gz"),
    ] {
        let out = build(&fixture, name, &[]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let path = fixture.path().join(name);
        let manifest: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(fixture.path().join(format!("{name}.manifest.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(manifest["format"], format);
        assert_eq!(manifest["mode"], "extract");
        assert_eq!(manifest["epoch"], 1700000000);
        assert_eq!(
            manifest["output_sha256"].as_str().unwrap(),
            sha256_file(&path)
        );
        let packages = manifest["packages"].as_array().unwrap();
        assert_eq!(packages.len(), 2);
        assert!(packages.iter().any(|p| p["name"] == "hello"
            && p["version"] == "2.10-3"
            && p["sha256"].as_str().unwrap().len() == 64));
    }
    // The tarball holds what the directory holds, the setuid bit and the hard link included.
    let entries = tree::read_tar(&fixture.path().join("a.tar"));
    let hello = &entries[&b"usr/bin/hello"[..]];
    assert_eq!((hello.kind, hello.mode, hello.uid), ('f', 0o4755, 0));
    assert_eq!(entries[&b"usr/bin/hello-again"[..]].sha256, hello.sha256);
    assert_eq!(entries[&b"usr/bin/hi"[..]].link, b"hello");
    // Every mtime is clamped to the epoch.
    let tar = std::process::Command::new("tar")
        .args(["--full-time", "-tvf"])
        .arg(fixture.path().join("a.tar"))
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&tar.stdout);
    assert!(listing.lines().count() > 5);
    assert!(
        listing
            .lines()
            .all(|l| !l.contains("2024-") && !l.contains("2026-")),
        "{listing}"
    );
}

#[test]
fn two_builds_are_the_same_bytes_and_the_cache_keeps_decompressed_data() {
    let fixture = fixture();
    let cache = fixture.path().join("cache");
    let first = build(&fixture, "a.tar", &[]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let records = derived_records(&cache);
    assert_eq!(records.len(), 2, "one decompressed data.tar per package");
    common::assert_cache_verified(&cache);

    // The second build reads the decompressed copies: the same bytes.
    let second = build(&fixture, "b.tar", &[]);
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    let a = sha256_file(&fixture.path().join("a.tar"));
    assert_eq!(a, sha256_file(&fixture.path().join("b.tar")));

    // A corrupt copy is noticed by its digest, dropped, and made again from the .deb.
    let record = std::fs::read_to_string(&records[0]).unwrap();
    let blob_hex = record.split(' ').next().unwrap();
    let blob = cache.join("v1/sha256").join(&blob_hex[..2]).join(blob_hex);
    let mut bytes = std::fs::read(&blob).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::set_permissions(&blob, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&blob, bytes).unwrap();
    let third = build(&fixture, "c.tar", &[]);
    assert_eq!(third.status.code(), Some(0), "{}", stderr(&third));
    assert_eq!(a, sha256_file(&fixture.path().join("c.tar")));
    assert_eq!(derived_records(&cache).len(), 2);
    common::assert_cache_verified(&cache);

    // gc keeps the copies of the packages it keeps.
    let gc = common::debroot(
        fixture.path(),
        &[
            "cache",
            "gc",
            "--keep",
            "p.lock",
            "--cache-dir",
            cache.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(gc.status.code(), Some(0), "{}", stderr(&gc));
    assert_eq!(derived_records(&cache).len(), 2);
    let fourth = build(&fixture, "d.tar", &["--frozen"]);
    assert_eq!(fourth.status.code(), Some(0), "{}", stderr(&fourth));
    assert_eq!(a, sha256_file(&fixture.path().join("d.tar")));
}

#[test]
fn e3_output_problems_are_found_before_any_download() {
    let fixture = fixture();
    std::fs::create_dir(fixture.path().join("cache")).unwrap();
    std::fs::write(fixture.path().join("not-empty-marker"), b"").unwrap();
    std::fs::create_dir(fixture.path().join("full")).unwrap();
    std::fs::write(fixture.path().join("full/x"), b"").unwrap();
    for (output, format, message) in [
        ("cache/out.tar", None, "inside the cache"),
        ("missing/out.tar", None, "does not exist"),
        ("full", Some("dir"), "exists and is not empty"),
        ("full", Some("tar"), "is a directory"),
    ] {
        fixture.server.clear_log();
        let mut extra = vec![];
        if let Some(format) = format {
            extra = vec!["--format", format];
        }
        let out = build(&fixture, output, &extra);
        let code = out.status.code();
        assert!(
            code == Some(2) || code == Some(9),
            "{output}: {}",
            stderr(&out)
        );
        assert!(stderr(&out).contains(message), "{output}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked at"));
        assert!(
            fixture.server.requests().is_empty(),
            "{output}: requests before the preflight: {:?}",
            fixture.server.requests()
        );
    }
}
