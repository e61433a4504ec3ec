//! docs/THREATS.md D1–D5 (maintainer scripts, in `root` mode) and E1, E2, E4 (the output): hostile
//! maintainer scripts, signals, a full disk and planted output paths, each through the real
//! `debroot build` binary, on a fixture archive of the host's own base (`common::hostbase`) and
//! synthetic packages served on loopback. After every run the global invariants are checked
//! with `common::invariants`: I1 nothing outside changed (the `host_sentinel` included), I2 no
//! partial output, I3 no mounts, I4 no processes, I5 the exit code and one `error:` line, I6 no
//! work directory, I7 a verified cache.
//!
//! Hostile scripts leave what they saw in `/var/lib/t-markers/` of the root (cleanup leaves it
//! alone), which the tests read in the output, or in the work directory while the build runs.
//! The processes a script starts carry TOKEN in their arguments, [`token`] being unique to the
//! test process, so that a survivor is found by its command line wherever its root is: hooks run
//! `sleep TOKEN`; maintainer scripts, whose sleeps return at once, block in a `cat` of a FIFO
//! named after it ([`hang_prelude`]).
//!
//! debroot runs with its stdin a pipe the test keeps open (a script that read debroot's stdin
//! would wait forever) and under a deadline (a hang fails the test instead of blocking it).
//!
//! Root mode is not a boundary against a root script that is out to escape (it keeps
//! `CAP_SYS_ADMIN`: a `devtmpfs`, `/proc/sys`; see the README's "Safety"). D5 and G2 check what
//! it does hold, in root and unshare modes: the root is the namespace's whole world
//! (`pivot_root`: a static binary's `chroot` escape ends in it), a fresh `/proc` of a new PID
//! namespace whose init offers no way back, only fds 0–2, no terminal, no `mknod`, `kill -9 -1`
//! confined.
//!
//! These tests need root (chroot, namespaces, chown, tmpfs mounts); plain `cargo test` skips
//! them and `bash tests/run` runs them as root.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::CString;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::deb::{Member, Package};
use common::fixture::Fixture;
use common::invariants::{self, Sentinel, Watch, assert_error, assert_success, work_dirs};
use common::server::Fault;
use common::{hostbase, repo, stderr};
use rustix::process::Signal;

/// `SOURCE_DATE_EPOCH` of every build (after the fixture members' mtime).
const EPOCH: i64 = 1_700_000_000;
/// Where the test scripts leave their markers (not `/tmp` or `/run`, which cleanup empties).
const MARKERS: &str = "var/lib/t-markers";
/// How long a build may take before the test calls it a hang: a build of the host base takes
/// a few seconds in a debug build; two cores shared with the other tests, several times that.
const DEADLINE: Duration = Duration::from_secs(120);
/// How long the kernel gets to tear down a dead namespace (its processes die asynchronously
/// after their init is killed).
const TEARDOWN: Duration = Duration::from_secs(10);
/// Files of `t-many`: empty files cost a tmpfs no pages but the tarball a 512-byte header each.
const MANY_FILES: usize = 30_000;

/// The token in the arguments of every process a test script starts: unique to this test
/// process.
fn token() -> String {
    format!("9{}", std::process::id())
}

/// Shell that makes `hang` block forever, for maintainer scripts: their sleeps return at once
/// (`sandbox::nosleep`), so a script waits by reading a FIFO nobody writes. The blocked `cat`
/// carries [`token`] in its arguments, as a `sleep` did.
fn hang_prelude() -> String {
    format!(
        "mkdir -p /{MARKERS}\nrm -f /{MARKERS}/hang-{token}\nmkfifo /{MARKERS}/hang-{token}\n\
         hang() {{ exec cat /{MARKERS}/hang-{token}; }}\n",
        token = token()
    )
}

// ---------------------------------------------------------------------------------------------
// The harness.

/// A fixture archive of the host base and the test's packages beside a host sentinel, with
/// `p.toml` including every test package and `base.toml` the host base alone.
struct Threats {
    fixture: Fixture,
    sentinel: Sentinel,
    packages: Vec<Package>,
}

impl Threats {
    /// An archive of the host base and `packages` (made knowing the sentinel's paths).
    fn new(packages: impl FnOnce(&Sentinel) -> Vec<Package>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let sentinel = Sentinel::create(dir.path());
        let packages = packages(&sentinel);
        let names: Vec<&str> = packages.iter().map(|p| p.name.as_str()).collect();
        let mut all = hostbase::packages();
        all.extend(packages.iter().cloned());
        let fixture = Fixture::in_dir(dir, repo::trixie(all.clone()));
        let threats = Threats {
            fixture,
            sentinel,
            packages: all,
        };
        threats.profile("p", &names);
        threats.profile("base", &[]);
        threats
    }

    fn path(&self) -> &Path {
        self.fixture.path()
    }

    fn cache(&self) -> PathBuf {
        self.path().join("cache")
    }

    /// Writes `NAME.toml`: the host base and `include`.
    fn profile(&self, name: &str, include: &[&str]) {
        let mut names = vec!["hostbase-files", "hostbase-tools", "dpkg"];
        names.extend_from_slice(include);
        let names: Vec<String> = names.iter().map(|p| format!("\"{p}\"")).collect();
        std::fs::write(
            self.path().join(format!("{name}.toml")),
            repo::profile(
                "",
                &format!(
                    "[packages]\nvariant = \"custom\"\ninclude = [{}]\n",
                    names.join(", ")
                ),
            ),
        )
        .unwrap();
    }

    /// A watch on the fixture's folder for a build writing `output`; the locks of the profiles
    /// written so far may change.
    fn watch(&self, output: &Path) -> Watch {
        let locks: Vec<PathBuf> = std::fs::read_dir(self.path())
            .unwrap()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let stem = name.strip_suffix(".toml")?;
                Some(self.path().join(format!("{stem}.lock")))
            })
            .collect();
        Watch::start(self.path(), output, &self.cache(), &locks)
    }

    /// `debroot build PROFILE.toml -o OUTPUT --mode MODE --mirror ... --cache-dir ...`.
    fn args(&self, profile: &str, output: &Path, mode: &str) -> Vec<String> {
        vec![
            "build".into(),
            format!("{profile}.toml"),
            "-o".into(),
            output.to_str().unwrap().into(),
            "--mode".into(),
            mode.into(),
            "--mirror".into(),
            self.fixture.mirror(),
            "--cache-dir".into(),
            self.cache().to_str().unwrap().into(),
        ]
    }

    /// Starts the build; with `leak`, debroot inherits fd 7 (appending to `leak`) and fd 8
    /// (reading it), as a careless parent would leave them.
    fn spawn(&self, profile: &str, output: &Path, mode: &str, leak: Option<&Path>) -> Running {
        self.spawn_with(profile, output, mode, leak, &[])
    }

    /// [`Threats::spawn`] with `extra` arguments.
    fn spawn_with(
        &self,
        profile: &str,
        output: &Path,
        mode: &str,
        leak: Option<&Path>,
        extra: &[String],
    ) -> Running {
        let mut args = self.args(profile, output, mode);
        args.extend_from_slice(extra);
        Running::start(debroot_command(
            Path::new(env!("CARGO_BIN_EXE_debroot")),
            self.path(),
            &args,
            leak,
        ))
    }

    /// Runs the build to its end (within [`DEADLINE`]).
    fn run(&self, profile: &str, output: &Path, mode: &str) -> Output {
        self.spawn(profile, output, mode, None).finish(DEADLINE)
    }

    fn package(&self, name: &str) -> &Package {
        self.packages
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no fixture package `{name}`"))
    }

    /// The bytes member `path` (`./usr/...`) of package `name` ships.
    fn member_data(&self, name: &str, path: &str) -> Vec<u8> {
        self.package(name)
            .files
            .iter()
            .find(|m| m.name == path.as_bytes())
            .unwrap_or_else(|| panic!("`{name}` ships no `{path}`"))
            .data
            .clone()
    }
}

/// `EXE ARGS` in `dir`, with a clean environment but the epoch; with `leak`, through a shell
/// that leaves fd 7 (appending to `leak`) and fd 8 (reading it) open for debroot, as a careless
/// parent would.
fn debroot_command(exe: &Path, dir: &Path, args: &[String], leak: Option<&Path>) -> Command {
    let mut command = match leak {
        None => Command::new(exe),
        Some(path) => {
            let mut command = Command::new("/bin/sh");
            command
                .arg("-c")
                .arg("exec 7>>\"$0\" 8<\"$0\"; exec \"$@\"")
                .arg(path)
                .arg(exe);
            command
        }
    };
    command
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("SOURCE_DATE_EPOCH", EPOCH.to_string())
        .env("HOME", "/nonexistent-host-home");
    command
}

/// A debroot process the test can signal, with its output collected as it comes.
struct Running {
    child: Child,
    /// Held open: a script that read debroot's stdin would block on it.
    _stdin: ChildStdin,
    stdout: JoinHandle<Vec<u8>>,
    stderr: JoinHandle<Vec<u8>>,
}

impl Running {
    fn start(mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("debroot starts");
        let collect = |mut stream: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                let _ = stream.read_to_end(&mut bytes);
                bytes
            })
        };
        let stdout = collect(Box::new(child.stdout.take().unwrap()));
        let stderr = collect(Box::new(child.stderr.take().unwrap()));
        Running {
            _stdin: child.stdin.take().unwrap(),
            child,
            stdout,
            stderr,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn signal(&self, signal: Signal) {
        let pid = rustix::process::Pid::from_raw(self.pid() as i32).unwrap();
        rustix::process::kill_process(pid, signal).expect("debroot can be signalled");
    }

    /// Sends `signal` unless debroot has ended already.
    fn signal_if_running(&self, signal: Signal) {
        let pid = rustix::process::Pid::from_raw(self.pid() as i32).unwrap();
        let _ = rustix::process::kill_process(pid, signal);
    }

    /// Waits until `ready` holds, polling; fails the test (naming `what`) if debroot ends
    /// first or `ready` does not hold within [`DEADLINE`].
    fn wait_until(&mut self, what: &str, mut ready: impl FnMut() -> bool) {
        let started = Instant::now();
        while !ready() {
            if let Some(status) = self.child.try_wait().unwrap() {
                let err = std::mem::replace(&mut self.stderr, std::thread::spawn(Vec::new));
                panic!(
                    "debroot ended ({status}) before {what}; stderr:\n{}",
                    String::from_utf8_lossy(&err.join().unwrap())
                );
            }
            assert!(started.elapsed() < DEADLINE, "no {what} after {DEADLINE:?}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Waits for debroot to end; kills it and fails the test if it takes over `deadline`.
    fn finish(mut self, deadline: Duration) -> Output {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "debroot still ran after {deadline:?} (a hang); stderr:\n{}",
                    String::from_utf8_lossy(&self.stderr.join().unwrap())
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Output {
            status,
            stdout: self.stdout.join().unwrap(),
            stderr: self.stderr.join().unwrap(),
        }
    }
}

/// `NAME` in the markers folder of a running build's root (in its work directory).
fn running_marker(output: &Path, name: &str) -> Option<PathBuf> {
    work_dirs(output)
        .into_iter()
        .map(|work| work.join("root").join(MARKERS).join(name))
        .find(|path| path.exists())
}

fn read_marker(root: &Path, name: &str) -> String {
    let path = root.join(MARKERS).join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("the script left no `{}`: {e}", path.display()))
}

/// The processes with `token` as a whole argument, as `PID: cmdline`.
fn processes_with(token: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if cmdline
            .split(|&b| b == 0)
            .any(|arg| arg == token.as_bytes())
        {
            found.push(format!(
                "{name}: {}",
                String::from_utf8_lossy(&cmdline).replace('\0', " ")
            ));
        }
    }
    found
}

/// docs/THREATS.md I4 for what the scripts started: no process with `token` left once the kernel
/// had [`TEARDOWN`] to kill a dead namespace, and none under `dir`.
fn assert_no_survivors(token: &str, dir: &Path) {
    let started = Instant::now();
    while !processes_with(token).is_empty() && started.elapsed() < TEARDOWN {
        std::thread::sleep(Duration::from_millis(20));
    }
    let left = processes_with(token);
    assert!(
        left.is_empty(),
        "I4: processes a script started outlived the build by {TEARDOWN:?}: {left:?}"
    );
    invariants::assert_no_processes_below(dir);
}

/// The mount points (with their filesystem types) of this mount namespace.
fn mount_table() -> BTreeSet<(String, String)> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|line| {
            let point = line.split(' ').nth(4)?;
            let fstype = line.split(" - ").nth(1)?.split(' ').next()?;
            Some((point.to_owned(), fstype.to_owned()))
        })
        .collect()
}

