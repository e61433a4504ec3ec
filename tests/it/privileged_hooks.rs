//! Customize hooks (DESIGN §7, docs/THREATS.md D6) on the fixture archive: the host's own base
//! (`common::hostbase`) and one package on top, built in `root` and `extract` mode.
//!
//! The hooks log to a file beside the profile (they run on the host's files, the root being
//! `$1`), so each test reads what every hook saw: its phase, its `$1`, its environment, the
//! state of the root at that moment.
//!
//! These tests need root (namespaces, chroot, chown); `bash tests/run` runs them as root.

use crate::common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::deb::Package;
use common::fixture::Fixture;
use common::invariants::{Sentinel, assert_no_mounts_below, assert_no_processes_below, work_dirs};
use common::{hostbase, repo, stderr};

const EPOCH: &str = "1700000000";

/// A fixture archive with the host base and `t-app`, a profile `p.toml` including it (with
/// `build` settings `build`), and a folder `hooks/` for hook files.
struct Hooks {
    fixture: Fixture,
}

impl Hooks {
    fn new(build: &str) -> Self {
        let mut packages = hostbase::packages();
        packages.push(
            Package::new("t-app", "1.0-1")
                .file("./usr/share/t-app/data", "app data\n")
                .script(
                    "postinst",
                    "#!/bin/sh\nset -e\necho configured > /usr/share/t-app/configured\n",
                ),
        );
        let fixture = Fixture::new(repo::trixie(packages));
        fixture.write_profile(
            "",
            &format!(
                "[packages]\nvariant = \"minbase\"\ninclude = [\"t-app\"]\n[build]\nhooks = [\"hooks\"]\n{build}\n"
            ),
        );
        std::fs::create_dir(fixture.path().join("hooks")).unwrap();
        Hooks { fixture }
    }

    fn path(&self) -> &Path {
        self.fixture.path()
    }

    /// Writes an executable hook file `hooks/NAME`.
    fn hook(&self, name: &str, body: &str) {
        let path = self.path().join("hooks").join(name);
        std::fs::write(&path, body).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn log(&self) -> PathBuf {
        self.path().join("hook.log")
    }

    fn build(&self, output: &str, mode: &str, extra: &[&str], env: &[(&str, &str)]) -> Output {
        let mut args = vec!["build", "p.toml", "-o", output, "--mode", mode];
        args.extend_from_slice(extra);
        let mut all = vec![("SOURCE_DATE_EPOCH", EPOCH)];
        all.extend_from_slice(env);
        self.fixture.run(&args, &all)
    }

    fn assert_built(&self, run: &Output) {
        assert_eq!(run.status.code(), Some(0), "{}", stderr(run));
    }

    /// Nothing of a failed build is left: no output, no work directory, no mount, no process.
    fn assert_nothing_left(&self, output: &str) {
        let out = self.path().join(output);
        assert!(!out.exists(), "no output after a failure");
        assert!(work_dirs(&out).is_empty(), "{:?}", work_dirs(&out));
        assert_no_mounts_below(self.path());
        assert_no_processes_below(self.path());
    }
}

/// Each phase's hooks run in order with the root as `$1` and see the root as it is then: empty
/// (setup), the Essential set unpacked but not configured (extract), configured (essential),
/// everything installed (customize). Folder hooks run in byte order of their names, before
/// those of the command line.
fn phases(mode: &str) {
    let hooks = Hooks::new("");
    let log = hooks.log();
    let record = |phase: &str, what: &str| {
        format!(
            "#!/bin/sh\nset -e\n[ \"$1\" = \"$DEBROOT_ROOT\" ] || {{ echo \"bad \\$1: $1\"; exit 1; }}\nprintf '%s %s\\n' \"{phase}\" \"$({what})\" >> {}\n",
            log.display()
        )
    };
    let count = "ls -A \"$1\" | wc -l";
    let dpkg_status =
        "sed -n '/^Package: dpkg$/,/^$/p' \"$1/var/lib/dpkg/status\" 2>/dev/null | grep '^Status:'";
    let app = "cat \"$1/usr/share/t-app/configured\" 2>/dev/null || echo absent";
    hooks.hook("setup10-count", &record("$DEBROOT_PHASE", count));
    hooks.hook("extract10-dpkg", &record("$DEBROOT_PHASE", dpkg_status));
    hooks.hook("essential10-dpkg", &record("$DEBROOT_PHASE", dpkg_status));
    hooks.hook("customize20-app", &record("$DEBROOT_PHASE-20", app));
    hooks.hook("customize10-app", &record("$DEBROOT_PHASE-10", app));
    std::fs::write(hooks.path().join("hooks/README"), "not a hook\n").unwrap();
    let cli = format!("echo \"cli $DEBROOT_PHASE\" >> {}", log.display());
    let run = hooks.build(
        "out",
        mode,
        &["--customize-hook", &cli, "--setup-hook", &cli],
        &[],
    );
    hooks.assert_built(&run);
    let lines = std::fs::read_to_string(&log).unwrap();
    let expected = if mode == "extract" {
        // No dpkg database, no scripts, no essential hooks.
        "setup 0\ncli setup\nextract \ncustomize-10 absent\ncustomize-20 absent\ncli customize\n"
    } else {
        "setup 0\ncli setup\nextract Status: install ok unpacked\nessential Status: install ok installed\ncustomize-10 configured\ncustomize-20 configured\ncli customize\n"
    };
    assert_eq!(lines, expected, "{}", stderr(&run));
    // The essential hook is skipped, and said so, in extract mode.
    assert_eq!(
        stderr(&run).contains("essential hooks do not run in extract mode"),
        mode == "extract"
    );
}

#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn phases_in_root_mode() {
    phases("root");
}

