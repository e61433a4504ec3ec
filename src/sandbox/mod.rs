//! Running maintainer scripts and hooks in a sealed namespace.
//!
//! Every command runs in fresh mount, PID, UTS, IPC and network namespaces (and, in unshare mode,
//! a user namespace), with the root as its whole world, `/proc`, `/sys` and `/dev` mounted only
//! inside that namespace, stdin from `/dev/null`, and an environment built from scratch. Three
//! processes make it:
//!
//! 1. debroot spawns itself as `__sandbox` with the namespaces unshared before `exec` (and the
//!    parent-death signal set, so it dies with debroot);
//! 2. `__sandbox` closes every descriptor above stderr, turns every mount private (nothing
//!    mounted in the namespace reaches the host, nothing of the host's later mounts comes in),
//!    and spawns itself as `__sandbox-init`, which is PID 1 of the new PID namespace (it also
//!    dies with its parent);
//! 3. `__sandbox-init` bind-mounts the root onto itself, mounts `/proc`, `/sys` (read-only)
//!    and a `/dev` of its own in it, makes it the namespace's root with `pivot_root` and
//!    detaches the old root (`umount2(MNT_DETACH)`), sets the host name, drops the capabilities
//!    that reach past the namespace, runs the command, reaps every orphan, and exits with the
//!    command's status.
//!
//! After `pivot_root` no path leads to the host: `/` is the root and `..` of `/` is `/` for every
//! process of the namespace, whatever it does with `chroot(2)` (the classic escape, `mkdir x;
//! chroot x; cd ..` repeated, `chroot .`, reaches the namespace's root, which is the root). The
//! namespace's PID 1 keeps no descriptor but 0, 1 and 2, and the commands lose
//! `CAP_SYS_PTRACE`, so the kernel refuses them `/proc/1/exe`, `/proc/1/map_files` and
//! `/proc/1/fd` of that init (debroot's executable and the host's libraries it maps); they lose
//! `CAP_DAC_READ_SEARCH`, so `open_by_handle_at(2)` cannot open a file of the root's filesystem
//! outside the root (docs/THREATS.md D5, G2).
//!
//! Hooks run in the same namespaces but not confined to the root ([`Sandbox::run_outside`]):
//! they see the host's files and get the root as `$1`, with `/proc`, `/sys` and `/dev` mounted
//! in the root for as long as they run. A command a hook runs in the root through `debroot hook
//! chroot` (or the `chroot "$1"` shim, see [`crate::hooks`]) gets namespaces of its own nested in
//! the hook's, confined as above, with the hook's standard streams ([`Sandbox::run_attached`]).
//!
//! When PID 1 exits the kernel kills every process left in the namespace (a daemon a postinst
//! double-forked included), and when the last process of the mount namespace is gone its mounts
//! are gone: nothing can outlive a command or leak to the host, even if debroot is killed with
//! SIGKILL (docs/THREATS.md D2, D3, D4, I3, I4).
//!
//! Without namespaces (the hooks of an `extract` build run by a user who may not create them),
//! [`reaper`] contains a command as well as a process can.

pub mod nosleep;
pub mod reaper;

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rustix::mount::{MountFlags, MountPropagationFlags};
use rustix::thread::UnshareFlags;

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Exited(i32),
    Signaled(i32),
}

impl Status {
    pub fn success(self) -> bool {
        self == Status::Exited(0)
    }

    fn from_std(status: std::process::ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            // The inner processes report a signal as 128 + N.
            (Some(code), _) if code > 128 && code < 128 + 65 => Status::Signaled(code - 128),
            (Some(code), _) => Status::Exited(code),
            (None, Some(signal)) => Status::Signaled(signal),
            (None, None) => Status::Exited(-1),
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Status::Exited(code) => write!(f, "exit status {code}"),
            Status::Signaled(signal) => write!(f, "killed by signal {signal}"),
        }
    }
}

