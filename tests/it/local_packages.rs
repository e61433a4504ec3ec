//! Local `.deb` files in `packages.include` (`./vendor/app_1.0_amd64.deb`, issue 16 item 3):
//! the control stanza joins the universe, the local version wins over the repository's, its
//! dependencies come from the repository, the lock records the file's SHA256, and a changed or
//! missing file is named.

use crate::common;

use std::process::Output;

use common::deb::Package;
use common::fixture::Fixture;
use common::repo;
use common::stderr;

const LOCAL: &str = "./vendor/app_1.0_amd64.deb";

fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

fn ok(output: &Output) {
    assert_eq!(code(output), 0, "stderr:\n{}", stderr(output));
}

/// The local `app` 1.0, which needs `libfoo` from the repository.
fn local_app(greeting: &str) -> Package {
    Package::new("app", "1.0")
        .depends("libfoo (>= 1.0)")
        .file("./usr/bin/app", greeting)
}

fn write_local(fixture: &Fixture, package: &Package) {
    let path = fixture.path().join(LOCAL);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, package.deb()).unwrap();
}

/// A repository with `libfoo` and a newer `app` 2.0 than the local one, and a profile that
/// includes the local file.
fn fixture() -> Fixture {
    let fixture = Fixture::new(repo::trixie(vec![
        Package::new("base-files", "13.8").essential(),
        Package::new("libfoo", "1.2").file("./usr/lib/libfoo.so.1", "foo\n"),
        Package::new("app", "2.0").file("./usr/bin/app", "repository app\n"),
    ]));
    fixture.write_profile(
        "",
        &format!("[packages]\nvariant = \"extract\"\ninclude = [\"{LOCAL}\"]\n"),
    );
    write_local(&fixture, &local_app("local app\n"));
    fixture
}

fn build(fixture: &Fixture, output: &str, extra: &[&str]) -> Output {
    let mut args = vec!["build", "p.toml", "-o", output, "--mode", "extract"];
    args.extend_from_slice(extra);
    fixture.run(&args, &[("SOURCE_DATE_EPOCH", "1700000000")])
}

/// The `[[package]]` table of `name` in a lock's text.
fn locked<'a>(lock: &'a str, name: &str) -> &'a str {
    let start = lock
        .find(&format!("[[package]]\nname = \"{name}\"\n"))
        .unwrap_or_else(|| panic!("{name} not locked:\n{lock}"));
    let rest = &lock[start..];
    let end = rest[1..].find("\n[[").map_or(rest.len(), |i| i + 1);
    &rest[..end]
}

#[test]
fn a_local_deb_is_locked_by_sha256_and_installed_with_its_dependencies() {
    let fixture = fixture();
    let out = build(&fixture, "out", &["--format", "dir"]);
    ok(&out);
    let tree = fixture.path().join("out");
    // The local version, not the repository's newer 2.0; its dependency from the repository.
    assert_eq!(
        std::fs::read_to_string(tree.join("usr/bin/app")).unwrap(),
        "local app\n"
    );
    assert!(tree.join("usr/lib/libfoo.so.1").exists());

    let lock = fixture.read("p.lock");
    let app = locked(&lock, "app");
    let bytes = std::fs::read(fixture.path().join(LOCAL)).unwrap();
    for line in [
        "version = \"1.0\"".to_owned(),
        "suite = \"local\"".to_owned(),
        format!("filename = \"{LOCAL}\""),
        format!("size = {}", bytes.len()),
        format!("sha256 = \"{}\"", repo::sha256_hex(&bytes)),
        format!("requested = \"packages.include: {LOCAL}\""),
    ] {
        assert!(app.contains(&line), "{line} missing:\n{app}");
    }
    let libfoo = locked(&lock, "libfoo");
    assert!(libfoo.contains("suite = \"trixie\""), "{libfoo}");
    assert!(libfoo.contains("required-by = \"app\""), "{libfoo}");
    assert!(
        !lock.contains(&fixture.path().display().to_string()),
        "{lock}"
    );

    // The lock holds; `--locked` and `--frozen` build from it, also offline.
    ok(&fixture.run(&["lock", "p.toml", "--check"], &[]));
    ok(&build(&fixture, "again.tar", &["--locked"]));
    ok(&build(&fixture, "offline.tar", &["--frozen", "--offline"]));

    // A moved checkout keeps its lock: the file is named relative to the profile.
    let moved = tempfile::tempdir().unwrap();
    let target = moved.path().join("checkout");
    std::fs::rename(
        fixture.path().join("vendor"),
        fixture.path().join("vendor.keep"),
    )
    .unwrap();
    std::fs::create_dir_all(target.join("vendor")).unwrap();
    std::fs::copy(
        fixture.path().join("vendor.keep/app_1.0_amd64.deb"),
        target.join(LOCAL),
    )
    .unwrap();
    for file in ["p.toml", "p.lock", "keyring.gpg"] {
        std::fs::copy(fixture.path().join(file), target.join(file)).unwrap();
    }
    let mirror = fixture.mirror();
    let cache = fixture.path().join("cache");
    ok(&common::debroot(
        &target,
        &[
            "lock",
            "p.toml",
            "--check",
            "--mirror",
            &mirror,
            "--cache-dir",
            cache.to_str().unwrap(),
        ],
        &[],
    ));
}

