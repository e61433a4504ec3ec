//! `debroot build` in the modes that install with dpkg, on a fixture archive served on loopback:
//! the host's own dpkg, shell and tools packaged as an Essential base (`common::hostbase`), and
//! synthetic packages on top that exercise what dpkg and maintainer scripts do. Every result is
//! checked file by file in the output directory and in a `.tar` output, then against what the
//! root's own dpkg says (`dpkg --audit`, `dpkg --verify`) and against what dpkg itself leaves
//! when it installs the same packages (`dpkg -i` into a root debroot built from the host base
//! alone).
//!
//! Each test takes the mode as a parameter; [`mode_tests!`] makes one module of tests per mode,
//! so a new mode is one line. `extract` runs the same fixture without scripts: the payloads are
//! the same files, and nothing a script makes exists.
//!
//! These tests need root (chroot, namespaces, chown); plain `cargo test` skips them and
//! `bash tests/run` runs them as root.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::deb::{FIXTURE_MTIME, Member, Package};
use common::fixture::Fixture;
use common::{hostbase, repo, stderr};

/// `SOURCE_DATE_EPOCH` of every build (after the fixture members' mtime).
const EPOCH: i64 = 1_700_000_000;
/// A host variable that must not reach a maintainer script.
const HOST_SECRET: (&str, &str) = ("DEBROOT_TEST_HOST_SECRET", "leaked-from-the-host");
/// Where the test scripts leave their markers (not `/tmp` or `/run`, which cleanup empties).
const MARKERS: &str = "var/lib/t-markers";

/// Whether a mode runs maintainer scripts (every mode but `extract`).
fn runs_scripts(mode: &str) -> bool {
    mode != "extract"
}

/// One module of tests per mode: `mode_tests!(root, "root");`.
macro_rules! mode_tests {
    ($module:ident, $mode:literal) => {
        mod $module {
            #[test]
            #[ignore = "privileged: needs root (chroot, namespaces, chown)"]
            fn packages_scripts_and_database() {
                super::packages_scripts_and_database($mode);
            }

            #[test]
            #[ignore = "privileged: needs root (chroot, namespaces, chown)"]
            fn failing_preinst() {
                super::failing_script(
                    $mode,
                    "preinst",
                    "exit 1",
                    "preinst of t-fail",
                    "exit status 1",
                );
            }

            #[test]
            #[ignore = "privileged: needs root (chroot, namespaces, chown)"]
            fn crashing_postinst() {
                super::failing_script(
                    $mode,
                    "postinst",
                    "kill -SEGV $$",
                    "postinst of t-fail (1.0-1)",
                    "killed by signal 11 (Segmentation fault)",
                );
            }

            #[test]
            #[ignore = "privileged: needs root (chroot, namespaces, chown)"]
            fn diverter_ships_the_diverted_path() {
                super::diverter_ships_the_diverted_path($mode);
            }
        }
    };
}

mode_tests!(root, "root");
mode_tests!(extract, "extract");

// ---------------------------------------------------------------------------------------------
// The fixture packages.

/// A maintainer script that records its arguments, its stdin and its whole environment in
/// `/var/lib/t-markers/NAME`.
fn recording_script(name: &str) -> String {
    format!(
        "#!/bin/sh\nset -e\nmkdir -p /{MARKERS}\n{{\n  echo \"argc=$#\"\n  for arg in \"$@\"; do echo \"arg=$arg\"; done\n  echo \"stdin=$(readlink /proc/self/fd/0)\"\n  env\n}} > /{MARKERS}/{name}\n"
    )
}

/// Adds a control member that is not a script (`conffiles`, `triggers`).
fn with_control(mut package: Package, name: &str, body: &str) -> Package {
    package
        .control_files
        .push((name.to_owned(), body.to_owned(), 0o644));
    package
}

fn executable(path: &str, body: &str) -> Member {
    Member::file(path, 0o755, body.as_bytes())
}

/// The packages of the main fixture, one per behaviour.
fn test_packages() -> Vec<Package> {
    let appending = |name: &str| {
        format!(
            "#!/bin/sh\nset -e\nmkdir -p /{MARKERS}\necho \"$DPKG_MAINTSCRIPT_PACKAGE $*\" >> /{MARKERS}/{name}\n"
        )
    };
    vec![
        // Ships its md5sums, as packages built by debhelper do.
        with_control(
            Package::new("t-scripts", "1.0-1")
                .file("./usr/share/t-scripts/data", "scripts\n")
                .script("preinst", &recording_script("t-scripts.preinst"))
                .script("postinst", &recording_script("t-scripts.postinst")),
            "md5sums",
            &format!("{}  usr/share/t-scripts/data\n", md5_hex(b"scripts\n")),
        ),
        // Its scripts run in the Essential phase (the preinst after the set is unpacked).
        Package::new("t-essential", "1.0-1")
            .essential()
            .depends("hostbase-tools")
            .file("./usr/share/t-essential/data", "essential\n")
            .script("preinst", &appending("t-essential"))
            .script("postinst", &appending("t-essential")),
        // Registered as `t-multiarch:amd64` in the database.
        Package::new("t-multiarch", "1.0-1")
            .field("Multi-Arch", "same")
            .file("./usr/lib/x86_64-linux-gnu/t-multiarch/data", "multiarch\n")
            .script("postinst", &appending("t-multiarch")),
        // `t-taker` takes `t-owner`'s file over (dpkg drops it from `t-owner`'s list).
        Package::new("t-owner", "1.0-1")
            .file("./usr/share/t-shared/file", "shared\n")
            .file("./usr/share/t-shared/own", "own\n"),
        Package::new("t-taker", "1.0-1")
            .field("Replaces", "t-owner")
            .file("./usr/share/t-shared/file", "shared\n"),
        // Ships no md5sums: they are generated (conffiles included, as dpkg does).
        with_control(
            Package::new("t-conf", "1.0-1").file("./etc/t-conf.conf", "setting = 1\n"),
            "conffiles",
            "/etc/t-conf.conf\n",
        ),
        Package::new("t-diverter", "1.0-1")
            .file("./usr/share/doc/t-diverter/README", "diverts\n")
            .script(
                "preinst",
                "#!/bin/sh\nset -e\nfor path in /usr/bin/t-diverted /usr/bin/t-diverted-late; do\n  \
                 dpkg-divert --package t-diverter --add --rename --divert \"$path.real\" \"$path\"\ndone\n",
            ),
        // Unpacked in the diverter's batch, after its preinst.
        Package::new("t-diverted", "1.0-1").member(executable(
            "./usr/bin/t-diverted",
            "#!/bin/sh\necho original\n",
        )),
        // Unpacked in a later batch.
        Package::new("t-diverted-late", "1.0-1")
            .field("Pre-Depends", "t-diverter")
            .member(executable(
                "./usr/bin/t-diverted-late",
                "#!/bin/sh\necho late\n",
            )),
        Package::new("t-alt-a", "1.0-1")
            .member(executable("./usr/bin/t-alt-a", "#!/bin/sh\necho a\n"))
            .script(
                "postinst",
                "#!/bin/sh\nset -e\nupdate-alternatives --install /usr/bin/t-alt t-alt /usr/bin/t-alt-a 50\n",
            ),
        Package::new("t-alt-b", "1.0-1")
            .member(executable("./usr/bin/t-alt-b", "#!/bin/sh\necho b\n"))
            .script(
                "postinst",
                "#!/bin/sh\nset -e\nupdate-alternatives --install /usr/bin/t-alt t-alt /usr/bin/t-alt-b 70\n",
            ),
        with_control(
            Package::new("t-trig-watch", "1.0-1")
                .file("./usr/share/doc/t-trig-watch/README", "watches\n")
                .script(
                    "postinst",
                    &format!(
                        "#!/bin/sh\nset -e\nmkdir -p /{MARKERS}\necho \"$*\" >> /{MARKERS}/t-trig-watch.postinst\n"
                    ),
                ),
            "triggers",
            "interest /usr/share/t-trig\ninterest-noawait /usr/share/t-trig-noawait\n",
        ),
        // Unpacked once `t-trig-watch` is configured (dpkg ignores an activation of a package
        // that is not configured yet: its postinst configure runs anyway).
        Package::new("t-trig-ship", "1.0-1")
            .field("Pre-Depends", "t-trig-watch")
            .file("./usr/share/t-trig/data", "activates\n")
            .file("./usr/share/t-trig-noawait/data", "activates\n"),
        // An explicit (named) trigger, activated by a control file.
        with_control(
            Package::new("t-named-watch", "1.0-1")
                .file("./usr/share/doc/t-named-watch/README", "watches\n")
                .script("postinst", &appending("t-named-watch.postinst")),
            "triggers",
            "interest t-named\ninterest-noawait t-named-noawait\n",
        ),
        with_control(
            Package::new("t-named-act", "1.0-1")
                .field("Pre-Depends", "t-named-watch")
                .file("./usr/share/doc/t-named-act/README", "activates\n"),
            "triggers",
            "activate-noawait t-named-noawait\nactivate t-named\n",
        ),
        Package::new("t-usrmerge", "1.0-1")
            .member(executable("./bin/t-merged", "#!/bin/sh\necho merged\n")),
        Package::new("t-suid", "1.0-1").member(Member::file("./usr/bin/t-suid", 0o4755, b"suid\n")),
        // A hard link's header carries the inode's mode, as dpkg-deb (GNU tar) writes it.
        Package::new("t-hard", "1.0-1")
            .member(executable("./usr/bin/t-hard-a", "#!/bin/sh\necho hard\n"))
            .member(Member {
                mode: 0o755,
                ..Member::hardlink("./usr/bin/t-hard-b", "./usr/bin/t-hard-a")
            }),
        Package::new("t-cap", "1.0-1")
            .member(Member::file("./usr/bin/t-cap", 0o755, b"cap\n"))
            .script(
                "postinst",
                "#!/bin/sh\nset -e\nsetcap cap_net_raw+ep /usr/bin/t-cap\n",
            ),
    ]
}