#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn phases_in_extract_mode() {
    phases("extract");
}

/// The environment is the documented contract and nothing else: the host's variables (secrets
/// included) are gone unless `build.pass-env` names them; `build.env` settings arrive as set.
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn environment_contract() {
    let hooks = Hooks::new(
        "pass-env = [\"TEST_PASSED\", \"TEST_UNSET\"]\n[build.env]\nKIOSK_URL = \"https://kiosk.example/\"\nKIOSK_USER = \"kiosk\"\n",
    );
    let dump = hooks.path().join("env.txt");
    let run = hooks.build(
        "out",
        "root",
        &["--customize-hook", &format!("env > {}", dump.display())],
        &[
            ("SSH_AUTH_SOCK", "/run/user/0/ssh-agent"),
            ("GNUPGHOME", "/root/.gnupg-secret"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("https_proxy", "http://user:password@proxy:3128"),
            ("TEST_PASSED", "passed value"),
            ("HOME", "/nonexistent-host-home"),
        ],
    );
    hooks.assert_built(&run);
    let env: BTreeMap<String, String> = std::fs::read_to_string(&dump)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let root_of_build = env["DEBROOT_ROOT"].clone();
    let path = env["PATH"].clone();
    let exe_dir = Path::new(env!("CARGO_BIN_EXE_debroot")).parent().unwrap();
    let profile = hooks.path().join("p.toml");
    let expected: BTreeMap<String, String> = [
        ("DEBROOT_PHASE", "customize"),
        ("DEBROOT_MODE", "root"),
        ("DEBROOT_SUITE", "trixie"),
        ("DEBROOT_ARCH", "amd64"),
        ("DEBROOT_PROFILE", profile.to_str().unwrap()),
        ("DEBROOT_ROOT", &root_of_build),
        ("SOURCE_DATE_EPOCH", EPOCH),
        ("PATH", &path),
        ("LC_ALL", "C.UTF-8"),
        ("LANG", "C.UTF-8"),
        ("TZ", "UTC"),
        ("HOME", "/root"),
        ("DEBIAN_FRONTEND", "noninteractive"),
        ("DEBCONF_NONINTERACTIVE_SEEN", "true"),
        ("KIOSK_URL", "https://kiosk.example/"),
        ("KIOSK_USER", "kiosk"),
        ("TEST_PASSED", "passed value"),
        // What the shell itself sets.
        ("PWD", hooks.path().to_str().unwrap()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let env: BTreeMap<String, String> = env.into_iter().filter(|(k, _)| k != "OLDPWD").collect();
    assert_eq!(env, expected);
    // The `chroot` shim's folder (in the work directory, beside the root) comes first.
    let shim_dir = Path::new(&root_of_build).parent().unwrap().join("hook-bin");
    assert_eq!(
        path,
        format!(
            "{}:{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            shim_dir.display(),
            exe_dir.display()
        )
    );
    assert!(root_of_build.contains(".out.debroot-"), "{root_of_build}");
}

/// An executable file named on the command line runs with `$1`; anything else is a snippet; a
/// hook written for mmdebstrap (`chroot "$1" ...`) runs unchanged, with `/proc` and `/dev` in
/// the root while it runs and nothing of them left after; `debroot hook chroot` runs in the
/// root with the scripts' environment.
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn executable_snippet_and_mmdebstrap_style() {
    let hooks = Hooks::new("");
    let script = hooks.path().join("my-hook.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\necho \"file hook $#: $1\" > \"$1/etc/file-hook\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = hooks.build(
        "out",
        "root",
        &[
            "--customize-hook",
            script.to_str().unwrap(),
            "--customize-hook",
            "chroot \"$1\" sh -c 'ls /proc/1 > /dev/null && echo $SOURCE_DATE_EPOCH > /etc/mmdebstrap-style'",
            "--customize-hook",
            "debroot hook chroot -- sh -c 'echo \"$HOME $PATH\" > /etc/helper-chroot; readlink /proc/self/root >> /etc/helper-chroot'",
        ],
        &[],
    );
    hooks.assert_built(&run);
    let out = hooks.path().join("out");
    let file_hook = std::fs::read_to_string(out.join("etc/file-hook")).unwrap();
    assert!(file_hook.starts_with("file hook 1: /"), "{file_hook}");
    assert!(file_hook.contains(".out.debroot-"), "{file_hook}");
    assert_eq!(
        std::fs::read_to_string(out.join("etc/mmdebstrap-style")).unwrap(),
        format!("{EPOCH}\n")
    );
    assert_eq!(
        std::fs::read_to_string(out.join("etc/helper-chroot")).unwrap(),
        "/root /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n/\n"
    );
    // Nothing the namespace mounted stayed in the tree.
    for dir in ["proc", "sys", "dev"] {
        let path = out.join(dir);
        if path.exists() {
            assert!(
                std::fs::read_dir(&path).unwrap().next().is_none(),
                "`{dir}` is not empty"
            );
        }
    }
    assert_no_mounts_below(hooks.path());
}

/// `chroot "$1" CMD` in a hook is debroot's shim: CMD runs confined as `debroot hook chroot`
/// runs it (its bounding set lacks CAP_SYS_PTRACE, which the hook keeps), with the hook's
/// stdin, stdout and stderr and its own exit status, `chroot "$1/"` included; `chroot` of
/// another folder and `chroot --version` are the host's chroot(8).
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn chroot_in_a_hook_is_confined_and_keeps_streams_and_status() {
    let hooks = Hooks::new("");
    let hook = r#"set -e
cd "$PWD"
grep CapBnd /proc/self/status > hook.cap
echo piped | chroot "$1" sh -c 'cat > /etc/piped; cat /proc/self/status; echo to-stderr >&2; exit 3' > chroot.out 2> chroot.err || echo "status $?" > chroot.status
chroot "$1/" cat /etc/piped > slash.out
status=0; chroot /nonexistent-debroot-test true 2> other.err || status=$?
echo "status $status" > other.status
chroot --version > version
"#;
    let run = hooks.build("out", "root", &["--customize-hook", hook], &[]);
    hooks.assert_built(&run);
    let read = |name: &str| std::fs::read_to_string(hooks.path().join(name)).unwrap();
    let bounding = |text: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix("CapBnd:"))
            .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
            .unwrap_or_else(|| panic!("no CapBnd in {text:?}"))
    };
    // CAP_SYS_PTRACE is 19.
    assert_ne!(
        bounding(&read("hook.cap")) & (1 << 19),
        0,
        "the hook keeps it"
    );
    assert_eq!(
        bounding(&read("chroot.out")) & (1 << 19),
        0,
        "CMD is confined"
    );
    assert_eq!(read("chroot.err"), "to-stderr\n");
    assert_eq!(read("chroot.status"), "status 3\n");
    assert_eq!(
        std::fs::read_to_string(hooks.path().join("out/etc/piped")).unwrap(),
        "piped\n"
    );
    assert_eq!(read("slash.out"), "piped\n");
    assert_eq!(read("other.status"), "status 125\n");
    assert!(
        read("other.err").contains("cannot change root directory"),
        "{}",
        read("other.err")
    );
    assert!(read("version").contains("coreutils"), "{}", read("version"));
    assert_no_mounts_below(hooks.path());
}

/// A hook that fails, is killed, or runs out of time fails the build with exit 8, naming the
/// hook, how it ended and its last lines; nothing is left behind (docs/THREATS.md D6 c, d; I2-I6).
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn failing_hooks() {
    let hooks = Hooks::new("");
    let cases: [(&[&str], &[&str]); 4] = [
        (
            &["--customize-hook", "echo 'last words of the hook'; exit 3"],
            &[
                "--customize-hook 'echo 'last words of the hook'; exit 3'",
                "exit status 3",
                "last words of the hook",
            ],
        ),
        (
            &["--essential-hook", "echo dying; kill -KILL $$"],
            &[
                "--essential-hook 'echo dying; kill -KILL $$'",
                "killed by signal 9",
                "dying",
            ],
        ),
        (
            &[
                "--hook-timeout",
                "2",
                "--setup-hook",
                "echo sleeping; setsid sleep 1000 & sleep 1000",
            ],
            &["timed out after 2 s", "sleeping"],
        ),
        (
            &["--extract-hook", "/nonexistent/hook"],
            &["--extract-hook '/nonexistent/hook'", "exit status 127"],
        ),
    ];
    for (args, needles) in cases {
        let started = std::time::Instant::now();
        let run = hooks.build("out.tar", "root", args, &[]);
        let text = stderr(&run);
        assert_eq!(run.status.code(), Some(8), "{args:?}:\n{text}");
        for needle in needles {
            assert!(text.contains(needle), "`{needle}` in:\n{text}");
        }
        assert!(!text.contains("panicked"), "{text}");
        assert!(started.elapsed().as_secs() < 60, "{args:?} took too long");
        hooks.assert_nothing_left("out.tar");
    }
}

/// A hook file that is not executable, or a hook folder that does not exist, is refused before
/// anything is downloaded (exit 2).
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn bad_hook_files_are_refused_first() {
    let hooks = Hooks::new("");
    std::fs::write(hooks.path().join("hooks/customize-oops"), "echo\n").unwrap();
    let run = hooks.build("out", "root", &[], &[]);
    let text = stderr(&run);
    assert_eq!(run.status.code(), Some(2), "{text}");
    assert!(
        text.contains("customize-oops") && text.contains("not an executable file"),
        "{text}"
    );
    assert!(
        hooks.fixture.package_requests().is_empty(),
        "nothing downloaded"
    );
    std::fs::remove_file(hooks.path().join("hooks/customize-oops")).unwrap();
    std::fs::remove_dir(hooks.path().join("hooks")).unwrap();
    let run = hooks.build("out", "root", &[], &[]);
    let text = stderr(&run);
    assert_eq!(run.status.code(), Some(2), "{text}");
    assert!(text.contains("cannot read the hook folder"), "{text}");
}

/// The helpers, each once, from a customize hook; paths in the root resolve inside it, so a
/// planted `etc/resolv.conf -> HOST_SENTINEL` is written inside the root or refused, never
/// through to the host (docs/THREATS.md D6 a).
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn helpers_move_files_across_the_boundary_safely() {
    let hooks = Hooks::new("");
    let sentinel = Sentinel::create(hooks.path());
    let before = std::fs::read(&sentinel.file).unwrap();
    let host = hooks.path().join("host");
    std::fs::create_dir_all(host.join("tree/sub")).unwrap();
    std::fs::write(host.join("tree/sub/file"), "synced\n").unwrap();
    std::fs::set_permissions(
        host.join("tree/sub/file"),
        std::fs::Permissions::from_mode(0o4750),
    )
    .unwrap();
    std::os::unix::fs::symlink("sub/file", host.join("tree/link")).unwrap();
    std::fs::write(host.join("resolv.conf"), "nameserver 192.0.2.53\n").unwrap();
    std::fs::write(host.join("motd"), "welcome\n").unwrap();
    let script = format!(
        r#"#!/bin/sh
set -e
cd {host}
ln -s {sentinel} "$1/etc/resolv.conf"
if debroot hook copy-in resolv.conf /etc 2> copy-in.err; then echo copied > resolv.result; else echo refused > resolv.result; fi
debroot hook copy-in motd tree /etc
debroot hook sync-in tree /opt/synced
debroot hook tar-out /opt/synced out.tar.gz
debroot hook tar-in out.tar.gz /srv/untarred
mkdir -p out-copy out-sync
debroot hook copy-out /etc/motd /usr/share/t-app out-copy
debroot hook sync-out /srv/untarred out-sync
"#,
        host = host.display(),
        sentinel = sentinel.file.display(),
    );
    hooks.hook("customize-helpers", &script);
    let run = hooks.build("out", "root", &[], &[]);
    hooks.assert_built(&run);
    let out = hooks.path().join("out");
    // D6 a: the sentinel is untouched; the planted link is still a link in the image.
    assert_eq!(std::fs::read(&sentinel.file).unwrap(), before);
    assert_eq!(
        std::fs::read_link(out.join("etc/resolv.conf")).unwrap(),
        sentinel.file
    );
    let result = std::fs::read_to_string(host.join("resolv.result")).unwrap();
    assert_eq!(
        result, "refused\n",
        "the link's target has no folder in the root"
    );
    let inside = out.join(sentinel.file.strip_prefix("/").unwrap());
    assert!(!inside.exists());
    // copy-in: a file and a tree, modes and links kept.
    assert_eq!(
        std::fs::read_to_string(out.join("etc/motd")).unwrap(),
        "welcome\n"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("etc/tree/sub/file")).unwrap(),
        "synced\n"
    );
    let mode = |p: &Path| std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&out.join("etc/tree/sub/file")), 0o4750);
    assert_eq!(
        std::fs::read_link(out.join("etc/tree/link")).unwrap(),
        Path::new("sub/file")
    );
    // sync-in, then out through tar-out and tar-in.
    for dir in ["opt/synced", "srv/untarred"] {
        assert_eq!(
            std::fs::read_to_string(out.join(dir).join("sub/file")).unwrap(),
            "synced\n",
            "{dir}"
        );
        assert_eq!(mode(&out.join(dir).join("sub/file")), 0o4750, "{dir}");
    }
    // copy-out and sync-out, to the host.
    assert_eq!(
        std::fs::read_to_string(host.join("out-copy/motd")).unwrap(),
        "welcome\n"
    );
    assert_eq!(
        std::fs::read_to_string(host.join("out-copy/t-app/data")).unwrap(),
        "app data\n"
    );
    assert_eq!(
        std::fs::read_to_string(host.join("out-sync/sub/file")).unwrap(),
        "synced\n"
    );
    assert_eq!(
        std::fs::read_link(host.join("out-sync/link")).unwrap(),
        Path::new("sub/file")
    );
}

