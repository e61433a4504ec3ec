//! mmdebstrap's command line as a front door (issue 17, item 1): what `debroot build
//! [OPTIONS] SUITE OUTPUT [MIRROR]` and `debroot profile show --from-args` say (snapshots), and
//! that a one-liner builds the same bytes as the equivalent profile file, its lock kept in the
//! state folder, never beside the output or in the current folder.

use std::path::Path;

use crate::assert_cli;
use crate::common;
use common::deb::Package;
use common::fixture::Fixture;
use common::repo;

const EPOCH: (&str, &str) = ("SOURCE_DATE_EPOCH", "1700000000");

fn fixture() -> Fixture {
    let fixture = Fixture::new(repo::trixie(vec![
        Package::new("base-files", "13.8")
            .essential()
            .file("./etc/debian_version", "13.8\n"),
        Package::new("libc6", "2.41-12")
            .priority("required")
            .file("./usr/lib/libc.so.6", "libc\n"),
        Package::new("hello", "2.10-3")
            .depends("libc6 (>= 2.34)")
            .file("./usr/bin/hello", "#!/bin/sh\necho hello\n"),
        Package::new("vim", "2:9.1.1230-2").file("./usr/bin/vim", "vim\n"),
    ]));
    fixture.write_profile(
        "",
        "[packages]\nvariant = \"minbase\"\ninclude = [\"hello\"]\n",
    );
    fixture
}

/// `debroot ARGS` in `dir` with a state folder of its own.
fn run(dir: &Path, args: &[&str]) -> std::process::Output {
    let state = dir.join("state");
    common::debroot(
        dir,
        args,
        &[EPOCH, ("XDG_STATE_HOME", state.to_str().unwrap())],
    )
}

fn code(output: &std::process::Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

#[test]
fn front_unsupported_options_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &[&str])] = &[
        (
            "front_unsupported_logfile",
            &["build", "--logfile=x.log", "trixie", "a.tar"],
        ),
        (
            "front_unsupported_mode",
            &["build", "--mode=fakechroot", "trixie", "a.tar"],
        ),
        (
            "front_unknown_variant",
            &["build", "--variant=fat", "trixie", "a.tar"],
        ),
        (
            "front_unsupported_format",
            &["build", "--format=ext2", "trixie", "a.ext2"],
        ),
        (
            "front_two_mirrors",
            &[
                "build",
                "trixie",
                "a.tar",
                "http://a.example/debian",
                "http://b.example/debian",
            ],
        ),
        (
            "front_sources_line",
            &[
                "build",
                "trixie",
                "a.tar",
                "deb http://a.example/debian trixie main",
            ],
        ),
        (
            "front_unsupported_aptopt",
            &[
                "build",
                "--aptopt=Acquire::Languages \"none\"",
                "trixie",
                "a.tar",
            ],
        ),
        (
            "front_unsupported_dpkgopt",
            &["build", "--dpkgopt=force-unsafe-io", "trixie", "a.tar"],
        ),
        ("front_no_output", &["build", "--variant=minbase", "trixie"]),
        (
            "front_invalid_include",
            &["build", "--include=Less", "trixie", "a.tar"],
        ),
    ];
    for (name, args) in cases {
        let output = run(dir.path(), args);
        assert_eq!(code(&output), 2, "{name}: {}", common::stderr(&output));
        assert!(
            !common::stderr(&output).contains("--version"),
            "{name}: suggests --version"
        );
        assert_cli!(*name, &output, &[dir.path()]);
    }
}