/// The order `dpkg -i` installs the main fixture in for the reference: the diverter before
/// what it diverts, the trigger's activator after the interested package is configured.
const MAIN_REFERENCE_RUNS: &[&[&str]] = &[
    &[
        "t-essential",
        "t-diverter",
        "t-alt-a",
        "t-alt-b",
        "t-cap",
        "t-conf",
        "t-diverted",
        "t-hard",
        "t-multiarch",
        "t-named-watch",
        "t-owner",
        "t-scripts",
        "t-suid",
        "t-taker",
        "t-trig-watch",
        "t-usrmerge",
    ],
    &["t-diverted-late", "t-named-act", "t-trig-ship"],
];

/// A fixture archive with the host base and `packages`, and a profile including them all.
struct Build {
    fixture: Fixture,
    packages: Vec<Package>,
}

impl Build {
    fn new(packages: Vec<Package>) -> Self {
        let mut all = hostbase::packages();
        let names: Vec<String> = packages.iter().map(|p| format!("\"{}\"", p.name)).collect();
        all.extend(packages);
        let fixture = Fixture::new(repo::trixie(all.clone()));
        fixture.write_profile(
            "",
            &format!(
                "[packages]\nvariant = \"minbase\"\ninclude = [{}]\n",
                names.join(", ")
            ),
        );
        std::fs::write(
            fixture.path().join("base.toml"),
            repo::profile(
                "",
                "[packages]\nvariant = \"custom\"\ninclude = [\"hostbase-files\", \"hostbase-tools\", \"dpkg\"]\n",
            ),
        )
        .unwrap();
        Build {
            fixture,
            packages: all,
        }
    }

    fn path(&self) -> &Path {
        self.fixture.path()
    }

    /// `debroot build PROFILE -o OUTPUT --mode MODE`, with a host environment that must not leak.
    fn run(&self, profile: &str, output: &str, mode: &str) -> Output {
        let epoch = EPOCH.to_string();
        self.fixture.run(
            &["build", profile, "-o", output, "--mode", mode],
            &[
                ("SOURCE_DATE_EPOCH", &epoch),
                HOST_SECRET,
                ("HOSTNAME", "host-machine"),
                ("LANG", "de_DE.UTF-8"),
                ("HOME", "/nonexistent-host-home"),
            ],
        )
    }

    /// Builds `output` and returns its path; the build must succeed.
    fn build(&self, output: &str, mode: &str) -> PathBuf {
        let out = self.run("p.toml", output, mode);
        assert_eq!(
            out.status.code(),
            Some(0),
            "`debroot build -o {output} --mode {mode}` failed:\n{}",
            stderr(&out)
        );
        self.path().join(output)
    }

    fn package(&self, name: &str) -> &Package {
        self.packages
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no fixture package `{name}`"))
    }
}

// ---------------------------------------------------------------------------------------------
// The tests.

/// The main fixture, built as a directory and as a tarball: every package member in place
/// (merged-/usr, setuid, hard links included); with scripts, what each maintainer script saw
/// and did (arguments, environment, stdin, conffiles, diversions, alternatives, file and named
/// triggers, a file capability), a database dpkg is content with and that equals dpkg's own;
/// without, no trace of a script. The tarball holds the same tree.
fn packages_scripts_and_database(mode: &str) {
    let build = Build::new(test_packages());
    let dir = build.build("out", mode);
    let tar = build.build("out.tar", mode);
    let scripts = runs_scripts(mode);
    let diverted: &[(&str, &str, &str)] = if scripts {
        &[
            (
                "t-diverted",
                "usr/bin/t-diverted",
                "usr/bin/t-diverted.real",
            ),
            (
                "t-diverted-late",
                "usr/bin/t-diverted-late",
                "usr/bin/t-diverted-late.real",
            ),
        ]
    } else {
        &[]
    };

    // Every member of every package, as the package says, in both modes.
    check_payloads(&dir, &build.packages, diverted);
    check_no_leftovers(&dir);

    // merged-/usr: `./bin/t-merged` went through the `bin` link, which stays a link.
    assert_symlink(&dir, "bin", "usr/bin");
    assert!(meta(&dir, "usr/bin/t-merged").is_file());
    // setuid kept exactly; one inode for the hard links.
    assert_eq!(meta(&dir, "usr/bin/t-suid").mode() & 0o7777, 0o4755);
    let (a, b) = (
        meta(&dir, "usr/bin/t-hard-a"),
        meta(&dir, "usr/bin/t-hard-b"),
    );
    assert_eq!((a.dev(), a.ino(), a.nlink()), (b.dev(), b.ino(), 2));

    if scripts {
        check_maintainer_scripts(&dir);
        check_conffiles(&dir);
        check_diversion(&dir);
        check_alternatives(&dir);
        check_triggers(&dir);
        check_database_names(&dir);
        assert_eq!(
            capability(&dir.join("usr/bin/t-cap")),
            Some(1 << 13),
            "postinst's `setcap cap_net_raw+ep` is on `/usr/bin/t-cap`"
        );
        check_dpkg_is_content(&dir);
        check_matches_dpkg(&build, &dir, MAIN_REFERENCE_RUNS);
    } else {
        assert!(!dir.join(MARKERS).exists(), "no script ran in extract mode");
        assert!(!dir.join("var/lib/dpkg/diversions").exists());
        assert!(!dir.join("etc/alternatives/t-alt").exists());
        assert!(
            dir.join("etc/t-conf.conf").is_file() && !dir.join("etc/t-conf.conf.dpkg-new").exists(),
            "extract mode writes conffiles in place"
        );
        assert_eq!(capability(&dir.join("usr/bin/t-cap")), None);
    }

    // The tarball holds the same tree, with what a tar can lose kept.
    let entries = read_tar(&std::fs::read(&tar).unwrap());
    check_tar_matches_dir(&entries, &dir);
    let entry = |path: &str| {
        entries
            .iter()
            .find(|e| e.path == path)
            .unwrap_or_else(|| panic!("`{path}` is not in the tarball"))
    };
    assert_eq!(entry("usr/bin/t-suid").mode, 0o4755);
    assert_eq!(entry("usr/bin/t-hard-a").kind, b'0');
    assert_eq!(
        (
            entry("usr/bin/t-hard-b").kind,
            entry("usr/bin/t-hard-b").link.as_str()
        ),
        (b'1', "./usr/bin/t-hard-a"),
        "the second name of the inode is a hard link entry"
    );
    let xattr = entry("usr/bin/t-cap").xattrs.get("security.capability");
    if scripts {
        let xattr = xattr.expect("SCHILY.xattr.security.capability on `usr/bin/t-cap`");
        assert_eq!(capability_bits(xattr), Some(1 << 13));
    } else {
        assert_eq!(xattr, None);
    }
    // GNU tar reads it too.
    let listing = Command::new("tar")
        .args(["--numeric-owner", "-tvf"])
        .arg(&tar)
        .output()
        .unwrap();
    assert!(listing.status.success(), "{}", stderr(&listing));
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(
        listing.contains("-rwsr-xr-x 0/0") && listing.contains("./usr/bin/t-suid"),
        "{listing}"
    );
    assert!(
        listing.contains("./usr/bin/t-hard-b link to ./usr/bin/t-hard-a"),
        "{listing}"
    );
}