/// docs/THREATS.md G5: `sync-out` and `copy-out` run again over what an earlier run left on the
/// host. The first run copies the root's `x/f -> SENTINEL_FILE` and `x/d -> SENTINEL_DIR` out as
/// host symlinks; the second, after the root holds a setuid file at `f` and a folder at `d`,
/// replaces those symlinks instead of writing (and chmodding) through them. `tar-out` over a
/// symlink at the tarball's name replaces it too.
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn host_side_helpers_replace_symlinks_an_earlier_run_left() {
    let hooks = Hooks::new("");
    let sentinel = Sentinel::create(hooks.path());
    let before = common::invariants::snapshot(&sentinel.root, &[]);
    let host = hooks.path().join("host");
    std::fs::create_dir_all(host.join("out-copy")).unwrap();
    let script = format!(
        r#"#!/bin/sh
set -e
cd {host}
mkdir "$1/x"
ln -s {file} "$1/x/f"
ln -s {dir} "$1/x/d"
debroot hook sync-out /x out-sync
debroot hook copy-out /x out-copy
[ -L out-sync/f ] && [ -L out-sync/d ] && [ -L out-copy/x/f ] && [ -L out-copy/x/d ]
rm "$1/x/f" "$1/x/d"
echo payload > "$1/x/f"
chmod 4755 "$1/x/f"
mkdir "$1/x/d"
echo planted > "$1/x/d/inner"
debroot hook sync-out /x out-sync
debroot hook copy-out /x out-copy
ln -s {file} out.tar
debroot hook tar-out /x out.tar
rm -r "$1/x"
"#,
        host = host.display(),
        file = sentinel.file.display(),
        dir = sentinel.dir.display(),
    );
    hooks.hook("customize-again", &script);
    let run = hooks.build("out", "root", &[], &[]);
    hooks.assert_built(&run);
    assert_eq!(
        common::invariants::snapshot(&sentinel.root, &[]),
        before,
        "the sentinel is untouched"
    );
    for out in [host.join("out-sync"), host.join("out-copy/x")] {
        let f = std::fs::symlink_metadata(out.join("f")).unwrap();
        assert!(f.is_file(), "{}", out.display());
        assert_eq!(f.permissions().mode() & 0o7777, 0o4755);
        assert_eq!(std::fs::read_to_string(out.join("f")).unwrap(), "payload\n");
        assert!(std::fs::symlink_metadata(out.join("d")).unwrap().is_dir());
        assert_eq!(
            std::fs::read_to_string(out.join("d/inner")).unwrap(),
            "planted\n"
        );
    }
    assert!(
        std::fs::symlink_metadata(host.join("out.tar"))
            .unwrap()
            .is_file()
    );
}

