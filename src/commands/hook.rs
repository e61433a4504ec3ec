//! `debroot hook`: the helpers hooks call (see `hooks`).

use std::path::{Path, PathBuf};

use super::{Env, Outcome};
use crate::cli::HookCommand;
use crate::error::{ExitClass, Failure};
use crate::hooks::transfer::{self, Direction};

/// The root a helper works on: `--root`, else `DEBROOT_ROOT`.
fn root_of(env: &Env<'_>, root: Option<PathBuf>) -> Result<PathBuf, Failure> {
    let root = root.or_else(|| env.context.hook_root()).ok_or_else(|| {
        Failure::message(
            ExitClass::Usage,
            "no root: `debroot hook` runs inside a hook (which sets `DEBROOT_ROOT`), or give `--root DIR`",
        )
    })?;
    if !root.is_dir() {
        return Err(Failure::message(
            ExitClass::Usage,
            format!("the root `{}` is not a directory", root.display()),
        ));
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
                chroot(env, &root, &command)
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

/// Outside a hook (a built tree, `--root DIR`): runs `command` chrooted in fresh namespaces of
/// its own, as maintainer scripts run (`/proc`, `/sys`, `/dev` mounted only for it, no network,
/// stdin from `/dev/null`), relays what it printed and fails with exit 8 if it fails.
fn sealed(env: &Env<'_>, root: &Path, command: &[std::ffi::OsString]) -> Result<Outcome, Failure> {
    use std::io::Write;
    let epoch = env.context.source_date_epoch()?.unwrap_or(0);
    let argv: Vec<String> = command
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let sandbox = crate::install::sandbox::Sandbox {
        root: root.to_path_buf(),
        hostname: "localhost".into(),
        env: crate::install::sandbox::Sandbox::default_env(epoch),
        binds: Vec::new(),
        helper: None,
    };
    let outcome = sandbox
        .run(&argv)
        .map_err(|e| Failure::new(ExitClass::Script, e))?;
    let _ = std::io::stdout().write_all(&outcome.output);
    if outcome.status.success() {
        Ok(Outcome::Success)
    } else {
        Err(Failure::message(
            ExitClass::Script,
            format!(
                "`{}` failed in `{}`: {}",
                argv.join(" "),
                root.display(),
                outcome.status
            ),
        ))
    }
}

/// Chroots into `root` and replaces debroot with `command`, in the maintainer scripts'
/// environment. Inside a hook, the namespace is the hook's: `/proc`, `/sys` and `/dev` are
/// mounted in the root, and what `command` leaves behind dies with the hook.
fn chroot(env: &Env<'_>, root: &Path, command: &[std::ffi::OsString]) -> Result<Outcome, Failure> {
    use std::os::unix::process::CommandExt;
    let epoch = env.context.source_date_epoch()?.unwrap_or(0);
    let (program, args) = command
        .split_first()
        .ok_or_else(|| Failure::message(ExitClass::Usage, "no command to run"))?;
    rustix::process::chroot(root).map_err(|e| {
        Failure::new(ExitClass::Script, std::io::Error::from(e))
            .context(format!("cannot chroot into `{}`", root.display()))
            .hint("`debroot hook chroot` needs root: `root` or `unshare` mode")
    })?;
    std::env::set_current_dir("/").map_err(|e| {
        Failure::new(ExitClass::Script, e).context(format!("cannot enter `{}`", root.display()))
    })?;
    let error = std::process::Command::new(program)
        .args(args)
        .env_clear()
        .envs(crate::install::sandbox::Sandbox::default_env(epoch))
        .exec();
    Err(Failure::new(ExitClass::Script, error).context(format!(
        "cannot run `{}` in the root",
        program.to_string_lossy()
    )))
}