/// A maintainer script that fails (`ending` is its last command): exit 8 naming the package,
/// the script and how it ended (`culprit`, `how`) with its last lines, and nothing left behind (no output, no work directory, no mount). Without scripts the build
/// succeeds.
fn failing_script(mode: &str, script: &str, ending: &str, culprit: &str, how: &str) {
    let build = Build::new(vec![
        Package::new("t-fail", "1.0-1")
            .file("./usr/share/t-fail/data", "fails\n")
            .script(
                script,
                &format!(
                    "#!/bin/sh\necho 'first words of t-fail'\necho 'last words of t-fail' >&2\n{ending}\n"
                ),
            ),
    ]);
    let out = build.run("p.toml", "out", mode);
    let text = stderr(&out);
    if !runs_scripts(mode) {
        assert_eq!(out.status.code(), Some(0), "{text}");
        assert!(!build.path().join("out").join(MARKERS).exists());
        return;
    }
    assert_eq!(
        out.status.code(),
        Some(8),
        "a failed script exits 8:\n{text}"
    );
    for expected in [
        culprit,
        how,
        "first words of t-fail",
        "last words of t-fail",
    ] {
        assert!(text.contains(expected), "`{expected}` in:\n{text}");
    }
    assert!(
        !text.contains("debroot: "),
        "the driver's step lines are not shown:\n{text}"
    );
    assert!(
        !build.path().join("out").exists(),
        "no output after a failure"
    );
    let leftovers: Vec<String> = std::fs::read_dir(build.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".out.debroot-"))
        .collect();
    assert!(leftovers.is_empty(), "work directories left: {leftovers:?}");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(build.path().to_str().unwrap()),
        "mounts left under the build:\n{mounts}"
    );
}

/// The common shape of a diversion: the diverting package ships its own file at the path it
/// diverts, and the original lands at the diverted name.
fn diverter_ships_the_diverted_path(mode: &str) {
    let build = Build::new(vec![
        Package::new("t-wrapper", "1.0-1")
            .member(executable("./usr/bin/t-tool", "#!/bin/sh\necho wrapper\n"))
            .script(
                "preinst",
                "#!/bin/sh\nset -e\ndpkg-divert --package t-wrapper --add --rename \
                 --divert /usr/bin/t-tool.real /usr/bin/t-tool\n",
            ),
        Package::new("t-tool", "1.0-1")
            .member(executable("./usr/bin/t-tool", "#!/bin/sh\necho original\n")),
    ]);
    if !runs_scripts(mode) {
        // Without scripts there is no diversion: two packages ship `/usr/bin/t-tool` and
        // neither replaces the other, which the extractor refuses (dpkg would too).
        let out = build.run("p.toml", "out", mode);
        let text = stderr(&out);
        assert_ne!(out.status.code(), Some(0), "{text}");
        assert!(
            text.contains("/usr/bin/t-tool") && text.contains("also in package"),
            "{text}"
        );
        return;
    }
    let dir = build.build("out", mode);
    check_payloads(
        &dir,
        &build.packages,
        &[("t-tool", "usr/bin/t-tool", "usr/bin/t-tool.real")],
    );
    let tool = build.package("t-tool");
    assert_eq!(
        std::fs::read(dir.join("usr/bin/t-tool.real")).unwrap(),
        tool.files[0].data,
        "the original is at the diverted name"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("var/lib/dpkg/diversions")).unwrap(),
        "/usr/bin/t-tool\n/usr/bin/t-tool.real\nt-wrapper\n"
    );
    check_no_leftovers(&dir);
    check_dpkg_is_content(&dir);
    check_matches_dpkg(&build, &dir, &[&["t-wrapper", "t-tool"]]);
}

// ---------------------------------------------------------------------------------------------
// Checks.

fn meta(root: &Path, path: &str) -> std::fs::Metadata {
    std::fs::symlink_metadata(root.join(path))
        .unwrap_or_else(|e| panic!("`{path}` in the output: {e}"))
}

fn assert_symlink(root: &Path, path: &str, target: &str) {
    assert!(
        meta(root, path).file_type().is_symlink(),
        "`{path}` is a symlink"
    );
    assert_eq!(
        std::fs::read_link(root.join(path)).unwrap(),
        Path::new(target),
        "`{path}` points to `{target}`"
    );
}

/// Every data member of every package is in the output as the package has it: type, mode,
/// owner, mtime, bytes, link target; hard links share the inode. Paths a diversion moved
/// (`(package, path, diverted to)`) are looked for at their diverted names; conffiles at their
/// own names (dpkg moved them there).
fn check_payloads(root: &Path, packages: &[Package], diverted: &[(&str, &str, &str)]) {
    for package in packages {
        for member in &package.files {
            let name = String::from_utf8(member.name.clone()).unwrap();
            let path = name.trim_start_matches("./").trim_end_matches('/');
            if path.is_empty() {
                continue;
            }
            let path = diverted
                .iter()
                .find(|(name, from, _)| *name == package.name && *from == path)
                .map_or(path, |(_, _, to)| *to);
            let what = format!("`{path}` of `{}`", package.name);
            let meta = std::fs::symlink_metadata(root.join(path))
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!((meta.uid(), meta.gid()), (0, 0), "{what}: owner");
            match member.kind {
                b'5' => {
                    assert!(meta.is_dir(), "{what} is a directory");
                    assert_eq!(meta.mode() & 0o7777, member.mode, "{what}: mode");
                    continue;
                }
                b'0' => {
                    assert!(meta.is_file(), "{what} is a file");
                    assert_eq!(meta.mode() & 0o7777, member.mode, "{what}: mode");
                    assert_eq!(
                        String::from_utf8_lossy(&std::fs::read(root.join(path)).unwrap()),
                        String::from_utf8_lossy(&member.data),
                        "{what}: content"
                    );
                }
                b'1' => {
                    let link = String::from_utf8(member.link.clone()).unwrap();
                    let target = std::fs::metadata(root.join(link.trim_start_matches("./")))
                        .unwrap_or_else(|e| panic!("{what}: link target: {e}"));
                    assert_eq!(
                        (meta.dev(), meta.ino()),
                        (target.dev(), target.ino()),
                        "{what}: a hard link to `{link}`"
                    );
                }
                b'2' => {
                    assert!(meta.file_type().is_symlink(), "{what} is a symlink");
                    assert_eq!(
                        std::fs::read_link(root.join(path))
                            .unwrap()
                            .as_os_str()
                            .as_encoded_bytes(),
                        member.link.as_slice(),
                        "{what}: link target"
                    );
                }
                other => panic!("{what}: unexpected member type {other}"),
            }
            assert_eq!(meta.mtime(), FIXTURE_MTIME as i64, "{what}: mtime");
        }
    }
}

