//! `debroot fetch` and `debroot cache` against a loopback fault server: docs/THREATS.md B1-B6, and
//! after every failure the cache holds only verified blobs (I7) and no temporary file.

use crate::assert_cli;
use crate::common;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use common::deb::Package;
use common::fixture::Fixture;
use common::repo;
use common::server::{Fault, Server};
use common::{stderr, stdout};

fn packages(count: usize) -> Vec<Package> {
    let mut packages = vec![
        Package::new("base-files", "13.8")
            .essential()
            .file("./etc/debian_version", &"13.8\n".repeat(300)),
        Package::new("hello", "2.10-3")
            .file("./usr/bin/hello", &"#!/bin/sh\necho hello\n".repeat(200)),
    ];
    for i in 0..count {
        packages.push(Package::new(&format!("extra{i}"), "1.0").file(
            &format!("./usr/share/extra{i}"),
            &format!("{i}\n").repeat(100),
        ));
    }
    packages
}

fn fixture(count: usize) -> Fixture {
    let fixture = Fixture::new(repo::trixie(packages(count)));
    let include: Vec<String> = std::iter::once("\"hello\"".to_owned())
        .chain((0..count).map(|i| format!("\"extra{i}\"")))
        .collect();
    fixture.write_profile(
        "",
        &format!(
            "[packages]\nvariant = \"minbase\"\ninclude = [{}]\n",
            include.join(", ")
        ),
    );
    // With SOURCE_DATE_EPOCH, locking downloads nothing (the packages' epoch is read from the
    // `.deb`s): the tests see `fetch` download every package.
    let output = fixture.run(&["lock", "p.toml"], &[("SOURCE_DATE_EPOCH", "1700000000")]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    fixture.server.clear_log();
    fixture
}

fn fetch(fixture: &Fixture, extra: &[&str]) -> Output {
    let mut args = vec!["fetch", "p.toml", "--timeout", "2", "--retries", "2"];
    args.extend_from_slice(extra);
    fixture.run(&args, &[])
}

fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

fn cache(fixture: &Fixture) -> std::path::PathBuf {
    fixture.path().join("cache")
}

/// docs/THREATS.md I7 and no temporary file left behind.
fn assert_cache_clean(fixture: &Fixture) {
    common::assert_cache_verified(&cache(fixture));
    let tmp = cache(fixture).join("v1/tmp");
    let leftovers: Vec<_> = std::fs::read_dir(&tmp)
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

fn pool(fixture: &Fixture, name: &str) -> (String, Vec<u8>) {
    let (_, pool, deb) = fixture
        .written
        .debs
        .iter()
        .find(|(n, _, _)| n == name)
        .expect("package written");
    (format!("/debian/{pool}"), deb.clone())
}

fn requests_for(fixture: &Fixture, path: &str) -> usize {
    fixture
        .server
        .requests()
        .iter()
        .filter(|r| *r == path)
        .count()
}

#[test]
fn fetch_fills_the_cache_once_then_works_offline() {
    let fixture = fixture(3);
    let output = fetch(&fixture, &[]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_cli!("fetch_cold", &output, &[fixture.path()]);
    let pool_requests = fixture
        .server
        .requests()
        .iter()
        .filter(|r| r.contains("/pool/"))
        .count();
    assert_eq!(pool_requests, 5);
    assert_cache_clean(&fixture);

    fixture.server.clear_log();
    let again = fetch(&fixture, &[]);
    assert_eq!(code(&again), 0, "{}", stderr(&again));
    assert_cli!("fetch_warm", &again, &[fixture.path()]);
    assert!(
        fixture.server.requests().is_empty(),
        "a second fetch makes no request: {:?}",
        fixture.server.requests()
    );

    // With the network gone, --offline still works from the cache, and a lockfile works too.
    let mirror = "http://127.0.0.1:9/debian";
    let cache = cache(&fixture);
    let offline = common::debroot(
        fixture.path(),
        &[
            "fetch",
            "p.lock",
            "--offline",
            "--mirror",
            mirror,
            "--cache-dir",
            cache.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code(&offline), 0, "{}", stderr(&offline));
    // A miss offline is a clear error.
    let (path, _) = pool(&fixture, "hello");
    let blob = cache.join("v1/sha256");
    let digest = repo::sha256_hex(&pool(&fixture, "hello").1);
    std::fs::remove_file(blob.join(&digest[..2]).join(&digest)).unwrap();
    let miss = common::debroot(
        fixture.path(),
        &[
            "fetch",
            "p.lock",
            "--offline",
            "--mirror",
            mirror,
            "--cache-dir",
            cache.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code(&miss), 6, "{}", stderr(&miss));
    assert!(
        stderr(&miss).contains("cannot fetch `hello 2.10-3 amd64`"),
        "{}",
        stderr(&miss)
    );
    assert!(
        stderr(&miss).contains("--offline forbids downloading it"),
        "{}",
        stderr(&miss)
    );
    let _ = path;
}

#[test]
fn b1_wrong_bytes_of_the_right_size_are_refused() {
    let fixture = fixture(0);
    let (path, deb) = pool(&fixture, "hello");
    let mut flipped = deb.clone();
    flipped[deb.len() / 2] ^= 1;
    fixture
        .server
        .fault(&path, Fault::Replace { body: flipped });
    let output = fetch(&fixture, &[]);
    assert_eq!(code(&output), 5, "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("cannot fetch `hello 2.10-3 amd64`"), "{err}");
    assert!(
        err.contains(&repo::sha256_hex(&deb)),
        "expected digest printed: {err}"
    );
    assert!(!common::cache_holds(
        &cache(&fixture),
        &repo::sha256_hex(&deb)
    ));
    assert_cache_clean(&fixture);
}

#[test]
fn b2_endless_and_oversized_bodies_are_cut() {
    let fixture = fixture(0);
    let (path, deb) = pool(&fixture, "hello");
    fixture.server.fault(
        &path,
        Fault::Endless {
            content_length: None,
        },
    );
    let output = fetch(&fixture, &[]);
    assert_eq!(code(&output), 5, "{}", stderr(&output));
    assert!(
        stderr(&output).contains(&format!("more than the {} bytes expected", deb.len())),
        "{}",
        stderr(&output)
    );
    assert_cache_clean(&fixture);

    fixture.server.fault(
        &path,
        Fault::Endless {
            content_length: Some(100 << 30),
        },
    );
    let output = fetch(&fixture, &[]);
    assert_eq!(code(&output), 5, "{}", stderr(&output));
    assert_cache_clean(&fixture);
}

#[test]
fn b2_slow_and_silent_servers_time_out() {
    let fixture = fixture(0);
    let (path, _) = pool(&fixture, "hello");
    fixture.server.fault(
        &path,
        Fault::Drip {
            interval: Duration::from_secs(5),
        },
    );
    let started = std::time::Instant::now();
    let output = fixture.run(
        &["fetch", "p.toml", "--timeout", "1", "--retries", "1"],
        &[],
    );
    assert_eq!(code(&output), 6, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("after 2 attempts"),
        "{}",
        stderr(&output)
    );
    assert!(stderr(&output).contains("timed out"), "{}", stderr(&output));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "bounded: {:?}",
        started.elapsed()
    );

    fixture.server.fault(&path, Fault::Silent);
    let started = std::time::Instant::now();
    let output = fixture.run(
        &["fetch", "p.toml", "--timeout", "1", "--retries", "0"],
        &[],
    );
    assert_eq!(code(&output), 6, "{}", stderr(&output));
    assert!(stderr(&output).contains("timed out"), "{}", stderr(&output));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "bounded: {:?}",
        started.elapsed()
    );
    assert_cache_clean(&fixture);
}

#[test]
fn b3_truncated_and_reset_transfers_are_retried() {
    let fixture = fixture(0);
    let (path, deb) = pool(&fixture, "hello");
    fixture.server.fault(
        &path,
        Fault::Truncate {
            at: deb.len() / 2,
            times: 1,
        },
    );
    let output = fetch(&fixture, &[]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(requests_for(&fixture, &path), 2);
    assert_cache_clean(&fixture);

    let fixture = self::fixture(0);
    let (path, deb) = pool(&fixture, "hello");
    fixture.server.fault(
        &path,
        Fault::Reset {
            at: deb.len() / 2,
            times: 1,
        },
    );
    let output = fetch(&fixture, &[]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(requests_for(&fixture, &path), 2);

    // Always truncated: a clear error after the retries, nothing partial kept.
    let fixture = self::fixture(0);
    let (path, deb) = pool(&fixture, "hello");
    fixture.server.fault(
        &path,
        Fault::Truncate {
            at: deb.len() / 2,
            times: 100,
        },
    );
    let output = fetch(&fixture, &[]);
    assert_eq!(code(&output), 6, "{}", stderr(&output));
    assert!(
        stderr(&output).contains(&format!(
            "truncated (got {} of {} bytes)",
            deb.len() / 2,
            deb.len()
        )),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("after 3 attempts"),
        "{}",
        stderr(&output)
    );
    assert_cache_clean(&fixture);
}

#[test]
fn b4_status_codes() {
    // 404: no retry, a hint.
    let fixture = fixture(0);
    let (path, _) = pool(&fixture, "hello");
    std::fs::remove_file(
        fixture
            .path()
            .join("www")
            .join(path.trim_start_matches('/')),
    )
    .unwrap();
    let output = fetch(&fixture, &[]);
    assert_eq!(code(&output), 6, "{}", stderr(&output));
    assert_cli!("b4_not_found", &output, &[fixture.path()]);
    assert_eq!(requests_for(&fixture, &path), 1);

    // 503 then 200: retried, succeeds.
    let fixture = self::fixture(0);
    let (path, _) = pool(&fixture, "hello");
    fixture.server.fault(
        &path,
        Fault::Status {
            code: 503,
            retry_after: None,
            times: 1,
        },
    );
    assert_eq!(code(&fetch(&fixture, &[])), 0);
    assert_eq!(requests_for(&fixture, &path), 2);

    // 429 with Retry-After: 2 is honoured.
    let fixture = self::fixture(0);
    let (path, _) = pool(&fixture, "hello");
    fixture.server.fault(
        &path,
        Fault::Status {
            code: 429,
            retry_after: Some(2),
            times: 1,
        },
    );
    assert_eq!(code(&fetch(&fixture, &[])), 0);
    let times = fixture.server.request_times(&path);
    assert_eq!(times.len(), 2);
    assert!(
        times[1] - times[0] >= Duration::from_secs(2),
        "waited {:?}",
        times[1] - times[0]
    );

    // 401 and 403: no retry.
    for status in [401, 403] {
        let fixture = self::fixture(0);
        let (path, _) = pool(&fixture, "hello");
        fixture.server.fault(
            &path,
            Fault::Status {
                code: status,
                retry_after: None,
                times: 10,
            },
        );
        let output = fetch(&fixture, &[]);
        assert_eq!(code(&output), 6, "{}", stderr(&output));
        assert!(
            stderr(&output).contains(&format!("access denied (HTTP {status})")),
            "{}",
            stderr(&output)
        );
        assert_eq!(requests_for(&fixture, &path), 1);
        assert_cache_clean(&fixture);
    }
}

#[test]
fn b5_redirect_abuse_is_refused() {
    let fixture = fixture(0);
    let (path, deb) = pool(&fixture, "hello");
    // A loop.
    fixture.server.fault(
        &path,
        Fault::Redirect {
            location: format!("{path}.b"),
        },
    );
    fixture.server.fault(
        &format!("{path}.b"),
        Fault::Redirect {
            location: path.clone(),
        },
    );
    let output = fetch(&fixture, &[]);
    assert_eq!(code(&output), 6, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("redirect rejected"),
        "{}",
        stderr(&output)
    );
    assert!(stderr(&output).contains("loop"), "{}", stderr(&output));
    // To a file: URL.
    fixture.server.fault(
        &path,
        Fault::Redirect {
            location: "file:///etc/passwd".into(),
        },
    );
    let output = fetch(&fixture, &[]);
    assert_eq!(code(&output), 6, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("redirect rejected"),
        "{}",
        stderr(&output)
    );
    // 25 hops.
    for hop in 0..25 {
        let from = if hop == 0 {
            path.clone()
        } else {
            format!("{path}.{hop}")
        };
        fixture.server.fault(
            &from,
            Fault::Redirect {
                location: format!("{path}.{}", hop + 1),
            },
        );
    }
    let output = fetch(&fixture, &[]);
    assert_eq!(code(&output), 6, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("more than 10 redirects"),
        "{}",
        stderr(&output)
    );
    // Cross-host to a server with other bytes: followed, and refused by the hash check.
    let other_root = fixture.path().join("other");
    std::fs::create_dir_all(&other_root).unwrap();
    let mut other = deb.clone();
    other[10] ^= 0xff;
    std::fs::write(other_root.join("x.deb"), &other).unwrap();
    let other_server = Server::start(&other_root);
    fixture.server.clear_faults();
    fixture.server.fault(
        &path,
        Fault::Redirect {
            location: other_server.url("x.deb"),
        },
    );
    let output = fetch(&fixture, &[]);
    assert_eq!(code(&output), 5, "{}", stderr(&output));
    assert_cache_clean(&fixture);
}

#[test]
fn b6_a_corrupt_cache_is_repaired_and_never_followed_out() {
    let fixture = fixture(0);
    assert_eq!(code(&fetch(&fixture, &[])), 0);
    let (_, deb) = pool(&fixture, "hello");
    let digest = repo::sha256_hex(&deb);
    let blob = cache(&fixture)
        .join("v1/sha256")
        .join(&digest[..2])
        .join(&digest);

    // (a) a flipped byte.
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[5] ^= 1;
    std::fs::write(&blob, &bytes).unwrap();
    let output = fetch(&fixture, &[]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("warning: cached package hello 2.10-3 amd64"),
        "{}",
        stderr(&output)
    );
    assert_cache_clean(&fixture);

    // (b) a symlink to a file outside the cache.
    let sentinel = fixture.path().join("host_sentinel");
    std::fs::write(&sentinel, &deb).unwrap();
    std::fs::remove_file(&blob).unwrap();
    std::os::unix::fs::symlink(&sentinel, &blob).unwrap();
    let output = fetch(&fixture, &[]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(
        !std::fs::symlink_metadata(&blob)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read(&sentinel).unwrap(), deb, "sentinel untouched");

    // (c) a truncated blob.
    std::fs::write(&blob, &deb[..10]).unwrap();
    let output = fetch(&fixture, &[]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(std::fs::read(&blob).unwrap(), deb);

    // (d) a leftover temporary file of a killed run.
    let stale = cache(&fixture).join("v1/tmp/999999999-0-deadbeef");
    std::fs::write(&stale, b"partial").unwrap();
    assert_eq!(code(&fetch(&fixture, &[])), 0);
    assert!(!stale.exists());
    assert_cache_clean(&fixture);
}

#[test]
fn b6_a_cache_others_can_write_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let fixture = fixture(0);
    let shared = fixture.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let mirror = fixture.mirror();
    let output = common::debroot(
        fixture.path(),
        &[
            "fetch",
            "p.toml",
            "--mirror",
            &mirror,
            "--cache-dir",
            shared.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code(&output), 9, "{}", stderr(&output));
    assert_cli!("b6_cache_writable_by_others", &output, &[fixture.path()]);
}

#[test]
fn b6_two_concurrent_fetches_share_one_cache() {
    let fixture = fixture(100);
    let mirror = fixture.mirror();
    let cache = cache(&fixture);
    let spawn = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_debroot"))
            .args([
                "-q",
                "fetch",
                "p.lock",
                "--jobs",
                "4",
                "--mirror",
                &mirror,
                "--cache-dir",
                cache.to_str().unwrap(),
            ])
            .current_dir(fixture.path())
            .env_clear()
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (first, second) = (spawn(), spawn());
    for child in [first, second] {
        let output = child.wait_with_output().unwrap();
        assert_eq!(code(&output), 0, "{}", stderr(&output));
    }
    for (name, _, deb) in &fixture.written.debs {
        assert!(
            common::cache_holds(&cache, &repo::sha256_hex(deb)),
            "{name} missing"
        );
    }
    assert_eq!(fixture.written.debs.len(), 102);
    assert_cache_clean(&fixture);
}

#[test]
fn proxies_are_honoured() {
    let fixture = fixture(0);
    let cache = cache(&fixture);
    // The mirror's host does not exist; only the proxy (the fixture server) can serve it.
    let output = common::debroot(
        fixture.path(),
        &[
            "fetch",
            "p.lock",
            "--mirror",
            "http://mirror.invalid/debian",
            "--cache-dir",
            cache.to_str().unwrap(),
            "--retries",
            "0",
        ],
        &[("http_proxy", &fixture.server.url(""))],
    );
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(
        fixture
            .server
            .requests()
            .iter()
            .any(|r| r.ends_with(".deb"))
    );
}

#[test]
fn cache_info_and_gc() {
    let fixture = fixture(2);
    assert_eq!(code(&fetch(&fixture, &[])), 0);
    let cache = cache(&fixture);
    let cache_arg = cache.to_str().unwrap();
    let info = common::debroot(
        fixture.path(),
        &["cache", "info", "--cache-dir", cache_arg],
        &[],
    );
    assert_eq!(code(&info), 0);
    let text = stdout(&info);
    // 4 packages, 3 InReleases, 3 compressed and 3 plain indexes (the fixture's are tiny but
    // distinct per suite, except the two empty ones).
    assert!(text.contains("blobs "), "{text}");

    // A smaller lock: gc keeps only its packages (and its InReleases).
    std::fs::create_dir(fixture.path().join("small")).unwrap();
    let small = fixture.path().join("small/p.toml");
    std::fs::write(
        &small,
        repo::profile(
            "keyring = \"../keyring.gpg\"",
            "[packages]\nvariant = \"extract\"\ninclude = [\"hello\"]\n",
        ),
    )
    .unwrap();
    std::fs::write(
        &small,
        std::fs::read_to_string(&small)
            .unwrap()
            .replace("keyring = \"keyring.gpg\"\n", ""),
    )
    .unwrap();
    let output = fixture.run(&["lock", "small/p.toml"], &[]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let gc = common::debroot(
        fixture.path(),
        &[
            "cache",
            "gc",
            "--keep",
            "small/p.lock",
            "--cache-dir",
            cache_arg,
        ],
        &[],
    );
    assert_eq!(code(&gc), 0, "{}", stderr(&gc));
    let info = stdout(&common::debroot(
        fixture.path(),
        &["cache", "info", "--cache-dir", cache_arg],
        &[],
    ));
    assert!(info.contains("blobs 4\n"), "hello + 3 InReleases: {info}");
    let (_, deb) = pool(&fixture, "hello");
    assert!(common::cache_holds(&cache, &repo::sha256_hex(&deb)));
    let _ = Path::new("");
}

// --- Gaps of the corpus (tests/THREATS-COVERAGE.md) ------------------------------------------

/// docs/THREATS.md B1, second half: the server answers with another package's valid `.deb` of
/// exactly the right size. `fetch` and `build` exit 5 with a hash mismatch naming the package and
/// both digests; the build fails on the hash, before any ar parse (no "control/index mismatch");
/// the other `.deb` is not cached.
#[test]
fn b1_another_valid_deb_of_the_same_size_is_refused() {
    let hello = || {
        Package::new("hello", "2.10-3")
            .file("./usr/bin/hello", &"#!/bin/sh\necho hello\n".repeat(200))
    };
    let size = hello().deb().len();
    // A package of another name whose `.deb` has the same length (same content, a name of the
    // same length; compression may still differ by a byte, so a few names are tried).
    let other = [
        "hallo", "hullo", "hillo", "jello", "mello", "cello", "yello",
    ]
    .into_iter()
    .map(|name| {
        Package::new(name, "2.10-3").file("./usr/bin/hello", &"#!/bin/sh\necho hello\n".repeat(200))
    })
    .find(|p| p.deb().len() == size)
    .expect("a same-size .deb of another package");
    let fixture = Fixture::new(repo::trixie(vec![
        Package::new("base-files", "13.8")
            .essential()
            .file("./etc/debian_version", "13.8\n"),
        hello(),
        other.clone(),
    ]));
    fixture.write_profile(
        "",
        "[packages]\nvariant = \"minbase\"\ninclude = [\"hello\"]\n",
    );
    let (path, deb) = pool(&fixture, "hello");
    let (_, swapped) = pool(&fixture, &other.name);
    assert_eq!(swapped.len(), deb.len());
    assert_ne!(swapped, deb);
    fixture.server.fault(
        &path,
        Fault::Replace {
            body: swapped.clone(),
        },
    );
    for args in [
        &["fetch", "p.toml", "--retries", "0"][..],
        &[
            "build",
            "p.toml",
            "-o",
            "out",
            "--mode",
            "extract",
            "--retries",
            "0",
        ][..],
    ] {
        let output = fixture.run(args, &[]);
        let err = stderr(&output);
        assert_eq!(code(&output), 5, "{args:?}: {err}");
        assert_eq!(err.matches("error:").count(), 1, "{err}");
        assert!(err.contains("hello 2.10-3"), "{args:?}: {err}");
        assert!(err.contains(&repo::sha256_hex(&deb)), "expected: {err}");
        assert!(err.contains(&repo::sha256_hex(&swapped)), "received: {err}");
        assert!(!err.contains("control/index mismatch"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(!common::cache_holds(
            &cache(&fixture),
            &repo::sha256_hex(&swapped)
        ));
        assert_cache_clean(&fixture);
        assert!(!fixture.path().join("out").exists());
    }
}

/// docs/THREATS.md B4: each transient status (408, 500, 502, 504; 503 is in `b4_status_codes`)
/// once, then 200: retried, and the fetch succeeds.
#[test]
fn b4_transient_statuses_are_retried_then_succeed() {
    for status in [408, 500, 502, 504] {
        let fixture = fixture(0);
        let (path, _) = pool(&fixture, "hello");
        fixture.server.fault(
            &path,
            Fault::Status {
                code: status,
                retry_after: None,
                times: 1,
            },
        );
        let output = fetch(&fixture, &[]);
        assert_eq!(code(&output), 0, "{status}: {}", stderr(&output));
        assert_eq!(requests_for(&fixture, &path), 2, "{status}");
        assert_cache_clean(&fixture);
    }
}

/// docs/THREATS.md B4: the InRelease (and Release) is not found at the snapshot (404, no retry):
/// the suite does not exist there, exit 3 naming the suite and the URL (which holds the snapshot
/// time), with a hint pointing at the snapshot timestamp and the suite.
#[test]
fn b4_inrelease_404_at_a_snapshot_names_the_snapshot() {
    let fixture = Fixture::new(repo::trixie(packages(0)));
    std::fs::write(
        fixture.path().join("p.toml"),
        repo::profile(
            &format!("snapshot = \"{}\"", common::fixture::SNAPSHOT),
            "[packages]\nvariant = \"minbase\"\n",
        ),
    )
    .unwrap();
    std::fs::remove_file(fixture.inrelease("trixie")).unwrap();
    std::fs::remove_file(fixture.written.root.join("debian/dists/trixie/Release")).unwrap();
    let server = fixture.server.url("");
    let cache = cache(&fixture);
    let output = common::debroot(
        fixture.path(),
        &[
            "lock",
            "p.toml",
            "--snapshot-server",
            &server,
            "--cache-dir",
            cache.to_str().unwrap(),
        ],
        &[],
    );
    let err = stderr(&output);
    assert_eq!(code(&output), 3, "{err}");
    assert_eq!(err.matches("error:").count(), 1, "{err}");
    let url = format!(
        "/archive/debian/{}/dists/trixie/InRelease",
        common::fixture::SNAPSHOT
    );
    assert!(err.contains(&url), "{err}");
    assert!(
        err.contains("error: suite `trixie` does not exist on the snapshot"),
        "{err}"
    );
    let hint = err.lines().find(|l| l.starts_with("hint:")).unwrap_or("");
    assert!(
        hint.contains("snapshot timestamp") && hint.contains("suite"),
        "the hint points at the snapshot timestamp and the suite: {err}"
    );
    assert_eq!(requests_for(&fixture, &url), 1, "a 404 is not retried");
}

/// docs/THREATS.md B5: redirects to a `mirror+http://` URL, and `Location`s carrying encoded or raw
/// CR/LF with fake headers (CVE-2019-3462's shape) or a raw escape character, never deliver
/// bytes: exit 6, one clean `error:` line without raw control characters, nothing cached.
/// A target with an encoded control character is refused as a redirect (apt's rule); raw
/// CR/LF split the header on the wire, so the client sees a plain `Location` (to a file that
/// does not exist) and an extra header it ignores; a raw escape makes the response invalid.
#[test]
fn b5_injected_locations_and_plus_schemes_are_refused() {
    let fixture = fixture(0);
    let (path, deb) = pool(&fixture, "hello");
    let fake = format!("SHA256-Hash: {}", repo::sha256_hex(b"evil"));
    let cases = [
        (
            "mirror+http",
            format!("mirror+{}", fixture.server.url(&path)),
            "redirect rejected",
        ),
        (
            "encoded CR LF",
            format!(
                "{path}%0d%0a201%20URI%20Done%0d%0a{}",
                fake.replace(' ', "%20")
            ),
            "redirect rejected",
        ),
        (
            "encoded LF",
            format!("{path}%0a{}", fake.replace(' ', "%20")),
            "redirect rejected",
        ),
        ("raw CR LF", format!("{path}.x\r\n{fake}"), "not found"),
        (
            "raw escape",
            format!("{path}\u{1b}[31m"),
            "invalid HTTP header",
        ),
    ];
    for (name, location, reason) in cases {
        fixture.server.clear_faults();
        fixture.server.fault(&path, Fault::Redirect { location });
        let output = fetch(&fixture, &[]);
        let err = stderr(&output);
        assert_eq!(code(&output), 6, "{name}: {err}");
        assert_eq!(err.matches("error:").count(), 1, "{name}: {err}");
        assert!(err.contains("hello 2.10-3"), "{name}: {err}");
        assert!(err.contains(reason), "{name}: {err}");
        assert!(
            !err.chars().any(|c| c.is_control() && c != '\n'),
            "{name}: raw control characters in: {err:?}"
        );
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert!(!common::cache_holds(
            &cache(&fixture),
            &repo::sha256_hex(&deb)
        ));
        assert_cache_clean(&fixture);
    }
}

/// docs/THREATS.md B6 (e), the owner half: a cache directory owned by another user is refused with
/// a permission error naming it and the owner (exit 9), before anything is downloaded.
#[test]
fn b6_a_cache_owned_by_another_user_is_refused() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: giving a directory to another user needs root");
        return;
    }
    let fixture = fixture(0);
    let other = fixture.path().join("others-cache");
    std::fs::create_dir(&other).unwrap();
    std::os::unix::fs::chown(&other, Some(65534), Some(65534)).unwrap();
    let mirror = fixture.mirror();
    let output = common::debroot(
        fixture.path(),
        &[
            "fetch",
            "p.toml",
            "--mirror",
            &mirror,
            "--cache-dir",
            other.to_str().unwrap(),
        ],
        &[],
    );
    let err = stderr(&output);
    assert_eq!(code(&output), 9, "{err}");
    assert!(err.contains("owned by uid 65534"), "{err}");
    assert!(err.contains(other.to_str().unwrap()), "{err}");
    assert!(
        !fixture
            .server
            .requests()
            .iter()
            .any(|r| r.contains("/pool/")),
        "nothing downloaded"
    );
    assert_eq!(
        std::fs::read_dir(&other).unwrap().count(),
        0,
        "nothing written"
    );
}

/// docs/THREATS.md B4: a `Retry-After` of an hour is honoured only up to the documented cap (30 s,
/// `FetchOptions::max_wait`): the retry comes after the cap, not an hour later, and succeeds.
#[test]
fn b4_a_long_retry_after_is_capped() {
    let fixture = fixture(0);
    let (path, _) = pool(&fixture, "hello");
    fixture.server.fault(
        &path,
        Fault::Status {
            code: 429,
            retry_after: Some(3600),
            times: 1,
        },
    );
    let output = fetch(&fixture, &[]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let times = fixture.server.request_times(&path);
    assert_eq!(times.len(), 2);
    let waited = times[1] - times[0];
    assert!(
        waited >= Duration::from_secs(29) && waited < Duration::from_secs(45),
        "waited {waited:?}"
    );
    assert_cache_clean(&fixture);
}
