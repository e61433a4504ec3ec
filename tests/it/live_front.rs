//! mmdebstrap's command line against the host's Debian mirror, as root (issue 17, item 1): the
//! one-liner `debroot build --variant=minbase trixie a.tar` builds the same bytes as the shipped
//! `profiles/minbase.toml` (copied to a temporary folder, so that no lock is written into the
//! checkout), and so does the built-in `minbase` built by name from a folder with no profile.
//! Packages come from the content-addressed cache the other live tests share.

use crate::common;

use std::path::PathBuf;

use common::{debroot, stderr};

fn cache() -> PathBuf {
    std::env::temp_dir().join("debroot-live-kiosk-cache")
}

#[test]
#[ignore = "live: needs the host's Debian mirror and root"]
fn live_front_minbase_one_liner_equals_the_minbase_profile() {
    assert!(
        rustix::process::geteuid().is_root(),
        "run as root (bash tests/run skips this group otherwise)"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        common::repo_root().join("profiles/minbase.toml"),
        dir.path().join("minbase.toml"),
    )
    .unwrap();
    let cache = cache();
    let cache = cache.to_str().unwrap();
    let state = dir.path().join("state");
    let env = [("XDG_STATE_HOME", state.to_str().unwrap())];
    let profile = debroot(
        dir.path(),
        &["build", "minbase.toml", "-o", "b.tar", "--cache-dir", cache],
        &env,
    );
    assert_eq!(profile.status.code(), Some(0), "{}", stderr(&profile));
    let one_liner = debroot(
        dir.path(),
        &[
            "build",
            "--variant=minbase",
            "trixie",
            "a.tar",
            "--cache-dir",
            cache,
        ],
        &env,
    );
    assert_eq!(one_liner.status.code(), Some(0), "{}", stderr(&one_liner));
    eprintln!("{}", stderr(&one_liner));
    let sha = |name: &str| common::repo::sha256_hex(&std::fs::read(dir.path().join(name)).unwrap());
    assert_eq!(sha("a.tar"), sha("b.tar"));
    eprintln!("a.tar = b.tar = {}", sha("a.tar"));
    // The one-liner's lock is in the state folder, the profile's beside it, nothing else.
    let locks: Vec<String> = std::fs::read_dir(state.join("debroot/locks"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(locks.len(), 1, "{locks:?}");
    assert!(locks[0].starts_with("trixie-minbase-"), "{locks:?}");
    assert_eq!(
        std::fs::read_to_string(state.join("debroot/locks").join(&locks[0]))
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>(),
        std::fs::read_to_string(dir.path().join("minbase.lock"))
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>(),
        "the two locks hold the same packages"
    );

    // The built-in profile by name, from a folder that holds no profile (issue 17, item 2):
    // the same bytes again, its lock in the state folder, nothing written where it ran.
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let builtin = debroot(
        &elsewhere,
        &["build", "minbase", "../c.tar", "--cache-dir", cache],
        &env,
    );
    assert_eq!(builtin.status.code(), Some(0), "{}", stderr(&builtin));
    assert_eq!(sha("c.tar"), sha("b.tar"));
    assert!(state.join("debroot/locks/builtin-minbase.lock").is_file());
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
}