/// Nothing of the build's machinery is left: no `.dpkg-new` (or `-tmp`, `-old`), no
/// temporary of the extractor, no staging of control members.
fn check_no_leftovers(root: &Path) {
    let tree = walk(root);
    let leftovers: Vec<&String> = tree
        .keys()
        .filter(|path| {
            let name = path.rsplit('/').next().unwrap_or(path);
            name.ends_with(".dpkg-new")
                || name.ends_with(".dpkg-tmp")
                || name.ends_with(".dpkg-old")
                || name.starts_with(".debroot-new-")
                || *path == "var/lib/dpkg/debroot-ci"
                || *path == "var/lib/dpkg/tmp.ci"
                || *path == "usr/sbin/policy-rc.d"
                || *path == "usr/sbin/start-stop-daemon.REAL"
        })
        .collect();
    assert!(leftovers.is_empty(), "left in the output: {leftovers:?}");
}

/// `KEY=VALUE` lines and the arguments of a recorded script run.
struct Recorded {
    args: Vec<String>,
    stdin: String,
    env: BTreeMap<String, String>,
}

fn read_marker(root: &Path, name: &str) -> Recorded {
    let path = root.join(MARKERS).join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("the script did not leave `{}`: {e}", path.display()));
    let mut recorded = Recorded {
        args: Vec::new(),
        stdin: String::new(),
        env: BTreeMap::new(),
    };
    let mut lines = text.lines();
    let argc: usize = lines
        .next()
        .and_then(|l| l.strip_prefix("argc="))
        .and_then(|n| n.parse().ok())
        .expect("argc line");
    for _ in 0..argc {
        let arg = lines.next().and_then(|l| l.strip_prefix("arg=")).unwrap();
        recorded.args.push(arg.to_owned());
    }
    recorded.stdin = lines
        .next()
        .and_then(|l| l.strip_prefix("stdin="))
        .unwrap()
        .to_owned();
    for line in lines {
        let (key, value) = line.split_once('=').expect("KEY=VALUE");
        recorded.env.insert(key.to_owned(), value.to_owned());
    }
    recorded
}

/// preinst and postinst ran once each, as dpkg runs them on a fresh install, with stdin from
/// `/dev/null` and an environment with nothing from the host.
fn check_maintainer_scripts(root: &Path) {
    let dpkg_version = hostbase::dpkg_version();
    for (script, args) in [
        ("preinst", vec!["install"]),
        ("postinst", vec!["configure", ""]),
    ] {
        let recorded = read_marker(root, &format!("t-scripts.{script}"));
        assert_eq!(
            recorded.args, args,
            "arguments of {script} (as dpkg gives them)"
        );
        assert_eq!(recorded.stdin, "/dev/null", "stdin of {script}");
        let env = &recorded.env;
        for (key, value) in [
            ("DPKG_MAINTSCRIPT_NAME", script),
            ("DPKG_MAINTSCRIPT_PACKAGE", "t-scripts"),
            ("DPKG_MAINTSCRIPT_ARCH", "amd64"),
            ("DPKG_RUNNING_VERSION", dpkg_version.as_str()),
            ("DPKG_ADMINDIR", "/var/lib/dpkg"),
            ("DEBIAN_FRONTEND", "noninteractive"),
            ("LC_ALL", "C.UTF-8"),
            ("SOURCE_DATE_EPOCH", &EPOCH.to_string()),
        ] {
            assert_eq!(
                env.get(key).map(String::as_str),
                Some(value),
                "{key} of {script}: {env:?}"
            );
        }
        // The sandbox's fixed environment, what dpkg adds, and what the shell sets.
        let allowed = [
            "PATH",
            "LC_ALL",
            "LANG",
            "DEBIAN_FRONTEND",
            "DEBCONF_NONINTERACTIVE_SEEN",
            "SOURCE_DATE_EPOCH",
            "HOME",
            "TZ",
            "PWD",
        ];
        for (key, value) in env {
            assert!(
                allowed.contains(&key.as_str()) || key.starts_with("DPKG_"),
                "{script} got `{key}={value}`, which is not part of the build's environment"
            );
            assert!(
                !value.contains(HOST_SECRET.1) && !value.contains("host-machine"),
                "{script} got the host's `{key}={value}`"
            );
        }
        assert_ne!(
            env.get("HOME").map(String::as_str),
            Some("/nonexistent-host-home")
        );
        assert_ne!(env.get("LANG").map(String::as_str), Some("de_DE.UTF-8"));
        // Made during the build, after the epoch: clamped.
        assert_eq!(
            meta(root, &format!("{MARKERS}/t-scripts.{script}")).mtime(),
            EPOCH
        );
    }
}

/// The `status` stanza of `package`.
fn status_stanza(root: &Path, package: &str) -> String {
    let status = std::fs::read_to_string(root.join("var/lib/dpkg/status")).unwrap();
    status
        .split("\n\n")
        .find(|s| s.lines().any(|l| l == format!("Package: {package}")))
        .unwrap_or_else(|| panic!("`{package}` is not in `status`:\n{status}"))
        .to_owned()
}

fn md5_hex(data: &[u8]) -> String {
    use md5::Digest as _;
    hex::encode(md5::Md5::digest(data))
}

/// The conffile is in place, and registered with the hash of what was installed.
fn check_conffiles(root: &Path) {
    let data = std::fs::read(root.join("etc/t-conf.conf")).unwrap();
    let stanza = status_stanza(root, "t-conf");
    assert!(
        stanza.contains("Status: install ok installed\n"),
        "{stanza}"
    );
    assert!(
        stanza.contains(&format!("Conffiles:\n /etc/t-conf.conf {}", md5_hex(&data))),
        "the conffile's hash in `status`:\n{stanza}"
    );
    let md5sums = std::fs::read_to_string(root.join("var/lib/dpkg/info/t-conf.md5sums")).unwrap();
    assert_eq!(md5sums, format!("{}  etc/t-conf.conf\n", md5_hex(&data)));
}

/// The preinst's diversions are recorded, and the packages unpacked after it (in its batch and
/// in a later one) landed at the diverted names; the database still lists the paths the
/// packages ship.
fn check_diversion(root: &Path) {
    let diversions = std::fs::read_to_string(root.join("var/lib/dpkg/diversions")).unwrap();
    let triples: BTreeSet<String> = diversions
        .lines()
        .collect::<Vec<_>>()
        .chunks(3)
        .map(|triple| triple.join(" "))
        .collect();
    for package in ["t-diverted", "t-diverted-late"] {
        let path = format!("/usr/bin/{package}");
        assert!(
            triples.contains(&format!("{path} {path}.real t-diverter")),
            "{diversions}"
        );
        assert!(!root.join(&path[1..]).exists(), "`{path}` is diverted");
        let list = std::fs::read_to_string(root.join(format!("var/lib/dpkg/info/{package}.list")))
            .unwrap();
        assert!(list.lines().any(|l| l == path), "{list}");
    }
    assert_eq!(triples.len(), 2, "{diversions}");
}