/// What a command printed and how it ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: Status,
    /// stdout and stderr interleaved, the last [`KEPT_OUTPUT`] bytes.
    pub output: Vec<u8>,
    /// stderr alone, the last [`KEPT_OUTPUT`] bytes: what a command reports of its own failure
    /// is there even when its children's stdout, read on another thread, arrived after it.
    pub errors: Vec<u8>,
    /// Killed because it ran out of time.
    pub timed_out: bool,
}

/// How much output is kept for error messages.
pub const KEPT_OUTPUT: usize = 64 * 1024;

impl Outcome {
    /// The last `lines` lines of output, for an error message.
    pub fn last_lines(&self, lines: usize) -> String {
        let text = String::from_utf8_lossy(&self.output);
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

/// A failure to set up or run the sandbox itself.
#[derive(Debug, thiserror::Error)]
#[error("cannot run `{command}` in the build namespace")]
pub struct SandboxError {
    pub command: String,
    #[source]
    pub source: std::io::Error,
}

/// The sandbox runs scripts and hooks: failing to run one fails that phase (exit 8).
impl crate::error::Classify for SandboxError {
    fn class(&self) -> crate::error::ExitClass {
        crate::error::ExitClass::Script
    }
}

/// The sealed environment of a build.
#[derive(Debug, Clone)]
pub struct Sandbox {
    pub root: PathBuf,
    pub hostname: String,
    /// The whole environment of commands.
    pub env: Vec<(String, String)>,
    /// Extra read-only bind mounts: (host path, path inside the root).
    pub binds: Vec<(PathBuf, PathBuf)>,
    /// The debroot executable that runs the namespace helpers (default: this one).
    pub helper: Option<PathBuf>,
    /// Commands' sleeps return at once ([`nosleep`]): for what dpkg runs, never for hooks.
    pub instant_sleep: bool,
}

impl Sandbox {
    /// The fixed environment of maintainer scripts: nothing from the host.
    pub fn default_env(epoch: i64) -> Vec<(String, String)> {
        vec![
            (
                "PATH".into(),
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
            ),
            ("LC_ALL".into(), "C.UTF-8".into()),
            ("LANG".into(), "C.UTF-8".into()),
            ("DEBIAN_FRONTEND".into(), "noninteractive".into()),
            ("DEBCONF_NONINTERACTIVE_SEEN".into(), "true".into()),
            ("SOURCE_DATE_EPOCH".into(), epoch.to_string()),
            ("HOME".into(), "/root".into()),
            ("TZ".into(), "UTC".into()),
        ]
    }

    /// Runs `argv` confined to the root (the namespace's whole world), in fresh namespaces,
    /// stdin from `/dev/null`; returns its status and the tail of its output.
    pub fn run(&self, argv: &[&str]) -> Result<Outcome, SandboxError> {
        self.run_with_timeout(argv, None)
    }

    /// As [`Sandbox::run`], telling `watch` each line the command writes to stdout as it comes
    /// (for progress: dpkg's `Setting up NAME (VERSION) ...`).
    pub fn run_watching(
        &self,
        argv: &[&str],
        watch: &mut dyn FnMut(&str),
    ) -> Result<Outcome, SandboxError> {
        self.spawn_watching(argv, &View::Root, None, Some(watch))
    }

    /// As [`Sandbox::run`], killing the whole namespace after `timeout`.
    pub fn run_with_timeout(
        &self,
        argv: &[&str],
        timeout: Option<std::time::Duration>,
    ) -> Result<Outcome, SandboxError> {
        self.spawn(argv, &View::Root, timeout)
    }

    /// Runs `argv` in the same fresh namespaces but not confined to the root: it sees the host's
    /// files, in `cwd`, with `/proc`, `/sys` and `/dev` mounted in the root (unless `mount_root`
    /// is false: an empty root has nothing to mount them in) for as long as it runs. For hooks,
    /// which get the root as `$1`.
    pub fn run_outside(
        &self,
        argv: &[&str],
        cwd: &Path,
        mount_root: bool,
        timeout: Option<std::time::Duration>,
    ) -> Result<Outcome, SandboxError> {
        self.spawn(
            argv,
            &View::Outside {
                cwd: cwd.to_path_buf(),
                mount_root,
            },
            timeout,
        )
    }

    /// Runs `argv` confined to the root as [`Sandbox::run`] does, but with this process's
    /// standard streams (stdin included) and no time limit, and returns the exit code a shell
    /// would report (128 + N for signal N). For `debroot hook chroot` in a hook, which stands
    /// for `chroot "$1" CMD`: what the command prints and its status are the hook's to use.
    pub fn run_attached(&self, argv: &[&str]) -> Result<i32, SandboxError> {
        let error = |source| SandboxError {
            command: argv.join(" "),
            source,
        };
        let mut command = self.command(argv, &View::Root, true).map_err(error)?;
        let mut child = command.spawn().map_err(error)?;
        crate::workdir::track_child(child.id(), true);
        let status = child.wait();
        crate::workdir::track_child(child.id(), false);
        status.map(exit_code).map_err(error)
    }

    fn spawn(
        &self,
        argv: &[&str],
        view: &View,
        timeout: Option<std::time::Duration>,
    ) -> Result<Outcome, SandboxError> {
        self.spawn_watching(argv, view, timeout, None)
    }

    fn spawn_watching(
        &self,
        argv: &[&str],
        view: &View,
        timeout: Option<std::time::Duration>,
        watch: Option<&mut dyn FnMut(&str)>,
    ) -> Result<Outcome, SandboxError> {
        let error = |source| SandboxError {
            command: argv.join(" "),
            source,
        };
        let mut command = self.command(argv, view, false).map_err(error)?;
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().map_err(error)?;
        // Killed first when debroot is interrupted: the namespace dies with it, before the
        // work directory is removed.
        crate::workdir::track_child(child.id(), true);
        let output = collect_output(&mut child, timeout, None, watch);
        crate::workdir::track_child(child.id(), false);
        output.map_err(error)
    }

    /// `debroot __sandbox ARGS`, to be started in fresh namespaces; `attached`: the command
    /// keeps the standard streams it is given (stdin included).
    fn command(&self, argv: &[&str], view: &View, attached: bool) -> std::io::Result<Command> {
        let exe = match &self.helper {
            Some(helper) => helper.clone(),
            None => PathBuf::from(crate::SELF_EXE),
        };
        // `__sandbox` works from `/`: a relative root would not name the same folder.
        let root = std::path::absolute(&self.root)?;
        let mut command = Command::new(&exe);
        command
            .arg("__sandbox")
            .args(self.inner_args(&root, argv, view, attached));
        command.env_clear();
        // SAFETY: between fork and exec only async-signal-safe system calls are made (prctl,
        // setsid, unshare); no allocation, no lock.
        unsafe {
            command.pre_exec(|| {
                rustix::process::set_parent_process_death_signal(Some(
                    rustix::process::Signal::KILL,
                ))?;
                // A session of its own, without a controlling terminal: `/dev/tty` opens
                // nothing, so no command can write to the user's terminal or push input into
                // its shell (TIOCSTI). debroot relays interruptions itself.
                rustix::process::setsid()?;
                rustix::thread::unshare_unsafe(
                    UnshareFlags::NEWNS
                        | UnshareFlags::NEWPID
                        | UnshareFlags::NEWUTS
                        | UnshareFlags::NEWIPC
                        | UnshareFlags::NEWNET,
                )?;
                Ok(())
            });
        }
        Ok(command)
    }

    fn inner_args(&self, root: &Path, argv: &[&str], view: &View, attached: bool) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["--root".into(), root.as_os_str().to_owned()];
        if let View::Outside { cwd, mount_root } = view {
            args.push("--outside".into());
            args.push(cwd.clone().into_os_string());
            if !mount_root {
                args.push("--no-mounts".into());
            }
        }
        if attached {
            args.push("--attached".into());
        }
        if self.instant_sleep {
            args.push("--instant-sleep".into());
        }
        args.push("--hostname".into());
        args.push(self.hostname.clone().into());
        for (key, value) in &self.env {
            args.push("--env".into());
            args.push(format!("{key}={value}").into());
        }
        for (host, inside) in &self.binds {
            args.push("--bind".into());
            let mut spec = host.clone().into_os_string();
            spec.push(":");
            spec.push(inside.as_os_str());
            args.push(spec);
        }
        args.push("--".into());
        args.extend(argv.iter().map(OsString::from));
        args
    }
}

/// What the command sees of the filesystem.
enum View {
    /// The root, as the namespace's `/` (`pivot_root`), and nothing else.
    Root,
    /// The host's files, in `cwd`; the root with `/proc`, `/sys` and `/dev` if `mount_root`.
    Outside { cwd: PathBuf, mount_root: bool },
}

/// How long a reaper told to stop may take to kill what it adopted.
const REAPER_GRACE: std::time::Duration = std::time::Duration::from_secs(15);

/// Reads the child's stdout and stderr into one bounded buffer, and waits (killing it after
/// `timeout`). With a process `group` (the child is a reaper leading it), the group is killed
/// once the child has exited (what it left in the background would hold the pipes open); on
/// timeout the reaper gets SIGTERM, and SIGKILL with its group if it has not stopped after
/// [`REAPER_GRACE`]. `watch` is told each complete line of stdout (lossily decoded).
fn collect_output(
    child: &mut std::process::Child,
    timeout: Option<std::time::Duration>,
    group: Option<rustix::process::Pid>,
    mut watch: Option<&mut dyn FnMut(&str)>,
) -> std::io::Result<Outcome> {
    // stdout not yet ended by a newline, for `watch` (bounded: a line is cut at 4 KiB).
    let mut partial: Vec<u8> = Vec::new();
    // (from stderr, bytes)
    let (sender, receiver) = std::sync::mpsc::channel::<(bool, Vec<u8>)>();
    let mut readers = Vec::new();
    for (is_err, stream) in [
        (
            false,
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ),
        (
            true,
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ),
    ] {
        let Some(stream) = stream else { continue };
        let sender = sender.clone();
        readers.push(std::thread::spawn(move || {
            let mut stream = stream;
            let mut buffer = [0u8; 8192];
            while let Ok(n) = stream.read(&mut buffer) {
                if n == 0 || sender.send((is_err, buffer[..n].to_vec())).is_err() {
                    break;
                }
            }
        }));
    }
    drop(sender);
    let started = std::time::Instant::now();
    let mut output: Vec<u8> = Vec::new();
    let mut errors: Vec<u8> = Vec::new();
    let mut timed_out = false;
    loop {
        match receiver.recv_timeout(std::time::Duration::from_millis(100)) {
            Ok((is_err, chunk)) => {
                if let (false, Some(watch)) = (is_err, watch.as_mut()) {
                    partial.extend_from_slice(&chunk);
                    while let Some(end) = partial.iter().position(|&b| b == b'\n') {
                        watch(&String::from_utf8_lossy(&partial[..end]));
                        partial.drain(..=end);
                    }
                    partial.truncate(4096);
                }
                let kept: &mut [&mut Vec<u8>] = if is_err {
                    &mut [&mut output, &mut errors]
                } else {
                    &mut [&mut output]
                };
                for buffer in kept.iter_mut() {
                    buffer.extend_from_slice(&chunk);
                    if buffer.len() > 2 * KEPT_OUTPUT {
                        buffer.drain(..buffer.len() - KEPT_OUTPUT);
                    }
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if let Some(group) = group
                    && matches!(child.try_wait(), Ok(Some(_)))
                {
                    let _ =
                        rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
                }
            }
        }
        if let Some(limit) = timeout
            && !timed_out
            && started.elapsed() > limit
        {
            match group {
                // The reaper kills all the command started, then exits.
                Some(_) => {
                    let _ = rustix::process::kill_process(
                        rustix::process::Pid::from_child(child),
                        rustix::process::Signal::TERM,
                    );
                }
                // The namespace's PID 1 dies with its parent; everything in it dies with it.
                None => {
                    let _ = child.kill();
                }
            }
            timed_out = true;
        }
        // A reaper that does not stop (it cannot: SIGKILL for it and its group).
        if let (Some(limit), Some(group)) = (timeout, group)
            && timed_out
            && started.elapsed() > limit + REAPER_GRACE
        {
            let _ = child.kill();
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
    }
    for reader in readers {
        let _ = reader.join();
    }
    let status = child.wait()?;
    for buffer in [&mut output, &mut errors] {
        if buffer.len() > KEPT_OUTPUT {
            buffer.drain(..buffer.len() - KEPT_OUTPUT);
        }
    }
    let status = if timed_out {
        Status::Signaled(9)
    } else {
        Status::from_std(status)
    };
    if timed_out {
        output.extend_from_slice(b"\n(timed out)\n");
    }
    Ok(Outcome {
        status,
        output,
        errors,
        timed_out,
    })
}

/// Runs `argv` without namespaces (no privilege: hooks of an `extract` build as a user)
/// under debroot's `__reaper` ([`reaper`]), in a process group of its own, in `cwd`,
/// with exactly `env`, stdin from `/dev/null`. What the command leaves running, a daemon that
/// left the group with `setsid` included, is killed when it ends, after `timeout`, or when
/// debroot is interrupted.
pub fn run_group(
    argv: &[&str],
    env: &[(String, String)],
    cwd: &Path,
    timeout: Option<std::time::Duration>,
) -> std::io::Result<Outcome> {
    if argv.is_empty() {
        return Err(std::io::Error::other("no command"));
    }
    let mut command = Command::new(crate::SELF_EXE);
    command
        .arg("__reaper")
        .arg("--")
        .args(argv)
        .current_dir(cwd)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = command.spawn()?;
    let group = rustix::process::Pid::from_child(&child);
    crate::workdir::track_child(child.id(), true);
    let outcome = collect_output(&mut child, timeout, Some(group), None);
    let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    crate::workdir::track_child(child.id(), false);
    outcome
}

/// Arguments of the hidden `__sandbox` and `__sandbox-init` subcommands.
#[derive(Debug, Default)]
pub struct InnerArgs {
    pub root: PathBuf,
    /// Not confined to the root: the working directory on the host.
    pub outside: Option<PathBuf>,
    pub no_mounts: bool,
    /// The command keeps the standard streams (stdin is not `/dev/null`).
    pub attached: bool,
    /// The command's sleeps return at once ([`nosleep`]).
    pub instant_sleep: bool,
    pub hostname: String,
    pub env: Vec<(String, String)>,
    pub binds: Vec<(PathBuf, PathBuf)>,
    pub argv: Vec<OsString>,
}

/// Parses `--root R [--outside CWD] [--no-mounts] [--attached] [--instant-sleep] --hostname H
/// --env K=V... --bind A:B... -- ARGV...`.
pub fn parse_inner(args: &[OsString]) -> Result<InnerArgs, String> {
    let mut inner = InnerArgs::default();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].to_str().unwrap_or("");
        let value = || {
            args.get(i + 1)
                .cloned()
                .ok_or(format!("{arg} needs a value"))
        };
        match arg {
            "--no-mounts" => {
                inner.no_mounts = true;
                i += 1;
                continue;
            }
            "--attached" => {
                inner.attached = true;
                i += 1;
                continue;
            }
            "--instant-sleep" => {
                inner.instant_sleep = true;
                i += 1;
                continue;
            }
            "--root" => inner.root = PathBuf::from(value()?),
            "--outside" => inner.outside = Some(PathBuf::from(value()?)),
            "--hostname" => inner.hostname = value()?.to_string_lossy().into_owned(),
            "--env" => {
                let text = value()?.to_string_lossy().into_owned();
                let (key, val) = text.split_once('=').ok_or("--env needs KEY=VALUE")?;
                inner.env.push((key.to_owned(), val.to_owned()));
            }
            "--bind" => {
                let text = value()?;
                let bytes = text.as_bytes();
                let colon = bytes
                    .iter()
                    .rposition(|&b| b == b':')
                    .ok_or("--bind needs HOST:INSIDE")?;
                inner.binds.push((
                    PathBuf::from(OsStr::from_bytes(&bytes[..colon])),
                    PathBuf::from(OsStr::from_bytes(&bytes[colon + 1..])),
                ));
            }
            "--" => {
                inner.argv = args[i + 1..].to_vec();
                break;
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
        i += 2;
    }
    if !inner.root.is_absolute() || inner.argv.is_empty() {
        return Err("an absolute --root and a command are required".into());
    }
    Ok(inner)
}

/// The exit code a shell would report for `status` (128 + N for signal N).
pub(super) fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        _ => 1,
    }
}

/// `__sandbox`: in the new namespaces (but not yet PID 1), drop inherited descriptors, make
/// mounts private and start PID 1.
pub fn sandbox_main(args: &[OsString]) -> i32 {
    let fail = |message: String| {
        eprintln!("debroot sandbox: {message}");
        125
    };
    close_inherited_descriptors();
    if let Err(message) = parse_inner(args) {
        return fail(format!("invalid arguments: {message}"));
    }
    // No working directory on the host: `/` follows the root through `pivot_root`.
    if let Err(error) = std::env::set_current_dir("/") {
        return fail(format!("cannot enter `/`: {error}"));
    }
    if let Err(error) = rustix::mount::mount_change(
        "/",
        MountPropagationFlags::REC | MountPropagationFlags::PRIVATE,
    ) {
        return fail(format!("cannot make mounts private: {error}"));
    }
    let mut init = Command::new(crate::SELF_EXE);
    init.arg("__sandbox-init").args(args);
    // SAFETY: only prctl between fork and exec.
    unsafe {
        init.pre_exec(|| {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))?;
            Ok(())
        });
    }
    match init.status() {
        Ok(status) => exit_code(status),
        Err(error) => fail(format!("cannot start the namespace's init: {error}")),
    }
}