/// The differences between two mount tables, leaving out the temporary directories of other
/// tests running beside this one (E1 mounts its tmpfs in one): only `own` of the temporary
/// directory counts.
fn mount_changes(
    before: &BTreeSet<(String, String)>,
    after: &BTreeSet<(String, String)>,
    own: &Path,
) -> Vec<String> {
    let temp = std::env::temp_dir();
    let counts = |point: &str| {
        let point = Path::new(point);
        point.starts_with(own) || !point.starts_with(&temp)
    };
    let mut changes: Vec<String> = before
        .difference(after)
        .filter(|(point, _)| counts(point))
        .map(|(point, fstype)| format!("unmounted {point} ({fstype})"))
        .collect();
    changes.extend(
        after
            .difference(before)
            .filter(|(point, _)| counts(point))
            .map(|(point, fstype)| format!("mounted {point} ({fstype})")),
    );
    changes
}

/// The host's `/dev` is whole: `/dev/null` and `/dev/zero` are still character devices.
fn assert_host_dev_intact() {
    for node in ["/dev/null", "/dev/zero"] {
        let meta = std::fs::symlink_metadata(node).unwrap();
        assert!(
            meta.file_type().is_char_device(),
            "the host's `{node}` is no longer a character device"
        );
    }
}

/// A tmpfs of `bytes` bytes at `point`, unmounted on drop.
struct Tmpfs {
    point: PathBuf,
}

impl Tmpfs {
    fn mount(point: &Path, bytes: u64) -> Self {
        Self::mount_with(point, &format!("size={bytes}"))
    }