/// The Essential phase ran the Essential package's scripts; a `Multi-Arch: same` package is
/// known to dpkg by `NAME:ARCH`; a file taken over (`Replaces`) is listed by its new owner only.
fn check_database_names(root: &Path) {
    let marker = |name: &str| std::fs::read_to_string(root.join(MARKERS).join(name)).unwrap();
    assert_eq!(
        marker("t-essential"),
        "t-essential install\nt-essential configure \n"
    );
    assert_eq!(marker("t-multiarch"), "t-multiarch configure \n");
    let info = root.join("var/lib/dpkg/info");
    for suffix in ["list", "md5sums", "postinst"] {
        assert!(
            info.join(format!("t-multiarch:amd64.{suffix}")).is_file(),
            "info/t-multiarch:amd64.{suffix}"
        );
    }
    assert!(status_stanza(root, "t-multiarch").contains("Multi-Arch: same\n"));
    let list =
        |package: &str| std::fs::read_to_string(info.join(format!("{package}.list"))).unwrap();
    assert!(!list("t-owner").contains("/usr/share/t-shared/file\n"));
    assert!(list("t-owner").contains("/usr/share/t-shared/own\n"));
    assert!(list("t-taker").contains("/usr/share/t-shared/file\n"));
    let md5sums = std::fs::read_to_string(info.join("t-scripts.md5sums")).unwrap();
    assert_eq!(
        md5sums,
        format!("{}  usr/share/t-scripts/data\n", md5_hex(b"scripts\n"))
    );
}

/// Both alternatives registered; the higher priority chosen.
fn check_alternatives(root: &Path) {
    assert_symlink(root, "usr/bin/t-alt", "/etc/alternatives/t-alt");
    assert_symlink(root, "etc/alternatives/t-alt", "/usr/bin/t-alt-b");
    assert_eq!(
        std::fs::read_to_string(root.join("var/lib/dpkg/alternatives/t-alt")).unwrap(),
        "auto\n/usr/bin/t-alt\n\n/usr/bin/t-alt-a\n50\n/usr/bin/t-alt-b\n70\n\n"
    );
}

/// The interests are registered; the package that shipped a file under the file trigger, and
/// the one that activates the named trigger, made dpkg run the interested packages' postinst
/// with `triggered`.
fn check_triggers(root: &Path) {
    assert_eq!(
        std::fs::read_to_string(root.join("var/lib/dpkg/triggers/t-named")).unwrap(),
        "t-named-watch\n"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("var/lib/dpkg/triggers/t-named-noawait")).unwrap(),
        "t-named-watch/noawait\n"
    );
    assert_eq!(
        without_dpkg_force(
            &std::fs::read(root.join(MARKERS).join("t-named-watch.postinst")).unwrap()
        ),
        b"t-named-watch configure \nt-named-watch triggered t-named t-named-noawait\n"
    );
    for package in ["t-named-watch", "t-named-act"] {
        let stanza = status_stanza(root, package);
        assert!(
            stanza.contains("Status: install ok installed\n"),
            "{stanza}"
        );
        assert!(!stanza.contains("Triggers-"), "{stanza}");
    }
    assert_eq!(
        std::fs::read_to_string(root.join("var/lib/dpkg/triggers/File")).unwrap(),
        "/usr/share/t-trig t-trig-watch\n/usr/share/t-trig-noawait t-trig-watch/noawait\n"
    );
    // Both paths in one run: the triggers are processed once, after the last batch.
    assert_eq!(
        without_dpkg_force(
            &std::fs::read(root.join(MARKERS).join("t-trig-watch.postinst")).unwrap()
        ),
        b"configure \ntriggered /usr/share/t-trig /usr/share/t-trig-noawait\n"
    );
    let stanza = status_stanza(root, "t-trig-watch");
    assert!(
        stanza.contains("Status: install ok installed\n"),
        "{stanza}"
    );
    assert!(!stanza.contains("Triggers-"), "{stanza}");
}

/// `dpkg --audit` and `dpkg --verify` in the root print nothing.
fn check_dpkg_is_content(root: &Path) {
    for command in ["--audit", "--verify"] {
        let out = Command::new("chroot")
            .arg(root)
            .args(["dpkg", command])
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .output()
            .unwrap();
        assert!(
            out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
            "`dpkg {command}` in the root:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            stderr(&out)
        );
    }
}

