//! Live tests against the Debian mirror of the host's apt sources. Ignored by plain `cargo test`;
//! `bash tests/run` runs them (with `--run-ignored only`) when the mirror answers.

use crate::common;

use std::process::Command;

use common::{debroot, stderr, stdout};

#[test]
#[ignore = "live: needs the host's Debian mirror (bash tests/run runs it when reachable)"]
fn index_verifies_trixie_from_the_host_mirror() {
    common::tools::require("curl");
    let cache = tempfile::tempdir().unwrap();
    let root = common::repo_root();
    let output = debroot(
        &root,
        &[
            "index",
            "profiles/minbase.toml",
            "--format",
            "json",
            "--cache-dir",
            cache.path().to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let suites = summary["suites"].as_array().unwrap();
    let names: Vec<&str> = suites
        .iter()
        .map(|s| s["suite"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["trixie", "trixie-updates", "trixie-security"]);
    assert!(suites[0]["indexes"][0]["packages"].as_u64().unwrap() > 50_000);
    for suite in suites {
        // The InRelease debroot verified is the mirror's file, byte for byte (fetched again
        // independently with curl).
        let url = suite["source"].as_str().unwrap();
        let curl = Command::new("curl")
            .args(["-fsS", url])
            .output()
            .expect("curl runs");
        assert!(curl.status.success(), "curl {url}");
        assert_eq!(
            suite["inrelease_sha256"].as_str().unwrap(),
            common::repo::sha256_hex(&curl.stdout),
            "{url}"
        );
        assert!(!suite["signatures"].as_array().unwrap().is_empty());
    }
}

/// The host's Debian archives, as debroot reads them (never written into the code).
fn host_archives() -> (String, String) {
    let host = debroot::repo::source::read_host_sources(std::path::Path::new("/etc/apt"));
    let main = host
        .main
        .expect("the host's apt sources list a Debian archive");
    let security = host.security.map(|u| u.to_string()).unwrap_or_else(|| {
        main.as_str()
            .trim_end_matches('/')
            .trim_end_matches("debian")
            .to_owned()
            + "debian-security/"
    });
    (main.to_string(), security)
}

/// The installed set (`name version arch`) of an mmdebstrap build of `suite`.
fn mmdebstrap_set(suite: &str, include: &[&str]) -> std::collections::BTreeSet<String> {
    let (main, security) = host_archives();
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("root.tar");
    let mut command = Command::new("mmdebstrap");
    command.args(["--quiet", "--variant=minbase"]);
    if !include.is_empty() {
        command.arg(format!("--include={}", include.join(",")));
    }
    command.arg(suite).arg(&output).args([
        format!("deb {main} {suite} main"),
        format!("deb {main} {suite}-updates main"),
        format!("deb {security} {suite}-security main"),
    ]);
    let status = command
        .status()
        .expect("mmdebstrap runs (apt-get install mmdebstrap)");
    assert!(status.success(), "mmdebstrap {suite} failed");
    let tar = Command::new("tar")
        .arg("-xOf")
        .arg(&output)
        .arg("./var/lib/dpkg/status")
        .output()
        .unwrap();
    let mut set = std::collections::BTreeSet::new();
    for paragraph in debroot::debian::deb822::parse(&tar.stdout).unwrap() {
        let field =
            |name| String::from_utf8_lossy(paragraph.get(name).unwrap_or_default()).into_owned();
        if field("Status").ends_with(" installed") {
            set.insert(format!(
                "{} {} {}",
                field("Package"),
                field("Version"),
                field("Architecture")
            ));
        }
    }
    set
}

/// Writes a copy of the shipped minbase profile for `suite` with `include`, locks it twice,
/// and returns the locked set.
fn debroot_set(
    dir: &std::path::Path,
    suite: &str,
    include: &[&str],
) -> std::collections::BTreeSet<String> {
    let base = std::fs::read_to_string(common::repo_root().join("profiles/minbase.toml")).unwrap();
    let quoted: Vec<String> = include.iter().map(|p| format!("\"{p}\"")).collect();
    let profile = base
        .replace("suite = \"trixie\"", &format!("suite = \"{suite}\""))
        .replace(
            "include = []",
            &format!("include = [{}]", quoted.join(", ")),
        );
    std::fs::write(dir.join("p.toml"), profile).unwrap();
    let cache = dir.join("cache");
    let lock = |extra: &[&str]| {
        let mut args = vec!["lock", "p.toml", "--cache-dir", cache.to_str().unwrap()];
        args.extend_from_slice(extra);
        debroot(dir, &args, &[])
    };
    let output = lock(&[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let first = std::fs::read_to_string(dir.join("p.lock")).unwrap();
    let output = lock(&["--update"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        std::fs::read_to_string(dir.join("p.lock")).unwrap(),
        first,
        "lock twice: same bytes"
    );
    assert!(!first.contains("http"), "no mirror URL in the lock");
    assert_eq!(lock(&["--check"]).status.code(), Some(0));
    let parsed = debroot::lock::Lock::parse(&first).unwrap();
    parsed
        .packages
        .iter()
        .map(|p| format!("{} {} {}", p.name, p.version, p.architecture))
        .collect()
}

/// Differences between debroot's and mmdebstrap's sets that are valid alternative choices;
/// each entry says why. None so far.
const ALLOWED_DIFFERENCES: &[(&str, &str)] = &[];

fn assert_same_set(suite: &str, include: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let ours = debroot_set(dir.path(), suite, include);
    let theirs = mmdebstrap_set(suite, include);
    let allowed = |line: &String| {
        ALLOWED_DIFFERENCES
            .iter()
            .any(|(p, _)| line.starts_with(&format!("{p} ")))
    };
    let only_ours: Vec<&String> = ours.difference(&theirs).filter(|l| !allowed(l)).collect();
    let only_theirs: Vec<&String> = theirs.difference(&ours).filter(|l| !allowed(l)).collect();
    eprintln!(
        "{suite} minbase + {include:?}: debroot {} packages, mmdebstrap {}",
        ours.len(),
        theirs.len()
    );
    assert!(
        only_ours.is_empty() && only_theirs.is_empty(),
        "only debroot: {only_ours:#?}\nonly mmdebstrap: {only_theirs:#?}"
    );
}

#[test]
#[ignore = "live: needs the host's Debian mirror and mmdebstrap"]
fn lock_minbase_trixie_equals_mmdebstrap() {
    common::tools::require("mmdebstrap");
    assert_same_set("trixie", &[]);
}

#[test]
#[ignore = "live: needs the host's Debian mirror and mmdebstrap"]
fn lock_minbase_bookworm_equals_mmdebstrap() {
    common::tools::require("mmdebstrap");
    assert_same_set("bookworm", &[]);
}

#[test]
#[ignore = "live: needs the host's Debian mirror and mmdebstrap"]
fn lock_kiosk_set_trixie_equals_mmdebstrap() {
    common::tools::require("mmdebstrap");
    assert_same_set("trixie", &["sway", "wayvnc", "chromium", "seatd", "foot"]);
}

#[test]
#[ignore = "live: needs the host's Debian mirror"]
fn why_libc6_prints_a_chain() {
    let cache = tempfile::tempdir().unwrap();
    let output = debroot(
        &common::repo_root(),
        &[
            "why",
            "profiles/minbase.toml",
            "libc6",
            "--cache-dir",
            cache.path().to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.starts_with("libc6 "), "{text}");
    assert!(text.contains("required by "), "{text}");
    assert!(text.contains("requested: "), "{text}");
}

#[test]
#[ignore = "live: needs the host's Debian mirror"]
fn fetch_minbase_then_nothing_then_offline() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        common::repo_root().join("profiles/minbase.toml"),
        dir.path().join("minbase.toml"),
    )
    .unwrap();
    let cache = dir.path().join("cache");
    let cache = cache.to_str().unwrap();
    // With SOURCE_DATE_EPOCH, the lock `fetch` writes first needs no package (the default epoch
    // is read from the `.deb`s, which would fill the cache before `fetch` proper).
    let first = debroot(
        dir.path(),
        &["fetch", "minbase.toml", "--cache-dir", cache],
        &[("SOURCE_DATE_EPOCH", "1700000000")],
    );
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let lock = debroot::lock::Lock::parse(
        &std::fs::read_to_string(dir.path().join("minbase.lock")).unwrap(),
    )
    .unwrap();
    let count = lock.packages.len();
    assert!(
        stderr(&first).contains(&format!("Fetched {count} packages: {count} downloaded")),
        "{}",
        stderr(&first)
    );
    let second = debroot(
        dir.path(),
        &["fetch", "minbase.toml", "--cache-dir", cache],
        &[],
    );
    assert!(
        stderr(&second).contains(&format!(
            "0 downloaded (0 bytes), {count} already in the cache"
        )),
        "{}",
        stderr(&second)
    );
    // The network "unavailable": a mirror nothing listens on, and --offline.
    let offline = debroot(
        dir.path(),
        &[
            "fetch",
            "minbase.lock",
            "--offline",
            "--mirror",
            "http://127.0.0.1:9/debian",
            "--cache-dir",
            cache,
        ],
        &[],
    );
    assert_eq!(offline.status.code(), Some(0), "{}", stderr(&offline));
    common::assert_cache_verified(std::path::Path::new(cache));
}