    /// A tmpfs with `options` (tmpfs's own: `size=`, `nr_inodes=`) besides `mode=0755`.
    fn mount_with(point: &Path, options: &str) -> Self {
        std::fs::create_dir_all(point).unwrap();
        let data = CString::new(format!("{options},mode=0755")).unwrap();
        rustix::mount::mount(
            "t-tmpfs",
            point,
            "tmpfs",
            rustix::mount::MountFlags::NOSUID | rustix::mount::MountFlags::NODEV,
            Some(data.as_c_str()),
        )
        .unwrap_or_else(|e| panic!("cannot mount a tmpfs on `{}`: {e}", point.display()));
        Tmpfs {
            point: point.to_path_buf(),
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = rustix::mount::unmount(&self.point, rustix::mount::UnmountFlags::DETACH);
    }
}

/// The pages a tmpfs needs for the files of `packages` (each file rounded up to 4 KiB).
fn pages_of(packages: &[Package]) -> u64 {
    packages
        .iter()
        .flat_map(|p| &p.files)
        .map(|m| (m.data.len() as u64).div_ceil(4096) * 4096)
        .sum()
}

fn sha256_file(path: &Path) -> String {
    repo::sha256_hex(&std::fs::read(path).unwrap())
}

// ---------------------------------------------------------------------------------------------
// The fixture packages.

fn executable(path: &str, body: &str) -> Member {
    Member::file(path, 0o755, body.as_bytes())
}

/// A package with one data file and `postinst`.
fn with_postinst(name: &str, postinst: &str) -> Package {
    Package::new(name, "1.0-1")
        .file(&format!("./usr/share/{name}/data"), &format!("{name}\n"))
        .script("postinst", postinst)
}

/// A postinst that says it is running (marker `asleep`), then sleeps for good.
fn sleeping_package() -> Package {
    with_postinst(
        "t-sleep",
        &format!(
            "#!/bin/sh\n{}echo asleep > /{MARKERS}/asleep\nhang\n",
            hang_prelude()
        ),
    )
}

/// `MANY_FILES` empty files: a small tree, a large tarball.
fn many_files_package() -> Package {
    let mut package =
        Package::new("t-many", "1.0-1").member(Member::dir("./usr/share/t-many/", 0o755));
    for i in 0..MANY_FILES {
        package = package.member(Member::file(
            &format!("./usr/share/t-many/{i:05}"),
            0o644,
            b"",
        ));
    }
    package
}

// ---------------------------------------------------------------------------------------------
// D1: maintainer script failures (preinst `exit 1` and a SIGSEGV postinst are in
// `privileged_build`).

/// docs/THREATS.md D1: a postinst that prints 10 MB and exits 3 fails the build with exit 8 naming
/// the postinst, its exit status and its last lines (not the first, not all 10 MB), within the
/// deadline; I1–I7 hold.
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn d1_postinst_printing_10_mb() {
    // 150,000 lines of 70 bytes.
    let postinst = "#!/bin/sh\ni=0\nwhile [ $i -lt 150000 ]; do\n  \
                    echo \"t-loud line $i: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"\n  \
                    i=$((i + 1))\ndone\necho 't-loud: the end'\nexit 3\n";
    let threats = Threats::new(|_| vec![with_postinst("t-loud", postinst)]);
    let output = threats.path().join("out");
    let watch = threats.watch(&output);
    let started = Instant::now();
    let run = threats.run("p", &output, "root");
    let elapsed = started.elapsed();
    // Past 64 KiB of output the driver's `debroot: dpkg ...` marker is out of the kept tail;
    // dpkg's own report, at the end, still names the postinst and its status.
    assert_error(&run, 8, &["postinst of t-loud (1.0-1)", "exit status 3"]);
    let text = stderr(&run);
    for expected in ["t-loud line 149999:", "t-loud: the end"] {
        assert!(text.contains(expected), "`{expected}` in:\n{text}");
    }
    assert!(
        !text.contains("t-loud line 0:"),
        "the first lines are not shown:\n{text}"
    );
    assert!(
        text.len() < 64 * 1024,
        "{} bytes of stderr for 10 MB of script output",
        text.len()
    );
    assert!(elapsed < DEADLINE, "took {elapsed:?}");
    assert!(!output.exists(), "I2: no output after a failure");
    assert_no_survivors(&token(), threats.path());
    watch.assert_failed();
}

/// docs/THREATS.md D1: a debconf-style prompt (`read answer`) gets end-of-file at once (stdin is
/// `/dev/null`, not debroot's stdin, which the test holds open), so the script decides by
/// itself and the build finishes; I1–I7 hold.
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn d1_prompting_postinst_reads_end_of_file() {
    let postinst = format!(
        "#!/bin/sh\nset -e\nmkdir -p /{MARKERS}\nif read answer; then echo \"answer=$answer\"; \
         else echo eof; fi > /{MARKERS}/prompt\nreadlink /proc/self/fd/0 > /{MARKERS}/stdin\n"
    );
    let threats = Threats::new(|_| vec![with_postinst("t-prompt", &postinst)]);
    let output = threats.path().join("out");
    let watch = threats.watch(&output);
    let run = threats.run("p", &output, "root");
    assert_success(&run);
    assert_eq!(read_marker(&output, "prompt"), "eof\n");
    assert_eq!(read_marker(&output, "stdin"), "/dev/null\n");
    watch.assert_succeeded();
}

// ---------------------------------------------------------------------------------------------
// D2: services and daemons.

/// A package whose postinst starts services every way a package does, and leaves daemons.
fn daemon_package() -> Package {
    let postinst = format!(
        "#!/bin/sh\n{prelude}M=/{MARKERS}\nmkdir -p $M\n\
         /usr/sbin/policy-rc.d t-daemon start\necho \"policy=$?\" >> $M/t-daemon\n\
         t-invoke-rc.d t-daemon start\necho \"invoke=$?\" >> $M/t-daemon\n\
         start-stop-daemon --start --exec /usr/bin/mkdir -- $M/started-by-start-stop-daemon\n\
         echo \"start-stop-daemon=$?\" >> $M/t-daemon\n\
         setsid sh -c 'cat /{MARKERS}/hang-{token} &'\n\
         (trap \"\" TERM HUP INT; hang) &\n\
         echo done >> $M/t-daemon\n",
        prelude = hang_prelude(),
        token = token()
    );
    // What invoke-rc.d does first (README.policy-rc.d): ask policy-rc.d; 101 forbids.
    let invoke = format!(
        "#!/bin/sh\nif [ -x /usr/sbin/policy-rc.d ]; then\n  /usr/sbin/policy-rc.d \"$1\" \"$2\"\n  \
         if [ $? = 101 ]; then echo \"t-invoke-rc.d: $1 $2 forbidden\" >&2; exit 0; fi\nfi\n\
         mkdir -p /{MARKERS}/started-$1\n"
    );
    with_postinst("t-daemon", &postinst).member(executable("./usr/sbin/t-invoke-rc.d", &invoke))
}

/// docs/THREATS.md D2: during the build `policy-rc.d` answers 101 (an invoke-rc.d-style start is
/// refused), `start-stop-daemon --start` is a no-op; a double-forked process blocked forever
/// and one that ignores SIGTERM are dead after the build (I4); the result has no `policy-rc.d` and the real
/// `start-stop-daemon`, byte for byte the `dpkg` package's; I1–I7 hold.
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn d2_services_are_refused_and_daemons_die() {
    let threats = Threats::new(|_| vec![daemon_package()]);
    let output = threats.path().join("out");
    let watch = threats.watch(&output);
    let run = threats.run("p", &output, "root");
    assert_success(&run);
    assert_eq!(
        read_marker(&output, "t-daemon"),
        "policy=101\ninvoke=0\nstart-stop-daemon=0\ndone\n"
    );
    for never in ["started-t-daemon", "started-by-start-stop-daemon"] {
        assert!(
            !output.join(MARKERS).join(never).exists(),
            "`{never}`: a service was started during the build"
        );
    }
    assert_no_survivors(&token(), threats.path());
    for absent in ["usr/sbin/policy-rc.d", "usr/sbin/start-stop-daemon.REAL"] {
        assert!(
            std::fs::symlink_metadata(output.join(absent)).is_err(),
            "`{absent}` is left in the result"
        );
    }
    assert_eq!(
        std::fs::read(output.join("usr/sbin/start-stop-daemon")).unwrap(),
        threats.member_data("dpkg", "./usr/sbin/start-stop-daemon"),
        "the real start-stop-daemon is restored"
    );
    watch.assert_succeeded();
}

// ---------------------------------------------------------------------------------------------
// D3: mounts made by scripts.

/// A postinst that mounts a tmpfs on `/mnt`, binfmt_misc, `/` on `/mnt2`, lazily unmounts
/// `/dev`, says how each went (marker `mounts` and stdout), and exits `code`.
fn mounting_package(name: &str, code: i32) -> Package {
    let postinst = format!(
        "#!/bin/sh\nM=/{MARKERS}\nmkdir -p $M /mnt /mnt2\n\
         say() {{ echo \"$1\"; echo \"$1\" >> $M/mounts; }}\n\
         mount -t tmpfs t-tmpfs /mnt; say \"tmpfs=$?\"\n\
         echo inside > /mnt/t-file\n\
         mount --bind / /mnt2; say \"bind=$?\"\n\
         mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc; say \"binfmt_misc=$?\"\n\
         umount -l /dev; say \"umount-dev=$?\"\n\
         exit {code}\n"
    );
    with_postinst(name, &postinst)
}

/// docs/THREATS.md D3: mounts a script makes, and its lazy unmount of `/dev`, stay in the build's
/// namespace, whether the build succeeds or a script fails with them in place: the test's mount
/// table is unchanged, the host's `/dev` intact, the tmpfs's file is not in the result; I1–I7.
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn d3_script_mounts_stay_in_the_namespace() {
    let threats = Threats::new(|_| {
        vec![
            mounting_package("t-mounts", 0),
            mounting_package("t-mounts-fail", 1),
        ]
    });
    threats.profile("ok", &["t-mounts"]);
    threats.profile("fail", &["t-mounts-fail"]);

    let before = mount_table();
    let output = threats.path().join("out");
    let watch = threats.watch(&output);
    let run = threats.run("ok", &output, "root");
    assert_success(&run);
    // The attack happened: every mount but binfmt_misc (which the kernel may lack) worked.
    let said = read_marker(&output, "mounts");
    for done in ["tmpfs=0", "bind=0", "umount-dev=0"] {
        assert!(
            said.contains(done),
            "`{done}` in the script's report:\n{said}"
        );
    }
    let changes = mount_changes(&before, &mount_table(), threats.path());
    assert!(
        changes.is_empty(),
        "I3: the mount table changed: {changes:#?}"
    );
    assert_host_dev_intact();
    assert!(
        !output.join("mnt/t-file").exists(),
        "the script's tmpfs was written into the result"
    );
    let mnt2: Vec<_> = std::fs::read_dir(output.join("mnt2")).unwrap().collect();
    assert!(mnt2.is_empty(), "`/mnt2` holds what the bind showed");
    assert_no_survivors(&token(), threats.path());
    watch.assert_succeeded();

    let output = threats.path().join("out-fail");
    let watch = threats.watch(&output);
    let run = threats.run("fail", &output, "root");
    assert_error(
        &run,
        8,
        &["postinst of t-mounts-fail (1.0-1)", "exit status 1"],
    );
    let text = stderr(&run);
    for done in ["tmpfs=0", "bind=0", "umount-dev=0"] {
        assert!(
            text.contains(done),
            "`{done}` in the script's output:\n{text}"
        );
    }
    let changes = mount_changes(&before, &mount_table(), threats.path());
    assert!(
        changes.is_empty(),
        "I3: the mount table changed: {changes:#?}"
    );
    assert_host_dev_intact();
    assert_no_survivors(&token(), threats.path());
    watch.assert_failed();
}

// ---------------------------------------------------------------------------------------------
// D4: signals.

/// Delivers `signal` to debroot while a postinst sleeps; expects exit `code`, "interrupted"
/// and I1–I7.
fn interrupted_during_postinst(signal: Signal, code: i32) {
    let threats = Threats::new(|_| vec![sleeping_package()]);
    let output = threats.path().join("out");
    let watch = threats.watch(&output);
    let mut running = threats.spawn("p", &output, "root", None);
    running.wait_until("postinst running", || {
        running_marker(&output, "asleep").is_some()
    });
    running.signal(signal);
    let run = running.finish(DEADLINE);
    assert_error(&run, code, &["interrupted"]);
    assert_no_survivors(&token(), threats.path());
    assert!(!output.exists(), "I2: no output");
    watch.assert_failed();
}

/// docs/THREATS.md D4: SIGINT during a maintainer script: exit 130 "interrupted", the script's
/// processes gone (I4), no work directory (I6), no output (I2), no mount (I3).
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn d4_sigint_during_postinst() {
    interrupted_during_postinst(Signal::INT, 130);
}

/// docs/THREATS.md D4: SIGTERM during a maintainer script: exit 143, as for SIGINT.
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn d4_sigterm_during_postinst() {
    interrupted_during_postinst(Signal::TERM, 143);
}

/// docs/THREATS.md D4: SIGHUP during a maintainer script: exit 130, as for SIGINT.
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn d4_sighup_during_postinst() {
    interrupted_during_postinst(Signal::HUP, 130);
}

/// docs/THREATS.md D4: SIGINT while a postinst keeps creating directories in the root (as a long
/// postinst generating files does), and a second SIGINT during the cleanup: the cleanup must
/// not race the script; exit 130 and I1–I7, the work directory gone included.
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn d4_sigint_during_a_busy_postinst() {
    let postinst = format!(
        "#!/bin/sh\nmkdir -p /{MARKERS} /var/lib/t-busy\necho busy > /{MARKERS}/busy\n\
         i=0\nwhile :; do mkdir /var/lib/t-busy/$i; echo $i > /var/lib/t-busy/$i/n; i=$((i + 1)); done\n"
    );
    let threats = Threats::new(|_| vec![with_postinst("t-busy", &postinst)]);
    let output = threats.path().join("out");
    let watch = threats.watch(&output);
    let mut running = threats.spawn("p", &output, "root", None);
    running.wait_until("postinst running", || {
        running_marker(&output, "busy").is_some()
    });
    std::thread::sleep(Duration::from_millis(300));
    running.signal(Signal::INT);
    // A second SIGINT during the cleanup (docs/THREATS.md D4) changes nothing.
    std::thread::sleep(Duration::from_millis(5));
    running.signal_if_running(Signal::INT);
    let run = running.finish(DEADLINE);
    assert_error(&run, 130, &["interrupted"]);
    assert_no_survivors(&token(), threats.path());
    // A work directory left here means the cleanup ran while the script still wrote.
    watch.assert_failed();
}

/// docs/THREATS.md D4 during the downloads: each of SIGINT, SIGTERM and SIGHUP while the suite's
/// InRelease drips in (one byte every 20 ms: the download would take minutes), then while a
/// `.deb` drips in: exit 130 or 143 naming the interruption, at once rather than when the
/// download ends; no output, no work directory, no temporary file in the cache (I1–I7).
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn d4_signals_during_downloads() {
    let threats = Threats::new(|_| vec![with_postinst("t-plain", "#!/bin/sh\nexit 0\n")]);
    let server = &threats.fixture.server;
    let inrelease = "/debian/dists/trixie/InRelease".to_owned();
    let deb = format!("/debian/{}", threats.package("t-plain").pool_path("main"));
    let drip = Fault::Drip {
        interval: Duration::from_millis(20),
    };
    let output = threats.path().join("out");
    for (signal, code) in [(Signal::INT, 130), (Signal::TERM, 143), (Signal::HUP, 130)] {
        for path in [&inrelease, &deb] {
            // Without a lock the build reads the suite's InRelease again.
            let _ = std::fs::remove_file(threats.path().join("p.lock"));
            server.clear_faults();
            server.clear_log();
            server.fault(path, drip.clone());
            let watch = threats.watch(&output);
            let mut running = threats.spawn("p", &output, "root", None);
            running.wait_until(&format!("the request of {path}"), || {
                server.requests().contains(path)
            });
            std::thread::sleep(Duration::from_millis(200));
            let signalled = Instant::now();
            running.signal(signal);
            let run = running.finish(DEADLINE);
            assert!(
                signalled.elapsed() < TEARDOWN,
                "{signal:?} during {path}: debroot took {:?} to stop",
                signalled.elapsed()
            );
            assert_error(&run, code, &["interrupted"]);
            assert!(!output.exists(), "I2: no output");
            watch.assert_failed();
        }
    }
}

/// docs/THREATS.md D4 during extraction and during the output's write, with `t-many` (30,000
/// files): SIGINT once its first file is in the root and before its last is, then SIGTERM once the
/// tarball's temporary file exists: exit 130 / 143 naming the interruption; no output, no
/// temporary file, no work directory (I1–I7).
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn d4_signals_during_extraction_and_output() {
    let threats = Threats::new(|_| vec![many_files_package()]);
    let output = threats.path().join("out");
    let first = format!("usr/share/t-many/{:05}", 0);
    let last = format!("usr/share/t-many/{:05}", MANY_FILES - 1);
    for mode in ["root", "extract"] {
        let watch = threats.watch(&output);
        let mut running = threats.spawn("p", &output, mode, None);
        let in_root = |name: &str| {
            work_dirs(&output)
                .into_iter()
                .any(|work| work.join("root").join(name).exists())
        };
        running.wait_until("t-many's first file", || in_root(&first));
        let midway = !in_root(&last);
        running.signal(Signal::INT);
        let run = running.finish(DEADLINE);
        assert!(midway, "{mode}: the signal came after the extraction");
        assert_error(&run, 130, &["interrupted"]);
        assert!(!output.exists(), "I2: no output");
        watch.assert_failed();
    }

    let output = threats.path().join("out.tar");
    let watch = threats.watch(&output);
    let mut running = threats.spawn("p", &output, "root", None);
    let temporary = || {
        std::fs::read_dir(threats.path())
            .unwrap()
            .flatten()
            .any(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(".out.tar.debroot-")
                    && e.path().is_file()
            })
    };
    running.wait_until("the tarball's temporary file", temporary);
    running.signal(Signal::TERM);
    let run = running.finish(DEADLINE);
    assert_error(&run, 143, &["interrupted"]);
    assert!(!output.exists(), "I2: no output");
    watch.assert_failed();
}

/// docs/THREATS.md D4: SIGKILL of debroot during a maintainer script: the namespace dies with it
/// (no process, no mount left); the work directory is left, and the next build to the same output
/// says it removed the stale work directory of the dead process, removes it, and succeeds;
/// I1–I7 after it.
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn d4_sigkill_then_the_next_build_recovers() {
    let threats = Threats::new(|_| vec![sleeping_package()]);
    let output = threats.path().join("out");
    let watch = threats.watch(&output);
    let mut running = threats.spawn("p", &output, "root", None);
    running.wait_until("postinst running", || {
        running_marker(&output, "asleep").is_some()
    });
    let pid = running.pid();
    running.signal(Signal::KILL);
    let killed = running.finish(DEADLINE);
    assert_eq!(killed.status.signal(), Some(9), "{}", stderr(&killed));
    // docs/THREATS.md D4/I4: the sandbox's init dies with debroot (parent-death signal), and every
    // process of its PID namespace with it.
    assert_no_survivors(&token(), threats.path());
    invariants::assert_no_mounts_below(threats.path());
    let stale = work_dirs(&output);
    assert_eq!(
        stale.len(),
        1,
        "the killed build's work directory: {stale:?}"
    );
    assert!(
        stale[0]
            .to_string_lossy()
            .contains(&format!(".out.debroot-{pid}-")),
        "{stale:?}"
    );

    let run = threats.run("base", &output, "root");
    assert_success(&run);
    let text = stderr(&run);
    assert!(
        text.contains("stale work directory") && text.contains(&pid.to_string()),
        "the next build reports the stale work directory of process {pid}:\n{text}"
    );
    assert!(!stale[0].exists(), "the stale work directory is removed");
    watch.assert_succeeded();
}

// ---------------------------------------------------------------------------------------------
// D5: escape attempts (the root-mode subset).