/// Installs the fixture's packages with dpkg itself (one run per element of `runs`)
/// into a base built by debroot, and compares the result with `built`: every path, type, mode,
/// owner, content, link target and extended attribute (not mtimes: dpkg ran at the wall
/// clock). What debroot's cleanup removes by design is removed from the reference first; the
/// scripts' records differ only in `DPKG_FORCE` (debroot configures with `--force-conf*`).
fn check_matches_dpkg(build: &Build, built: &Path, runs: &[&[&str]]) {
    let base_out = build.run("base.toml", "reference", "root");
    assert_eq!(base_out.status.code(), Some(0), "{}", stderr(&base_out));
    let reference = build.path().join("reference");
    let debs = reference.join("debs");
    std::fs::create_dir(&debs).unwrap();
    // Driven as apt drives dpkg (and as debroot does): each run unpacked and configured by
    // name without triggers, the pending triggers processed once at the end.
    let mut script = String::from("set -e\n");
    for run in runs {
        script.push_str("dpkg --no-triggers --unpack");
        for name in *run {
            let deb = &build
                .fixture
                .written
                .debs
                .iter()
                .find(|(n, _, _)| n == name)
                .unwrap_or_else(|| panic!("no .deb of `{name}`"))
                .2;
            std::fs::write(debs.join(format!("{name}.deb")), deb).unwrap();
            script.push_str(&format!(" /debs/{name}.deb"));
        }
        script.push_str("\ndpkg --no-triggers --configure");
        for name in *run {
            script.push_str(&format!(" {name}"));
        }
        script.push('\n');
    }
    script.push_str("dpkg --configure --pending\n");
    let sandbox = debroot::sandbox::Sandbox {
        root: reference.clone(),
        hostname: "localhost".into(),
        env: debroot::sandbox::Sandbox::default_env(EPOCH),
        binds: Vec::new(),
        helper: Some(PathBuf::from(env!("CARGO_BIN_EXE_debroot"))),
        instant_sleep: false,
    };
    let outcome = sandbox.run(&["/bin/sh", "-c", &script]).unwrap();
    assert!(
        outcome.status.success(),
        "dpkg in the reference:\n{}",
        String::from_utf8_lossy(&outcome.output)
    );
    std::fs::remove_dir_all(&debs).unwrap();
    for file in [
        "var/log/dpkg.log",
        "var/log/alternatives.log",
        "var/lib/dpkg/status-old",
        "var/lib/dpkg/diversions-old",
    ] {
        let _ = std::fs::remove_file(reference.join(file));
    }
    let ours = walk(built);
    let theirs = walk(&reference);
    let mut differences = Vec::new();
    for path in ours.keys().chain(theirs.keys()).collect::<BTreeSet<_>>() {
        let (mut a, mut b) = (ours.get(path).cloned(), theirs.get(path).cloned());
        if path.starts_with(MARKERS) {
            for node in [&mut a, &mut b].into_iter().flatten() {
                node.content = without_dpkg_force(&node.content);
            }
        }
        let strip = |n: Option<FsNode>| {
            n.map(|n| FsNode {
                mtime: 0,
                inode: (0, 0),
                ..n
            })
        };
        let (a, b) = (strip(a), strip(b));
        if a != b {
            differences.push(format!(
                "{path}:\n  debroot: {}\n  dpkg:    {}",
                describe(a.as_ref()),
                describe(b.as_ref())
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "debroot's root differs from dpkg's:\n{}",
        differences.join("\n")
    );
}

/// A node for a difference report: content as text when it is text.
fn describe(node: Option<&FsNode>) -> String {
    let Some(node) = node else {
        return "absent".into();
    };
    let content = match std::str::from_utf8(&node.content) {
        Ok(text) => format!("{text:?}"),
        Err(_) => format!(
            "{} bytes, md5 {}",
            node.content.len(),
            md5_hex(&node.content)
        ),
    };
    format!(
        "{} {:o} {}:{} content {content} link {:?} xattrs {:?}",
        node.kind,
        node.mode,
        node.uid,
        node.gid,
        node.link,
        node.xattrs.keys().collect::<Vec<_>>()
    )
}

fn without_dpkg_force(content: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(content)
        .lines()
        .filter(|l| !l.starts_with("DPKG_FORCE="))
        .map(|l| format!("{}\n", triggers_sorted(l)))
        .collect::<String>()
        .into_bytes()
}

/// A script record's line with the names after `triggered` sorted. dpkg hands a `triggered`
/// postinst its pending triggers in list order, and reverses that list each time a dpkg run
/// reads and rewrites its status; so the order depends on how many dpkg runs came between
/// activation and processing (two per batch under apt, one under debroot), never on what was
/// activated. No trigger handler in Debian depends on it.
fn triggers_sorted(line: &str) -> String {
    match line.split_once("triggered ") {
        Some((head, names)) => {
            let mut names: Vec<&str> = names.split_whitespace().collect();
            names.sort_unstable();
            format!("{head}triggered {}", names.join(" "))
        }
        None => line.to_owned(),
    }
}

/// The file capability's permitted set (`security.capability`), if any.
fn capability(path: &Path) -> Option<u64> {
    let mut buffer = [0u8; 64];
    let length = rustix::fs::lgetxattr(path, "security.capability", &mut buffer).ok()?;
    capability_bits(&buffer[..length])
}

/// The permitted set of a `vfs_cap_data` (revision 2 or 3, little endian).
fn capability_bits(data: &[u8]) -> Option<u64> {
    let word = |i: usize| -> Option<u64> {
        Some(u32::from_le_bytes(data.get(i..i + 4)?.try_into().ok()?).into())
    };
    let low = word(4)?;
    let high = word(12)?;
    Some(low | (high << 32))
}

// ---------------------------------------------------------------------------------------------
// Trees and tarballs, read independently of debroot's own readers.

/// One path of a tree as the comparisons see it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FsNode {
    kind: char,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
    content: Vec<u8>,
    link: String,
    xattrs: BTreeMap<String, Vec<u8>>,
    inode: (u64, u64),
}

fn xattrs_of(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut names = vec![0u8; 4096];
    let Ok(length) = rustix::fs::llistxattr(path, &mut names) else {
        return BTreeMap::new();
    };
    let mut out = BTreeMap::new();
    for name in names[..length].split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        let mut value = vec![0u8; 4096];
        if let Ok(n) = rustix::fs::lgetxattr(path, name.as_str(), &mut value) {
            out.insert(name, value[..n].to_vec());
        }
    }
    out
}

/// Every path under `root` (relative, `""` for the root), without following symlinks. `/dev`
/// is left out: a tarball has its own static one.
fn walk(root: &Path) -> BTreeMap<String, FsNode> {
    let mut out = BTreeMap::new();
    let mut stack = vec![String::new()];
    while let Some(relative) = stack.pop() {
        let full = if relative.is_empty() {
            root.to_path_buf()
        } else {
            root.join(&relative)
        };
        let meta = std::fs::symlink_metadata(&full).unwrap();
        let file_type = meta.file_type();
        let (kind, content, link) = if file_type.is_dir() {
            for entry in std::fs::read_dir(&full).unwrap() {
                let name = entry.unwrap().file_name().to_string_lossy().into_owned();
                let child = if relative.is_empty() {
                    name
                } else {
                    format!("{relative}/{name}")
                };
                if child != "dev" {
                    stack.push(child);
                }
            }
            ('d', Vec::new(), String::new())
        } else if file_type.is_symlink() {
            let link = std::fs::read_link(&full).unwrap();
            ('l', Vec::new(), link.to_string_lossy().into_owned())
        } else if file_type.is_file() {
            ('f', std::fs::read(&full).unwrap(), String::new())
        } else {
            ('?', Vec::new(), String::new())
        };
        out.insert(
            relative,
            FsNode {
                kind,
                mode: meta.permissions().mode() & 0o7777,
                uid: meta.uid(),
                gid: meta.gid(),
                mtime: meta.mtime(),
                content,
                link,
                xattrs: if kind == 'l' {
                    BTreeMap::new()
                } else {
                    xattrs_of(&full)
                },
                inode: (meta.dev(), meta.ino()),
            },
        );
    }
    out
}

/// One entry of a tarball.
#[derive(Debug, Clone)]
struct TarEntry {
    /// Without `./` or a trailing `/`; `""` for the root.
    path: String,
    kind: u8,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
    link: String,
    data: Vec<u8>,
    xattrs: BTreeMap<String, Vec<u8>>,
}

/// Reads a ustar/PAX tarball: header checksums checked, PAX `path`, `linkpath` and
/// `SCHILY.xattr.*` records applied to the entry they precede.
fn read_tar(bytes: &[u8]) -> Vec<TarEntry> {
    fn text(field: &[u8]) -> String {
        let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
        String::from_utf8_lossy(&field[..end]).into_owned()
    }
    fn octal(field: &[u8]) -> u64 {
        let text = text(field);
        u64::from_str_radix(text.trim(), 8)
            .unwrap_or_else(|_| panic!("octal field `{text}` in the tarball"))
    }
    let mut entries = Vec::new();
    let mut offset = 0;
    let mut pax: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    while offset + 512 <= bytes.len() {
        let header = &bytes[offset..offset + 512];
        if header.iter().all(|&b| b == 0) {
            break;
        }
        let mut summed = header.to_vec();
        summed[148..156].copy_from_slice(b"        ");
        assert_eq!(
            summed.iter().map(|&b| u64::from(b)).sum::<u64>(),
            octal(&header[148..156]),
            "header checksum at offset {offset}"
        );
        let size = octal(&header[124..136]) as usize;
        let kind = header[156];
        let data = bytes[offset + 512..offset + 512 + size].to_vec();
        offset += 512 + size.div_ceil(512) * 512;
        if kind == b'x' {
            let mut rest = data.as_slice();
            while !rest.is_empty() {
                let space = rest.iter().position(|&b| b == b' ').unwrap();
                let length: usize = std::str::from_utf8(&rest[..space])
                    .unwrap()
                    .parse()
                    .unwrap();
                let record = &rest[space + 1..length - 1];
                let equals = record.iter().position(|&b| b == b'=').unwrap();
                pax.insert(
                    String::from_utf8_lossy(&record[..equals]).into_owned(),
                    record[equals + 1..].to_vec(),
                );
                rest = &rest[length..];
            }
            continue;
        }
        assert_ne!(kind, b'g', "no global PAX headers");
        let prefix = text(&header[345..500]);
        let mut path = text(&header[..100]);
        if !prefix.is_empty() {
            path = format!("{prefix}/{path}");
        }
        if let Some(long) = pax.remove("path") {
            path = String::from_utf8(long).unwrap();
        }
        let mut link = text(&header[157..257]);
        if let Some(long) = pax.remove("linkpath") {
            link = String::from_utf8(long).unwrap();
        }
        let xattrs = std::mem::take(&mut pax)
            .into_iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("SCHILY.xattr.")?.to_owned(), v)))
            .collect();
        let path = path.trim_start_matches("./").trim_end_matches('/');
        entries.push(TarEntry {
            path: if path == "." {
                String::new()
            } else {
                path.to_owned()
            },
            kind,
            mode: octal(&header[100..108]) as u32,
            uid: octal(&header[108..116]) as u32,
            gid: octal(&header[116..124]) as u32,
            mtime: octal(&header[136..148]) as i64,
            link,
            data,
            xattrs,
        });
    }
    entries
}