/// With the folder the planted link points into present in the root, `copy-in` writes there:
/// inside the root, never to the host.
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn a_planted_link_is_followed_inside_the_root() {
    let hooks = Hooks::new("");
    let sentinel = Sentinel::create(hooks.path());
    let before = std::fs::read(&sentinel.file).unwrap();
    let host = hooks.path().join("host");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("resolv.conf"), "nameserver 192.0.2.53\n").unwrap();
    let inside_dir = sentinel.file.parent().unwrap().strip_prefix("/").unwrap();
    let script = format!(
        "#!/bin/sh\nset -e\nmkdir -p \"$1/{inside}\"\nln -s {sentinel} \"$1/etc/resolv.conf\"\ndebroot hook copy-in {host}/resolv.conf /etc\ncp \"$1/{inside}/sentinel_file\" {host}/landed\n",
        inside = inside_dir.display(),
        sentinel = sentinel.file.display(),
        host = host.display(),
    );
    hooks.hook("customize-resolv", &script);
    let run = hooks.build("out", "root", &[], &[]);
    hooks.assert_built(&run);
    assert_eq!(std::fs::read(&sentinel.file).unwrap(), before);
    // (The copy landed under the root's `/tmp`, which cleanup empties: the hook kept a copy.)
    assert_eq!(
        std::fs::read_to_string(host.join("landed")).unwrap(),
        "nameserver 192.0.2.53\n"
    );
}

