//! Built-in profiles: the shipped profiles embedded in the binary, listed, shown and extended
//! (`extends = "builtin:NAME"`) from any folder, their locks in the state folder and never
//! beside the embedded files.

use crate::assert_cli;
use crate::common;

use common::deb::Package;
use common::fixture::Fixture;
use common::repo;
use common::stderr;

fn fixture() -> Fixture {
    Fixture::new(repo::trixie(vec![
        Package::new("base-files", "13.8")
            .essential()
            .file("./etc/debian_version", "13.8\n"),
        Package::new("hello", "2.10-3").file("./usr/bin/hello", "#!/bin/sh\necho hello\n"),
    ]))
}

#[test]
fn profile_list_names_every_builtin_profile_with_what_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::debroot(dir.path(), &["profile", "list"], &[]);
    assert_cli!("profile_list", &out, &[dir.path()]);
}

#[test]
fn an_unknown_builtin_profile_is_a_usage_error_listing_the_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let state = state.to_str().unwrap();
    let out = common::debroot(
        dir.path(),
        &["profile", "show", "builtin:kiosk"],
        &[("XDG_STATE_HOME", state)],
    );
    assert_cli!("unknown_builtin", &out, &[dir.path()]);
    std::fs::write(dir.path().join("p.toml"), "extends = \"builtin:mini\"\n").unwrap();
    let out = common::debroot(
        dir.path(),
        &["profile", "show", "p.toml"],
        &[("XDG_STATE_HOME", state)],
    );
    assert_cli!("unknown_builtin_extended", &out, &[dir.path()]);
}

#[test]
fn a_builtin_profile_is_shown_from_any_folder_and_written_to_the_state_folder_only() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let out = common::debroot(
        &work,
        &["profile", "show", "kiosk-chromium"],
        &[("XDG_STATE_HOME", state.to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let shown = common::stdout(&out);
    for expected in [
        "\"chromium\"",
        "\"sway\"",
        "variant = \"minbase\"",
        "KIOSK_URL",
    ] {
        assert!(shown.contains(expected), "{expected} in:\n{shown}");
    }
    // The hooks the profile names are the embedded ones, executable, in the state folder.
    let builtin = std::fs::read_dir(state.join("debroot/builtin"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect::<Vec<_>>();
    assert_eq!(builtin.len(), 1, "{builtin:?}");
    let hook = builtin[0].join("hooks/kiosk-chromium/customize40-chromium");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&hook).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o755);
    assert!(
        shown.contains(
            &builtin[0]
                .join("hooks/kiosk-chromium")
                .display()
                .to_string()
        )
    );
    assert_eq!(
        std::fs::read_dir(&work).unwrap().count(),
        0,
        "nothing in the folder"
    );
}

/// A user's profile extending a built-in one builds as the same profile written out in full
/// does, and its lock is beside it.
#[test]
fn extending_a_builtin_profile_builds_what_the_written_out_profile_builds() {
    let fixture = fixture();
    let state = fixture.path().join("state");
    let state = state.to_str().unwrap();
    let env = [
        ("SOURCE_DATE_EPOCH", "1700000000"),
        ("XDG_STATE_HOME", state),
    ];
    std::fs::write(
        fixture.path().join("mine.toml"),
        "extends = \"builtin:minbase\"\n[source]\nkeyring = \"keyring.gpg\"\n[packages]\ninclude = [\"hello\"]\n",
    )
    .unwrap();
    fixture.write_profile(
        "updates = true\n",
        "[packages]\nvariant = \"minbase\"\ninclude = [\"hello\"]\n",
    );
    let mut digests = Vec::new();
    for (profile, output) in [("mine.toml", "a.tar"), ("p.toml", "b.tar")] {
        let out = fixture.run(&["build", profile, "-o", output, "--mode", "extract"], &env);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        digests.push(repo::sha256_hex(
            &std::fs::read(fixture.path().join(output)).unwrap(),
        ));
    }
    assert_eq!(digests[0], digests[1]);
    let mine = fixture.read("mine.lock");
    assert!(mine.contains("name = \"hello\""), "{mine}");
    assert!(
        !std::path::Path::new(state).join("debroot/locks").exists(),
        "a profile file's lock is beside it, not in the state folder"
    );
}
