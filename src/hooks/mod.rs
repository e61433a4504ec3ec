//! Customize hooks: what runs, when, and with which environment (DESIGN §7).
//!
//! Four phases, named as mmdebstrap names them:
//!
//! | phase       | when                                                          |
//! |-------------|---------------------------------------------------------------|
//! | `setup`     | the root is an empty directory, before anything is unpacked   |
//! | `extract`   | the Essential set is unpacked, before any maintainer script   |
//! | `essential` | the Essential set is configured (not in `extract` mode)       |
//! | `customize` | every package is installed, before cleanup                    |
//!
//! Sources, in this order: the profile's hook folders (`build.hooks`; in each, the files whose
//! names start with a phase's name, in byte order of their names; such a file that is not
//! executable is an error, other files are data for the hooks), then `--PHASE-hook` from the
//! command line, in the order given. As in mmdebstrap, a hook that names an executable file is
//! run with the root's path as `$1`; anything else is a shell snippet run by `/bin/sh -c` with
//! the root's path as `$1`. A snippet that starts with a helper's name (`copy-in a /b`) runs
//! that helper, as mmdebstrap's special hooks do ([`HELPERS`]).
//!
//! Hooks run on the host's files (they are not confined to the root: `$1` is the root, and a
//! hook is the user's own code, as in mmdebstrap), in the working directory debroot was started
//! in, inside fresh mount, PID, UTS, IPC and network namespaces like the maintainer scripts (in
//! `unshare` mode, as root of the build's user namespace): `/proc`, `/sys` and `/dev` are
//! mounted in the root while a hook runs, whatever a hook mounts or leaves running is gone when
//! it ends, and a hook has no network. Without privilege (`extract` mode as a user) a hook runs
//! without namespaces, as the user, under debroot's reaper ([`crate::sandbox::reaper`]), which
//! kills whatever the hook left running (a `setsid` daemon included) when it ends, times out or
//! is interrupted.
//!
//! What a hook runs *in* the root is confined as maintainer scripts are, by `pivot_root` in
//! namespaces of its own ([`crate::sandbox`]), when it goes through `debroot hook chroot
//! -- CMD` or through `chroot "$1" CMD`: the first folder of a hook's `PATH` holds a `chroot` that
//! is debroot ([`install_shim`]), which takes `chroot ROOT [CMD...]` for exactly the build's root
//! and hands anything else to the host's `chroot`. A hook that runs `/usr/sbin/chroot` by its
//! path gets the host's `chroot(2)`, which a root process inside can leave; that is the hook's
//! own choice.
//!
//! The environment is built from nothing ([`Contract::environment`]): no variable of the host
//! reaches a hook unless the profile names it in `build.pass-env`.

pub mod transfer;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Classify, ExitClass, Failure};

/// When a hook runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Setup,
    Extract,
    Essential,
    Customize,
}

impl Phase {
    pub const ALL: [Phase; 4] = [
        Phase::Setup,
        Phase::Extract,
        Phase::Essential,
        Phase::Customize,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Setup => "setup",
            Phase::Extract => "extract",
            Phase::Essential => "essential",
            Phase::Customize => "customize",
        }
    }

    /// The phase a hook file's name gives (`customize10-user` is a customize hook).
    pub fn of_file_name(name: &[u8]) -> Option<Phase> {
        Phase::ALL
            .into_iter()
            .find(|phase| name.starts_with(phase.as_str().as_bytes()))
    }
}

/// The helpers a snippet may start with to run `debroot hook NAME ...` (mmdebstrap's special
/// hooks). Not `chroot`: `chroot "$1" CMD` is the shim in the hook's `PATH` ([`install_shim`]).
pub const HELPERS: &[&str] = &[
    "copy-in", "copy-out", "sync-in", "sync-out", "tar-in", "tar-out",
];

/// What a hook runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// An executable file, run with the root as `$1`.
    File(PathBuf),
    /// A shell snippet, run by `/bin/sh -c` with the root as `$1`.
    Snippet(String),
}

/// One hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    pub phase: Phase,
    pub command: Command,
    /// How messages name it: the file, or `--customize-hook 'exit 3'`.
    pub name: String,
}