fn ensure_dir(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(std::io::Error::other(format!(
            "`{}` is not a directory; refusing to mount over it",
            path.display()
        ))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir(path),
        Err(error) => Err(error),
    }
}

fn setup_mounts(inner: &InnerArgs) -> std::io::Result<()> {
    let root = &inner.root;
    let nosuid = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
    ensure_dir(&root.join("proc"))?;
    rustix::mount::mount("proc", root.join("proc"), "proc", nosuid, None)?;
    ensure_dir(&root.join("sys"))?;
    rustix::mount::mount(
        "sysfs",
        root.join("sys"),
        "sysfs",
        nosuid | MountFlags::RDONLY,
        None,
    )?;
    let dev = root.join("dev");
    ensure_dir(&dev)?;
    rustix::mount::mount(
        "tmpfs",
        &dev,
        "tmpfs",
        MountFlags::NOSUID | MountFlags::NOEXEC,
        Some(c"mode=0755,size=65536k"),
    )?;
    for node in ["null", "zero", "full", "random", "urandom", "tty"] {
        let target = dev.join(node);
        std::fs::write(&target, b"")?;
        rustix::mount::mount_bind(Path::new("/dev").join(node), &target)?;
    }
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ] {
        std::os::unix::fs::symlink(target, dev.join(name))?;
    }
    std::fs::create_dir(dev.join("pts"))?;
    rustix::mount::mount(
        "devpts",
        dev.join("pts"),
        "devpts",
        MountFlags::NOSUID | MountFlags::NOEXEC,
        Some(c"newinstance,ptmxmode=0666,mode=0620"),
    )?;
    std::fs::create_dir(dev.join("shm"))?;
    rustix::mount::mount(
        "tmpfs",
        dev.join("shm"),
        "tmpfs",
        nosuid,
        Some(c"mode=1777"),
    )?;
    for (host, inside) in &inner.binds {
        let target = root.join(inside.strip_prefix("/").unwrap_or(inside));
        if host.is_dir() {
            ensure_dir(&target)?;
        } else if !target.exists() {
            std::fs::write(&target, b"")?;
        }
        rustix::mount::mount_bind(host, &target)?;
        rustix::mount::mount_remount(&target, MountFlags::BIND | MountFlags::RDONLY, "")?;
    }
    Ok(())
}