/// A postinst that tries to reach the host: the sentinel through `/proc/1/root`, other PIDs in
/// `/proc` (and in a `/proc` it mounts), `mknod`, inherited fds 3–9; it records what it saw.
fn escaping_package(sentinel: &Sentinel) -> Package {
    let file = Sentinel::absolute(&sentinel.file);
    let postinst = format!(
        "#!/bin/sh\nM=/{MARKERS}\nmkdir -p $M\n\
         if cat /proc/1/root{file} > $M/proc1-root 2>&1; then echo read; else echo refused; fi > $M/proc1-root.status\n\
         for p in /proc/[0-9]*; do echo \"${{p#/proc/}} $(cat $p/comm)\"; done > $M/procs\n\
         mkdir -p /tmp/p && mount -t proc proc /tmp/p && \
         for p in /tmp/p/[0-9]*; do echo \"${{p#/tmp/p/}} $(cat $p/comm)\"; done > $M/procs-mounted\n\
         mknod /dev/sdz b 8 0 2>> $M/mknod.err; echo $? >> $M/mknod.status\n\
         mknod $M/t-node c 1 3 2>> $M/mknod.err; echo $? >> $M/mknod.status\n\
         cat /proc/self/status > $M/status\n\
         ls -l /proc/self/fd > $M/fds\n\
         for fd in 3 4 5 6 7 8 9; do if (echo pwned >&$fd) 2>/dev/null; then echo $fd; fi; done > $M/fd-writes\n\
         exit 0\n"
    );
    with_postinst("t-escape", &postinst)
}

/// `PID comm` lines a script listed, as a map.
fn listed_processes(text: &str) -> BTreeMap<u32, String> {
    text.lines()
        .filter_map(|line| {
            let (pid, comm) = line.split_once(' ')?;
            Some((pid.parse().ok()?, comm.to_owned()))
        })
        .collect()
}

/// What a script sees in its `/proc` is its own namespace: the namespace's init (debroot's
/// `__sandbox-init`) as PID 1 and the build's own programs, none of the host's.
fn assert_own_namespace(listing: &str, what: &str) {
    let processes = listed_processes(listing);
    // debroot runs its namespace helpers as `/proc/self/exe`: their name is `exe`.
    assert_eq!(
        processes.get(&1).map(String::as_str),
        Some("exe"),
        "{what}: PID 1 is the namespace's init:\n{listing}"
    );
    let ours = ["exe", "dpkg", "sh", "dash", "cat", "ls"];
    let foreign: Vec<(&u32, &String)> = processes
        .iter()
        .filter(|(_, comm)| !ours.contains(&comm.as_str()) && !comm.starts_with("t-escape"))
        .collect();
    assert!(
        foreign.is_empty(),
        "{what}: processes outside the build's namespace: {foreign:?}\n{listing}"
    );
    assert!(
        processes.len() < 12,
        "{what}: more processes than the build runs:\n{listing}"
    );
}

/// docs/THREATS.md D5 (root mode): `/proc/1/root` is the namespace's init's root, not the host's
/// (the sentinel is not read through it); `/proc` (and a `/proc` the script mounts) lists only the
/// namespace's processes; `mknod` fails (CAP_MKNOD is out of the bounding set); the script has
/// only fds 0–2 (debroot itself inherited fds 7 and 8 open on the sentinel, and writing to
/// fds 3–9 reaches nothing); I1–I7, the sentinel unchanged.
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn d5_escape_attempts_stay_in_the_build() {
    let threats = Threats::new(|sentinel| vec![escaping_package(sentinel)]);
    // The harness really leaks fds 7 and 8 to what it runs.
    let probe = Command::new("/bin/sh")
        .arg("-c")
        .arg("exec 7>>\"$0\" 8<\"$0\"; exec ls /proc/self/fd")
        .arg(&threats.sentinel.file)
        .output()
        .unwrap();
    let probe = String::from_utf8_lossy(&probe.stdout).into_owned();
    assert!(
        probe.lines().any(|l| l == "7") && probe.lines().any(|l| l == "8"),
        "the leaking wrapper leaks no fds:\n{probe}"
    );

    let output = threats.path().join("out");
    let watch = threats.watch(&output);
    let run = threats
        .spawn("p", &output, "root", Some(&threats.sentinel.file))
        .finish(DEADLINE);
    assert_success(&run);
    assert_escape_refused(&output);
    watch.assert_succeeded();
}

/// What [`escaping_package`]'s postinst recorded in the built tree `output` says it reached
/// nothing: `/proc/1/root` is not the host's, `/proc` (its own and one it mounts) lists only the
/// namespace, `mknod` fails and the capabilities that reach the host are out of the bounding
/// set, only fds 0-2 are open and none above them is writable.
fn assert_escape_refused(output: &Path) {
    assert_eq!(read_marker(output, "proc1-root.status"), "refused\n");
    assert!(
        !read_marker(output, "proc1-root").contains("must never change"),
        "the sentinel was read through /proc/1/root"
    );
    assert_own_namespace(&read_marker(output, "procs"), "/proc");
    assert_own_namespace(&read_marker(output, "procs-mounted"), "a /proc it mounted");

    let statuses = read_marker(output, "mknod.status");
    assert!(
        statuses.lines().count() == 2 && statuses.lines().all(|s| s != "0"),
        "mknod failed twice: {statuses}"
    );
    let errors = read_marker(output, "mknod.err");
    assert!(errors.contains("Operation not permitted"), "{errors}");
    assert!(!output.join(MARKERS).join("t-node").exists());
    let status = read_marker(output, "status");
    let bounding = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .map(|hex| u64::from_str_radix(hex.trim(), 16).unwrap())
        .expect("CapBnd in /proc/self/status");
    // CAP_DAC_READ_SEARCH 2, CAP_SYS_MODULE 16, CAP_SYS_RAWIO 17, CAP_SYS_PTRACE 19,
    // CAP_SYS_BOOT 22, CAP_SYS_TIME 25, CAP_MKNOD 27.
    for capability in [2, 16, 17, 19, 22, 25, 27] {
        assert_eq!(
            bounding & (1 << capability),
            0,
            "capability {capability} is in the bounding set {bounding:#x}"
        );
    }

    // `ls -l /proc/self/fd`: 0 (/dev/null), 1 (the marker), 2, and the folder ls reads.
    let fds = read_marker(output, "fds");
    let open: BTreeMap<u32, String> = fds
        .lines()
        .filter_map(|line| {
            let (left, target) = line.split_once(" -> ")?;
            let fd = left.rsplit(' ').next()?.parse().ok()?;
            Some((fd, target.to_owned()))
        })
        .collect();
    assert_eq!(open.get(&0).map(String::as_str), Some("/dev/null"), "{fds}");
    let extra: Vec<(&u32, &String)> = open
        .iter()
        .filter(|(fd, target)| {
            **fd > 2 && !(target.starts_with("/proc/") && target.ends_with("/fd"))
        })
        .collect();
    assert!(
        extra.is_empty(),
        "fds the script inherited: {extra:?}\n{fds}"
    );
    assert_eq!(
        read_marker(output, "fd-writes"),
        "",
        "fds 3–9 the script could write to"
    );
}

/// docs/THREATS.md D5: `kill -9 -1` in a postinst kills only its own namespace (dpkg, so the build
/// fails with exit 8), not a process of the host (a `sleep` the test started), not debroot;
/// I1–I7.
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn d5_kill_all_stays_in_the_namespace() {
    let threats = Threats::new(|_| {
        vec![with_postinst(
            "t-killer",
            "#!/bin/sh\necho 't-killer: kill -9 -1'\nkill -9 -1\necho \"t-killer: kill said $?\"\n",
        )]
    });
    let canary_token = format!("{}1", token());
    let mut canary = Command::new("sleep").arg(&canary_token).spawn().unwrap();
    let output = threats.path().join("out");
    let watch = threats.watch(&output);
    let run = threats.run("p", &output, "root");
    let canary_alive = canary.try_wait().unwrap().is_none();
    let _ = canary.kill();
    let _ = canary.wait();
    assert!(
        canary_alive,
        "`kill -9 -1` in a postinst killed a host process"
    );
    assert!(
        run.status.signal().is_none(),
        "debroot was killed: {:?}",
        run.status
    );
    assert_error(&run, 8, &["killed by signal 9"]);
    assert_no_survivors(&token(), threats.path());
    watch.assert_failed();
}

// ---------------------------------------------------------------------------------------------
// D5 and G2: the way back to the host, tried by a static binary.

/// `t-esc SENTINEL MARKER REPORT`: tries every way back to the host a root process inside the
/// build has, and says how each went on REPORT (a file opened first, inside the root, or `-`
/// for stdout): the controlling terminal (`/dev/tty`, written to), the namespace init's `/proc/1/{root,cwd,exe,fd,map_files}` (only read, and
/// written only through inherited descriptors: on a debroot that leaves a way back, the test
/// must not damage the host), its parent's root, descriptors above 2, and the classic `chroot`
/// escape (`mkdir x; chroot x; chdir ..` 64 times; `chroot .`) followed by reading SENTINEL and
/// creating MARKER, both host paths.
const ESCAPE_SOURCE: &str = r#"
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static FILE *out;

static void step(const char *what, int ok) {
    if (ok) fprintf(out, "%s ok\n", what);
    else fprintf(out, "%s failed: %s\n", what, strerror(errno));
    fflush(out);
}

static void try_read(const char *what, const char *path) {
    char buf[128];
    int fd = open(path, O_RDONLY);
    if (fd < 0) { fprintf(out, "%s refused: %s\n", what, strerror(errno)); fflush(out); return; }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0) n = 0;
    buf[n] = 0;
    for (ssize_t i = 0; i < n; i++) if (buf[i] < 32 || buf[i] > 126) buf[i] = '.';
    fprintf(out, "%s read: %s\n", what, buf);
    fflush(out);
}

static void try_write(const char *what, const char *path, int flags) {
    int fd = open(path, O_WRONLY | flags, 0644);
    if (fd < 0) { fprintf(out, "%s refused: %s\n", what, strerror(errno)); fflush(out); return; }
    ssize_t n = write(fd, "t-esc escaped\n", 14);
    close(fd);
    fprintf(out, "%s wrote %d\n", what, (int)n);
    fflush(out);
}

