//! More repositories than Debian's (issue 16 items 1 and 2): a `[[source.repository]]` trusted
//! with its own keyring only, apt's pin priorities (Debian's backports at 100, a repository's
//! own `priority`), `name/suite` in `include`, the repository recorded in the lock without its
//! URL, and `lock --check` saying what a change of repositories would change.

use crate::common;

use std::process::Output;

use common::deb::Package;
use common::fixture::Fixture;
use common::keys;
use common::repo::{self, Archive, Signature, Signer, Suite};
use common::{stderr, stdout};

fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

fn ok(output: &Output) {
    assert_eq!(code(output), 0, "stderr:\n{}", stderr(output));
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

/// A vendor suite `stable` signed by the vendor's own key (the fixture's "untrusted" key: the
/// Debian keyring does not hold it).
fn vendor_suite(packages: Vec<Package>) -> Suite {
    let mut suite = Suite::new("stable", packages);
    suite.archive = Archive::Vendor;
    suite.suite_field = "stable".into();
    suite.signatures = vec![Signature::by(Signer::Untrusted)];
    suite
}

/// Debian's trixie (with `libfoo` and `tool` 1.0), trixie-backports (`tool` 2.0~bpo, and
/// `extra` only there), and a vendor repository with `app` (needing `libfoo`) and an older
/// `tool`.
fn fixture(vendor_signer: Signer) -> Fixture {
    let mut suites = repo::trixie(vec![
        Package::new("base-files", "13.8").essential(),
        Package::new("libfoo", "1.2"),
        Package::new("tool", "1.0"),
    ]);
    suites.push(Suite::new(
        "trixie-backports",
        vec![
            Package::new("tool", "2.0~bpo13+1").depends("libfoo (>= 1.2)"),
            Package::new("extra", "3.0~bpo13+1"),
        ],
    ));
    let mut vendor = vendor_suite(vec![
        Package::new("app", "1.0").depends("libfoo (>= 1.0)"),
        Package::new("tool", "0.9"),
    ]);
    vendor.signatures = vec![Signature::by(vendor_signer)];
    suites.push(vendor);
    let fixture = Fixture::new(suites);
    let keys = keys::keys();
    std::fs::write(
        fixture.path().join("vendor.gpg"),
        keys::keyring(&[&keys.untrusted]),
    )
    .unwrap();
    fixture
}

fn profile(fixture: &Fixture, repository_extra: &str, include: &str) {
    fixture.write_profile(
        "backports = true",
        &format!(
            "[[source.repository]]\nname = \"vendor\"\nurl = \"{}\"\nsuites = [\"stable\"]\nkeyring = \"vendor.gpg\"\n{repository_extra}\n[packages]\nvariant = \"extract\"\ninclude = [{include}]\n",
            fixture.server.url("vendor")
        ),
    );
}

fn lock(fixture: &Fixture, extra: &[&str]) -> Output {
    let mut args = vec!["lock", "p.toml"];
    args.extend_from_slice(extra);
    fixture.run(&args, &[("SOURCE_DATE_EPOCH", "1700000000")])
}

#[test]
fn a_vendor_package_resolves_against_debian_and_is_locked_with_its_repository() {
    let fixture = fixture(Signer::Untrusted);
    profile(&fixture, "", "\"app\", \"tool\", \"extra\"");
    ok(&lock(&fixture, &[]));
    let text = fixture.read("p.lock");
    assert!(text.contains("version = 3\n"), "{text}");
    let app = locked(&text, "app");
    assert!(
        app.contains("suite = \"stable\"\nrepository = \"vendor\"\n"),
        "{app}"
    );
    // Its dependency from Debian, which has no `repository`.
    let libfoo = locked(&text, "libfoo");
    assert!(libfoo.contains("suite = \"trixie\"\n"), "{libfoo}");
    assert!(!libfoo.contains("repository"), "{libfoo}");
    // apt's priorities: `tool` 1.0 from trixie (500), not the newer backport (100); the
    // vendor's 0.9 has trixie's priority, and within one priority the higher version wins.
    assert!(
        locked(&text, "tool").contains("version = \"1.0\"\n"),
        "{text}"
    );
    // A package only in backports is installed from there when asked for.
    let extra = locked(&text, "extra");
    assert!(extra.contains("suite = \"trixie-backports\"\n"), "{extra}");
    // The vendor suite is anchored like Debian's, by archive name, and no URL is recorded.
    assert!(
        text.contains("[[suite]]\nname = \"stable\"\narchive = \"vendor\"\n"),
        "{text}"
    );
    assert!(
        !text.contains("127.0.0.1") && !text.contains("http"),
        "{text}"
    );

    // The vendor package is fetched from the vendor repository's URL.
    fixture.server.clear_log();
    ok(&fixture.run(&["fetch", "p.toml"], &[]));
    let requests = fixture.server.requests();
    assert!(
        requests.iter().any(|r| r.starts_with("/vendor/pool/")),
        "{requests:?}"
    );
    // And a build from the lock installs it.
    let out = fixture.run(
        &[
            "build", "p.toml", "-o", "out", "--format", "dir", "--mode", "extract", "--frozen",
        ],
        &[("SOURCE_DATE_EPOCH", "1700000000")],
    );
    ok(&out);
}

#[test]
fn a_repository_is_trusted_only_with_its_own_keyring() {
    // Signed by the key Debian's suites are signed with: the vendor keyring does not hold it,
    // so the repository is refused (apt's Signed-By), though `source.keyring` trusts that key.
    let fixture = fixture(Signer::Trusted);
    profile(&fixture, "", "\"app\"");
    let out = lock(&fixture, &[]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("/vendor/dists/stable/InRelease"), "{err}");
    assert!(err.contains("not signed by a trusted key"), "{err}");

    // And the vendor's key is not trusted for Debian's suites: a Debian suite signed by it is
    // refused even though the vendor keyring holds it.
    let fixture = fixture_with_debian_signed_by_vendor();
    profile(&fixture, "", "\"app\"");
    let out = lock(&fixture, &[]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("/debian/dists/trixie/InRelease"),
        "{}",
        stderr(&out)
    );
}

fn fixture_with_debian_signed_by_vendor() -> Fixture {
    let mut suites = repo::trixie(vec![
        Package::new("base-files", "13.8").essential(),
        Package::new("libfoo", "1.2"),
    ]);
    suites[0].signatures = vec![Signature::by(Signer::Untrusted)];
    suites.push(Suite::new("trixie-backports", vec![]));
    suites.push(vendor_suite(vec![Package::new("app", "1.0")]));
    let fixture = Fixture::new(suites);
    let keys = keys::keys();
    std::fs::write(
        fixture.path().join("vendor.gpg"),
        keys::keyring(&[&keys.untrusted]),
    )
    .unwrap();
    fixture
}

#[test]
fn pin_priorities_choose_as_apt_does() {
    let fixture = fixture(Signer::Untrusted);
    // `name/suite` takes that suite's version, and its dependencies stay Debian's.
    profile(&fixture, "", "\"tool/trixie-backports\"");
    ok(&lock(&fixture, &[]));
    let text = fixture.read("p.lock");
    let tool = locked(&text, "tool");
    assert!(tool.contains("version = \"2.0~bpo13+1\"\n"), "{tool}");
    assert!(tool.contains("suite = \"trixie-backports\"\n"), "{tool}");

    // A repository above 500 wins over a higher version elsewhere (apt_preferences(5): the
    // highest priority first, the version only within one priority).
    profile(&fixture, "priority = 600", "\"tool\"");
    ok(&lock(&fixture, &[]));
    let text = fixture.read("p.lock");
    let tool = locked(&text, "tool");
    assert!(tool.contains("version = \"0.9\"\n"), "{tool}");
    assert!(tool.contains("repository = \"vendor\"\n"), "{tool}");

    // Below 0: never installed, even when it is the only repository with the package.
    profile(&fixture, "priority = -1", "\"app\"");
    let out = lock(&fixture, &[]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("`app`"), "{}", stderr(&out));

    // A suite the profile does not read is named at its place in the profile.
    profile(&fixture, "", "\"tool/bookworm-backports\"");
    let out = lock(&fixture, &[]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("names suite `bookworm-backports`, which the profile does not read"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_changed_repository_makes_the_lock_stale_and_check_says_what_would_change() {
    let fixture = fixture(Signer::Untrusted);
    profile(&fixture, "", "\"tool\"");
    ok(&lock(&fixture, &[]));
    ok(&lock(&fixture, &["--check"]));

    // The vendor repository raised above Debian: the lock is stale, and --check lists `tool`
    // going from Debian's 1.0 to the vendor's 0.9.
    profile(&fixture, "priority = 990", "\"tool\"");
    let out = lock(&fixture, &["--check"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the profile changed since the lock was written"),
        "{}",
        stderr(&out)
    );
    let table = stdout(&out);
    assert!(table.starts_with("CHANGE"), "{table}");
    let row = table
        .lines()
        .find(|l| l.contains("tool"))
        .unwrap_or_else(|| panic!("{table}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cells,
        ["downgraded", "tool", "1.0", "0.9", "stable", "(vendor)"],
        "{table}"
    );
    let out = lock(&fixture, &["--check", "--format", "json"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        json["downgraded"],
        serde_json::json!([{"name": "tool", "from": "1.0", "to": "0.9", "suite": "stable (vendor)"}])
    );
    // A build under --locked refuses the stale lock.
    let out = fixture.run(
        &[
            "build", "p.toml", "-o", "out", "--format", "dir", "--mode", "extract", "--locked",
        ],
        &[("SOURCE_DATE_EPOCH", "1700000000")],
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("is out of date"), "{}", stderr(&out));

    // The repository's URL is not part of its identity: a mirror of it keeps the lock.
    ok(&lock(&fixture, &[]));
    let moved = fixture.read("p.toml").replace("/vendor", "/vendor/");
    std::fs::write(fixture.path().join("p.toml"), moved).unwrap();
    ok(&lock(&fixture, &["--check"]));
}

#[test]
fn a_snapshot_archive_repository_is_read_at_the_pinned_time() {
    let fixture = fixture(Signer::Untrusted);
    let write = |snapshot: &str| {
        std::fs::write(
            fixture.path().join("p.toml"),
            repo::profile(
                &format!("backports = true\n{snapshot}"),
                "[[source.repository]]\nname = \"ports\"\narchive = \"vendor\"\nsuites = [\"stable\"]\nkeyring = \"vendor.gpg\"\n[packages]\nvariant = \"extract\"\ninclude = [\"app\"]\n",
            ),
        )
        .unwrap();
    };
    let server = fixture.server.url("");
    let cache = fixture.path().join("cache");
    let run = || {
        common::debroot(
            fixture.path(),
            &[
                "lock",
                "p.toml",
                "--snapshot-server",
                &server,
                "--cache-dir",
                cache.to_str().unwrap(),
            ],
            &[("SOURCE_DATE_EPOCH", "1700000000")],
        )
    };
    write(&format!("snapshot = \"{}\"", common::fixture::SNAPSHOT));
    fixture.server.clear_log();
    ok(&run());
    let requests = fixture.server.requests();
    let wanted = format!(
        "/archive/vendor/{}/dists/stable/InRelease",
        common::fixture::SNAPSHOT
    );
    assert!(requests.contains(&wanted), "{requests:?}");
    let text = fixture.read("p.lock");
    assert!(
        locked(&text, "app").contains("repository = \"ports\"\n"),
        "{text}"
    );

    // Without a pinned time there is no archive state to read: a usage error that says so.
    write("");
    let out = common::debroot(
        fixture.path(),
        &[
            "lock",
            "p.toml",
            "--mirror",
            &fixture.mirror(),
            "--cache-dir",
            cache.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("repository `ports` is a snapshot archive"),
        "{}",
        stderr(&out)
    );
}