/// Closes every descriptor above stderr, whatever debroot's own parent left open: the command
/// inherits only 0, 1 and 2, and the namespace's init holds nothing a command could reopen
/// through `/proc/1/fd` (docs/THREATS.md D5).
fn close_inherited_descriptors() {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<i32> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
        .filter(|&fd| fd > 2)
        .collect();
    // The listing's own descriptor is closed by now: one that is no longer open is skipped.
    for fd in fds {
        // SAFETY: the descriptor is only borrowed to ask whether it is open; nothing else of this
        // single-threaded process uses descriptors above 2 at this point.
        let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        if rustix::io::fcntl_getfd(borrowed).is_ok() {
            // SAFETY: the descriptor is open and owned by nothing in this process (inherited).
            unsafe { rustix::io::close(fd) };
        }
    }
}

/// Capabilities no maintainer script or hook needs and that reach past the namespace even as
/// root of the host: device nodes (a disk's), kernel modules, raw I/O, the clocks, reboot, the
/// kernel log, accounting, MAC and audit policy. They leave the bounding set of everything the
/// namespace runs (docs/THREATS.md D5: `mknod /dev/sdz b 8 0` fails).
const DROPPED_CAPABILITIES: [rustix::thread::CapabilitySet; 13] = {
    use rustix::thread::CapabilitySet as C;
    [
        C::MKNOD,
        C::SYS_MODULE,
        C::SYS_RAWIO,
        C::SYS_BOOT,
        C::SYS_TIME,
        C::WAKE_ALARM,
        C::SYSLOG,
        C::SYS_PACCT,
        C::SYS_TTY_CONFIG,
        C::MAC_OVERRIDE,
        C::MAC_ADMIN,
        C::AUDIT_CONTROL,
        C::BLOCK_SUSPEND,
    ]
};