/* Every entry of DIR (above 2 for descriptors, but not the report's): read, or appended to. */
static void each(const char *dir, const char *what, int descriptors, int write) {
    static char names[256][64];
    DIR *d = opendir(dir);
    if (!d) { fprintf(out, "%s refused: %s\n", what, strerror(errno)); fflush(out); return; }
    struct dirent *e;
    int count = 0;
    while ((e = readdir(d)) && count < 256) {
        if (e->d_name[0] == '.' || strlen(e->d_name) >= 64) continue;
        if (descriptors && (atoi(e->d_name) <= 2 || atoi(e->d_name) == fileno(out))) continue;
        strcpy(names[count++], e->d_name);
    }
    closedir(d);
    fprintf(out, "%s listed %d\n", what, count);
    for (int i = 0; i < count; i++) {
        char path[512], label[128];
        snprintf(path, sizeof path, "%.256s/%s", dir, names[i]);
        snprintf(label, sizeof label, "%.32s/%s", what, names[i]);
        if (write) try_write(label, path, O_APPEND);
        else try_read(label, path);
    }
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: t-esc SENTINEL MARKER REPORT\n"); return 2; }
    const char *sentinel = argv[1], *marker = argv[2], *report = argv[3];
    out = strcmp(report, "-") ? fopen(report, "a") : stdout;
    if (!out) { perror(report); return 2; }
    /* A write to a pipe nobody reads fails instead of ending the attempts. */
    signal(SIGPIPE, SIG_IGN);
    fprintf(out, "uid %d\n", (int)getuid());
    try_write("tty", "/dev/tty", 0);
    char path[4096];
    snprintf(path, sizeof path, "/proc/1/root%.4000s", sentinel);
    try_read("proc1-root", path);
    snprintf(path, sizeof path, "/proc/1/cwd%.4000s", sentinel);
    try_read("proc1-cwd", path);
    try_read("proc1-exe", "/proc/1/exe");
    each("/proc/1/fd", "proc1-fd", 1, 1);
    each("/proc/1/map_files", "proc1-map", 0, 0);
    snprintf(path, sizeof path, "/proc/%d/root%.4000s", (int)getppid(), sentinel);
    try_read("parent-root", path);
    each("/proc/self/fd", "self-fd", 1, 1);
    mkdir("t-esc-x", 0755);
    step("chroot-x", chroot("t-esc-x") == 0);
    int up = 1;
    for (int i = 0; i < 64; i++) up &= chdir("..") == 0;
    step("chdir-up", up);
    step("chroot-dot", chroot(".") == 0);
    try_read("sentinel", sentinel);
    try_write("marker", marker, O_CREAT | O_EXCL);
    return 0;
}
"#;

/// `t-esc` ([`ESCAPE_SOURCE`]) compiled static (`gcc -static`, from `gcc` and `libc6-dev`),
/// so that it needs nothing of the root it runs in.
fn escape_binary() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("t-esc.c");
    let binary = dir.path().join("t-esc");
    std::fs::write(&source, ESCAPE_SOURCE).unwrap();
    let gcc = Command::new("gcc")
        .args(["-static", "-O1", "-o"])
        .arg(&binary)
        .arg(&source)
        .output()
        .expect("gcc runs (install gcc and libc6-dev)");
    assert!(
        gcc.status.success(),
        "gcc -static: {}",
        String::from_utf8_lossy(&gcc.stderr)
    );
    std::fs::read(&binary).unwrap()
}

/// `t-esc`: `/usr/bin/t-esc` ([`escape_binary`]) and a postinst that runs it, reporting to
/// marker `escape-postinst`, at `sentinel` and `marker` (host paths).
fn escape_package(binary: &[u8], sentinel: &Path, marker: &Path) -> Package {
    Package::new("t-esc", "1.0-1")
        .member(Member::file("./usr/bin/t-esc", 0o755, binary))
        .script(
            "postinst",
            &format!(
                "#!/bin/sh\nmkdir -p /{MARKERS}\nexec /usr/bin/t-esc '{}' '{}' /{MARKERS}/escape-postinst\n",
                sentinel.display(),
                marker.display()
            ),
        )
}

/// The customize hooks that run `t-esc` in the root the two ways a hook does: `chroot "$1"`
/// (mmdebstrap's way) and `debroot hook chroot`, reporting to markers `escape-chroot` and
/// `escape-helper`.
fn escape_hooks(sentinel: &Path, marker: &Path) -> Vec<String> {
    let (sentinel, marker) = (sentinel.display(), marker.display());
    vec![
        "--customize-hook".into(),
        format!(
            "mkdir -p \"$1/{MARKERS}\" && chroot \"$1\" /usr/bin/t-esc '{sentinel}' '{marker}' /{MARKERS}/escape-chroot"
        ),
        "--customize-hook".into(),
        format!(
            "debroot hook chroot -- /usr/bin/t-esc '{sentinel}' '{marker}' /{MARKERS}/escape-helper"
        ),
    ]
}

/// A `t-esc` report (`what` ran it) says it tried everything and reached nothing of the host:
/// its `chroot` calls worked (CAP_SYS_CHROOT is kept: it is `pivot_root` that holds), the
/// sentinel and the marker were not found, and no `/proc/1` link, inherited descriptor or
/// parent's root was read or written.
fn assert_escape_contained(report: &str, what: &str) {
    for step in ["chroot-x ok", "chdir-up ok", "chroot-dot ok"] {
        assert!(
            report.lines().any(|l| l == step),
            "{what}: the escape was not tried (`{step}`):\n{report}"
        );
    }
    for refused in [
        "tty refused",
        "sentinel refused",
        "marker refused",
        "proc1-root refused",
        "proc1-cwd refused",
        "proc1-exe refused",
        "parent-root refused",
    ] {
        assert!(
            report.lines().any(|l| l.starts_with(refused)),
            "{what}: `{refused}` expected:\n{report}"
        );
    }
    let reached: Vec<&str> = report
        .lines()
        .filter(|l| l.contains(" read: ") || l.contains(" wrote "))
        .collect();
    assert!(
        reached.is_empty(),
        "{what}: reached the host: {reached:#?}\n{report}"
    );
}

/// docs/THREATS.md G2, D5 (root mode): the static `t-esc` run as a postinst, from customize hooks
/// through `chroot "$1"` and `debroot hook chroot`, and through `debroot hook chroot --root` on
/// the built tree from a terminal, with debroot holding fds 7 and 8 open on the sentinel each
/// time: its `chroot` escape ends in the root (sentinel not found, no marker on the host), the
/// namespace's init offers no way back (`/proc/1/root`, `cwd`, `exe`, `fd/*`, `map_files/*`
/// refused) and `/dev/tty` opens nothing; I1–I7, the sentinel unchanged.
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn g2_static_escape_stays_in_the_root() {
    common::tools::require("gcc");
    let binary = escape_binary();
    // The marker, beside the sentinel in the watched folder.
    let marker_of = |sentinel: &Sentinel| sentinel.root.parent().unwrap().join("escaped");
    let threats = Threats::new(|sentinel| {
        vec![escape_package(
            &binary,
            &sentinel.file,
            &marker_of(sentinel),
        )]
    });
    let sentinel = threats.sentinel.file.clone();
    let marker = marker_of(&threats.sentinel);
    let output = threats.path().join("out");
    let watch = threats.watch(&output);
    let run = threats
        .spawn_with(
            "p",
            &output,
            "root",
            Some(&sentinel),
            &escape_hooks(&sentinel, &marker),
        )
        .finish(DEADLINE);
    assert_success(&run);
    for (name, what) in [
        ("escape-postinst", "the postinst"),
        ("escape-chroot", "`chroot \"$1\"` in a hook"),
        ("escape-helper", "`debroot hook chroot` in a hook"),
    ] {
        assert_escape_contained(&read_marker(&output, name), what);
    }
    assert!(!marker.exists(), "t-esc wrote the host marker");
    watch.assert_succeeded();

    // `debroot hook chroot --root` on the built tree (which it may change: its `t-esc-x`), run
    // from a terminal: `script` gives debroot a pty as its controlling terminal.
    let watch = Watch::start(
        threats.path(),
        &threats.path().join("none"),
        &threats.cache(),
        std::slice::from_ref(&output),
    );
    let quote = |path: &Path| format!("'{}'", path.display());
    let shell = format!(
        "exec 7>>{sentinel} 8<{sentinel}; exec {exe} hook chroot --root {root} -- /usr/bin/t-esc {sentinel} {marker} -",
        sentinel = quote(&sentinel),
        exe = quote(Path::new(env!("CARGO_BIN_EXE_debroot"))),
        root = quote(&output),
        marker = quote(&marker),
    );
    let mut command = Command::new("script");
    command
        .args(["-qefc", &shell, "/dev/null"])
        .current_dir(threats.path())
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("SOURCE_DATE_EPOCH", EPOCH.to_string())
        .env("HOME", "/nonexistent-host-home");
    let run = Running::start(command).finish(DEADLINE);
    let report = String::from_utf8_lossy(&run.stdout).replace('\r', "");
    assert_eq!(run.status.code(), Some(0), "{report}");
    assert_escape_contained(&report, "`debroot hook chroot --root` from a terminal");
    assert!(!marker.exists(), "t-esc wrote the host marker");
    watch.assert_failed();
}