/// Why the hooks cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("cannot read the hook folder `{path}`")]
    Folder {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("hook `{path}` is not an executable file")]
    NotExecutable { path: PathBuf },
    #[error("hook {name} failed: {status}\n{output}")]
    Failed {
        name: String,
        status: String,
        output: String,
    },
    #[error("hook {name} timed out after {seconds} s\n{output}")]
    TimedOut {
        name: String,
        seconds: u64,
        output: String,
    },
    #[error("cannot run hook {name}")]
    Spawn {
        name: String,
        #[source]
        source: std::io::Error,
    },
}

impl Classify for HookError {
    fn class(&self) -> ExitClass {
        match self {
            HookError::Folder { .. } | HookError::NotExecutable { .. } => ExitClass::Usage,
            HookError::Failed { .. } | HookError::TimedOut { .. } | HookError::Spawn { .. } => {
                ExitClass::Script
            }
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            HookError::NotExecutable { path } => Some(format!(
                "`chmod +x {}`, or rename it: files named setup*, extract*, essential* and customize* in a hook folder are hooks",
                path.display()
            )),
            HookError::Failed { output, .. } | HookError::TimedOut { output, .. }
                if apt_failed(output) =>
            {
                Some(apt_hint(output))
            }
            HookError::TimedOut { .. } => {
                Some("raise `build.hook-timeout` in the profile or `--hook-timeout`".into())
            }
            HookError::Failed { .. } => {
                Some("`--keep-failed` keeps the work directory for inspection".into())
            }
            _ => None,
        }
    }
}

/// Lines of apt-get's (and apt's) output that say it could not find or download a package: in
/// a hook this is the design (the image has no apt sources, hooks have no network), not a fault.
const APT_FAILURES: &[&str] = &[
    "has no installation candidate",
    "Unable to locate package",
    "Temporary failure resolving",
    "Could not resolve '",
    "Failed to fetch",
    "Unable to fetch some archives",
    "Unable to connect to",
    "Could not connect to",
];

/// Whether a hook's output shows apt failing to find or download packages.
fn apt_failed(output: &str) -> bool {
    output
        .lines()
        .any(|line| APT_FAILURES.iter().any(|needle| line.contains(needle)))
}

/// The packages apt says it cannot find: `E: Unable to locate package NAME`, `E: Package 'NAME'
/// has no installation candidate`, in order, without repeats.
fn apt_missing_packages(output: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for line in output.lines() {
        let name = if let Some((_, rest)) = line.split_once("Unable to locate package ") {
            rest.split_whitespace().next()
        } else if line.contains("has no installation candidate") {
            line.split('\'').nth(1)
        } else {
            None
        };
        let Some(name) = name else { continue };
        let valid = crate::debian::PackageName::parse(name).is_ok();
        if valid && !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
    }
    names
}