/// What commands confined to the root lose besides [`DROPPED_CAPABILITIES`] (hooks, which see
/// the host anyway, keep them):
///
/// - `CAP_SYS_PTRACE`: without it a command, holding fewer capabilities than the namespace's
///   init, is refused ptrace access to it, and with it `/proc/1/exe`, `/proc/1/map_files/*` and
///   `/proc/1/fd/*` (debroot's executable and the host's libraries, files on the host that a
///   root command could open for writing);
/// - `CAP_DAC_READ_SEARCH`: `open_by_handle_at(2)` opens any file of a filesystem by its handle,
///   whatever the mount namespace (the root's filesystem is usually the host's). Root keeps its
///   access to every file of the tree through `CAP_DAC_OVERRIDE`.
const CONFINED_DROPPED_CAPABILITIES: [rustix::thread::CapabilitySet; 2] = {
    use rustix::thread::CapabilitySet as C;
    [C::SYS_PTRACE, C::DAC_READ_SEARCH]
};

fn drop_host_capabilities(confined: bool) -> std::io::Result<()> {
    let extra: &[rustix::thread::CapabilitySet] = if confined {
        &CONFINED_DROPPED_CAPABILITIES
    } else {
        &[]
    };
    for &capability in DROPPED_CAPABILITIES.iter().chain(extra) {
        rustix::thread::remove_capability_from_bounding_set(capability)?;
    }
    Ok(())
}