/// docs/THREATS.md G2, D5 (unshare mode): a normal user's build, in a home of its own where the
/// user may read and write the sentinel (as the escapee would, being the user outside the
/// namespace), with debroot holding fds 7 and 8 open on the sentinel: `t-esc` as a postinst and
/// from hooks through `chroot "$1"` and `debroot hook chroot` stays in the root, and the shell
/// postinst of [`escaping_package`] sees only its namespace, cannot `mknod`, holds only fds
/// 0–2 (as in root mode); I1–I7, the sentinel unchanged.
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn g2_static_escape_stays_in_the_root_in_unshare_mode() {
    common::tools::require("gcc");
    common::tools::require("newuidmap");
    common::tools::require("newgidmap");
    use std::os::unix::process::CommandExt;
    let binary = escape_binary();
    let user = common::user::unprivileged_user();
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let sentinel = Sentinel::create(home);
    let marker = home.join("escaped");
    let threats = Threats::new(|_| {
        vec![
            escape_package(&binary, &sentinel.file, &marker),
            escaping_package(&sentinel),
        ]
    });
    // The lock, made as root; the user builds from it.
    let lock = common::debroot(
        threats.path(),
        &[
            "lock",
            "p.toml",
            "--mirror",
            &threats.fixture.mirror(),
            "--cache-dir",
            threats.cache().to_str().unwrap(),
        ],
        &[],
    );
    assert_success(&lock);
    for name in ["p.toml", "p.lock", "keyring.gpg"] {
        std::fs::copy(threats.path().join(name), home.join(name)).unwrap();
    }
    let exe = home.join("debroot");
    std::fs::copy(env!("CARGO_BIN_EXE_debroot"), &exe).unwrap();
    let chown = Command::new("chown")
        .args(["-R", user])
        .arg(home)
        .status()
        .unwrap();
    assert!(chown.success());
    let id = |flag: &str| -> u32 {
        let output = Command::new("id").args([flag, user]).output().unwrap();
        common::stdout(&output).trim().parse().unwrap()
    };

    let output = home.join("out");
    let watch = Watch::start(home, &output, &home.join("cache"), &[]);
    let mut args: Vec<String> = [
        "build",
        "p.toml",
        "-o",
        "out",
        "--frozen",
        "--mode",
        "unshare",
        "--cache-dir",
        "cache",
        "--mirror",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    args.push(threats.fixture.mirror());
    args.extend(escape_hooks(&sentinel.file, &marker));
    let mut command = debroot_command(&exe, home, &args, Some(&sentinel.file));
    command.env("HOME", home).uid(id("-u")).gid(id("-g"));
    let run = Running::start(command).finish(DEADLINE);
    assert_success(&run);
    for (name, what) in [
        ("escape-postinst", "the postinst"),
        ("escape-chroot", "`chroot \"$1\"` in a hook"),
        ("escape-helper", "`debroot hook chroot` in a hook"),
    ] {
        let report = read_marker(&output, name);
        assert!(
            report.starts_with("uid 0\n"),
            "{what}: root inside:\n{report}"
        );
        assert_escape_contained(&report, &format!("{what} (unshare mode)"));
    }
    assert_escape_refused(&output);
    assert!(!marker.exists(), "t-esc wrote the host marker");
    watch.assert_succeeded();
}

// ---------------------------------------------------------------------------------------------
// E1: disk full.

/// Builds `t-many` (with the host base) in `mode` onto a full tmpfs, as a tarball (the tree
/// fits, the tarball does not), as a directory on a 1 MiB tmpfs (the extraction runs out of
/// bytes) and as a directory on a 64 MiB tmpfs of 100 inodes (it runs out of inodes): exit 9
/// naming "No space left on device" (and, for the tarball, its temporary file); no temporary
/// file, no work directory, no output; I1–I7.
fn disk_full(mode: &str) {
    let threats = Threats::new(|_| vec![many_files_package()]);
    let disks = tempfile::tempdir().unwrap();

    // The files' pages, the dpkg database of 30,000 files (about 3 MB) and a margin fit; the
    // tarball adds 512 bytes a file, 15 MB.
    let size = pages_of(&threats.packages) + (6 << 20);
    let tmpfs = Tmpfs::mount(&disks.path().join("tar"), size);
    let output = tmpfs.point.join("out.tar");
    let watch = threats.watch(&output);
    let run = threats.run("p", &output, mode);
    let line = assert_error(&run, 9, &[]);
    let text = stderr(&run);
    assert!(
        text.contains("No space left on device"),
        "the reason is named:\n{text}"
    );
    // The tree fitted: the tarball's write ran out of space. docs/THREATS.md E1 words the error as
    // naming the temporary path; debroot names the final output, which is what the user asked
    // for: either is accepted.
    assert!(
        text.contains("cannot write the tarball")
            && (line.contains(output.to_str().unwrap()) || line.contains(".out.tar.debroot-")),
        "the tarball's write is named (the tree fitted):\n{text}"
    );
    assert!(!output.exists(), "I2: no output");
    let left: Vec<_> = std::fs::read_dir(&tmpfs.point).unwrap().flatten().collect();
    assert!(left.is_empty(), "I2/I6: left on the full disk: {left:?}");
    watch.assert_failed();
    drop(tmpfs);

    let bytes = Tmpfs::mount(&disks.path().join("dir"), 1 << 20);
    let inodes = Tmpfs::mount_with(&disks.path().join("inodes"), "size=64m,nr_inodes=100");
    for tmpfs in [&bytes, &inodes] {
        let output = tmpfs.point.join("out");
        let watch = threats.watch(&output);
        let run = threats.run("p", &output, mode);
        assert_error(&run, 9, &[]);
        let text = stderr(&run);
        assert!(
            text.contains("No space left on device"),
            "the reason is named ({}):\n{text}",
            tmpfs.point.display()
        );
        assert!(!output.exists(), "I2: no output");
        let left: Vec<_> = std::fs::read_dir(&tmpfs.point).unwrap().flatten().collect();
        assert!(left.is_empty(), "I2/I6: left on the full disk: {left:?}");
        watch.assert_failed();
    }
}

/// docs/THREATS.md E1 in root mode: see [`disk_full`].
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn e1_disk_full_root() {
    disk_full("root");
}

/// docs/THREATS.md E1 in extract mode: see [`disk_full`].
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn e1_disk_full_extract() {
    disk_full("extract");
}

// ---------------------------------------------------------------------------------------------
// E2: the final path.

/// docs/THREATS.md E2 (a)–(d), tarballs in root mode: (a) a build failing late (a postinst) leaves
/// an old output byte for byte; (b) a successful build replaces it, and a reader polling the
/// path all along sees the old bytes or the new, never a missing or partial file; (c) a
/// symlink to the sentinel at the final path is replaced by a regular file, the sentinel
/// untouched; (d) temporary-looking files of another user beside the output are left alone.
/// I1–I7 after each.
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn e2_the_final_path_is_old_or_new() {
    let threats = Threats::new(|_| vec![with_postinst("t-fail", "#!/bin/sh\nexit 1\n")]);
    let output = threats.path().join("out.tar");
    let old = b"an old image, not even a tarball\n".to_vec();
    std::fs::write(&output, &old).unwrap();

    // (a)
    let watch = threats.watch(&output);
    let run = threats.run("p", &output, "root");
    assert_error(&run, 8, &["postinst of t-fail (1.0-1)"]);
    assert_eq!(std::fs::read(&output).unwrap(), old, "(a) the old output");
    watch.assert_failed();

    // (b)
    let watch = threats.watch(&output);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let output = output.clone();
        let done = done.clone();
        std::thread::spawn(move || {
            let mut seen = BTreeSet::new();
            let mut missing = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                match std::fs::read(&output) {
                    Ok(bytes) => {
                        seen.insert(repo::sha256_hex(&bytes));
                    }
                    Err(_) => missing += 1,
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            (seen, missing)
        })
    };
    let run = threats.run("base", &output, "root");
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let (seen, missing) = reader.join().unwrap();
    assert_success(&run);
    let new = sha256_file(&output);
    assert_ne!(new, repo::sha256_hex(&old));
    assert_eq!(missing, 0, "(b) the final path was missing {missing} times");
    let other: Vec<&String> = seen
        .iter()
        .filter(|h| **h != new && **h != repo::sha256_hex(&old))
        .collect();
    assert!(
        other.is_empty(),
        "(b) a reader saw a partial output: {other:?}"
    );
    watch.assert_succeeded();

    // (c)
    let link = threats.path().join("link.tar");
    std::os::unix::fs::symlink(&threats.sentinel.file, &link).unwrap();
    let watch = threats.watch(&link);
    let run = threats.run("base", &link, "root");
    // Refused before anything is done (issue 15: only a regular file is ever replaced), the
    // symlink left as it is and the sentinel untouched.
    assert_error(&run, 2, &["exists and is a symbolic link"]);
    let meta = std::fs::symlink_metadata(&link).unwrap();
    assert!(meta.file_type().is_symlink(), "(c) the symlink is left");
    watch.assert_failed();

    // (d)
    let planted: Vec<PathBuf> = [
        ".out.tar.tmp",
        "out.tar.tmp",
        ".out.tar.debroot-1-0.tmp",
        ".out.tar.debroot-1-1.tmp",
    ]
    .iter()
    .map(|name| threats.path().join(name))
    .collect();
    for path in &planted {
        std::fs::write(path, b"another user's file\n").unwrap();
        std::os::unix::fs::chown(path, Some(65534), Some(65534)).unwrap();
        std::fs::set_permissions(path, PermissionsExt::from_mode(0o600)).unwrap();
    }
    let watch = threats.watch(&output).with_planted(&planted);
    let run = threats.run("base", &output, "root");
    assert_success(&run);
    assert_eq!(sha256_file(&output), new);
    watch.assert_succeeded();
}

/// docs/THREATS.md E2 (e): SIGKILL of debroot while it writes the tarball (a large one, `t-many`):
/// the final path still holds the old output, never a part of the new; the next build to the
/// same output succeeds and leaves no temporary file of the killed one (I2); I1–I7.
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn e2_sigkill_while_writing_the_tarball() {
    let threats = Threats::new(|_| vec![many_files_package()]);
    let output = threats.path().join("out.tar");
    let old = b"an old image\n".to_vec();
    std::fs::write(&output, &old).unwrap();
    let watch = threats.watch(&output);
    let mut running = threats.spawn("p", &output, "root", None);
    let prefix = format!(".out.tar.debroot-{}-", running.pid());
    let temporary = || {
        std::fs::read_dir(threats.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|name| name.starts_with(&prefix) && name.ends_with(".tmp"))
    };
    running.wait_until("the tarball's temporary file", || temporary().is_some());
    running.signal(Signal::KILL);
    let killed_temporary = temporary().expect("the temporary file of the killed build");
    let killed = running.finish(DEADLINE);
    assert_eq!(killed.status.signal(), Some(9), "{}", stderr(&killed));
    assert_eq!(
        std::fs::read(&output).unwrap(),
        old,
        "the final path holds the old output"
    );
    assert_no_survivors(&token(), threats.path());

    let run = threats.run("p", &output, "root");
    assert_success(&run);
    assert_ne!(std::fs::read(&output).unwrap(), old);
    // I2 after the recovery build: the killed build's temporary tarball is gone like its work
    // directory (a dead process's `.NAME.debroot-PID-N.tmp` of this user is nobody's).
    let dead = threats.path().join(&killed_temporary);
    assert!(
        !dead.exists(),
        "I2: the killed build's partial tarball `{}` is still there after the next build",
        dead.display()
    );
    watch.assert_succeeded();
}

// ---------------------------------------------------------------------------------------------
// E4: content hygiene and determinism.

/// docs/THREATS.md E4 in root mode: two builds with scripts (services started, daemons left, files
/// in `/tmp` and `/run`) give the same bytes; the tarball has no `policy-rc.d`, no
/// `start-stop-daemon.REAL` (the real one, byte for byte), no `.dpkg-new`/`-old`/`-tmp` or
/// staging, no host `hostname`/`resolv.conf`, `proc/` and `sys/` empty, `dev/` only the static
/// nodes, no mtime after the epoch; I1–I7.
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn e4_root_builds_are_reproducible_and_clean() {
    let litter = format!(
        "#!/bin/sh\nset -e\nmkdir -p /run /{MARKERS}\necho litter > /tmp/t-litter\n\
         echo litter > /run/t-litter\necho ok > /{MARKERS}/t-litter\n"
    );
    let threats = Threats::new(|_| vec![daemon_package(), with_postinst("t-litter", &litter)]);
    let first = threats.path().join("first.tar");
    let watch = threats.watch(&first);
    assert_success(&threats.run("p", &first, "root"));
    watch.assert_succeeded();
    let second = threats.path().join("second.tar");
    let watch = threats.watch(&second);
    assert_success(&threats.run("p", &second, "root"));
    watch.assert_succeeded();
    assert_no_survivors(&token(), threats.path());
    assert_eq!(
        sha256_file(&first),
        sha256_file(&second),
        "two root-mode builds differ"
    );

    let bytes = std::fs::read(&first).unwrap();
    let mut archive = tar::Archive::new(bytes.as_slice());
    let mut entries: BTreeMap<String, (tar::EntryType, Vec<u8>, u64)> = BTreeMap::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let path = path
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_owned();
        let kind = entry.header().entry_type();
        let mtime = entry.header().mtime().unwrap();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        entries.insert(path, (kind, data, mtime));
    }
    assert!(
        entries.contains_key(&format!("{MARKERS}/t-litter")),
        "the scripts ran"
    );
    let unwanted: Vec<&String> = entries
        .keys()
        .filter(|path| {
            let name = path.rsplit('/').next().unwrap_or(path);
            *path == "usr/sbin/policy-rc.d"
                || *path == "usr/sbin/start-stop-daemon.REAL"
                || *path == "tmp/t-litter"
                || *path == "run/t-litter"
                || path.starts_with("var/lib/dpkg/debroot-")
                || path.starts_with("var/lib/dpkg/tmp.ci")
                || name.ends_with(".dpkg-new")
                || name.ends_with(".dpkg-old")
                || name.ends_with(".dpkg-tmp")
                || path.starts_with('/')
                || path.split('/').any(|c| c == "..")
        })
        .collect();
    assert!(unwanted.is_empty(), "in the tarball: {unwanted:?}");
    assert_eq!(
        entries["usr/sbin/start-stop-daemon"].1,
        threats.member_data("dpkg", "./usr/sbin/start-stop-daemon"),
        "the real start-stop-daemon"
    );
    for (file, host) in [
        ("etc/hostname", "/etc/hostname"),
        ("etc/resolv.conf", "/etc/resolv.conf"),
    ] {
        if let (Some((_, data, _)), Ok(host)) = (entries.get(file), std::fs::read(host)) {
            assert!(host.is_empty() || *data != host, "`{file}` is the host's");
        }
    }
    for dir in ["proc", "sys"] {
        assert_eq!(entries[dir].0, tar::EntryType::Directory, "`{dir}`");
        let inside: Vec<&String> = entries
            .keys()
            .filter(|p| p.starts_with(&format!("{dir}/")))
            .collect();
        assert!(inside.is_empty(), "`{dir}/` is not empty: {inside:?}");
    }
    let static_nodes = [
        "console", "fd", "full", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin",
        "stdout", "tty", "urandom", "zero",
    ];
    for (path, (kind, _, _)) in entries.range("dev/".to_owned()..) {
        let Some(name) = path.strip_prefix("dev/") else {
            break;
        };
        assert!(
            static_nodes.contains(&name),
            "`{path}` in the tarball's /dev"
        );
        assert!(
            matches!(
                kind,
                tar::EntryType::Char | tar::EntryType::Symlink | tar::EntryType::Directory
            ),
            "`{path}` is a {kind:?}"
        );
    }
    let late: Vec<(&String, u64)> = entries
        .iter()
        .filter(|(_, (_, _, mtime))| *mtime > EPOCH as u64)
        .map(|(p, (_, _, mtime))| (p, *mtime))
        .collect();
    assert!(late.is_empty(), "mtimes after SOURCE_DATE_EPOCH: {late:?}");
}

