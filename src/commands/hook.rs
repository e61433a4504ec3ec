//! `debroot hook`: the helpers hooks call (see `hooks`).

use std::path::{Path, PathBuf};

use super::Outcome;
use super::error::CommandError;
use crate::cli::HookCommand;
use crate::context::Context;
use crate::error::Failure;
use crate::hooks::transfer::{self, Direction};
use crate::pipeline::Env;

/// The root a helper works on: `--root`, else `DEBROOT_ROOT`.
fn root_of(env: &Env<'_>, root: Option<PathBuf>) -> Result<PathBuf, Failure> {
    let root = root
        .or_else(|| env.context.hook_root())
        .ok_or(CommandError::NoHookRoot)?;
    if !root.is_dir() {
        return Err(CommandError::RootNotADirectory(root).into());
    }
    Ok(root)
}

/// `PATH... DIR`: the paths and the folder.
fn split_last(paths: &[PathBuf]) -> (&[PathBuf], &Path) {
    match paths.split_last() {
        Some((last, rest)) => (rest, last.as_path()),
        None => (&[], Path::new("")),
    }
}

pub fn run(env: &Env<'_>, command: HookCommand) -> Result<Outcome, Failure> {
    match command {
        HookCommand::Chroot { root, command } => {
            let root = root_of(env, root)?;
            if env.context.in_hook() {
                let code = confined(env.context, &root, &command)?;
                Ok(Outcome::Status(code))
            } else {
                sealed(env, &root, &command)
            }
        }
        HookCommand::CopyIn { root, paths } => {
            let root = root_of(env, root)?;
            let (paths, dir) = split_last(&paths);
            transfer::copy_paths(&root, Direction::In, paths, dir)?;
            Ok(Outcome::Success)
        }
        HookCommand::CopyOut { root, paths } => {
            let root = root_of(env, root)?;
            let (paths, dir) = split_last(&paths);
            transfer::copy_paths(&root, Direction::Out, paths, dir)?;
            Ok(Outcome::Success)
        }
        HookCommand::SyncIn { root, from, to } => {
            let root = root_of(env, root)?;
            transfer::sync(&root, Direction::In, &from, &to)?;
            Ok(Outcome::Success)
        }
        HookCommand::SyncOut { root, from, to } => {
            let root = root_of(env, root)?;
            transfer::sync(&root, Direction::Out, &from, &to)?;
            Ok(Outcome::Success)
        }
        HookCommand::TarIn { root, tarball, dir } => {
            let root = root_of(env, root)?;
            transfer::tar_in(&root, &tarball, &dir)?;
            Ok(Outcome::Success)
        }
        HookCommand::TarOut { root, dir, tarball } => {
            let root = root_of(env, root)?;
            transfer::tar_out(&root, &dir, &tarball)?;
            Ok(Outcome::Success)
        }
    }
}

/// Outside a hook (a built tree, `--root DIR`): runs `command` confined to the root in fresh
/// namespaces of its own, as maintainer scripts run (`/proc`, `/sys`, `/dev` mounted only for it, no network,
/// stdin from `/dev/null`), relays what it printed and fails with exit 8 if it fails.
fn sealed(env: &Env<'_>, root: &Path, command: &[std::ffi::OsString]) -> Result<Outcome, Failure> {
    use std::io::Write;
    let epoch = env.context.source_date_epoch()?.unwrap_or(0);
    let argv: Vec<String> = command
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let sandbox = crate::sandbox::Sandbox {
        root: root.to_path_buf(),
        hostname: "localhost".into(),
        env: crate::sandbox::Sandbox::default_env(epoch),
        binds: Vec::new(),
        helper: None,
        instant_sleep: false,
    };
    let outcome = sandbox.run(&argv)?;
    let _ = std::io::stdout().write_all(&outcome.output);
    if outcome.status.success() {
        Ok(Outcome::Success)
    } else {
        Err(CommandError::CommandFailed {
            command: argv.join(" "),
            root: root.to_path_buf(),
            status: outcome.status.to_string(),
        }
        .into())
    }
}

/// Inside a hook: runs `command` confined to the root (`pivot_root`, as maintainer scripts run)
/// in namespaces of its own nested in the hook's, with the hook's host name, the maintainer
/// scripts' environment and the hook's standard streams, and returns its exit code, as
/// `chroot ROOT CMD` would. Its own PID namespace keeps the hook's processes, whose root is the
/// host's, out of its `/proc`; what it leaves running dies with it.
fn confined(context: &Context, root: &Path, command: &[std::ffi::OsString]) -> Result<u8, Failure> {
    let epoch = context.source_date_epoch()?.unwrap_or(0);
    if command.is_empty() {
        return Err(CommandError::NoCommand.into());
    }
    let argv: Vec<String> = command
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let sandbox = crate::sandbox::Sandbox {
        root: root.to_path_buf(),
        hostname: rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned(),
        env: crate::sandbox::Sandbox::default_env(epoch),
        binds: Vec::new(),
        helper: None,
        instant_sleep: false,
    };
    let code = sandbox
        .run_attached(&argv)
        .map_err(|e| CommandError::CannotConfine {
            command: argv.join(" "),
            root: root.to_path_buf(),
            source: e.source,
        })?;
    Ok(u8::try_from(code.clamp(0, 255)).unwrap_or(255))
}

/// The host's `chroot`, for what the shim does not take over; not the shim itself.
fn host_chroot() -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let me = std::fs::metadata(crate::SELF_EXE).ok();
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .map(|dir| Path::new(dir).join("chroot"))
        .find(|path| {
            std::fs::metadata(path).is_ok_and(|m| {
                m.is_file()
                    && !me
                        .as_ref()
                        .is_some_and(|me| me.dev() == m.dev() && me.ino() == m.ino())
            })
        })
}

/// `chroot` in a hook's `PATH` (debroot run under that name, see `hooks`): `chroot ROOT
/// [CMD...]` where ROOT is the build's root (`DEBROOT_ROOT`, `$1` of the hook) runs CMD (default
/// `/bin/sh -i`) as `debroot hook chroot -- CMD...` does, confined by `pivot_root` rather than
/// `chroot(2)`, and exits with its status; anything else (another folder, options such as
/// `--userspec`) is handed to the host's `chroot` unchanged. Exit 125 when the command cannot
/// be started, as chroot(8).
pub fn chroot_shim(args: &[std::ffi::OsString], context: &Context) -> std::process::ExitCode {
    use std::os::unix::process::CommandExt;
    let rest = args.get(1..).unwrap_or(&[]);
    if let (Some(root), Some(first)) = (context.hook_root(), rest.first())
        && !first.as_encoded_bytes().starts_with(b"-")
        && Path::new(first) == root
    {
        let default = [
            std::ffi::OsString::from("/bin/sh"),
            std::ffi::OsString::from("-i"),
        ];
        let command = match &rest[1..] {
            [] => &default[..],
            command => command,
        };
        return match confined(context, &root, command) {
            Ok(code) => std::process::ExitCode::from(code),
            Err(failure) => {
                eprintln!("chroot: {}", failure.lines().join(": "));
                if let Some(hint) = failure.hint_text() {
                    eprintln!("chroot: {hint}");
                }
                std::process::ExitCode::from(125)
            }
        };
    }
    let Some(chroot) = host_chroot() else {
        eprintln!("chroot: the host has no `chroot` command");
        return std::process::ExitCode::from(127);
    };
    let error = std::process::Command::new(&chroot)
        .arg0("chroot")
        .args(rest)
        .exec();
    eprintln!("chroot: cannot run `{}`: {error}", chroot.display());
    std::process::ExitCode::from(126)
}