#[test]
fn a_changed_local_deb_makes_the_lock_stale_and_locked_builds_refuse() {
    let fixture = fixture();
    ok(&fixture.run(&["lock", "p.toml"], &[]));
    let before = fixture.read("p.lock");
    write_local(&fixture, &local_app("local app, rebuilt\n"));

    let check = fixture.run(&["lock", "p.toml", "--check"], &[]);
    assert_eq!(code(&check), 1, "{}", stderr(&check));
    assert!(
        stderr(&check).contains(&format!("`{LOCAL}` changed since the lock was written")),
        "{}",
        stderr(&check)
    );
    assert_eq!(fixture.read("p.lock"), before, "--check writes nothing");

    for policy in ["--locked", "--frozen"] {
        let out = build(&fixture, "out.tar", &[policy]);
        assert_eq!(code(&out), 2, "{policy}: {}", stderr(&out));
        assert!(stderr(&out).contains(LOCAL), "{policy}: {}", stderr(&out));
    }

    // By default the lock is resolved again, saying why, with the new file's SHA256.
    let out = build(&fixture, "out.tar", &[]);
    ok(&out);
    assert!(
        stderr(&out).contains(&format!("`{LOCAL}` changed")),
        "{}",
        stderr(&out)
    );
    let bytes = std::fs::read(fixture.path().join(LOCAL)).unwrap();
    assert!(
        fixture.read("p.lock").contains(&repo::sha256_hex(&bytes)),
        "the new file is locked"
    );
}

#[test]
fn a_missing_local_deb_is_named() {
    let fixture = fixture();
    std::fs::remove_file(fixture.path().join(LOCAL)).unwrap();
    let out = fixture.run(&["lock", "p.toml"], &[]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let text = stderr(&out);
    assert!(
        text.contains("vendor/app_1.0_amd64.deb") && text.contains("does not exist"),
        "{text}"
    );
    // Before any index is read.
    assert!(fixture.package_requests().is_empty(), "{text}");
}

#[test]
fn a_local_path_must_name_a_deb() {
    let fixture = fixture();
    fixture.write_profile(
        "",
        "[packages]\nvariant = \"extract\"\ninclude = [\"hello\", \"./vendor/app.tar\"]\n",
    );
    let out = fixture.run(&["lock", "p.toml"], &[]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let text = stderr(&out);
    assert!(
        text.contains("p.toml:8:21: `packages.include`: `./vendor/app.tar` is a path"),
        "{text}"
    );
}

#[test]
fn a_local_deb_that_is_not_a_package_is_named() {
    let fixture = fixture();
    std::fs::write(fixture.path().join(LOCAL), b"not an ar archive").unwrap();
    let out = fixture.run(&["lock", "p.toml"], &[]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let text = stderr(&out);
    assert!(
        text.contains("vendor/app_1.0_amd64.deb") && text.contains("not a Debian package"),
        "{text}"
    );
}