// ---------------------------------------------------------------------------------------------
// Gaps of the corpus (tests/THREATS-COVERAGE.md).

/// docs/THREATS.md A7 (d) and C10 (f), in root mode, where the dpkg database is written. (d): the
/// index stanza of `t-status` says `Status: deinstall ok config-files` and carries a field its
/// control file lacks; the database records the package as dpkg does (`install ok installed`,
/// the control file's fields only), one stanza per package, and dpkg itself reads it. (f), as
/// dpkg runs scripts (checked against dpkg 1.22: `dpkg --unpack` then `--configure` of such a
/// package): a postinst without `#!` runs through `/bin/sh`, one that is not executable (mode
/// 0644) runs too; a postinst whose `#!` names a missing interpreter fails the build with exit
/// 8 naming the script and the reason (I1–I7).
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn a7d_c10f_the_index_never_writes_the_database_and_scripts_fail_clearly() {
    let clean = Package::new("t-status", "1.0-1").file("./usr/share/t-status/data", "status\n");
    let indexed = clean
        .clone()
        .field("Status", "deinstall ok config-files")
        .field("X-Index-Only", "injected")
        .raw_deb(clean.deb());
    let no_shebang = with_postinst(
        "t-no-shebang",
        &format!("mkdir -p /{MARKERS}\necho ran > /{MARKERS}/no-shebang\n"),
    );
    let mut not_executable = with_postinst(
        "t-not-executable",
        &format!("#!/bin/sh\nmkdir -p /{MARKERS}\necho ran > /{MARKERS}/not-executable\n"),
    );
    not_executable.control_files[0].2 = 0o644;
    let bad_interpreter = with_postinst("t-bad-interpreter", "#!/nonexistent/t-shell\nexit 0\n");
    let threats = Threats::new(|_| vec![indexed, no_shebang, not_executable, bad_interpreter]);
    threats.profile("status", &["t-status", "t-no-shebang", "t-not-executable"]);
    threats.profile("interpreter", &["t-bad-interpreter"]);

    let output = threats.path().join("out");
    let watch = threats.watch(&output);
    let run = threats.run("status", &output, "root");
    assert_success(&run);
    watch.assert_succeeded();
    let status = std::fs::read_to_string(output.join("var/lib/dpkg/status")).unwrap();
    let stanzas: Vec<&str> = status
        .split("\n\n")
        .filter(|s| s.contains("Package: t-status\n"))
        .collect();
    assert_eq!(stanzas.len(), 1, "one stanza for t-status:\n{status}");
    assert!(
        stanzas[0].contains("Status: install ok installed\n"),
        "{}",
        stanzas[0]
    );
    assert!(!status.contains("X-Index-Only"), "{}", stanzas[0]);
    assert!(!status.contains("config-files"), "{}", stanzas[0]);
    let mut names: Vec<&str> = status
        .lines()
        .filter_map(|l| l.strip_prefix("Package: "))
        .collect();
    let count = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), count, "one stanza per package");
    let query = Command::new("dpkg-query")
        .arg(format!(
            "--admindir={}",
            output.join("var/lib/dpkg").display()
        ))
        .args(["-W", "-f", "${Package} ${db:Status-Abbrev}\\n", "t-status"])
        .output()
        .unwrap();
    assert!(query.status.success(), "{}", stderr(&query));
    assert_eq!(
        String::from_utf8_lossy(&query.stdout).trim_end(),
        "t-status ii"
    );
    assert_eq!(read_marker(&output, "no-shebang"), "ran\n");
    assert_eq!(read_marker(&output, "not-executable"), "ran\n");

    let output = threats.path().join("out-interpreter");
    let watch = threats.watch(&output);
    let run = threats.run("interpreter", &output, "root");
    assert_error(&run, 8, &["postinst of t-bad-interpreter (1.0-1)"]);
    assert!(
        stderr(&run).contains("No such file or directory"),
        "the reason is shown:\n{}",
        stderr(&run)
    );
    assert!(!output.exists(), "I2: no output");
    watch.assert_failed();
}

/// docs/THREATS.md D5 in `unshare` mode, as a normal user with subordinate ids: the same escape
/// attempts as [`d5_escape_attempts_stay_in_the_build`], against a sentinel the user owns (so
/// that only the sandbox, not file permissions, stands in the way), with fds 7 and 8 leaked onto
/// it; then `kill -9 -1` with a process of the same user outside. The sentinel is unchanged and
/// unread, the scripts saw only their namespace and fds 0–2, `mknod` failed, the user's other
/// process survived; no work directory, mount or process is left.
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn d5_escape_attempts_in_unshare_mode() {
    common::tools::require("newuidmap");
    common::tools::require("newgidmap");
    let user = common::user::unprivileged_user();
    let home = tempfile::tempdir().unwrap();
    std::fs::set_permissions(home.path(), PermissionsExt::from_mode(0o755)).unwrap();
    let home = home.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let sentinel = Sentinel::create(&home);
    let threats = Threats::new(|_| {
        vec![
            escaping_package(&sentinel),
            with_postinst(
                "t-killer",
                "#!/bin/sh\necho 't-killer: kill -9 -1'\nkill -9 -1\necho \"t-killer: kill said $?\"\n",
            ),
        ]
    });
    threats.profile("escape", &["t-escape"]);
    threats.profile("killer", &["t-killer"]);
    for name in ["escape.toml", "killer.toml", "keyring.gpg"] {
        std::fs::copy(threats.path().join(name), home.join(name)).unwrap();
    }
    let exe = home.join("debroot");
    std::fs::copy(env!("CARGO_BIN_EXE_debroot"), &exe).unwrap();
    let chown = Command::new("chown")
        .args(["-R", user])
        .arg(&home)
        .status()
        .unwrap();
    assert!(chown.success());
    let snapshot = || common::invariants::snapshot(&sentinel.root, &[]);
    let before = snapshot();
    let build = |profile: &str, output: &str| {
        Command::new("runuser")
            .args(["-u", user, "--", "/bin/sh", "-c"])
            .arg("exec 7>>\"$0\" 8<\"$0\"; exec \"$@\"")
            .arg(&sentinel.file)
            .arg(&exe)
            .args(["build", profile, "-o", output, "--mode", "unshare"])
            .args([
                "--mirror",
                &threats.fixture.mirror(),
                "--cache-dir",
                "cache",
            ])
            .current_dir(&home)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("HOME", &home)
            .env("SOURCE_DATE_EPOCH", EPOCH.to_string())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };

    let run = build("escape.toml", "out");
    assert_success(&run);
    let output = home.join("out");
    assert_eq!(read_marker(&output, "proc1-root.status"), "refused\n");
    assert!(
        !read_marker(&output, "proc1-root").contains("must never change"),
        "the sentinel was read through /proc/1/root"
    );
    assert_own_namespace(&read_marker(&output, "procs"), "/proc");
    let statuses = read_marker(&output, "mknod.status");
    assert!(
        statuses.lines().count() == 2 && statuses.lines().all(|s| s != "0"),
        "mknod failed twice: {statuses}"
    );
    assert!(!output.join(MARKERS).join("t-node").exists());
    let fds = read_marker(&output, "fds");
    let extra: Vec<&str> = fds
        .lines()
        .filter_map(|line| {
            let (left, target) = line.split_once(" -> ")?;
            let fd: u32 = left.rsplit(' ').next()?.parse().ok()?;
            (fd > 2 && !(target.starts_with("/proc/") && target.ends_with("/fd"))).then_some(line)
        })
        .collect();
    assert!(
        extra.is_empty(),
        "fds the script inherited: {extra:?}\n{fds}"
    );
    assert_eq!(
        read_marker(&output, "fd-writes"),
        "",
        "fds 3–9 it could write to"
    );
    assert_eq!(
        common::invariants::differences(&before, &snapshot()),
        Vec::<String>::new(),
        "I1: the user's sentinel changed"
    );

    // The canary runs as the user itself (not under runuser), so that its own pid is killed.
    let id = |flag: &str| -> u32 {
        let out = Command::new("id").args([flag, user]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    let canary_token = format!("{}2", token());
    let mut canary = {
        use std::os::unix::process::CommandExt;
        Command::new("sleep")
            .arg(&canary_token)
            .uid(id("-u"))
            .gid(id("-g"))
            .spawn()
            .unwrap()
    };
    let run = build("killer.toml", "out-killer");
    let canary_alive = canary.try_wait().unwrap().is_none();
    let _ = canary.kill();
    let _ = canary.wait();
    assert!(
        canary_alive,
        "`kill -9 -1` in unshare mode killed the user's process"
    );
    assert_error(&run, 8, &["killed by signal 9"]);
    assert!(!home.join("out-killer").exists(), "I2: no output");
    assert!(work_dirs(&home.join("out-killer")).is_empty(), "I6");
    invariants::assert_no_mounts_below(&home);
    assert_no_survivors(&token(), &home);
    assert_eq!(
        common::invariants::differences(&before, &snapshot()),
        Vec::<String>::new(),
        "I1: the user's sentinel changed"
    );
}

/// docs/THREATS.md E3, the folder half: an output whose folder cannot be written (a read-only
/// mount, which stops root too) is refused before any download, exit 9 naming the folder.
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn e3_an_unwritable_output_folder_is_refused_first() {
    let threats = Threats::new(|_| vec![]);
    let point = threats.path().join("read-only");
    std::fs::create_dir(&point).unwrap();
    rustix::mount::mount(
        "t-ro",
        &point,
        "tmpfs",
        rustix::mount::MountFlags::RDONLY | rustix::mount::MountFlags::NOSUID,
        None,
    )
    .unwrap();
    let tmpfs = Tmpfs {
        point: point.clone(),
    };
    threats.fixture.server.clear_log();
    let output = point.join("out.tar");
    let run = threats.run("base", &output, "root");
    assert_error(
        &run,
        9,
        &[
            "cannot write to the output's folder",
            point.to_str().unwrap(),
        ],
    );
    assert!(
        threats.fixture.server.requests().is_empty(),
        "requests before the preflight: {:?}",
        threats.fixture.server.requests()
    );
    drop(tmpfs);
}

/// docs/THREATS.md D4, the signals the other D4 tests leave out at three of the six points: SIGTERM
/// and SIGHUP during extraction (SIGINT: `d4_signals_during_extraction_and_output`), SIGINT and
/// SIGHUP during the tarball's write (SIGTERM: idem), SIGINT and SIGHUP during a customize hook
/// (SIGTERM: `privileged_hooks::sigterm_during_a_hook_cleans_up`). Each: exit 143 for SIGTERM,
/// 130 otherwise, "interrupted", the hook's processes gone, no output, no temporary file, no
/// work directory (I1–I7).
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn d4_every_signal_at_extraction_hook_and_output() {
    let threats = Threats::new(|_| vec![many_files_package()]);
    let first = format!("usr/share/t-many/{:05}", 0);
    let last = format!("usr/share/t-many/{:05}", MANY_FILES - 1);

    for (signal, code) in [(Signal::TERM, 143), (Signal::HUP, 130)] {
        let output = threats.path().join("out");
        let watch = threats.watch(&output);
        let mut running = threats.spawn("p", &output, "extract", None);
        let in_root = |name: &str| {
            work_dirs(&output)
                .into_iter()
                .any(|work| work.join("root").join(name).exists())
        };
        running.wait_until("t-many's first file", || in_root(&first));
        let midway = !in_root(&last);
        running.signal(signal);
        let run = running.finish(DEADLINE);
        assert!(midway, "{signal:?}: the signal came after the extraction");
        assert_error(&run, code, &["interrupted"]);
        assert!(!output.exists(), "I2: no output");
        watch.assert_failed();
    }

    for (signal, code) in [(Signal::INT, 130), (Signal::HUP, 130)] {
        let output = threats.path().join("out.tar");
        let watch = threats.watch(&output);
        let mut running = threats.spawn("p", &output, "extract", None);
        let temporary = || {
            std::fs::read_dir(threats.path())
                .unwrap()
                .flatten()
                .any(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with(".out.tar.debroot-")
                        && e.path().is_file()
                })
        };
        running.wait_until("the tarball's temporary file", temporary);
        running.signal(signal);
        let run = running.finish(DEADLINE);
        assert_error(&run, code, &["interrupted"]);
        assert!(!output.exists(), "I2: no output");
        watch.assert_failed();
    }

    let marker = threats.path().join("hook-started");
    for (signal, code) in [(Signal::INT, 130), (Signal::HUP, 130)] {
        let _ = std::fs::remove_file(&marker);
        let output = threats.path().join("out-hook");
        let watch = threats.watch(&output);
        let mut args = threats.args("base", &output, "root");
        args.extend([
            "--customize-hook".to_owned(),
            format!(
                "setsid sleep {token} & sleep {token} & touch {}; wait",
                marker.display(),
                token = token()
            ),
        ]);
        let mut command = Command::new(env!("CARGO_BIN_EXE_debroot"));
        command
            .args(&args)
            .current_dir(threats.path())
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("SOURCE_DATE_EPOCH", EPOCH.to_string());
        let mut running = Running::start(command);
        running.wait_until("the hook", || marker.exists());
        running.signal(signal);
        let run = running.finish(DEADLINE);
        assert_error(&run, code, &["interrupted"]);
        assert_no_survivors(&token(), threats.path());
        assert!(!output.exists(), "I2: no output");
        let _ = std::fs::remove_file(&marker);
        watch.assert_failed();
    }
}

/// docs/THREATS.md F4 (b) through the install: `t-cycle-a` and `t-cycle-b` pre-depend on each other
/// (the resolver's side is `tests/scenarios/pre-depends-cycle.toml`). The build succeeds in
/// root mode, both configured (dpkg records both `install ok installed`), the scripts run in
/// the same order in two builds, and the two tarballs are the same bytes.
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn f4b_a_pre_depends_cycle_installs_in_a_defined_order() {
    let appending = |name: &str| {
        format!("#!/bin/sh\nset -e\nmkdir -p /{MARKERS}\necho \"{name} $1\" >> /{MARKERS}/order\n")
    };
    let threats = Threats::new(|_| {
        vec![
            with_postinst("t-cycle-a", &appending("t-cycle-a"))
                .field("Pre-Depends", "t-cycle-b")
                .script("preinst", &appending("t-cycle-a")),
            with_postinst("t-cycle-b", &appending("t-cycle-b"))
                .field("Pre-Depends", "t-cycle-a")
                .script("preinst", &appending("t-cycle-b")),
        ]
    });
    threats.profile("cycle", &["t-cycle-a"]);
    let mut orders = Vec::new();
    let mut digests = Vec::new();
    for name in ["first.tar", "second.tar"] {
        let output = threats.path().join(name);
        let watch = threats.watch(&output);
        let run = threats.run("cycle", &output, "root");
        assert_success(&run);
        watch.assert_succeeded();
        let bytes = std::fs::read(&output).unwrap();
        let mut archive = tar::Archive::new(bytes.as_slice());
        let mut order = String::new();
        let mut status = String::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            if path.ends_with(&format!("{MARKERS}/order")) {
                entry.read_to_string(&mut order).unwrap();
            } else if path.ends_with("var/lib/dpkg/status") {
                entry.read_to_string(&mut status).unwrap();
            }
        }
        for package in ["t-cycle-a", "t-cycle-b"] {
            assert!(
                status.contains(&format!(
                    "Package: {package}\nStatus: install ok installed\n"
                )),
                "{package} configured:\n{status}"
            );
            assert!(
                order.contains(&format!("{package} configure")),
                "{package}'s postinst ran: {order}"
            );
        }
        orders.push(order);
        digests.push(sha256_file(&output));
    }
    assert_eq!(orders[0], orders[1], "the scripts' order is defined");
    assert_eq!(digests[0], digests[1], "the same bytes");
}