/// Makes the root the namespace's whole world: binds it onto itself (`pivot_root` needs a mount
/// point; the mounts are private, so the host sees none of this), mounts `/proc`, `/sys` and
/// `/dev` in it, makes it `/` and detaches the old root, so that no path leads back to the host:
/// `..` of `/` is `/`, for `chroot(2)` escapes too. Leaves the working directory at `/`.
fn enter_root(inner: &InnerArgs) -> std::io::Result<()> {
    let root = &inner.root;
    // Recursive: a root given with `--root` may hold mounts of its own (a hook's `/proc`).
    rustix::mount::mount_bind_recursive(root, root)?;
    setup_mounts(inner)?;
    std::env::set_current_dir(root)?;
    // The old root ends stacked on the new one, at `/`; unmounting `.` detaches it (and all
    // below it) from the namespace. See pivot_root(2).
    rustix::process::pivot_root(".", ".").map_err(|error| {
        let error = std::io::Error::from(error);
        if error.kind() == std::io::ErrorKind::InvalidInput {
            std::io::Error::new(
                error.kind(),
                format!("pivot_root: {error} (is debroot itself in a chroot? its `/` must be a mount point)"),
            )
        } else {
            error
        }
    })?;
    rustix::mount::unmount(".", rustix::mount::UnmountFlags::DETACH)?;
    std::env::set_current_dir("/")
}