/// The tarball (another build of the same lock) holds exactly the directory's tree: the same
/// paths, types, modes (setuid included), owners, mtimes, bytes, link targets and extended
/// attributes, a hard link entry for each further name of an inode. `/dev` is the tarball's
/// own static one.
fn check_tar_matches_dir(entries: &[TarEntry], dir: &Path) {
    let tree = walk(dir);
    let mut first_name: BTreeMap<(u64, u64), &str> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for entry in entries {
        if entry.path == "dev" || entry.path.starts_with("dev/") {
            continue;
        }
        let what = format!("`{}` in the tarball", entry.path);
        let node = tree
            .get(&entry.path)
            .unwrap_or_else(|| panic!("{what} is not in the directory output"));
        assert!(seen.insert(entry.path.as_str()), "{what} twice");
        let kind = match entry.kind {
            b'0' | b'1' => 'f',
            b'2' => 'l',
            b'5' => 'd',
            other => panic!("{what}: type {other}"),
        };
        assert_eq!(kind, node.kind, "{what}: type");
        assert_eq!(entry.mode, node.mode, "{what}: mode");
        assert_eq!(
            (entry.uid, entry.gid),
            (node.uid, node.gid),
            "{what}: owner"
        );
        assert_eq!(entry.mtime, node.mtime, "{what}: mtime");
        assert_eq!(entry.xattrs, node.xattrs, "{what}: xattrs");
        match entry.kind {
            b'0' => {
                assert_eq!(entry.data, node.content, "{what}: content");
                assert!(
                    first_name.insert(node.inode, &entry.path).is_none(),
                    "{what}: a second name of an inode written as a file"
                );
            }
            b'1' => {
                let target = first_name
                    .get(&node.inode)
                    .unwrap_or_else(|| panic!("{what}: a hard link before its inode's first name"));
                assert_eq!(entry.link, format!("./{target}"), "{what}: link target");
            }
            b'2' => assert_eq!(entry.link, node.link, "{what}: symlink target"),
            _ => {}
        }
    }
    let missing: Vec<&String> = tree.keys().filter(|p| !seen.contains(p.as_str())).collect();
    assert!(missing.is_empty(), "not in the tarball: {missing:?}");
}

/// A normal user's home with `build`'s profile, lock, keyring and cache (copied after a root
/// build made them) and its own copy of debroot, all the user's.
struct UserHome {
    user: &'static str,
    home: tempfile::TempDir,
    exe: PathBuf,
    mirror: String,
}

impl UserHome {
    fn new(build: &Build) -> Self {
        let user = common::user::unprivileged_user();
        let home = tempfile::tempdir().unwrap();
        for name in ["p.toml", "p.lock", "keyring.gpg"] {
            std::fs::copy(build.path().join(name), home.path().join(name)).unwrap();
        }
        let status = Command::new("cp")
            .arg("-r")
            .arg(build.path().join("cache"))
            .arg(home.path())
            .status()
            .unwrap();
        assert!(status.success());
        let exe = home.path().join("debroot");
        std::fs::copy(env!("CARGO_BIN_EXE_debroot"), &exe).unwrap();
        let status = Command::new("chown")
            .args(["-R", user])
            .arg(home.path())
            .status()
            .unwrap();
        assert!(status.success());
        UserHome {
            user,
            home,
            exe,
            mirror: build.fixture.mirror(),
        }
    }

    fn path(&self) -> &Path {
        self.home.path()
    }

    /// `debroot build p.toml -o OUTPUT --frozen --mode MODE EXTRA...` as the user, in the home.
    fn build(&self, output: &str, mode: &str, extra: &[&str]) -> Output {
        Command::new("runuser")
            .args(["-u", self.user, "--"])
            .arg(&self.exe)
            .args(["build", "p.toml", "-o", output, "--frozen", "--mode", mode])
            .args(["--mirror", &self.mirror, "--cache-dir", "cache"])
            .args(extra)
            .current_dir(self.path())
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("HOME", self.path())
            .env("SOURCE_DATE_EPOCH", EPOCH.to_string())
            .output()
            .unwrap()
    }
}

/// `unshare` mode, as a normal user with subordinate ids (the one the live tests use): the
/// main fixture, maintainer scripts and all, gives the same tarball as root mode.
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn unshare_as_a_user_equals_root() {
    common::tools::require("newuidmap");
    common::tools::require("newgidmap");
    let build = Build::new(test_packages());
    let root_tar = build.build("root.tar", "root");
    let user = UserHome::new(&build);
    let run = user.build("user.tar", "unshare", &[]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "as {}: {}",
        user.user,
        stderr(&run)
    );
    let home = user.path();
    let user_tar = std::fs::read(home.join("user.tar")).unwrap();
    let root_bytes = std::fs::read(&root_tar).unwrap();
    if user_tar != root_bytes {
        let diff = Command::new(env!("CARGO_BIN_EXE_debroot"))
            .arg("diff")
            .arg(&root_tar)
            .arg(home.join("user.tar"))
            .output()
            .unwrap();
        panic!(
            "unshare mode as {} built other bytes than root mode:\n{}",
            user.user,
            String::from_utf8_lossy(&diff.stdout)
        );
    }
    // `-o -`: the child in the user namespace writes the tarball into the work directory and
    // the parent streams it: the same bytes on stdout, and no file.
    let streamed = user.build("-", "unshare", &[]);
    assert_eq!(streamed.status.code(), Some(0), "{}", stderr(&streamed));
    assert!(
        streamed.stdout == root_bytes,
        "`-o -` in unshare mode streamed other bytes than root mode's tarball"
    );
    assert!(!home.join("-").exists());
}

/// docs/THREATS.md rule 11 and G6: a normal user's directory output (extract mode: every file the
/// user's; unshare mode: the image's root is the user, its other ids the user's subordinate
/// ids) holds setuid and setgid programs that other users could run as the user. Its top
/// directory is 0700, so no other user reaches them; the modes inside stay exact, and the
/// build says why.
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn a_users_directory_output_gives_other_users_no_set_id_program() {
    common::tools::require("newuidmap");
    common::tools::require("newgidmap");
    let build = Build::new(vec![
        Package::new("t-suid", "1.0-1").member(Member::file(
            "./usr/bin/t-suid",
            0o4755,
            b"#!/bin/sh\nid\n",
        )),
        Package::new("t-sgid", "1.0-1").member(Member {
            gid: 42,
            ..Member::file("./usr/bin/t-sgid", 0o2755, b"#!/bin/sh\nid\n")
        }),
    ]);
    build.build("root.tar", "root");
    let user = UserHome::new(&build);
    let home = user.path();
    // The home others may enter: only the output's own mode keeps them out.
    std::fs::set_permissions(home, std::fs::Permissions::from_mode(0o755)).unwrap();
    for mode in ["extract", "unshare"] {
        let output = format!("{mode}-out");
        let run = user.build(&output, mode, &["--format", "dir"]);
        assert_eq!(
            run.status.code(),
            Some(0),
            "{mode} as {}: {}",
            user.user,
            stderr(&run)
        );
        let out = home.join(&output);
        assert_eq!(
            meta(&out, "").mode() & 0o7777,
            0o700,
            "{mode}: the top directory"
        );
        assert_eq!(
            meta(&out, "usr/bin/t-suid").mode() & 0o7777,
            0o4755,
            "{mode}"
        );
        assert_eq!(
            meta(&out, "usr/bin/t-sgid").mode() & 0o7777,
            0o2755,
            "{mode}"
        );
        assert!(
            stderr(&run).contains("setuid or setgid files owned by you"),
            "{mode}: {}",
            stderr(&run)
        );
        // Another user cannot reach them.
        for program in ["usr/bin/t-suid", "usr/bin/t-sgid"] {
            let reach = Command::new("runuser")
                .args(["-u", "nobody", "--", "test", "-e"])
                .arg(out.join(program))
                .status()
                .unwrap();
            assert!(!reach.success(), "{mode}: `nobody` reaches {program}");
        }
    }
}