#[test]
fn front_profile_show_from_args() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(
        dir.path(),
        &[
            "profile",
            "show",
            "--from-args",
            "--variant=minbase",
            "--include=less,vim",
            "--include",
            "curl nano-",
            "--components=main,contrib",
            "--architectures=amd64",
            "--dpkgopt=path-exclude=/usr/share/doc/*",
            "--dpkgopt=path-include=/usr/share/doc/*/copyright",
            "--aptopt=Apt::Install-Recommends \"true\"",
            "--mode=unshare",
            "--format=directory",
            "trixie",
            "http://deb.example/debian",
        ],
    );
    assert_eq!(code(&output), 0, "{}", common::stderr(&output));
    assert_cli!("front_profile_show_from_args", &output, &[dir.path()]);
    // What it prints is a profile that loads to itself.
    std::fs::write(dir.path().join("saved.toml"), &output.stdout).unwrap();
    let again = run(dir.path(), &["profile", "show", "saved.toml"]);
    assert_eq!(code(&again), 0, "{}", common::stderr(&again));
    let body = |text: &[u8]| {
        String::from_utf8_lossy(text)
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(body(&again.stdout), body(&output.stdout));

    // With a profile, the options override its values: lists appended, single values replaced.
    std::fs::write(
        dir.path().join("p.toml"),
        "[source]\nsuite = \"trixie\"\n[packages]\nvariant = \"minbase\"\ninclude = [\"hello\"]\n",
    )
    .unwrap();
    let output = run(
        dir.path(),
        &[
            "profile",
            "show",
            "p.toml",
            "--include=vim",
            "--variant=essential",
        ],
    );
    assert_eq!(code(&output), 0, "{}", common::stderr(&output));
    let text = common::stdout(&output);
    assert!(text.contains("variant = \"essential\""), "{text}");
    assert!(text.contains("\"hello\",\n    \"vim\","), "{text}");
}

/// `debroot build --variant=minbase --include=hello ... trixie a.tar` builds the bytes the
/// profile file with the same values builds; its lock goes to the state folder; options given
/// with a profile override it, and a changed package set never rewrites the profile's own lock.
#[test]
fn front_one_liner_builds_the_profile_files_bytes() {
    let fixture = fixture();
    let dir = fixture.path();
    let profile = fixture.run(
        &["build", "p.toml", "-o", "b.tar", "--mode", "extract"],
        &[EPOCH],
    );
    assert_eq!(code(&profile), 0, "{}", common::stderr(&profile));
    let mirror = fixture.mirror();
    let cache = dir.join("cache");
    let one_liner = run(
        dir,
        &[
            "build",
            "--variant=minbase",
            "--include=hello",
            "--keyring=keyring.gpg",
            "--architectures=amd64",
            "--mode=extract",
            "trixie",
            "a.tar",
            &mirror,
            "--cache-dir",
            cache.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&one_liner), 0, "{}", common::stderr(&one_liner));
    let sha = |name: &str| repo::sha256_hex(&std::fs::read(dir.join(name)).unwrap());
    assert_eq!(sha("a.tar"), sha("b.tar"));
    let locks: Vec<String> = std::fs::read_dir(dir.join("state/debroot/locks"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(locks.len(), 1, "{locks:?}");
    assert!(
        locks[0].starts_with("trixie-minbase-") && locks[0].ends_with(".lock"),
        "{locks:?}"
    );
    assert!(
        common::stderr(&one_liner).contains(&locks[0]),
        "the build says where its lock went: {}",
        common::stderr(&one_liner)
    );
    let in_folder: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".lock"))
        .collect();
    assert_eq!(in_folder, ["p.lock"]);

    // The same one-liner with `-o` and the options overriding the profile.
    let p_lock = fixture.read("p.lock");
    let overridden = run(
        dir,
        &[
            "build",
            "p.toml",
            "c.tar",
            "--include=vim",
            "--mode=extract",
            "--mirror",
            &mirror,
            "--cache-dir",
            cache.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&overridden), 0, "{}", common::stderr(&overridden));
    assert_eq!(
        fixture.read("p.lock"),
        p_lock,
        "the profile's lock was rewritten"
    );
    let manifest = std::fs::read_to_string(dir.join("c.tar.manifest.json")).unwrap();
    assert!(
        manifest.contains("\"vim\""),
        "--include appends: {manifest}"
    );
    assert!(
        manifest.contains("\"hello\""),
        "--include appends: {manifest}"
    );
    // Options that keep the package set keep the profile's lock.
    let same = fixture.run(
        &[
            "build",
            "p.toml",
            "d.tar",
            "--variant=required",
            "--mode=extract",
        ],
        &[EPOCH],
    );
    assert_eq!(code(&same), 0, "{}", common::stderr(&same));
    assert_eq!(sha("d.tar"), sha("b.tar"));
}