/// docs/THREATS.md D2, `service foo start`: Debian's `service` (the host's script, shipped with the
/// `basename` it needs) does not ask `policy-rc.d` (it runs `/etc/init.d/foo` directly, in
/// mmdebstrap's chroots too), so the init script runs; the daemon it leaves behind is dead
/// after the phase (I4), and the build succeeds with I1–I7.
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn d2_a_daemon_started_by_service_dies_with_the_phase() {
    let host = |path: &str| std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let init = format!(
        "#!/bin/sh\n{prelude}case \"$1\" in\n  start)\n    echo started >> /{MARKERS}/t-svc\n    \
         setsid cat /{MARKERS}/hang-{token} &\n    cat /{MARKERS}/hang-{token} &\n    ;;\nesac\nexit 0\n",
        prelude = hang_prelude(),
        token = token()
    );
    let package = with_postinst(
        "t-service",
        &format!("#!/bin/sh\nservice t-svc start\necho \"service=$?\" >> /{MARKERS}/t-svc\n"),
    )
    .member(Member::file(
        "./usr/sbin/service",
        0o755,
        &host("/usr/sbin/service"),
    ))
    .member(Member::file(
        "./usr/bin/basename",
        0o755,
        &host("/usr/bin/basename"),
    ))
    .member(executable("./etc/init.d/t-svc", &init));
    let threats = Threats::new(|_| vec![package]);
    let output = threats.path().join("out");
    let watch = threats.watch(&output);
    let run = threats.run("p", &output, "root");
    assert_success(&run);
    assert_eq!(read_marker(&output, "t-svc"), "started\nservice=0\n");
    assert_no_survivors(&token(), threats.path());
    watch.assert_succeeded();
}

// ---------------------------------------------------------------------------------------------
// G1 and the root's own files: what a package or a script plants in the root is never used by
// debroot on the host's side.

/// Every event inotify reported on `watch`'s directory since it was added, as bytes read.
fn inotify_events(fd: &std::os::fd::OwnedFd) -> usize {
    let mut buffer = vec![0u8; 1 << 16];
    let mut total = 0;
    while let Ok(n) = rustix::io::read(fd, &mut buffer) {
        if n == 0 {
            break;
        }
        total += n;
    }
    total
}

/// docs/THREATS.md G1 (root mode, debroot as PID 1 of a PID namespace, as in a container): a
/// package plants symlinks to a host directory at every name of the extractor's scratch folders of
/// 37001c2 (`.debroot-tmp-1-N`); the next batch's packages (a setuid file among them) are
/// unpacked all the same, and nothing is ever created in the host directory (inotify watches
/// it during the build); I1–I7.
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn g1_scratch_names_a_package_plants_are_never_used() {
    common::tools::require("newuidmap");
    common::tools::require("newgidmap");
    let threats = Threats::new(|sentinel| {
        let target = Sentinel::absolute(&sentinel.dir);
        // Alone in its batch, so only one scratch folder (`-0`) exists while its links are
        // placed; `-1` and up are free to plant.
        let mut planter = Package::new("t-g1-plant", "1.0-1");
        for n in 1..8 {
            planter = planter.member(Member::symlink(&format!("./.debroot-tmp-1-{n}"), &target));
        }
        let victim = |name: &str| {
            Package::new(name, "1.0-1")
                .field("Pre-Depends", "t-g1-plant")
                .member(Member::file(
                    &format!("./usr/bin/{name}"),
                    0o4755,
                    b"suid\n",
                ))
                .member(Member::file(
                    &format!("./usr/share/{name}/data"),
                    0o644,
                    name.as_bytes(),
                ))
        };
        vec![planter, victim("t-g1-victim-a"), victim("t-g1-victim-b")]
    });
    let inotify = rustix::fs::inotify::init(
        rustix::fs::inotify::CreateFlags::NONBLOCK | rustix::fs::inotify::CreateFlags::CLOEXEC,
    )
    .unwrap();
    use rustix::fs::inotify::WatchFlags;
    rustix::fs::inotify::add_watch(
        &inotify,
        &threats.sentinel.dir,
        WatchFlags::CREATE | WatchFlags::MOVED_TO | WatchFlags::MOVED_FROM | WatchFlags::DELETE,
    )
    .unwrap();
    let output = threats.path().join("out");
    let watch = threats.watch(&output);
    let mut command = Command::new("unshare");
    command
        .args(["--pid", "--fork", "--kill-child", "--"])
        .arg(env!("CARGO_BIN_EXE_debroot"))
        .args(threats.args("p", &output, "root"))
        .current_dir(threats.path())
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("SOURCE_DATE_EPOCH", EPOCH.to_string())
        .env("HOME", "/nonexistent-host-home");
    let run = Running::start(command).finish(DEADLINE);
    let events = inotify_events(&inotify);
    assert_success(&run);
    assert_eq!(
        events, 0,
        "files were created in the host directory the planted links point to"
    );
    for name in ["t-g1-victim-a", "t-g1-victim-b"] {
        let path = output.join("usr/bin").join(name);
        assert_eq!(
            std::fs::symlink_metadata(&path)
                .unwrap()
                .permissions()
                .mode()
                & 0o7777,
            0o4755
        );
    }
    watch.assert_succeeded();
}

/// The root's `/etc/group` made a FIFO by a maintainer script: debroot reads the root's user
/// and group names before each batch, through the root (never the host) and only from a
/// regular file, so the next batch fails with a clear error instead of blocking forever on
/// the FIFO; I1–I7.
#[test]
#[ignore = "privileged: needs root (chroot, namespaces, chown)"]
fn root_files_are_read_only_when_regular() {
    let threats = Threats::new(|_| {
        vec![
            with_postinst(
                "t-fifo-group",
                "#!/bin/sh\nset -e\nrm -f /etc/group\nmknod /etc/group p\n",
            ),
            Package::new("t-fifo-later", "1.0-1")
                .field("Pre-Depends", "t-fifo-group")
                .file("./usr/share/t-fifo-later/data", "later\n"),
        ]
    });
    let output = threats.path().join("out");
    let watch = threats.watch(&output);
    let run = threats.run("p", &output, "root");
    assert_error(&run, 9, &["`etc/group`", "not a regular file"]);
    watch.assert_failed();
}