/// docs/THREATS.md rule 14 in `unshare` mode: the child in the user namespace reads the `.deb`s its
/// parent opened and verified (inherited descriptors), not the cache's paths: a package swapped
/// for another with the same name, version and architecture after the fetch (by a setup hook)
/// changes nothing, and the tarball is root mode's.
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn unshare_reads_the_packages_its_parent_verified() {
    common::tools::require("newuidmap");
    common::tools::require("newgidmap");
    let build = Build::new(vec![Package::new("t-suid", "1.0-1").member(Member::file(
        "./usr/bin/t-suid",
        0o4755,
        b"#!/bin/sh\nid\n",
    ))]);
    let root_tar = build.build("root.tar", "root");
    let user = UserHome::new(&build);
    let home = user.path();
    // No decompressed copies: the build reads the `.deb`s themselves.
    std::fs::remove_dir_all(home.join("cache/v1/derived")).unwrap();
    let (_, _, deb) = build
        .fixture
        .written
        .debs
        .iter()
        .find(|(name, _, _)| name == "t-suid")
        .expect("t-suid written");
    let digest = repo::sha256_hex(deb);
    let blob = home
        .join("cache/v1/sha256")
        .join(&digest[..2])
        .join(&digest);
    let evil = Package::new("t-suid", "1.0-1")
        .member(Member::file(
            "./usr/bin/t-suid",
            0o4755,
            b"#!/bin/sh\nevil\n",
        ))
        .deb();
    std::fs::write(home.join("evil.deb"), evil).unwrap();
    let swap = format!(
        "ln -sf {} {}",
        home.join("evil.deb").display(),
        blob.display()
    );
    let run = user.build("user.tar", "unshare", &["--setup-hook", &swap]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert!(
        std::fs::symlink_metadata(&blob)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the hook swapped the blob"
    );
    assert!(
        std::fs::read(home.join("user.tar")).unwrap() == std::fs::read(&root_tar).unwrap(),
        "unshare mode read the swapped package"
    );
}

/// The main fixture as squashfs, erofs and ext4 images with dm-verity: each passes its own
/// checker, holds the tree of the tarball of the same lock (`debroot diff` of the loop-mounted
/// image against the tarball finds nothing, against the directory only the tarball's static
/// `/dev`), records that tree's digest and its hash tree in the manifest, rebuilds to the same
/// bytes, and its hash tree passes `veritysetup verify` and fails it once a byte is flipped.
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown, loop devices)"]
fn images_hold_the_tree_of_the_tarball() {
    common::tools::require("veritysetup");
    common::tools::require("fsck.erofs");
    common::tools::require("e2fsck");
    common::tools::require("unsquashfs");
    let build = Build::new(test_packages());
    build.build("out", "root");
    let tar = build.build("out.tar", "root");
    let tar_manifest = read_manifest(&tar);
    let run = |args: &[&str]| {
        let out = common::debroot(build.path(), args, &[]);
        (out.status.code(), common::stdout(&out), stderr(&out))
    };
    for (format, checker) in [
        ("erofs", &["fsck.erofs"][..]),
        ("ext4", &["e2fsck", "-fn"][..]),
        ("squashfs", &["unsquashfs", "-lln"][..]),
    ] {
        let name = format!("out.{format}");
        let epoch = EPOCH.to_string();
        let built = |output: &str| {
            let out = build.fixture.run(
                &[
                    "build", "p.toml", "-o", output, "--mode", "root", "--verity",
                ],
                &[("SOURCE_DATE_EPOCH", &epoch)],
            );
            assert_eq!(out.status.code(), Some(0), "{output}: {}", stderr(&out));
            build.path().join(output)
        };
        let image = built(&name);
        let manifest = read_manifest(&image);
        assert_eq!(manifest["format"], format);
        assert_eq!(
            manifest["tree_sha256"], tar_manifest["output_sha256"],
            "{format}: the image's tree is the tarball's"
        );
        assert_eq!(
            manifest["output_sha256"].as_str().unwrap(),
            repo::sha256_hex(&std::fs::read(&image).unwrap())
        );
        let checked = Command::new(checker[0])
            .args(&checker[1..])
            .arg(&image)
            .output()
            .unwrap();
        assert!(
            checked.status.success(),
            "{format}: {checker:?}: {}",
            stderr(&checked)
        );
        if format == "squashfs" {
            let listing = String::from_utf8_lossy(&checked.stdout);
            assert!(listing.contains("-rwsr-xr-x 0/0"), "{listing}");
            assert!(listing.contains("/usr/bin/t-suid"), "{listing}");
        }

        // The loop-mounted image against the tarball and the directory.
        let (code, out, err) = run(&["diff", &name, "out.tar"]);
        assert_eq!(code, Some(0), "{format} against the tarball:\n{out}\n{err}");
        // A directory has no static `/dev`: `diff` compares what both can hold (the image's
        // `/dev` nodes are left out of the comparison, as between a directory and a tarball).
        let (code, out, err) = run(&["diff", "--format", "json", &name, "out"]);
        assert_eq!(
            code,
            Some(0),
            "{format} against the directory:\n{out}\n{err}"
        );
        let summary: serde_json::Value =
            serde_json::from_str(out.lines().last().unwrap_or("{}")).unwrap();
        assert_eq!(summary["differences"], 0, "{format}: {out}");

        // The hash tree: the manifest's root hash verifies, a flipped byte does not.
        let verity = &manifest["verity"];
        let root_hash = verity["root_hash"].as_str().unwrap().to_owned();
        let hash_file = build.path().join(format!("{name}.verity"));
        assert_eq!(
            std::fs::read_to_string(build.path().join(format!("{name}.roothash"))).unwrap(),
            format!("{root_hash}\n")
        );
        assert_eq!(verity["salt"].as_str().unwrap().len(), 64);
        let verify = |data: &Path| {
            Command::new("veritysetup")
                .arg("verify")
                .arg(data)
                .arg(&hash_file)
                .arg(&root_hash)
                .output()
                .unwrap()
        };
        let verified = verify(&image);
        assert!(verified.status.success(), "{format}: {}", stderr(&verified));
        let flipped = build.path().join(format!("flipped.{format}"));
        let mut bytes = std::fs::read(&image).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x01;
        std::fs::write(&flipped, bytes).unwrap();
        assert!(
            !verify(&flipped).status.success(),
            "{format}: a flipped byte verified"
        );

        // A rebuild gives the same image and hash tree.
        let again = built(&format!("again.{format}"));
        assert!(
            std::fs::read(&image).unwrap() == std::fs::read(&again).unwrap(),
            "{format}: rebuilt image differs"
        );
        assert_eq!(
            std::fs::read(&hash_file).unwrap(),
            std::fs::read(build.path().join(format!("again.{format}.verity"))).unwrap()
        );
    }
}

fn read_manifest(output: &Path) -> serde_json::Value {
    let mut name = output.as_os_str().to_owned();
    name.push(".manifest.json");
    serde_json::from_slice(&std::fs::read(PathBuf::from(name)).unwrap()).unwrap()
}
