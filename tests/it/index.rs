//! `debroot index` on fixture archives served from loopback: the good path, the index cache,
//! the snapshot layout, and docs/THREATS.md A1-A3 and A5-A8 (A4 needs a lockfile and is tested with
//! `debroot lock`).

use crate::common;

use std::path::PathBuf;
use std::process::Output;
use std::time::{SystemTime, UNIX_EPOCH};

use common::deb::Package;
use common::repo::{self, Signature, Signer, Suite};
use common::server::Fault;
use common::{debroot, keys, stderr, stdout};
use pgp::crypto::hash::HashAlgorithm;

use common::fixture::{Fixture, SNAPSHOT};

fn hello() -> Vec<Package> {
    vec![
        Package::new("hello", "2.10-3").depends("libc6 (>= 2.34)"),
        Package::new("libc6", "2.41-12")
            .field("Multi-Arch", "same")
            .priority("required"),
        Package::new("base-files", "13.8").essential(),
        Package::new("tzdata", "2025b-4")
            .arch("all")
            .priority("required"),
    ]
}

fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

/// Exit `expected`, an `error:` line, the `needles` in stderr, never a panic.
fn assert_fails(output: &Output, expected: i32, needles: &[&str]) {
    let err = stderr(output);
    assert_eq!(code(output), expected, "stderr:\n{err}");
    assert_eq!(err.matches("error:").count(), 1, "{err}");
    for needle in needles {
        assert!(err.contains(needle), "expected {needle:?} in:\n{err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    assert!(stdout(output).is_empty(), "no data on failure");
}

fn json(output: &Output) -> serde_json::Value {
    assert_eq!(code(output), 0, "stderr:\n{}", stderr(output));
    serde_json::from_str(&stdout(output)).expect("index --format json is JSON")
}

/// The tests compare against the clock the binary under test reads.
#[allow(clippy::disallowed_methods)]
fn now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as u32
}

#[test]
fn verifies_and_summarizes_every_suite() {
    let fixture = Fixture::new(repo::trixie(hello()));
    let summary = json(&fixture.index(&[]));
    let suites = summary["suites"].as_array().unwrap();
    let names: Vec<&str> = suites
        .iter()
        .map(|s| s["suite"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["trixie", "trixie-updates", "trixie-security"]);
    let trixie = &suites[0];
    assert_eq!(trixie["indexes"][0]["packages"], 4);
    assert_eq!(trixie["date"], "2026-11-01T00:00:00Z");
    let inrelease = std::fs::read(fixture.inrelease("trixie")).unwrap();
    assert_eq!(trixie["inrelease_sha256"], repo::sha256_hex(&inrelease));
    assert_eq!(
        trixie["signatures"][0]["primary"],
        keys::fingerprint(&keys::keys().trusted)
    );
    assert!(
        suites[2]["source"]
            .as_str()
            .unwrap()
            .ends_with("/debian-security/dists/trixie-security/InRelease"),
        "{}",
        suites[2]["source"]
    );
    // The text form names the same things.
    let mirror = fixture.mirror();
    let cache = fixture.path().join("cache");
    let text = debroot(
        fixture.path(),
        &[
            "index",
            "p.toml",
            "--mirror",
            &mirror,
            "--cache-dir",
            cache.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code(&text), 0, "{}", stderr(&text));
    assert!(
        stdout(&text).contains("main/amd64  4 packages"),
        "{}",
        stdout(&text)
    );
}

#[test]
fn an_unchanged_suite_costs_one_request() {
    let fixture = Fixture::new(repo::trixie(hello()));
    json(&fixture.index(&[]));
    // At most one request per index (the two empty suites share one index digest, so the
    // second may already be in the cache).
    let first = fixture.package_requests().len();
    assert!((2..=3).contains(&first), "{:?}", fixture.server.requests());
    fixture.server.clear_log();
    let again = json(&fixture.index(&[]));
    let mut requests = sorted(fixture.server.requests());
    requests.dedup();
    assert_eq!(
        requests,
        [
            "/debian-security/dists/trixie-security/InRelease",
            "/debian/dists/trixie-updates/InRelease",
            "/debian/dists/trixie/InRelease",
        ]
    );
    assert_eq!(again["suites"][0]["indexes"][0]["cached"], true);
}

fn sorted(mut list: Vec<String>) -> Vec<String> {
    list.sort();
    list
}

#[test]
fn snapshot_layout_from_a_loopback_snapshot_server() {
    let fixture = Fixture::new(repo::trixie(hello()));
    std::fs::write(
        fixture.path().join("p.toml"),
        repo::profile(&format!("snapshot = \"{SNAPSHOT}\""), ""),
    )
    .unwrap();
    let server = fixture.server.url("");
    let cache = fixture.path().join("cache");
    let output = debroot(
        fixture.path(),
        &[
            "index",
            "p.toml",
            "--snapshot-server",
            &server,
            "--format",
            "json",
            "--cache-dir",
            cache.to_str().unwrap(),
        ],
        &[],
    );
    let summary = json(&output);
    assert!(
        summary["suites"][0]["source"]
            .as_str()
            .unwrap()
            .ends_with(&format!(
                "/archive/debian/{SNAPSHOT}/dists/trixie/InRelease"
            ))
    );
    assert!(
        summary["suites"][2]["source"]
            .as_str()
            .unwrap()
            .ends_with(&format!(
                "/archive/debian-security/{SNAPSHOT}/dists/trixie-security/InRelease"
            ))
    );
}

// --- A1: signers and key policy --------------------------------------------------------------

fn suites_signed(signatures: Vec<Signature>) -> Vec<Suite> {
    let mut suites = repo::trixie(hello());
    suites[0].signatures = signatures;
    suites
}

#[test]
fn a1_untrusted_and_unknown_signers_are_refused() {
    // (a) untrusted key; (h) only keys outside the keyring.
    for signatures in [
        vec![Signature::by(Signer::Untrusted)],
        vec![Signature::by(Signer::Untrusted), Signature::by(Signer::Rsa)],
    ] {
        let fixture = Fixture::new(suites_signed(signatures));
        let output = fixture.index(&[]);
        assert_fails(
            &output,
            4,
            &[
                "dists/trixie/InRelease",
                "not signed by a trusted key",
                "not in the keyring",
            ],
        );
        assert!(
            !fixture
                .package_requests()
                .iter()
                .any(|p| p.contains("/trixie/")),
            "no index is fetched after a failure: {:?}",
            fixture.server.requests()
        );
    }
}

#[test]
fn a1_subkey_bound_by_another_primary_is_refused() {
    let fixture = Fixture::new(repo::trixie(hello()));
    fixture.set_keyring(&keys::forged_subkey_keyring());
    let output = fixture.index(&[]);
    assert_fails(&output, 4, &["no valid binding"]);
}

#[test]
fn a1_expired_key_fails_live_and_passes_at_a_snapshot_before_expiry() {
    let k = keys::keys();
    let mut suites = suites_signed(vec![Signature::by(Signer::Expired)]);
    let fixture = Fixture::new(suites.clone());
    fixture.set_keyring(&keys::keyring(&[&k.trusted, &k.expired]));
    assert_fails(&fixture.index(&[]), 4, &["expired"]);

    // A snapshot from before the expiry: the same key is valid at that time.
    let before = keys::EXPIRED_AT - 30 * 86_400;
    for suite in &mut suites {
        suite.date = before - 3600;
        suite.signatures = vec![Signature::by(Signer::Expired)];
    }
    let fixture = Fixture::new(suites);
    fixture.set_keyring(&keys::keyring(&[&k.trusted, &k.expired]));
    let at = debroot::timestamp::Timestamp(i64::from(before)).snapshot_form();
    json(&snapshot_index(&fixture, &at));
}

#[test]
fn a1_revoked_key_and_weak_hash_are_refused() {
    let k = keys::keys();
    let fixture = Fixture::new(suites_signed(vec![Signature::by(Signer::Revoked)]));
    fixture.set_keyring(&keys::keyring(&[&k.trusted, &k.revoked]));
    assert_fails(&fixture.index(&[]), 4, &["revoked"]);

    let mut sha1 = Signature::by(Signer::Rsa);
    sha1.hash = HashAlgorithm::Sha1;
    let fixture = Fixture::new(suites_signed(vec![sha1]));
    fixture.set_keyring(&keys::keyring(&[&k.trusted, &k.rsa]));
    assert_fails(&fixture.index(&[]), 4, &["weak hash algorithm SHA1"]);
}

#[test]
fn a1_a_good_trusted_signature_among_unknown_ones_passes() {
    let fixture = Fixture::new(suites_signed(vec![
        Signature::by(Signer::Untrusted),
        Signature::by(Signer::Trusted),
        Signature::by(Signer::Rsa),
    ]));
    let summary = json(&fixture.index(&[]));
    assert_eq!(
        summary["suites"][0]["signatures"].as_array().unwrap().len(),
        1
    );
}

#[test]
fn a1_a_bad_signature_by_a_known_key_fails_even_beside_a_good_one() {
    let k = keys::keys();
    let mut bad = Signature::by(Signer::Rsa);
    bad.corrupt = true;
    let fixture = Fixture::new(suites_signed(vec![Signature::by(Signer::Trusted), bad]));
    fixture.set_keyring(&keys::keyring(&[&k.trusted, &k.rsa]));
    assert_fails(&fixture.index(&[]), 4, &["invalid signature by key"]);
}

// --- A2: envelope smuggling -----------------------------------------------------------------

#[test]
fn a2_envelope_smuggling_is_refused() {
    type Edit = Box<dyn Fn(String) -> String>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "appended",
            Box::new(|t| format!("{t}Origin: Evil\n")),
            "unsigned content after the signature",
        ),
        (
            "prepended",
            Box::new(|t| format!("Origin: Evil\n{t}")),
            "does not start",
        ),
        (
            "dash line",
            Box::new(|t| t.replacen("Origin: Debian\n", "Origin: Debian\n--X\n", 1)),
            "unexpected dash line",
        ),
        (
            "second begin",
            Box::new(|t| {
                t.replacen(
                    "Origin: Debian\n",
                    "Origin: Debian\n-----BEGIN PGP SIGNED MESSAGE-----\n",
                    1,
                )
            }),
            "unexpected dash line",
        ),
        (
            "cve-2013-1051",
            Box::new(|t| {
                format!(
                    "{}Origin: Evil\n",
                    t.replacen(
                        "-----BEGIN PGP SIGNATURE-----\n\n",
                        "-----BEGIN PGP SIGNATURE-----\n  \n",
                        1
                    )
                )
            }),
            "malformed armor header",
        ),
        (
            "two messages",
            Box::new(|t| format!("{t}{t}")),
            "unsigned content after the signature",
        ),
        (
            "dash header",
            Box::new(|t| t.replacen("Hash: SHA256", "-Hash: SHA256", 1)),
            "unexpected armor header",
        ),
        (
            "unterminated",
            Box::new(|t| t.replacen("-----END PGP SIGNATURE-----\n", "", 1)),
            "does not end",
        ),
        (
            "tampered text",
            Box::new(|t| t.replacen("Origin: Debian", "Origin: Evil", 1)),
            "invalid signature by key",
        ),
    ];
    for (name, edit, reason) in cases {
        let fixture = Fixture::new(repo::trixie(hello()));
        fixture.edit_inrelease("trixie", edit);
        let output = fixture.index(&[]);
        assert_eq!(code(&output), 4, "{name}: {}", stderr(&output));
        assert!(
            stderr(&output).contains(reason),
            "{name}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("dists/trixie/InRelease"),
            "{name}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn a2_crlf_line_endings_pass() {
    let fixture = Fixture::new(repo::trixie(hello()));
    fixture.edit_inrelease("trixie", |t| t.replace('\n', "\r\n"));
    json(&fixture.index(&[]));
}

#[test]
fn a2_binary_signature_over_the_text_is_refused() {
    let mut binary = Signature::by(Signer::Trusted);
    binary.binary = true;
    let fixture = Fixture::new(suites_signed(vec![binary]));
    assert_fails(&fixture.index(&[]), 4, &["not a text signature"]);
}

// --- A3: release time ------------------------------------------------------------------------

#[test]
fn a3_live_mode_judges_date_and_valid_until_against_the_clock() {
    let now = now();
    let mut expired = repo::trixie(hello());
    expired[0].date = now - 7200;
    expired[0].valid_until = Some(now - 3600);
    assert_fails(
        &Fixture::new(expired).index(&[]),
        4,
        &["expired (invalid since"],
    );

    let mut future = repo::trixie(hello());
    future[0].date = now + 86_400;
    future[0].signatures[0].time = Some(now - 60);
    assert_fails(&Fixture::new(future).index(&[]), 4, &["not valid yet"]);

    let fixture = Fixture::new(repo::trixie(hello()));
    let date = repo::timestamp_release_form(repo::FIXTURE_DATE);
    let release =
        std::fs::read_to_string(fixture.written.root.join("debian/dists/trixie/Release")).unwrap();
    let suite = Suite::new("trixie", hello());
    for (name, replacement) in [
        ("missing", String::new()),
        ("zone", format!("Date: {}\n", date.replace("UTC", "CET"))),
    ] {
        let edited = release.replace(&format!("Date: {date}\n"), &replacement);
        std::fs::write(fixture.inrelease("trixie"), repo::sign(&suite, &edited)).unwrap();
        let output = fixture.index(&[]);
        assert_eq!(code(&output), 4, "{name}: {}", stderr(&output));
        assert!(
            stderr(&output).contains("Date"),
            "{name}: {}",
            stderr(&output)
        );
    }
}

fn snapshot_index(fixture: &Fixture, at: &str) -> Output {
    let server = fixture.server.url("");
    let cache = fixture.path().join("cache");
    debroot(
        fixture.path(),
        &[
            "index",
            "p.toml",
            "--snapshot",
            at,
            "--snapshot-server",
            &server,
            "--format",
            "json",
            "--cache-dir",
            cache.to_str().unwrap(),
        ],
        &[],
    )
}

#[test]
fn a3_snapshot_mode_judges_against_the_snapshot_time() {
    let at = repo::FIXTURE_DATE + 12 * 3600;
    let stamp = debroot::timestamp::Timestamp(i64::from(at)).snapshot_form();
    // (g) long expired today, valid at the snapshot time: passes.
    let mut old = repo::trixie(hello());
    for suite in &mut old {
        suite.valid_until = Some(repo::FIXTURE_DATE + 7 * 86_400);
    }
    json(&snapshot_index(&Fixture::new(old), &stamp));
    // (d) Valid-Until before the snapshot time.
    let mut expired = repo::trixie(hello());
    expired[0].valid_until = Some(at - 60);
    assert_fails(
        &snapshot_index(&Fixture::new(expired), &stamp),
        4,
        &[
            "expired before the snapshot time",
            &debroot::timestamp::Timestamp(i64::from(at)).to_string(),
        ],
    );
    // (e) a newer state than the snapshot.
    let mut newer = repo::trixie(hello());
    newer[0].date = at + 3600;
    newer[0].signatures[0].time = Some(at - 60);
    assert_fails(
        &snapshot_index(&Fixture::new(newer), &stamp),
        4,
        &["newer than the snapshot"],
    );
    // (f) an ancient state.
    let mut ancient = repo::trixie(hello());
    ancient[0].date = at - 500 * 86_400;
    assert_fails(
        &snapshot_index(&Fixture::new(ancient), &stamp),
        4,
        &["much older than the snapshot"],
    );
}

// --- A5: mix-and-match -----------------------------------------------------------------------

#[test]
fn a5_suite_architecture_component_and_stanza_architecture_must_match() {
    let mut wrong_suite = repo::trixie(hello());
    wrong_suite[0].suite_field = "oldstable".into();
    wrong_suite[0].codename = "bookworm".into();
    assert_fails(
        &Fixture::new(wrong_suite).index(&[]),
        4,
        &["asked for suite `trixie`", "Codename `bookworm`"],
    );

    let mut no_arch = repo::trixie(hello());
    no_arch[0].architectures = vec!["all".into(), "arm64".into()];
    assert_fails(
        &Fixture::new(no_arch).index(&[]),
        4,
        &["architecture `amd64` is not in the Release"],
    );

    let mut no_component = repo::trixie(hello());
    no_component[0].components = vec!["contrib".into()];
    assert_fails(
        &Fixture::new(no_component).index(&[]),
        4,
        &["component `main` is not in the Release"],
    );

    let mut foreign = repo::trixie(hello());
    foreign[0].raw_stanzas.push(
        "Package: intruder\nVersion: 1.0\nArchitecture: arm64\nFilename: pool/main/i/intruder/intruder_1.0_arm64.deb\nSize: 10\nSHA256: 0000000000000000000000000000000000000000000000000000000000000000\n".into(),
    );
    assert_fails(
        &Fixture::new(foreign).index(&[]),
        4,
        &["package `intruder` has Architecture `arm64` in the index of `amd64`"],
    );
}

// --- A6: index integrity and size limits -----------------------------------------------------

fn by_hash_path(fixture: &Fixture, file: &str) -> PathBuf {
    let dists = fixture
        .written
        .root
        .join("debian/dists/trixie/main/binary-amd64");
    let bytes = std::fs::read(dists.join(file)).unwrap();
    dists.join("by-hash/SHA256").join(repo::sha256_hex(&bytes))
}

#[test]
fn a6_altered_or_resized_index_is_a_hash_sum_mismatch() {
    let fixture = Fixture::new(repo::trixie(hello()));
    let path = by_hash_path(&fixture, "Packages.xz");
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    assert_fails(
        &fixture.index(&[]),
        5,
        &["Hash Sum mismatch", "by-hash/SHA256/", "expected"],
    );
    common::assert_cache_verified(&fixture.path().join("cache"));
    assert!(!common::cache_holds(
        &fixture.path().join("cache"),
        &repo::sha256_hex(&bytes)
    ));

    let fixture = Fixture::new(repo::trixie(hello()));
    let path = by_hash_path(&fixture, "Packages.xz");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.pop();
    std::fs::write(&path, &bytes).unwrap();
    assert_fails(&fixture.index(&[]), 5, &["Hash Sum mismatch"]);
}

fn resign(fixture: &Fixture, suite: &Suite, edit: impl Fn(&str) -> String) {
    let release_path = fixture.written.root.join("debian/dists/trixie/Release");
    let release = std::fs::read_to_string(&release_path).unwrap();
    let edited = edit(&release);
    std::fs::write(&release_path, &edited).unwrap();
    std::fs::write(fixture.inrelease("trixie"), repo::sign(suite, &edited)).unwrap();
}

#[test]
fn a6_unlisted_and_weakly_hashed_indexes_are_refused_before_download() {
    let suite = Suite::new("trixie", hello());
    let fixture = Fixture::new(repo::trixie(hello()));
    resign(&fixture, &suite, |r| {
        r.replace("main/binary-amd64/", "main/binary-arm64/")
    });
    assert_fails(
        &fixture.index(&[]),
        4,
        &["does not list `main/binary-amd64/Packages`"],
    );
    assert!(
        fixture
            .package_requests()
            .iter()
            .all(|p| !p.contains("/trixie/")),
        "{:?}",
        fixture.server.requests()
    );

    // (d) only MD5Sum: no SHA256 section at all.
    let fixture = Fixture::new(repo::trixie(hello()));
    resign(&fixture, &suite, |r| r.replace("SHA256:", "MD5Sum:"));
    assert_fails(&fixture.index(&[]), 4, &["insufficient hash information"]);

    // (e) the compressed file listed without its uncompressed form.
    let fixture = Fixture::new(repo::trixie(hello()));
    resign(&fixture, &suite, |r| {
        r.lines()
            .filter(|l| !l.ends_with("main/binary-amd64/Packages"))
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    });
    assert_fails(&fixture.index(&[]), 5, &["insufficient hash information"]);
    assert!(
        fixture
            .package_requests()
            .iter()
            .all(|p| !p.contains("/trixie/"))
    );
}

#[test]
fn a6_an_index_that_expands_beyond_its_listed_size_is_cut() {
    let suite = Suite::new("trixie", hello());
    let fixture = Fixture::new(repo::trixie(hello()));
    let dists = fixture
        .written
        .root
        .join("debian/dists/trixie/main/binary-amd64");
    // 64 MiB of zeros compresses to a few kB; the Release says the index is its real size.
    let bomb = common::deb::xz(&vec![0u8; 64 << 20]);
    let plain = std::fs::read(dists.join("Packages")).unwrap();
    std::fs::write(dists.join("Packages.xz"), &bomb).unwrap();
    std::fs::create_dir_all(dists.join("by-hash/SHA256")).unwrap();
    std::fs::write(
        dists.join("by-hash/SHA256").join(repo::sha256_hex(&bomb)),
        &bomb,
    )
    .unwrap();
    resign(&fixture, &suite, |r| {
        r.lines()
            .map(|l| {
                if l.ends_with("main/binary-amd64/Packages.xz") {
                    format!(
                        " {} {:>8} main/binary-amd64/Packages.xz",
                        repo::sha256_hex(&bomb),
                        bomb.len()
                    )
                } else {
                    l.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    });
    let output = fixture.index(&[]);
    assert_fails(
        &output,
        5,
        &[
            "cannot decompress",
            &format!("exceeds {} bytes", plain.len()),
        ],
    );
}

#[test]
fn a6_an_endless_inrelease_is_cut_at_10_mb() {
    let fixture = Fixture::new(repo::trixie(hello()));
    fixture.server.fault(
        "/debian/dists/trixie/InRelease",
        Fault::Endless {
            content_length: None,
        },
    );
    assert_fails(&fixture.index(&[]), 5, &["more than the 10485760 bytes"]);
}

// --- A7: hostile stanzas ---------------------------------------------------------------------

#[test]
fn a7_hostile_stanzas_are_rejected_with_their_line() {
    let good = "Version: 1.0\nArchitecture: amd64\nFilename: pool/main/x/x.deb\nSize: 10\nSHA256: 0000000000000000000000000000000000000000000000000000000000000000\n";
    let mut suites = repo::trixie(hello());
    suites[0].raw_stanzas = vec![
        good.replace("pool/main/x/x.deb", "../../../../host_sentinel/x")
            .replace("Version", "Package: traversal\nVersion"),
        good.replace("pool/main/x/x.deb", "http://evil/x.deb")
            .replace("Version", "Package: scheme\nVersion"),
        format!("Package: ../../evil\n{good}"),
        format!("Package: Foo/Bar\n{good}"),
        format!("Package: badversion\n{}", good.replace("1.0", "1/../../x")),
        format!("Package: nosize\n{}", good.replace("Size: 10\n", "")),
        format!("Package: status\nStatus: install ok installed\n{good}"),
    ];
    let fixture = Fixture::new(suites);
    let output = fixture.index(&[]);
    let summary = json(&output);
    let index = &summary["suites"][0]["indexes"][0];
    // The four real packages and the stanza with a Status field (ignored) are kept.
    assert_eq!(index["packages"], 5);
    let rejected: Vec<String> = index["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(rejected.len(), 6, "{rejected:#?}");
    assert!(
        rejected[0].starts_with("line ") && rejected[0].contains("unsafe `Filename`"),
        "{rejected:#?}"
    );
    assert!(
        rejected.iter().any(|r| r.contains("no Size information")),
        "{rejected:#?}"
    );
    assert!(stderr(&output).contains("warning:"), "{}", stderr(&output));
}

// --- A8: no insecure fallback ----------------------------------------------------------------

#[test]
fn a8_a_missing_inrelease_is_never_replaced_by_release() {
    let fixture = Fixture::new(repo::trixie(hello()));
    std::fs::remove_file(fixture.inrelease("trixie")).unwrap();
    assert_fails(
        &fixture.index(&[]),
        4,
        &["the repository is no longer signed"],
    );
    assert!(
        !fixture
            .server
            .requests()
            .iter()
            .any(|p| p.ends_with("Release.gpg"))
    );

    // An unsigned Release where the InRelease should be.
    let fixture = Fixture::new(repo::trixie(hello()));
    let release = std::fs::read(fixture.written.root.join("debian/dists/trixie/Release")).unwrap();
    std::fs::write(fixture.inrelease("trixie"), release).unwrap();
    assert_fails(&fixture.index(&[]), 4, &["is not a clearsigned file"]);

    // A captive portal answering with HTML.
    let fixture = Fixture::new(repo::trixie(hello()));
    fixture.server.fault(
        "/debian/dists/trixie/InRelease",
        Fault::Replace {
            body: b"<html><body>Please log in</body></html>".to_vec(),
        },
    );
    assert_fails(&fixture.index(&[]), 4, &["captive portal or proxy?"]);

    // Nothing at all: the suite is not there, exit 3, with a hint.
    let fixture = Fixture::new(repo::trixie(hello()));
    std::fs::remove_file(fixture.inrelease("trixie")).unwrap();
    std::fs::remove_file(fixture.written.root.join("debian/dists/trixie/Release")).unwrap();
    assert_fails(
        &fixture.index(&[]),
        3,
        &["suite `trixie` does not exist on the mirror", "hint:"],
    );
}

#[test]
fn f5_keyring_problems_are_usage_errors() {
    let fixture = Fixture::new(repo::trixie(hello()));
    std::fs::remove_file(fixture.path().join("keyring.gpg")).unwrap();
    assert_fails(&fixture.index(&[]), 2, &["cannot read keyring"]);
    fixture.set_keyring(b"");
    assert_fails(&fixture.index(&[]), 2, &["keyring is empty"]);
    fixture.set_keyring(&keys::secret_keyring(&keys::keys().untrusted));
    assert_fails(&fixture.index(&[]), 2, &["secret key material"]);
    assert!(fixture.server.requests().is_empty(), "no network traffic");
}

// --- Gaps of the corpus (tests/THREATS-COVERAGE.md) ------------------------------------------

/// docs/THREATS.md A1 (a–e, g): every refusal names the key that made the refused signature (its
/// fingerprint; for (b) the binding) and why, and no index of the suite is fetched after it.
#[test]
fn a1_each_refused_signature_names_its_key_and_no_index_is_fetched() {
    let k = keys::keys();
    let mut sha1 = Signature::by(Signer::Rsa);
    sha1.hash = HashAlgorithm::Sha1;
    let mut bad = Signature::by(Signer::Rsa);
    bad.corrupt = true;
    /// (what, signatures, keyring, the key refused, the reason).
    type Case<'a> = (
        &'a str,
        Vec<Signature>,
        Vec<u8>,
        &'a pgp::composed::SignedSecretKey,
        &'a str,
    );
    let cases: Vec<Case<'_>> = vec![
        (
            "a: untrusted",
            vec![Signature::by(Signer::Untrusted)],
            keys::keyring(&[&k.trusted]),
            &k.untrusted,
            "not in the keyring",
        ),
        (
            "c: expired",
            vec![Signature::by(Signer::Expired)],
            keys::keyring(&[&k.trusted, &k.expired]),
            &k.expired,
            "expired",
        ),
        (
            "d: revoked",
            vec![Signature::by(Signer::Revoked)],
            keys::keyring(&[&k.trusted, &k.revoked]),
            &k.revoked,
            "revoked",
        ),
        (
            "e: SHA-1",
            vec![sha1],
            keys::keyring(&[&k.trusted, &k.rsa]),
            &k.rsa,
            "weak hash algorithm SHA1",
        ),
        (
            "g: a bad signature beside a good one",
            vec![Signature::by(Signer::Trusted), bad],
            keys::keyring(&[&k.trusted, &k.rsa]),
            &k.rsa,
            "invalid signature by key",
        ),
    ];
    for (name, signatures, keyring, signer, reason) in cases {
        let fixture = Fixture::new(suites_signed(signatures));
        fixture.set_keyring(&keyring);
        let output = fixture.index(&[]);
        let err = stderr(&output);
        assert_eq!(code(&output), 4, "{name}: {err}");
        assert_eq!(err.matches("error:").count(), 1, "{name}: {err}");
        assert!(err.contains("dists/trixie/InRelease"), "{name}: {err}");
        assert!(
            err.contains(&keys::fingerprint(signer)),
            "{name}: the key is named: {err}"
        );
        assert!(err.contains(reason), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert!(
            !fixture
                .package_requests()
                .iter()
                .any(|p| p.contains("/trixie/")),
            "{name}: no index is fetched after the failure: {:?}",
            fixture.server.requests()
        );
    }
    // (b) a subkey bound by another primary: refused, and no index fetched either. Every suite
    // is signed by that subkey here; the suites are read at once, but the error reported is the
    // first suite's in the profile's order, whichever failed first in time.
    let fixture = Fixture::new(repo::trixie(hello()));
    fixture.set_keyring(&keys::forged_subkey_keyring());
    assert_fails(
        &fixture.index(&[]),
        4,
        &["dists/trixie/InRelease", "no valid binding"],
    );
    assert!(
        fixture.package_requests().is_empty(),
        "b: no index is fetched after the failure: {:?}",
        fixture.server.requests()
    );
}

/// docs/THREATS.md A3 (c): a `Date` that is not a date is refused like a missing one.
#[test]
fn a3c_an_unparseable_date_is_refused() {
    let fixture = Fixture::new(repo::trixie(hello()));
    let date = repo::timestamp_release_form(repo::FIXTURE_DATE);
    let release =
        std::fs::read_to_string(fixture.written.root.join("debian/dists/trixie/Release")).unwrap();
    let suite = Suite::new("trixie", hello());
    for bad in ["yesterday", "Sat, 31 Feb 2026 00:00:00 UTC", "1793491200"] {
        let edited = release.replace(&format!("Date: {date}\n"), &format!("Date: {bad}\n"));
        std::fs::write(fixture.inrelease("trixie"), repo::sign(&suite, &edited)).unwrap();
        let output = fixture.index(&[]);
        assert_fails(&output, 4, &["dists/trixie/InRelease", "Date"]);
        assert!(
            !fixture
                .package_requests()
                .iter()
                .any(|p| p.contains("/trixie/")),
            "{bad}: no index is read from a Release with a bad Date"
        );
    }
}

/// docs/THREATS.md A3 (d–f) in snapshot mode: each refusal prints both timestamps, the Release's
/// and the snapshot's.
#[test]
fn a3d_to_f_snapshot_refusals_print_both_timestamps() {
    use debroot::timestamp::Timestamp;
    let at = repo::FIXTURE_DATE + 12 * 3600;
    let stamp = Timestamp(i64::from(at)).snapshot_form();
    let shown = |seconds: u32| Timestamp(i64::from(seconds)).to_string();
    // (d) Valid-Until < T.
    let mut expired = repo::trixie(hello());
    expired[0].valid_until = Some(at - 60);
    assert_fails(
        &snapshot_index(&Fixture::new(expired), &stamp),
        4,
        &["dists/trixie/InRelease", &shown(at - 60), &shown(at)],
    );
    // (e) Date > T + skew.
    let mut newer = repo::trixie(hello());
    newer[0].date = at + 3600;
    newer[0].signatures[0].time = Some(at - 60);
    assert_fails(
        &snapshot_index(&Fixture::new(newer), &stamp),
        4,
        &["dists/trixie/InRelease", &shown(at + 3600), &shown(at)],
    );
    // (f) Date < T - max_age.
    let mut ancient = repo::trixie(hello());
    ancient[0].date = at - 500 * 86_400;
    assert_fails(
        &snapshot_index(&Fixture::new(ancient), &stamp),
        4,
        &[
            "dists/trixie/InRelease",
            &shown(at - 500 * 86_400),
            &shown(at),
        ],
    );
}

/// docs/THREATS.md A6 (f) with memory measured: an index listed at its real size whose compressed
/// form expands to 256 MiB of zeros is cut at the listed size; debroot's peak resident set
/// stays far below what holding the expansion would take.
#[test]
fn a6f_an_index_bomb_is_cut_in_bounded_memory() {
    let suite = Suite::new("trixie", hello());
    let fixture = Fixture::new(repo::trixie(hello()));
    let dists = fixture
        .written
        .root
        .join("debian/dists/trixie/main/binary-amd64");
    let bomb = {
        use std::io::Write;
        let mut encoder = liblzma::write::XzEncoder::new(Vec::new(), 0);
        encoder.write_all(&vec![0u8; 256 << 20]).unwrap();
        encoder.finish().unwrap()
    };
    let plain = std::fs::read(dists.join("Packages")).unwrap();
    std::fs::write(
        dists.join("by-hash/SHA256").join(repo::sha256_hex(&bomb)),
        &bomb,
    )
    .unwrap();
    std::fs::write(dists.join("Packages.xz"), &bomb).unwrap();
    resign(&fixture, &suite, |r| {
        r.lines()
            .map(|l| {
                if l.ends_with("main/binary-amd64/Packages.xz") {
                    format!(
                        " {} {:>8} main/binary-amd64/Packages.xz",
                        repo::sha256_hex(&bomb),
                        bomb.len()
                    )
                } else {
                    l.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    });
    let mirror = fixture.mirror();
    let cache = fixture.path().join("cache");
    let (output, peak) = common::invariants::debroot_bounded(
        fixture.path(),
        &[
            "index",
            "p.toml",
            "--mirror",
            &mirror,
            "--format",
            "json",
            "--cache-dir",
            cache.to_str().unwrap(),
        ],
        1 << 20,
    );
    assert_fails(
        &output,
        5,
        &[
            "cannot decompress",
            &format!("exceeds {} bytes", plain.len()),
        ],
    );
    if let Some(peak) = peak {
        assert!(peak < 128 << 10, "peak resident set {peak} KiB");
    }
    common::assert_cache_verified(&cache);
}

/// docs/THREATS.md A7 (e, f): a stanza without `SHA256`, and one that smuggles a second `Package:`
/// field (a value continued by a line that does not start with a space), are rejected with
/// their line; asking for either exits 3 naming the rejection, and nothing is downloaded.
#[test]
fn a7e_f_missing_sha256_and_injected_fields_reject_the_stanza() {
    let good = "Version: 1.0\nArchitecture: amd64\nFilename: pool/main/x/x.deb\nSize: 10\nSHA256: 0000000000000000000000000000000000000000000000000000000000000000\n";
    let mut suites = repo::trixie(hello());
    suites[0].raw_stanzas = vec![
        format!(
            "Package: nohash\n{}",
            good.replace(
                "SHA256: 0000000000000000000000000000000000000000000000000000000000000000\n",
                ""
            )
        ),
        format!("Package: carrier\nDescription: x\nPackage: injected\n{good}"),
    ];
    let fixture = Fixture::new(suites);
    let summary = json(&fixture.index(&[]));
    let index = &summary["suites"][0]["indexes"][0];
    assert_eq!(index["packages"], 4, "{index}");
    let rejected: Vec<String> = index["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(rejected.len(), 2, "{rejected:#?}");
    assert!(
        rejected.iter().all(|r| r.starts_with("line ")),
        "{rejected:#?}"
    );
    assert!(
        rejected
            .iter()
            .any(|r| r.contains("nohash") && r.contains("SHA256")),
        "{rejected:#?}"
    );
    assert!(
        rejected
            .iter()
            .any(|r| r.contains("Package") && (r.contains("duplicate") || r.contains("twice"))),
        "{rejected:#?}"
    );
    for name in ["nohash", "carrier", "injected"] {
        std::fs::write(
            fixture.path().join("p.toml"),
            repo::profile(
                "",
                &format!("[packages]\nvariant = \"extract\"\ninclude = [\"{name}\"]\n"),
            ),
        )
        .unwrap();
        fixture.server.clear_log();
        let output = fixture.run(&["lock", "p.toml"], &[]);
        let err = stderr(&output);
        assert_eq!(code(&output), 3, "{name}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        // A stanza with two `Package` fields has no name to report it under: asking for
        // either name finds no package (the warning named the line).
        if name == "nohash" {
            assert!(err.contains("stanza was rejected"), "{name}: {err}");
        }
        assert!(
            !fixture
                .server
                .requests()
                .iter()
                .any(|r| r.contains("/pool/")),
            "{name}: nothing downloaded"
        );
    }
}

/// docs/THREATS.md A7 (g): an index of 100,000 stanzas is parsed; one whose single field is 50 MB
/// is parsed or refused cleanly; both within a memory bound.
#[test]
fn a7g_huge_indexes_are_parsed_in_bounded_memory() {
    let stanza = |i: usize| {
        format!(
            "Package: bulk{i}\nVersion: 1.0\nArchitecture: amd64\nFilename: pool/main/b/bulk{i}.deb\nSize: 10\nSHA256: 0000000000000000000000000000000000000000000000000000000000000000\n"
        )
    };
    let mut many = repo::trixie(hello());
    many[0].raw_stanzas = (0..100_000).map(stanza).collect();
    let mut big = repo::trixie(hello());
    big[0].raw_stanzas = vec![format!(
        "Package: bigfield\nDescription: {}\n{}",
        "x".repeat(50 << 20),
        stanza(0).replacen("Package: bulk0\n", "", 1)
    )];
    for (name, suites) in [("100k stanzas", many), ("a 50 MB field", big)] {
        let fixture = Fixture::new(suites);
        let mirror = fixture.mirror();
        let cache = fixture.path().join("cache");
        let started = std::time::Instant::now();
        let (output, peak) = common::invariants::debroot_bounded(
            fixture.path(),
            &[
                "index",
                "p.toml",
                "--mirror",
                &mirror,
                "--format",
                "json",
                "--cache-dir",
                cache.to_str().unwrap(),
            ],
            2 << 20,
        );
        let err = stderr(&output);
        assert!(!err.contains("panicked"), "{name}: {err}");
        match code(&output) {
            0 => {
                let summary = json(&output);
                let packages = summary["suites"][0]["indexes"][0]["packages"]
                    .as_u64()
                    .unwrap();
                assert!(packages >= 5, "{name}: {packages} packages");
            }
            code => {
                assert!(code == 5 || code == 7, "{name}: exit {code}: {err}");
                assert!(
                    err.contains("too large") || err.contains("exceeds"),
                    "{name}: {err}"
                );
            }
        }
        if let Some(peak) = peak {
            assert!(peak < 512 << 10, "{name}: peak resident set {peak} KiB");
        }
        assert!(
            started.elapsed().as_secs() < 120,
            "{name}: {:?}",
            started.elapsed()
        );
    }
}

// --- Suites that exist (issue 16, 6) ----------------------------------------------------------

/// The first line of the error (status lines come before it).
fn first_line(output: &Output) -> String {
    stderr(output)
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or("")
        .to_owned()
}

fn hint(output: &Output) -> String {
    let err = stderr(output);
    err.lines()
        .find(|l| l.starts_with("hint:"))
        .unwrap_or("")
        .to_owned()
}

/// A misspelt suite is exit 3 naming it (never its -security), with the suites the mirror's
/// `dists/` index lists and the nearest; without an index, the hint says it could not list them.
#[test]
fn a_misspelt_suite_is_exit_3_naming_it_and_the_suites_there() {
    let fixture = Fixture::new(repo::trixie(hello()));
    std::fs::write(
        fixture.path().join("p.toml"),
        repo::profile("", "").replace("\"trixie\"", "\"trixe\""),
    )
    .unwrap();
    let output = fixture.index(&[]);
    assert_fails(&output, 3, &[]);
    let mirror = fixture.mirror();
    assert_eq!(
        first_line(&output),
        format!(
            "error: suite `trixe` does not exist on the mirror (`{mirror}/dists/trixe/InRelease`: 404)"
        )
    );
    assert!(
        !stderr(&output).contains("-security"),
        "{}",
        stderr(&output)
    );
    assert_eq!(
        hint(&output),
        "hint: did you mean `trixie`? it has `trixie`, `trixie-updates`"
    );
    assert!(
        fixture
            .server
            .requests()
            .contains(&"/debian/dists/".to_owned()),
        "the listing was asked for"
    );

    // Far from every suite: no guess, the list.
    std::fs::write(
        fixture.path().join("p.toml"),
        repo::profile("", "").replace("\"trixie\"", "\"bookwrom\""),
    )
    .unwrap();
    let output = fixture.index(&[]);
    assert_fails(
        &output,
        3,
        &["suite `bookwrom` does not exist on the mirror"],
    );
    assert_eq!(
        hint(&output),
        "hint: check `source.suite`: it has `trixie`, `trixie-updates`"
    );

    // No index page: said so.
    fixture.server.fault(
        "/debian/dists/",
        Fault::Status {
            code: 404,
            retry_after: None,
            times: 10,
        },
    );
    let output = fixture.index(&[]);
    assert_fails(
        &output,
        3,
        &["suite `bookwrom` does not exist on the mirror"],
    );
    assert!(
        hint(&output).contains("the suites it has could not be listed")
            && hint(&output).contains("not found (HTTP 404)"),
        "{}",
        stderr(&output)
    );
}

/// Unstable never has -updates or -security (mmdebstrap's rule): with `updates = true`, debroot
/// does not even ask for them.
#[test]
fn sid_with_updates_asks_for_no_updates_or_security_suite() {
    let mut sid = Suite::new("sid", hello());
    sid.suite_field = "unstable".into();
    let fixture = Fixture::new(vec![sid]);
    std::fs::write(
        fixture.path().join("p.toml"),
        repo::profile("updates = true", "").replace("\"trixie\"", "\"sid\""),
    )
    .unwrap();
    let output = fixture.index(&[]);
    let summary = json(&output);
    assert_eq!(summary["suites"].as_array().unwrap().len(), 1);
    assert_eq!(summary["suites"][0]["suite"], "sid");
    let requests = fixture.server.requests();
    assert!(
        requests
            .iter()
            .all(|r| !r.contains("-updates") && !r.contains("-security")),
        "{requests:?}"
    );
    assert!(!stderr(&output).contains("Skipping"), "{}", stderr(&output));
}

/// A release without -updates (as a new stable before its first update) still locks and
/// builds, saying which suite it left out; the lock records the suites used; an offline run
/// knows the suite was missing.
#[test]
fn a_missing_updates_suite_is_skipped_and_said() {
    let mut suites = repo::trixie(vec![
        common::deb::Package::new("base-files", "13.8")
            .essential()
            .file("./etc/debian_version", "13.8\n"),
    ]);
    suites.retain(|s| s.name != "trixie-updates");
    let fixture = Fixture::new(suites);
    fixture.write_profile("", "[packages]\nvariant = \"minbase\"\n");
    let output = fixture.index(&[]);
    let summary = json(&output);
    let names: Vec<&str> = summary["suites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["suite"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["trixie", "trixie-security"]);
    assert!(
        stderr(&output).contains("Skipping `trixie-updates`: the archive does not have it"),
        "{}",
        stderr(&output)
    );

    let output = fixture.run(
        &["build", "p.toml", "-o", "out.tar", "--mode", "extract"],
        &[("SOURCE_DATE_EPOCH", "1700000000")],
    );
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("Skipping `trixie-updates`"),
        "{}",
        stderr(&output)
    );
    let lock = fixture.read("p.lock");
    assert!(lock.contains("name = \"trixie\""), "{lock}");
    assert!(lock.contains("name = \"trixie-security\""), "{lock}");
    assert!(!lock.contains("trixie-updates"), "{lock}");

    // Offline, the missing suite is known missing, not "not in the cache".
    let output = fixture.index(&["--offline"]);
    assert_eq!(json(&output)["suites"].as_array().unwrap().len(), 2);

    // Any other failure of an optional suite stays an error.
    fixture.server.fault(
        "/debian-security/dists/trixie-security/InRelease",
        Fault::Status {
            code: 403,
            retry_after: None,
            times: 10,
        },
    );
    assert_fails(&fixture.index(&[]), 6, &["trixie-security/InRelease"]);
}

/// An expired `Valid-Until` says "expired" and the date in the first line the user reads.
#[test]
fn an_expired_valid_until_says_expired_in_the_first_line() {
    let now = now();
    let mut suites = repo::trixie(hello());
    suites[0].date = now - 7200;
    suites[0].valid_until = Some(now - 3600);
    let output = Fixture::new(suites).index(&[]);
    assert_fails(&output, 4, &[]);
    let first = first_line(&output);
    assert!(first.starts_with("error: `http://127.0.0.1:"), "{first}");
    assert!(
        first.contains("/dists/trixie/InRelease`: Release is expired (invalid since "),
        "{first}"
    );
    let valid_until = debroot::timestamp::Timestamp(i64::from(now - 3600)).rfc3339();
    assert!(first.contains(&valid_until), "{first} {valid_until}");
}