/// The hint of a hook that ran apt-get: install packages through the profile.
fn apt_hint(output: &str) -> String {
    let names = apt_missing_packages(output);
    let what = if names.is_empty() {
        "the packages".to_owned()
    } else {
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let flag = if names.is_empty() {
        "--include NAME,...".to_owned()
    } else {
        format!("--include {}", names.join(","))
    };
    format!(
        "the image has no apt sources and hooks have no network, by design: add {what} to `packages.include` in the profile (or `{flag}`) instead of installing from a hook"
    )
}

/// Whether `path` is a regular file (after symlinks) with an execute bit.
fn is_executable_file(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The hooks of a build: those of the profile's `folders` (in order; in each, by name), then
/// those of the command line, `cli` being `(phase, text)` in the order given.
pub fn discover(folders: &[PathBuf], cli: &[(Phase, String)]) -> Result<Vec<Hook>, HookError> {
    use std::os::unix::ffi::OsStrExt;
    let mut hooks = Vec::new();
    for folder in folders {
        let error = |source| HookError::Folder {
            path: folder.clone(),
            source,
        };
        let mut names: Vec<std::ffi::OsString> = std::fs::read_dir(folder)
            .map_err(error)?
            .map(|entry| entry.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(error)?;
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for name in names {
            let Some(phase) = Phase::of_file_name(name.as_bytes()) else {
                continue;
            };
            let path = folder.join(&name);
            if !is_executable_file(&path) {
                return Err(HookError::NotExecutable { path });
            }
            hooks.push(Hook {
                phase,
                name: format!("`{}`", path.display()),
                command: Command::File(path),
            });
        }
    }
    for (phase, text) in cli {
        let shown: String = if text.chars().count() > 60 {
            format!("{}...", text.chars().take(57).collect::<String>())
        } else {
            text.clone()
        };
        let name = format!("--{}-hook '{shown}'", phase.as_str());
        let command = if !text.contains(char::is_whitespace) && is_executable_file(Path::new(text))
        {
            Command::File(PathBuf::from(text))
        } else {
            let first = text.split_whitespace().next().unwrap_or("");
            if HELPERS.contains(&first) {
                Command::Snippet(format!("exec debroot hook {text}"))
            } else {
                Command::Snippet(text.clone())
            }
        };
        hooks.push(Hook {
            phase: *phase,
            command,
            name,
        });
    }
    Ok(hooks)
}

/// What a build tells its hooks, through the environment.
#[derive(Debug, Clone)]
pub struct Contract {
    pub mode: String,
    pub suite: String,
    pub arch: String,
    pub profile: PathBuf,
    pub root: PathBuf,
    pub epoch: i64,
    /// The profile's `build.env`.
    pub settings: BTreeMap<String, String>,
    /// The host variables the profile passes (`build.pass-env`) that are set.
    pub passed: Vec<(String, String)>,
    /// The folder of the debroot executable, in `PATH` so hooks can call `debroot hook`.
    pub helper_dir: Option<PathBuf>,
    /// The folder of the `chroot` shim ([`install_shim`]), first in `PATH`.
    pub shim_dir: Option<PathBuf>,
}

/// Makes `dir` (in the work directory, outside the root) hold `chroot`, a link to the running
/// debroot executable: run under that name from a hook, debroot takes `chroot "$1" CMD` and
/// confines CMD to the root by `pivot_root`, as `debroot hook chroot -- CMD` does (see
/// `debroot::commands::chroot_shim`).
pub fn install_shim(dir: &Path) -> std::io::Result<()> {
    let exe = std::env::current_exe()?;
    std::fs::create_dir_all(dir)?;
    let link = dir.join("chroot");
    match std::fs::symlink_metadata(&link) {
        Ok(_) => std::fs::remove_file(&link)?,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    std::os::unix::fs::symlink(exe, link)
}

/// `PATH` for hooks and the commands they chroot into.
pub const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl Contract {
    /// The whole environment of a hook of `phase`, sorted by name:
    ///
    /// - `DEBROOT_PHASE`, `DEBROOT_MODE`, `DEBROOT_SUITE`, `DEBROOT_ARCH` (the native one),
    ///   `DEBROOT_PROFILE` (the profile's path), `DEBROOT_ROOT` (the root, also `$1`);
    /// - `SOURCE_DATE_EPOCH`; `PATH` (the `chroot` shim's folder, then debroot's own); `LC_ALL`
    ///   and `LANG` `C.UTF-8`; `TZ=UTC`; `HOME=/root`; `DEBIAN_FRONTEND=noninteractive`;
    /// - the profile's `build.env` settings, then the host variables it names in
    ///   `build.pass-env` (those set).
    pub fn environment(&self, phase: Phase) -> Vec<(String, String)> {
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        let mut path = match &self.helper_dir {
            Some(dir) if !PATH.split(':').any(|p| Path::new(p) == dir) => {
                format!("{}:{PATH}", dir.display())
            }
            _ => PATH.to_owned(),
        };
        if let Some(dir) = &self.shim_dir {
            path = format!("{}:{path}", dir.display());
        }
        for (key, value) in [
            ("DEBROOT_PHASE", phase.as_str().to_owned()),
            ("DEBROOT_MODE", self.mode.clone()),
            ("DEBROOT_SUITE", self.suite.clone()),
            ("DEBROOT_ARCH", self.arch.clone()),
            ("DEBROOT_PROFILE", self.profile.display().to_string()),
            ("DEBROOT_ROOT", self.root.display().to_string()),
            ("SOURCE_DATE_EPOCH", self.epoch.to_string()),
            ("PATH", path),
            ("LC_ALL", "C.UTF-8".to_owned()),
            ("LANG", "C.UTF-8".to_owned()),
            ("TZ", "UTC".to_owned()),
            ("HOME", "/root".to_owned()),
            ("DEBIAN_FRONTEND", "noninteractive".to_owned()),
            ("DEBCONF_NONINTERACTIVE_SEEN", "true".to_owned()),
        ] {
            env.insert(key.to_owned(), value);
        }
        for (key, value) in self
            .settings
            .iter()
            .chain(self.passed.iter().map(|(k, v)| (k, v)))
        {
            env.entry(key.clone()).or_insert_with(|| value.clone());
        }
        env.into_iter().collect()
    }
}

/// Runs hooks.
pub struct Runner<'a> {
    pub hooks: &'a [Hook],
    pub contract: Contract,
    pub timeout: Duration,
    pub hostname: String,
    /// The working directory of hooks.
    pub cwd: PathBuf,
    /// Whether hooks run in namespaces (root of the host or of a user namespace).
    pub sandboxed: bool,
}

/// Lines of a failing hook's output shown.
const SHOWN_LINES: usize = 25;

impl Runner<'_> {
    /// Runs the hooks of `phase` in order; the first failure stops the build. `on_done` gets
    /// each hook's name and output.
    pub fn run(
        &self,
        phase: Phase,
        on_done: &mut dyn FnMut(&Hook, &str, Duration),
    ) -> Result<(), Failure> {
        let env = self.contract.environment(phase);
        let root = self.contract.root.display().to_string();
        for hook in self.hooks.iter().filter(|h| h.phase == phase) {
            let argv: Vec<String> = match &hook.command {
                Command::File(path) => vec![path.display().to_string(), root.clone()],
                Command::Snippet(text) => vec![
                    "/bin/sh".into(),
                    "-c".into(),
                    text.clone(),
                    "debroot-hook".into(),
                    root.clone(),
                ],
            };
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            let started = std::time::Instant::now();
            let outcome = if self.sandboxed {
                let sandbox = crate::sandbox::Sandbox {
                    root: self.contract.root.clone(),
                    hostname: self.hostname.clone(),
                    env: env.clone(),
                    binds: Vec::new(),
                    helper: None,
                    instant_sleep: false,
                };
                sandbox
                    .run_outside(&argv, &self.cwd, phase != Phase::Setup, Some(self.timeout))
                    .map_err(|e| HookError::Spawn {
                        name: hook.name.clone(),
                        source: e.source,
                    })?
            } else {
                crate::sandbox::run_group(&argv, &env, &self.cwd, Some(self.timeout)).map_err(
                    |source| HookError::Spawn {
                        name: hook.name.clone(),
                        source,
                    },
                )?
            };
            let elapsed = started.elapsed();
            let text = String::from_utf8_lossy(&outcome.output).into_owned();
            if outcome.timed_out {
                return Err(HookError::TimedOut {
                    name: hook.name.clone(),
                    seconds: self.timeout.as_secs(),
                    output: outcome.last_lines(SHOWN_LINES),
                }
                .into());
            }
            if !outcome.status.success() {
                return Err(HookError::Failed {
                    name: hook.name.clone(),
                    status: outcome.status.to_string(),
                    output: outcome.last_lines(SHOWN_LINES),
                }
                .into());
            }
            on_done(hook, &text, elapsed);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_hook_that_ran_apt_get_gets_the_include_hint() {
        let failed = |output: &str| HookError::Failed {
            name: "--customize-hook 'chroot \"$1\" apt-get install -y less'".into(),
            status: "exit status: 100".into(),
            output: output.into(),
        };
        let hint = failed("Reading package lists...\nE: Package 'less' has no installation candidate\nE: Unable to locate package vim\nE: Unable to locate package vim\n")
            .hint()
            .unwrap();
        assert_eq!(
            hint,
            "the image has no apt sources and hooks have no network, by design: add `less`, `vim` to `packages.include` in the profile (or `--include less,vim`) instead of installing from a hook"
        );
        let hint = failed("Err:1 http://deb.example/debian trixie InRelease\n  Temporary failure resolving 'deb.example'\n")
            .hint()
            .unwrap();
        assert!(
            hint.contains("add the packages to `packages.include`"),
            "{hint}"
        );
        assert!(hint.contains("`--include NAME,...`"), "{hint}");
        // Any other failure keeps the usual hint.
        let hint = failed("cp: cannot stat 'x': No such file or directory\n")
            .hint()
            .unwrap();
        assert!(hint.contains("--keep-failed"), "{hint}");
    }

    use super::*;

    #[test]
    fn phases_come_from_file_names() {
        assert_eq!(Phase::of_file_name(b"setup"), Some(Phase::Setup));
        assert_eq!(
            Phase::of_file_name(b"customize10-user"),
            Some(Phase::Customize)
        );
        assert_eq!(Phase::of_file_name(b"essential.sh"), Some(Phase::Essential));
        assert_eq!(Phase::of_file_name(b"README"), None);
        assert_eq!(Phase::of_file_name(b"10-customize"), None);
    }

    #[test]
    fn folder_hooks_run_in_byte_order_before_the_command_line() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "customize20",
            "customize10",
            "Customize0",
            "setup",
            "README",
            "data.txt",
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let hooks = discover(
            &[dir.path().to_path_buf()],
            &[
                (Phase::Customize, "echo hi".into()),
                (Phase::Setup, "copy-in a /b".into()),
            ],
        )
        .unwrap();
        let names: Vec<(Phase, String)> = hooks
            .iter()
            .map(|h| {
                (
                    h.phase,
                    match &h.command {
                        Command::File(p) => p.file_name().unwrap().to_string_lossy().into_owned(),
                        Command::Snippet(s) => s.clone(),
                    },
                )
            })
            .collect();
        assert_eq!(
            names,
            vec![
                (Phase::Customize, "customize10".into()),
                (Phase::Customize, "customize20".into()),
                (Phase::Setup, "setup".into()),
                (Phase::Customize, "echo hi".into()),
                (Phase::Setup, "exec debroot hook copy-in a /b".into()),
            ]
        );
        assert_eq!(hooks[3].name, "--customize-hook 'echo hi'");
    }

    #[test]
    fn a_non_executable_hook_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("customize-x"), "echo\n").unwrap();
        let error = discover(&[dir.path().to_path_buf()], &[]).unwrap_err();
        assert!(matches!(error, HookError::NotExecutable { .. }), "{error}");
        assert_eq!(error.class(), ExitClass::Usage);
        let missing = discover(&[dir.path().join("nope")], &[]).unwrap_err();
        assert!(matches!(missing, HookError::Folder { .. }), "{missing}");
    }

    #[test]
    fn the_environment_is_the_contract_and_nothing_else() {
        let contract = Contract {
            mode: "root".into(),
            suite: "trixie".into(),
            arch: "amd64".into(),
            profile: "/p/kiosk.toml".into(),
            root: "/w/root".into(),
            epoch: 1_700_000_000,
            settings: [("KIOSK_URL".to_owned(), "https://example.org/".to_owned())].into(),
            passed: vec![("HTTP_PROXY".into(), "http://proxy:3128".into())],
            helper_dir: Some("/opt/debroot/bin".into()),
            shim_dir: Some("/w/hook-bin".into()),
        };
        let env: BTreeMap<String, String> =
            contract.environment(Phase::Customize).into_iter().collect();
        assert_eq!(env["DEBROOT_PHASE"], "customize");
        assert_eq!(env["DEBROOT_ROOT"], "/w/root");
        assert_eq!(env["SOURCE_DATE_EPOCH"], "1700000000");
        assert_eq!(env["KIOSK_URL"], "https://example.org/");
        assert_eq!(env["HTTP_PROXY"], "http://proxy:3128");
        assert!(
            env["PATH"].starts_with("/w/hook-bin:/opt/debroot/bin:/usr/local/sbin:"),
            "{}",
            env["PATH"]
        );
        assert_eq!(env.len(), 16, "{env:?}");
    }
}