/// `__sandbox-init`: PID 1 of the namespace.
pub fn init_main(args: &[OsString]) -> i32 {
    let fail = |message: String| {
        eprintln!("debroot sandbox: {message}");
        125
    };
    close_inherited_descriptors();
    // Not dumpable: its `/proc/1` links need CAP_SYS_PTRACE, which confined commands lack.
    if let Err(error) =
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
    {
        return fail(format!(
            "cannot make the namespace's init undumpable: {error}"
        ));
    }
    let inner = match parse_inner(args) {
        Ok(inner) => inner,
        Err(message) => return fail(message),
    };
    match &inner.outside {
        None => {
            if let Err(error) = enter_root(&inner) {
                return fail(format!(
                    "cannot make `{}` the namespace's root: {error}",
                    inner.root.display()
                ));
            }
        }
        Some(cwd) => {
            if !inner.no_mounts
                && let Err(error) = setup_mounts(&inner)
            {
                return fail(format!(
                    "cannot set up mounts under `{}`: {error}",
                    inner.root.display()
                ));
            }
            if let Err(error) = std::env::set_current_dir(cwd) {
                return fail(format!("cannot enter `{}`: {error}", cwd.display()));
            }
        }
    }
    if !inner.hostname.is_empty()
        && let Err(error) = rustix::system::sethostname(inner.hostname.as_bytes())
    {
        return fail(format!("cannot set the host name: {error}"));
    }
    if let Err(error) = drop_host_capabilities(inner.outside.is_none()) {
        return fail(format!("cannot limit capabilities: {error}"));
    }
    let mut command = Command::new(&inner.argv[0]);
    command.args(&inner.argv[1..]).env_clear();
    if !inner.attached {
        command.stdin(Stdio::null());
    }
    for (key, value) in &inner.env {
        command.env(key, value);
    }
    if inner.instant_sleep {
        let filter = nosleep::Filter::new();
        // SAFETY: between fork and exec only system calls are made (prctl, seccomp) on a
        // program built before the fork; no allocation, no lock.
        unsafe {
            command.pre_exec(move || filter.install());
        }
    }
    let child = match command.spawn() {
        Ok(child) => child,
        Err(error) => {
            eprintln!(
                "debroot sandbox: cannot run `{}`: {error}",
                inner.argv[0].to_string_lossy()
            );
            // As a shell or chroot(8) says it: 127 not found, 126 found but not runnable.
            return if error.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            };
        }
    };
    let main = rustix::process::Pid::from_child(&child);
    // Reap every process until the command itself exits.
    loop {
        match rustix::process::wait(rustix::process::WaitOptions::empty()) {
            Ok(Some((pid, status))) if pid == main => {
                if let Some(code) = status.exit_status() {
                    return code;
                }
                return 128 + status.terminating_signal().unwrap_or(1);
            }
            Ok(_) => continue,
            Err(rustix::io::Errno::INTR) => continue,
            Err(error) => return fail(format!("waiting for the command: {error}")),
        }
    }
}
