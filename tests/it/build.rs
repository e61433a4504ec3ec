//! `debroot build` on the fixture archive, in extract mode (no privilege): outputs, manifest,
//! determinism, the output preflight, and the cache's decompressed copies of `data.tar`.

use crate::assert_cli;
use crate::common;

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

/// docs/THREATS.md E3: an output path equal to one of the build's inputs (the profile, the profile
/// it extends, the lock, the keyring) is refused before any download, as a usage error naming
/// both, and the input is left as it was; so is an output inside the cache given by a path
/// with `..` in it.
#[test]
fn e3_an_output_that_is_an_input_is_refused_first() {
    let fixture = fixture();
    std::fs::create_dir(fixture.path().join("base")).unwrap();
    std::fs::write(
        fixture.path().join("base/base.toml"),
        "[packages]\nvariant = \"minbase\"\n",
    )
    .unwrap();
    let profile = fixture.read("p.toml");
    std::fs::write(
        fixture.path().join("p.toml"),
        format!("extends = \"base/base.toml\"\n{profile}"),
    )
    .unwrap();
    let lock = build(&fixture, "first.tar", &[]);
    assert_eq!(lock.status.code(), Some(0), "{}", stderr(&lock));
    std::fs::create_dir(fixture.path().join("sub")).unwrap();
    for (output, what) in [
        ("p.toml", "the profile"),
        ("base/../base/base.toml", "the profile"),
        ("p.lock", "the lock"),
        ("sub/../keyring.gpg", "the keyring"),
    ] {
        let before = std::fs::read(fixture.path().join(output)).unwrap();
        fixture.server.clear_log();
        let out = build(&fixture, output, &["--format", "tar"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{output}: {err}");
        assert_eq!(err.matches("error:").count(), 1, "{err}");
        assert!(err.contains(what), "{output}: {err}");
        assert!(!err.contains("panicked at"));
        assert_eq!(
            std::fs::read(fixture.path().join(output)).unwrap(),
            before,
            "{output} is unchanged"
        );
        assert!(
            fixture.server.requests().is_empty(),
            "{output}: requests before the preflight: {:?}",
            fixture.server.requests()
        );
    }
    fixture.server.clear_log();
    let out = build(&fixture, "sub/../cache/out.tar", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("inside the cache"),
        "{}",
        stderr(&out)
    );
    assert!(fixture.server.requests().is_empty());
}

/// docs/THREATS.md E4: the tarball writer never follows a link: absolute links to the host's files
/// and folders (`/etc/passwd`, `/etc`) are stored as links with their targets, nothing of the host
/// is stored under them, and a hard link is stored as a hard link.
#[test]
fn e4_the_tarball_stores_links_and_never_follows_them() {
    let fixture = Fixture::new(repo::trixie(vec![
        Package::new("base-files", "13.8")
            .essential()
            .file("./etc/debian_version", "13.8\n"),
        Package::new("hello", "2.10-3")
            .member(Member::dir("./usr/", 0o755))
            .member(Member::dir("./usr/share/", 0o755))
            .member(Member::dir("./usr/share/e4/", 0o755))
            .member(Member::symlink("./usr/share/e4/passwd", "/etc/passwd"))
            .member(Member::symlink("./usr/share/e4/etc", "/etc"))
            .member(Member::symlink(
                "./usr/share/e4/up",
                "../../../../../../etc",
            ))
            .member(Member::file("./usr/share/e4/a", 0o644, b"a\n"))
            .member(Member::hardlink("./usr/share/e4/b", "./usr/share/e4/a")),
    ]));
    fixture.write_profile(
        "",
        "[packages]\nvariant = \"minbase\"\ninclude = [\"hello\"]\n",
    );
    let out = build(&fixture, "e4.tar", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // (type, link target, size) by path, read with the `tar` crate (not debroot's reader).
    let bytes = std::fs::read(fixture.path().join("e4.tar")).unwrap();
    let mut archive = tar::Archive::new(bytes.as_slice());
    let mut entries = std::collections::BTreeMap::new();
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let path = String::from_utf8_lossy(&entry.path_bytes())
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_owned();
        let link = entry
            .link_name_bytes()
            .map(|l| String::from_utf8_lossy(&l).into_owned());
        entries.insert(path, (entry.header().entry_type(), link, entry.size()));
    }
    let entry = |path: &str| {
        entries
            .get(path)
            .unwrap_or_else(|| panic!("`{path}` not in the tarball: {:?}", entries.keys()))
            .clone()
    };
    for (path, target) in [
        ("usr/share/e4/passwd", "/etc/passwd"),
        ("usr/share/e4/etc", "/etc"),
        ("usr/share/e4/up", "../../../../../../etc"),
    ] {
        let (kind, link, size) = entry(path);
        assert_eq!(kind, tar::EntryType::Symlink, "`{path}`");
        assert_eq!(link.as_deref(), Some(target), "{path}");
        assert_eq!(size, 0, "{path}");
    }
    let followed: Vec<&String> = entries
        .keys()
        .filter(|k| k.starts_with("usr/share/e4/etc/") || k.starts_with("usr/share/e4/up/"))
        .collect();
    assert!(followed.is_empty(), "followed into the host: {followed:?}");
    let (kind, link, _) = entry("usr/share/e4/b");
    assert_eq!(kind, tar::EntryType::Link, "a hard link");
    assert_eq!(
        link.as_deref().map(|l| l.trim_start_matches("./")),
        Some("usr/share/e4/a")
    );
}

/// docs/THREATS.md rule 14: a `.deb` is opened once, verified on that descriptor, and the build
/// reads that descriptor: a blob replaced by a symlink to other bytes after the fetch (here by a
/// setup hook, which runs between the fetch and the unpacking) is never read, even when those
/// bytes claim the same package name, version and architecture.
#[test]
fn a_package_swapped_in_the_cache_after_the_fetch_is_never_read() {
    let fixture = fixture();
    let cache = fixture.path().join("cache");
    let lock = fixture.run(&["lock", "p.toml"], &[]);
    assert_eq!(lock.status.code(), Some(0), "{}", stderr(&lock));
    // Fetched only: no decompressed copy yet, so the build reads the `.deb` itself.
    let fetch = fixture.run(&["fetch", "p.lock"], &[]);
    assert_eq!(fetch.status.code(), Some(0), "{}", stderr(&fetch));
    let (_, _, deb) = fixture
        .written
        .debs
        .iter()
        .find(|(name, _, _)| name == "hello")
        .expect("hello written");
    let digest = repo::sha256_hex(deb);
    let blob = cache.join("v1/sha256").join(&digest[..2]).join(&digest);
    let evil = Package::new("hello", "2.10-3")
        .member(Member::file(
            "./usr/bin/hello",
            0o4755,
            b"#!/bin/sh\necho evil\n",
        ))
        .deb();
    std::fs::write(fixture.path().join("evil.deb"), evil).unwrap();
    let swap = format!(
        "ln -sf {} {}",
        fixture.path().join("evil.deb").display(),
        blob.display()
    );
    let out = build(&fixture, "out.tar", &["--frozen", "--setup-hook", &swap]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        std::fs::symlink_metadata(&blob)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the hook swapped the blob"
    );
    let entries = tree::read_tar(&fixture.path().join("out.tar"));
    let hello = &entries[&b"usr/bin/hello"[..]];
    assert_eq!(
        hello.sha256,
        repo::sha256_hex(b"#!/bin/sh\necho hello\n"),
        "the verified bytes, not the swapped ones"
    );
}

/// `cache gc` takes the cache's lock exclusively and every build holds it shared while it
/// runs: a gc started during a build waits (and says so) instead of removing a package the
/// build still needs, and removes it once the build is done.
#[test]
fn gc_waits_for_a_running_build() {
    let fixture = fixture();
    let cache = fixture.path().join("cache");
    let lock = fixture.run(&["lock", "p.toml"], &[]);
    assert_eq!(lock.status.code(), Some(0), "{}", stderr(&lock));
    // A lock that needs only base-files: gc with it removes `hello`.
    std::fs::create_dir(fixture.path().join("small")).unwrap();
    std::fs::write(
        fixture.path().join("small/p.toml"),
        repo::profile(
            "",
            "[packages]\nvariant = \"extract\"\ninclude = [\"base-files\"]\n",
        )
        .replace("keyring.gpg", "../keyring.gpg"),
    )
    .unwrap();
    let small = fixture.run(&["lock", "small/p.toml"], &[]);
    assert_eq!(small.status.code(), Some(0), "{}", stderr(&small));
    let fetch = fixture.run(&["fetch", "p.lock"], &[]);
    assert_eq!(fetch.status.code(), Some(0), "{}", stderr(&fetch));
    let (_, _, deb) = fixture
        .written
        .debs
        .iter()
        .find(|(name, _, _)| name == "hello")
        .expect("hello written");
    let hello = repo::sha256_hex(deb);

    let spawn = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_debroot"))
            .args(args)
            .args(["--cache-dir", cache.to_str().unwrap()])
            .current_dir(fixture.path())
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    // The build stops in its setup hook (after the fetch, before any unpacking) until told.
    let started = fixture.path().join("started");
    let go = fixture.path().join("go");
    let hook = format!(
        "touch {}; while [ ! -e {} ]; do sleep 0.1; done",
        started.display(),
        go.display()
    );
    let mirror = fixture.mirror();
    let build = spawn(&[
        "build",
        "--mirror",
        &mirror,
        "p.toml",
        "-o",
        "out.tar",
        "--mode",
        "extract",
        "--frozen",
        "--setup-hook",
        &hook,
    ]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !started.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the build never started its hook"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let mut gc = spawn(&["cache", "gc", "--keep", "small/p.lock"]);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let gc_done_early = gc.try_wait().unwrap().is_some();
    let kept = common::cache_holds(&cache, &hello);
    std::fs::write(&go, b"").unwrap();
    let build = build.wait_with_output().unwrap();
    let gc = gc.wait_with_output().unwrap();
    assert!(!gc_done_early, "gc did not wait: {}", stderr(&gc));
    assert!(kept, "gc removed a package the running build needs");
    assert_eq!(build.status.code(), Some(0), "{}", stderr(&build));
    assert_eq!(gc.status.code(), Some(0), "{}", stderr(&gc));
    assert!(
        stderr(&gc).contains("Waiting"),
        "gc says why it waits: {}",
        stderr(&gc)
    );
    assert!(
        !common::cache_holds(&cache, &hello),
        "removed after the build"
    );
    common::assert_cache_verified(&cache);
}

/// Issue 21: the same packages served again under suites re-signed a month later give a lock
/// with other suite dates and the same epoch (the newest build time of the packages), and the
/// same output bytes. A lock whose epoch is not the one its packages give is refused (exit 5).
#[test]
fn re_dated_suites_build_the_same_bytes() {
    let built = 1_650_000_000;
    let packages = || {
        vec![
            Package::new("base-files", "13.8")
                .essential()
                .file("./etc/debian_version", "13.8\n"),
            Package::new("hello", "2.10-3")
                .file("./usr/bin/hello", "#!/bin/sh\n")
                .built(built),
        ]
    };
    let fixture = Fixture::new(repo::trixie(packages()));
    fixture.write_profile(
        "",
        "[packages]\nvariant = \"minbase\"\ninclude = [\"hello\"]\n",
    );
    let build = |output: &str| {
        let out = fixture.run(&["build", "p.toml", "-o", output, "--mode", "extract"], &[]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        std::fs::read(fixture.path().join(output)).unwrap()
    };
    let first = build("first.tar");
    let first_lock = fixture.read("p.lock");
    assert!(
        first_lock.contains(&format!("epoch = {built}\nepoch-from = \"packages\"")),
        "{first_lock}"
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&fixture.read("first.tar.manifest.json")).unwrap();
    assert_eq!(manifest["epoch"], built);
    assert_eq!(manifest["epoch_from"], "packages");

    let mut later = repo::Suite::new("trixie", packages());
    later.date = repo::FIXTURE_DATE + 30 * 86_400;
    repo::write_archive(&fixture.path().join("www"), &[later]);
    let relock = fixture.run(&["lock", "p.toml", "--update"], &[]);
    assert_eq!(relock.status.code(), Some(0), "{}", stderr(&relock));
    let second_lock = fixture.read("p.lock");
    assert_ne!(second_lock, first_lock, "the suite's date is recorded");
    let second = build("second.tar");
    assert!(
        first == second,
        "same packages, same bytes: {} != {}",
        repo::sha256_hex(&first),
        repo::sha256_hex(&second)
    );

    // An epoch edited into the lock is not the packages' epoch: refused before anything is
    // unpacked.
    std::fs::write(
        fixture.path().join("p.lock"),
        second_lock.replace(&format!("epoch = {built}\n"), "epoch = 1800000000\n"),
    )
    .unwrap();
    let out = fixture.run(
        &["build", "p.toml", "-o", "third.tar", "--mode", "extract"],
        &[],
    );
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert_cli!("edited_epoch_in_the_lock", &out, &[fixture.path()]);
    assert!(!fixture.path().join("third.tar").exists());
}

/// Issue 15, item 1: members are depth-first, as `tar --sort=name` writes them (each folder's
/// subtree before its next sibling), so a plain `tar -xf` gives every folder the time the
/// tarball records; in byte order of whole paths `Carp/` would come before `Carp.pm` and be
/// left with the time of extraction.
#[test]
fn plain_tar_extracts_the_tarball_with_every_folder_time() {
    let fixture = Fixture::new(repo::trixie(vec![
        Package::new("base-files", "13.8")
            .essential()
            .file("./etc/debian_version", "13.8\n"),
        Package::new("perl-base", "5.40.1-6")
            .file("./usr/share/perl/Carp.pm", "package Carp;\n")
            .file("./usr/share/perl/Carp/Heavy.pm", "package Carp::Heavy;\n")
            .file("./usr/share/perl/Carp-x/y", "y\n")
            .file("./usr/share/perl/Carp0", "0\n"),
    ]));
    fixture.write_profile(
        "",
        "[packages]\nvariant = \"minbase\"\ninclude = [\"perl-base\"]\n",
    );
    let out = build(&fixture, "out.tar", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let tarball = fixture.path().join("out.tar");

    let mut archive = tar::Archive::new(std::fs::File::open(&tarball).unwrap());
    let mut members: Vec<(Vec<u8>, bool, u64)> = Vec::new();
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let header = entry.header();
        let path = entry.path_bytes().into_owned();
        let trimmed = path
            .strip_prefix(b"./")
            .unwrap_or(&path)
            .strip_suffix(b"/")
            .unwrap_or(path.strip_prefix(b"./").unwrap_or(&path))
            .to_vec();
        members.push((
            trimmed,
            header.entry_type().is_dir(),
            header.mtime().unwrap(),
        ));
    }
    let names: Vec<String> = members
        .iter()
        .map(|(path, _, _)| String::from_utf8_lossy(path).into_owned())
        .collect();
    let position = |name: &str| names.iter().position(|n| n == name).unwrap();
    assert!(
        position("usr/share/perl/Carp") < position("usr/share/perl/Carp/Heavy.pm")
            && position("usr/share/perl/Carp/Heavy.pm") < position("usr/share/perl/Carp-x")
            && position("usr/share/perl/Carp-x/y") < position("usr/share/perl/Carp.pm")
            && position("usr/share/perl/Carp.pm") < position("usr/share/perl/Carp0"),
        "not depth-first: {names:#?}"
    );
    let mut sorted = names.clone();
    sorted.sort_by(|a, b| a.split('/').cmp(b.split('/')));
    assert_eq!(
        names, sorted,
        "each folder's subtree before its next sibling"
    );

    // Plain `tar -xf`, no option: every folder has the time its member records.
    let unpacked = fixture.path().join("unpacked");
    std::fs::create_dir(&unpacked).unwrap();
    let status = std::process::Command::new("tar")
        .arg("-xf")
        .arg(&tarball)
        .arg("-C")
        .arg(&unpacked)
        .arg("--exclude=./dev/*")
        .status()
        .unwrap();
    assert!(status.success());
    use std::os::unix::fs::MetadataExt;
    // (`/dev`'s device nodes need root: left out, with its folders.)
    for (path, _, mtime) in members
        .iter()
        .filter(|(path, is_dir, _)| *is_dir && !path.starts_with(b"dev/"))
    {
        let on_disk = std::fs::symlink_metadata(
            unpacked.join(std::ffi::OsStr::new(std::str::from_utf8(path).unwrap())),
        )
        .unwrap()
        .mtime();
        assert_eq!(
            on_disk,
            *mtime as i64,
            "`{}` after tar -xf",
            String::from_utf8_lossy(path)
        );
    }
}

/// Issue 15, item 2: an output that exists and is not a regular file (a device, a FIFO, a
/// symlink) is refused, exit 2, and left as it was; an extension debroot does not know is an
/// error naming the formats, not a tarball by another name. Both before any download.
#[test]
fn outputs_that_are_not_regular_files_or_known_formats_are_refused() {
    use std::os::unix::fs::FileTypeExt;
    let fixture = fixture();
    let fifo = fixture.path().join("fifo.tar");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let victim = fixture.path().join("victim");
    std::fs::write(&victim, b"keep me\n").unwrap();
    std::os::unix::fs::symlink(&victim, fixture.path().join("link.tar")).unwrap();
    // A character device: made here as root (a regression must not replace the host's
    // `/dev/null`), else the host's, which a user cannot replace anyway.
    let made = fixture.path().join("null.tar");
    let null = if rustix::process::geteuid().is_root() {
        assert!(
            std::process::Command::new("mknod")
                .arg(&made)
                .args(["c", "1", "3"])
                .status()
                .unwrap()
                .success()
        );
        made.to_str().unwrap().to_owned()
    } else {
        "/dev/null".to_owned()
    };
    for (output, extra, message) in [
        ("fifo.tar", &[][..], "exists and is a FIFO"),
        ("link.tar", &[][..], "exists and is a symbolic link"),
        (
            null.as_str(),
            &["--format", "tar"][..],
            "exists and is a character device",
        ),
        ("x.ext2", &[][..], "debroot writes no `.ext2` format"),
        (
            "x.tar",
            &["--verity"][..],
            "--verity needs an image output (squashfs, erofs or ext4)",
        ),
        ("x.tar.bz2", &[][..], "debroot writes no `.tar.bz2` format"),
    ] {
        fixture.server.clear_log();
        let out = build(&fixture, output, extra);
        assert_eq!(out.status.code(), Some(2), "{output}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{output}: {}", stderr(&out));
        assert!(
            fixture.server.requests().is_empty(),
            "{output}: requests before the preflight: {:?}",
            fixture.server.requests()
        );
    }
    let listed = stderr(&build(&fixture, "x.iso", &[]));
    assert!(
        listed.contains("dir, tar, tar.gz, tar.xz, tar.zst, squashfs, erofs, ext4"),
        "{listed}"
    );
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep me\n");
    assert!(
        std::fs::symlink_metadata(&null)
            .unwrap()
            .file_type()
            .is_char_device()
    );
    // An unknown extension with --format is the user's choice.
    let out = build(&fixture, "rootfs.iso", &["--format", "tar"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_tarball_streams_to_stdout_and_null_writes_only_the_manifest() {
    let fixture = fixture();
    let tmp = fixture.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let tmpdir = tmp.to_str().unwrap();
    let env = [("SOURCE_DATE_EPOCH", "1700000000"), ("TMPDIR", tmpdir)];
    let file = build(&fixture, "file.tar.zst", &[]);
    assert_eq!(file.status.code(), Some(0), "{}", stderr(&file));
    let expected = std::fs::read(fixture.path().join("file.tar.zst")).unwrap();

    // `-o -`: the same bytes on stdout, the status on stderr, no file, no manifest, and no
    // work directory left in the temporary folder.
    let run = |extra: &[&str]| {
        let mut args = vec!["build", "p.toml", "-o", "-", "--mode", "extract"];
        args.extend_from_slice(extra);
        fixture.run(&args, &env)
    };
    let out = run(&["--format", "tar.zst"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        out.stdout == expected,
        "stdout is not the tarball -o file.tar.zst wrote"
    );
    assert!(stderr(&out).contains("Built"), "{}", stderr(&out));
    assert!(!fixture.path().join("-").exists());
    assert!(!fixture.path().join("-.manifest.json").exists());
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
    // The format is `--format`'s, `tar` by default, never the name's or the profile's.
    let plain = run(&[]);
    assert_eq!(plain.status.code(), Some(0), "{}", stderr(&plain));
    assert_eq!(
        &plain.stdout[257..262],
        b"ustar",
        "not an uncompressed tarball"
    );

    // A folder cannot be streamed.
    let out = run(&["--format", "dir"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("not a folder"), "{}", stderr(&out));
    assert!(out.stdout.is_empty());

    // `null`: the manifest beside the name, and nothing else; its digest is the tarball's.
    let tar = build(&fixture, "same.tar", &[]);
    assert_eq!(tar.status.code(), Some(0), "{}", stderr(&tar));
    let out = build(&fixture, "nothing", &["--format", "null"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!fixture.path().join("nothing").exists());
    let manifest: serde_json::Value =
        serde_json::from_str(&fixture.read("nothing.manifest.json")).unwrap();
    assert_eq!(manifest["format"], "null");
    assert_eq!(
        manifest["output_sha256"].as_str().unwrap(),
        sha256_file(&fixture.path().join("same.tar"))
    );
    // With `-o -`, the manifest is printed.
    let out = run(&["--format", "null"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["output_sha256"], manifest["output_sha256"]);
}

#[test]
fn a_tarball_is_never_written_to_a_terminal() {
    // `script` gives debroot a terminal as stdout.
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: `script` (util-linux) is not installed");
        return;
    }
    let fixture = fixture();
    let debroot = env!("CARGO_BIN_EXE_debroot");
    let mirror = fixture.mirror();
    let cache = fixture.path().join("cache");
    let command = format!(
        "{debroot} build p.toml -o - --mode extract --mirror {mirror} --cache-dir {}; echo exit=$?",
        cache.display()
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(fixture.path())
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("stdout is a terminal"), "{text}");
    assert!(text.contains("exit=2"), "{text}");
}

/// Images by extension and by `--format`, in extract mode: each rebuilt to the same bytes and
/// the same hash tree (a second build under another name, another `--jobs` and another
/// profile-set `output.verity`), its manifest tying it to the tarball of the same tree
/// (`tree_sha256`) and recording the dm-verity root hash that `OUTPUT.roothash` holds, and the
/// superblock magic of its format at its place. Without `--verity`, a stale hash tree of an
/// earlier build beside it is removed.
#[test]
fn images_rebuild_to_the_same_bytes_and_name_their_tree() {
    let fixture = fixture();
    let tar = build(&fixture, "out.tar", &[]);
    assert_eq!(tar.status.code(), Some(0), "{}", stderr(&tar));
    let manifest = |name: &str| -> serde_json::Value {
        serde_json::from_slice(
            &std::fs::read(fixture.path().join(format!("{name}.manifest.json"))).unwrap(),
        )
        .unwrap()
    };
    let tree = manifest("out.tar")["output_sha256"].clone();
    for (format, name, magic_at, magic) in [
        ("erofs", "a.erofs", 1024, &0xE0F5_E1E2u32.to_le_bytes()[..]),
        ("ext4", "a.ext4", 1080, &0xEF53u16.to_le_bytes()[..]),
        ("squashfs", "a.sqfs", 0, &b"hsqs"[..]),
    ] {
        let first = build(&fixture, name, &["--verity"]);
        assert_eq!(first.status.code(), Some(0), "{name}: {}", stderr(&first));
        assert!(stderr(&first).contains("Verity"), "{}", stderr(&first));
        let again = format!("again-{format}");
        let second = build(
            &fixture,
            &again,
            &["--format", format, "--verity", "--jobs", "1"],
        );
        assert_eq!(
            second.status.code(),
            Some(0),
            "{again}: {}",
            stderr(&second)
        );
        let (a, b) = (fixture.path().join(name), fixture.path().join(&again));
        let image = std::fs::read(&a).unwrap();
        assert!(
            image == std::fs::read(&b).unwrap(),
            "{format}: a rebuild differs"
        );
        assert_eq!(image.len() % 4096, 0, "{format}: whole 4 KiB blocks");
        assert_eq!(&image[magic_at..magic_at + magic.len()], magic, "{format}");
        let verity = |path: &Path| {
            let mut name = path.as_os_str().to_owned();
            name.push(".verity");
            std::fs::read(PathBuf::from(name)).unwrap()
        };
        assert_eq!(verity(&a), verity(&b), "{format}: the hash trees differ");
        assert_eq!(&verity(&a)[..8], b"verity\0\0");

        let m = manifest(name);
        assert_eq!(m["format"], format);
        assert_eq!(m["tree_sha256"], tree, "{format}: not the tarball's tree");
        assert_eq!(m["output_sha256"].as_str().unwrap(), sha256_file(&a));
        assert_eq!(m["output_bytes"].as_u64().unwrap(), image.len() as u64);
        let root_hash =
            std::fs::read_to_string(fixture.path().join(format!("{name}.roothash"))).unwrap();
        assert_eq!(
            format!("{}\n", m["verity"]["root_hash"].as_str().unwrap()),
            root_hash
        );
        assert_eq!(
            m["verity"]["data_blocks"].as_u64().unwrap(),
            image.len() as u64 / 4096
        );
        assert_eq!(
            manifest(&again)["verity"]["root_hash"],
            m["verity"]["root_hash"]
        );

        // Without --verity: no hash tree, and the earlier one is gone.
        let plain = build(&fixture, name, &[]);
        assert_eq!(plain.status.code(), Some(0), "{}", stderr(&plain));
        assert!(!fixture.path().join(format!("{name}.verity")).exists());
        assert!(!fixture.path().join(format!("{name}.roothash")).exists());
        assert!(manifest(name).get("verity").is_none());
        assert!(
            std::fs::read(&a).unwrap() == image,
            "{format}: --verity changed the image"
        );
    }
}

/// `verify --output-format` takes the image formats: every run writes the image, and the runs
/// agree on its digest.
#[test]
fn verify_compares_images() {
    let fixture = fixture();
    let tmp = fixture.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    for format in ["squashfs", "erofs", "ext4"] {
        let out = fixture.run(
            &[
                "verify",
                "p.toml",
                "--modes",
                "extract",
                "--output-format",
                format,
                "--format",
                "json",
            ],
            &[
                ("SOURCE_DATE_EPOCH", "1700000000"),
                ("TMPDIR", tmp.to_str().unwrap()),
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{format}: {}", stderr(&out));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["reproducible"], true, "{format}: {report}");
        let text = report.to_string();
        assert!(text.contains(&format!(".{format}")), "{format}: {report}");
    }
}

/// Issue 16, item 4: a native architecture the host cannot run (arm64 here, on any host but
/// arm64) is refused before any download, exit 2, naming the binfmt_misc registration that is
/// missing or lacks `F` and the package to install; `extract` mode runs nothing and is not
/// checked. `DEBROOT_BINFMT_MISC` stands for `/proc/sys/fs/binfmt_misc`.
#[test]
fn a_foreign_architecture_without_qemu_is_refused_before_any_download() {
    if std::env::consts::ARCH == "aarch64" {
        eprintln!("skipped: this host runs arm64 natively");
        return;
    }
    let fixture = fixture();
    let profile = repo::profile("", "[packages]\nvariant = \"minbase\"\n")
        .replace("architectures = [\"amd64\"]", "architectures = [\"arm64\"]");
    std::fs::write(fixture.path().join("p.toml"), profile).unwrap();
    let binfmt = fixture.path().join("binfmt_misc");
    let registration = binfmt.join("qemu-aarch64");
    let good = "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: POF\noffset 0\nmagic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n";
    // (case, binfmt_misc's status, the registration, what the error says)
    type Case<'a> = (&'a str, Option<&'a str>, Option<String>, &'a [&'a str]);
    let cases: [Case; 4] = [
        (
            "not mounted",
            None,
            None,
            &[
                "binfmt_misc is not mounted",
                "mount -t binfmt_misc binfmt_misc",
            ],
        ),
        (
            "no registration",
            Some("enabled\n"),
            None,
            &["qemu-aarch64`", "qemu-user-"],
        ),
        (
            "no F",
            Some("enabled\n"),
            Some(good.replace("flags: POF", "flags: POC")),
            &["qemu-aarch64` lacks the `F` flag", "qemu-user-"],
        ),
        (
            "disabled",
            Some("enabled\n"),
            Some(good.replace("enabled", "disabled")),
            &["qemu-aarch64` is disabled", "echo 1 >"],
        ),
    ];
    for (case, status, text, messages) in cases {
        let _ = std::fs::remove_dir_all(&binfmt);
        if let Some(status) = status {
            std::fs::create_dir(&binfmt).unwrap();
            std::fs::write(binfmt.join("status"), status).unwrap();
        }
        if let Some(text) = &text {
            std::fs::write(&registration, text).unwrap();
        }
        fixture.server.clear_log();
        let out = fixture.run(
            &["build", "p.toml", "-o", "out.tar", "--mode", "unshare"],
            &[("DEBROOT_BINFMT_MISC", binfmt.to_str().unwrap())],
        );
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{case}: {err}");
        for message in messages {
            assert!(err.contains(message), "{case}: no {message:?} in {err}");
        }
        assert!(
            fixture.server.requests().is_empty(),
            "{case}: requests before the check: {:?}",
            fixture.server.requests()
        );
        assert!(!fixture.path().join("p.lock").exists(), "{case}");
    }
    // extract mode runs no program of the root: no check.
    let _ = std::fs::remove_dir_all(&binfmt);
    let out = fixture.run(
        &["build", "p.toml", "-o", "out.tar", "--mode", "extract"],
        &[("DEBROOT_BINFMT_MISC", binfmt.to_str().unwrap())],
    );
    assert!(!stderr(&out).contains("binfmt"), "{}", stderr(&out));
}

/// Issue 16, item 4: with `architectures = ["amd64", "i386"]`, both instances of a
/// Multi-Arch: same package are installed and share the files both ship, as dpkg does; a shared
/// file whose contents differ is refused with dpkg's words (exit 7). (Extract mode writes no
/// dpkg database; `live_arch` checks dpkg's `arch` file of a root-mode build.)
#[test]
fn multi_arch_same_instances_share_their_files() {
    let fixture_with = |doc_i386: &str| {
        let lib = |arch: &str, doc: &str| {
            Package::new("libfoo1", "1.0-1")
                .arch(arch)
                .field("Multi-Arch", "same")
                .file(&format!("./usr/lib/{arch}-linux-gnu/libfoo.so.1"), arch)
                .file("./usr/share/doc/libfoo1/changelog", doc)
        };
        let mut suites = repo::trixie(vec![
            Package::new("base-files", "13.8").essential(),
            lib("amd64", "shared\n"),
            lib("i386", doc_i386),
        ]);
        for suite in &mut suites {
            suite.architectures.push("i386".into());
        }
        let fixture = Fixture::new(suites);
        let profile = repo::profile(
            "",
            "[packages]\nvariant = \"extract\"\ninclude = [\"libfoo1\", \"libfoo1:i386\"]\n",
        )
        .replace(
            "architectures = [\"amd64\"]",
            "architectures = [\"amd64\", \"i386\"]",
        );
        std::fs::write(fixture.path().join("p.toml"), profile).unwrap();
        fixture
    };
    let fixture = fixture_with("shared\n");
    let out = build(&fixture, "out", &["--format", "dir"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let root = fixture.path().join("out");
    for arch in ["amd64", "i386"] {
        let lib = root.join(format!("usr/lib/{arch}-linux-gnu/libfoo.so.1"));
        assert_eq!(std::fs::read_to_string(lib).unwrap(), arch);
    }
    assert_eq!(
        std::fs::read_to_string(root.join("usr/share/doc/libfoo1/changelog")).unwrap(),
        "shared\n"
    );

    let fixture = fixture_with("other\n");
    let out = build(&fixture, "out", &["--format", "dir"]);
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "package `libfoo1` is trying to overwrite shared `/usr/share/doc/libfoo1/changelog`, which is different from other instances of package `libfoo1`"
        ),
        "{}",
        stderr(&out)
    );
}

/// `debroot diff DIR TAR` of one build compares what both can hold: the tarball's static `/dev`
/// (nodes a directory output never holds) is no difference (README "debroot diff").
#[test]
fn a_directory_and_a_tarball_of_one_build_diff_equal() {
    let fixture = fixture();
    for (output, format) in [("out", "dir"), ("out.tar", "tar")] {
        let out = build(&fixture, output, &["--format", format]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    // As a normal user an extract-mode directory is that user's, the tarball root's: then
    // owners differ, but never `/dev`.
    let root = rustix::process::geteuid().is_root();
    for (a, b) in [("out", "out.tar"), ("out.tar", "out")] {
        let diff = common::debroot(fixture.path(), &["diff", a, b], &[]);
        let text = common::stdout(&diff);
        assert!(!text.contains("/dev"), "diff {a} {b}: {text}");
        if root {
            assert_eq!(
                diff.status.code(),
                Some(0),
                "diff {a} {b}: {text}{}",
                stderr(&diff)
            );
        }
    }
}