/// `debroot verify` on a profile whose customize hook writes the time: exit 1, naming the
/// file that differs; without that hook the same profile is reproducible (exit 0) under the
/// verify's different conditions (umask, time zone, locale, host name, CPUs, cold cache).
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn verify_names_what_a_hook_makes_vary() {
    let hooks = Hooks::new("");
    let verify = |extra: &[&str]| {
        let mut args = vec!["verify", "p.toml", "--modes", "root"];
        args.extend_from_slice(extra);
        hooks.fixture.run(&args, &[("SOURCE_DATE_EPOCH", EPOCH)])
    };
    let run = verify(&[]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert!(stderr(&run).contains("Reproducible"), "{}", stderr(&run));

    hooks.hook(
        "customize50-date",
        "#!/bin/sh\ndate +%s.%N > \"$1/etc/build-date\"\n",
    );
    let run = verify(&["--format", "json"]);
    let text = format!("{}{}", common::stdout(&run), stderr(&run));
    assert_eq!(run.status.code(), Some(1), "{text}");
    assert!(
        text.contains("etc/build-date"),
        "the file is named:\n{text}"
    );
    let report: serde_json::Value =
        serde_json::from_str(common::stdout(&run).lines().last().expect("a JSON report")).unwrap();
    assert_eq!(report["reproducible"], false);
    assert_eq!(report["runs"].as_array().unwrap().len(), 2);
    // The outputs are kept for inspection.
    let kept = report["kept"].as_str().expect("kept outputs");
    assert!(Path::new(kept).exists());
    std::fs::remove_dir_all(kept).unwrap();
}

/// Hooks as a normal user: in `unshare` mode (root of the build's user namespace) a hook can
/// `chroot "$1"`, use `debroot hook chroot` and every copy helper, and the files it copies in
/// are root's in the image; in `extract` mode (no privilege, no namespace) the copy helpers
/// work and `debroot hook chroot` fails clearly.
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn hooks_as_a_user_in_unshare_and_extract_modes() {
    common::tools::require("newuidmap");
    common::tools::require("newgidmap");
    let hooks = Hooks::new("");
    let user = UserHome::new(&hooks);
    let home = user.home.path();
    std::fs::create_dir(home.join("host")).unwrap();
    std::fs::write(home.join("host/motd"), "from the host\n").unwrap();
    let hook = home.join("hooks/customize-user");
    std::fs::write(
        &hook,
        r#"#!/bin/sh
set -e
debroot hook copy-in host/motd /etc
debroot hook tar-out /etc host/etc-$DEBROOT_MODE.tar
if [ "$DEBROOT_MODE" = unshare ]; then
    chroot "$1" sh -c 'cat /proc/self/status > /etc/chroot-status'
    debroot hook chroot -- sh -c 'ls -ln /etc/motd > /etc/motd-owner'
else
    if debroot hook chroot -- true 2> host/chroot.err; then exit 1; fi
fi
"#,
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    user.give_home();
    for mode in ["unshare", "extract"] {
        let output = format!("{mode}-out");
        let run = user.build(&output, mode, &[]).output().unwrap();
        assert_eq!(
            run.status.code(),
            Some(0),
            "{mode} as {}: {}",
            user.name,
            stderr(&run)
        );
        let out = home.join(&output);
        assert_eq!(
            std::fs::read_to_string(out.join("etc/motd")).unwrap(),
            "from the host\n",
            "{mode}"
        );
        assert!(home.join(format!("host/etc-{mode}.tar")).exists(), "{mode}");
        if mode == "unshare" {
            // Root of the namespace: uid 0 inside, and the copied file is root's.
            let status = std::fs::read_to_string(out.join("etc/chroot-status")).unwrap();
            let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
            assert_eq!(
                uid.split_whitespace().nth(1),
                Some("0"),
                "root inside: {uid}"
            );
            let owner = std::fs::read_to_string(out.join("etc/motd-owner")).unwrap();
            let fields: Vec<&str> = owner.split_whitespace().collect();
            assert_eq!(fields.get(2..4), Some(&["0", "0"][..]), "{owner}");
        } else {
            let error = std::fs::read_to_string(home.join("host/chroot.err")).unwrap();
            assert!(error.contains("needs root"), "{error}");
        }
        assert!(work_dirs(&out).is_empty(), "{mode}: {:?}", work_dirs(&out));
    }
    assert_no_mounts_below(home);
    assert_no_processes_below(home);
}

/// A normal user's copy of the fixture profile (and its lock, made as root), with a `hooks/`
/// folder and its own copy of debroot, in a home of its own.
struct UserHome {
    name: &'static str,
    home: tempfile::TempDir,
    exe: PathBuf,
    mirror: String,
}

impl UserHome {
    fn new(hooks: &Hooks) -> Self {
        let name = common::user::unprivileged_user();
        // Lock as root first (the user reads the same lock).
        let run = hooks.build("root.tar", "root", &[], &[]);
        hooks.assert_built(&run);
        let home = tempfile::tempdir().unwrap();
        for file in ["p.toml", "p.lock", "keyring.gpg"] {
            std::fs::copy(hooks.path().join(file), home.path().join(file)).unwrap();
        }
        std::fs::create_dir(home.path().join("hooks")).unwrap();
        let exe = home.path().join("debroot");
        std::fs::copy(env!("CARGO_BIN_EXE_debroot"), &exe).unwrap();
        UserHome {
            name,
            home,
            exe,
            mirror: hooks.fixture.mirror(),
        }
    }

    /// Makes the home and all in it the user's (once its files are written).
    fn give_home(&self) {
        let chown = std::process::Command::new("chown")
            .args(["-R", self.name])
            .arg(self.home.path())
            .status()
            .unwrap();
        assert!(chown.success());
    }

    /// `debroot build p.toml -o OUTPUT --frozen --mode MODE EXTRA...` as the user, in the home.
    fn build(&self, output: &str, mode: &str, extra: &[&str]) -> std::process::Command {
        let id = |flag: &str| -> u32 {
            let output = std::process::Command::new("id")
                .args([flag, self.name])
                .output()
                .unwrap();
            common::stdout(&output).trim().parse().unwrap()
        };
        let mut command = std::process::Command::new(&self.exe);
        command
            .args(["build", "p.toml", "-o", output, "--frozen", "--mode", mode])
            .args(["--mirror", &self.mirror, "--cache-dir", "cache"])
            .args(extra)
            .current_dir(self.home.path())
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("HOME", self.home.path())
            .env("SOURCE_DATE_EPOCH", EPOCH)
            // Run as root, std drops the supplementary groups too.
            .uid(id("-u"))
            .gid(id("-g"));
        command
    }
}

/// The processes whose command line is `argv`.
fn processes_running(argv: &[&str]) -> Vec<String> {
    let mut wanted = Vec::new();
    for arg in argv {
        wanted.extend_from_slice(arg.as_bytes());
        wanted.push(0);
    }
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|entry| std::fs::read(entry.path().join("cmdline")).unwrap_or_default() == wanted)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Sends SIGTERM to the debroot `child` once its hook has made `marker` (within a minute),
/// and requires it to exit 143 saying it was interrupted.
fn terminate_once(child: std::process::Child, marker: &Path) {
    let waited = std::time::Instant::now();
    while !marker.exists() {
        assert!(waited.elapsed().as_secs() < 60, "the hook never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    rustix::process::kill_process(
        rustix::process::Pid::from_child(&child),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let output = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(143), "{text}");
    assert!(text.contains("interrupted"), "{text}");
}

/// Hooks of a normal user's builds leave nothing running, a daemon that double-forked and left
/// the process group with `setsid` included: when the hook ends, when it runs out of time, and
/// when debroot gets SIGTERM meanwhile. In `unshare` mode the hook's PID namespace sees to it;
/// in `extract` mode, without namespaces, debroot's reaper (a child subreaper) does.
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn a_users_hooks_leave_nothing_running() {
    common::tools::require("newuidmap");
    common::tools::require("newgidmap");
    let hooks = Hooks::new("");
    let user = UserHome::new(&hooks);
    user.give_home();
    let home = user.home.path();
    for mode in ["unshare", "extract"] {
        let output = format!("{mode}-ends");
        let daemon = "setsid sh -c 'sleep 1718 </dev/null >/dev/null 2>&1 &'";
        let run = user
            .build(&output, mode, &["--customize-hook", daemon])
            .output()
            .unwrap();
        assert_eq!(run.status.code(), Some(0), "{mode}: {}", stderr(&run));
        let left = processes_running(&["sleep", "1718"]);
        assert!(
            left.is_empty(),
            "{mode}: the daemon outlived its hook: {left:?}"
        );

        let output = format!("{mode}-slow");
        let slow = "setsid sleep 1719 </dev/null >/dev/null 2>&1 & sleep 1719";
        let run = user
            .build(
                &output,
                mode,
                &["--hook-timeout", "2", "--customize-hook", slow],
            )
            .output()
            .unwrap();
        let text = stderr(&run);
        assert_eq!(run.status.code(), Some(8), "{mode}: {text}");
        assert!(text.contains("timed out after 2 s"), "{mode}: {text}");
        let left = processes_running(&["sleep", "1719"]);
        assert!(
            left.is_empty(),
            "{mode}: a timed-out hook's processes live: {left:?}"
        );
        assert!(!home.join(&output).exists(), "{mode}: no output");
        assert!(work_dirs(&home.join(&output)).is_empty(), "{mode}");
    }

    let started = home.join("started");
    let hook = format!(
        "setsid sleep 1720 </dev/null >/dev/null 2>&1 & sleep 1720 & touch {}; wait",
        started.display()
    );
    let child = user
        .build("term-out", "extract", &["--customize-hook", &hook])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    terminate_once(child, &started);
    let left = processes_running(&["sleep", "1720"]);
    assert!(
        left.is_empty(),
        "an interrupted hook's processes live: {left:?}"
    );
    assert!(!home.join("term-out").exists(), "no output");
    assert!(work_dirs(&home.join("term-out")).is_empty());
    assert_no_mounts_below(home);
    assert_no_processes_below(home);
}

/// SIGTERM while a customize hook runs (docs/THREATS.md D4 at the hook): exit 143, the hook and
/// what it started in the background are gone, no output, no work directory, no mount.
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn sigterm_during_a_hook_cleans_up() {
    let hooks = Hooks::new("");
    let marker = hooks.path().join("hook-started");
    hooks.hook(
        "customize-sleep",
        &format!(
            "#!/bin/sh\nsetsid sleep 1717 &\nsleep 1717 &\ntouch {}\nwait\n",
            marker.display()
        ),
    );
    let cache = hooks.path().join("cache");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_debroot"))
        .args(["build", "p.toml", "-o", "out.tar", "--mode", "root"])
        .args(["--mirror", &hooks.fixture.mirror()])
        .arg("--cache-dir")
        .arg(&cache)
        .current_dir(hooks.path())
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    terminate_once(child, &marker);
    hooks.assert_nothing_left("out.tar");
    // The hook's sleeps, the setsid one included, died with its namespace.
    let left = processes_running(&["sleep", "1717"]);
    assert!(left.is_empty(), "sleep 1717 left running: {left:?}");
}
