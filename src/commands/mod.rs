//! One orchestrator per subcommand. Commands are where typed module errors meet context
//! (`ResultExt::context`) and where edge I/O is wired to pure modules.

mod build;
mod cache;
mod diff;
mod error;
mod fetch;
mod front;
mod generate;
mod hook;
mod index;
mod lock;
mod profile;
mod verify;
mod why;

pub use error::CommandError;
pub use front::{FrontError, names_profile};
pub use hook::chroot_shim;

use std::io::Read;
use std::path::Path;

use crate::cli::{Cli, Command, ProfileCommand, RepoArgs};
use crate::error::{Failure, local};
use crate::pipeline::Env;
use crate::profile::Profile;
use crate::timestamp::Timestamp;

/// What a successful command reports to `main`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Success,
    /// Exit 1: a comparison found differences.
    Differs,
    /// The exit code of the command debroot ran for the caller (`debroot hook chroot` in a
    /// hook, which stands for `chroot "$1" CMD`).
    Status(u8),
}

pub fn dispatch(cli: Cli, env: &Env<'_>) -> Result<Outcome, Failure> {
    match cli.command {
        Command::Index(args) => index::run(env, &args),
        Command::Lock(args) => lock::run(env, &args),
        Command::Why(args) => why::run(env, &args),
        Command::Fetch(args) => fetch::run(env, &args),
        Command::Build(args) => build::run(env, &args),
        Command::Diff(args) => diff::run(env, &args),
        Command::Cache(command) => cache::run(env, &command),
        Command::Profile(ProfileCommand::Show {
            profile,
            from_args,
            mirrors,
            front,
        }) => profile::show(env, &profile, from_args, &front, &mirrors),
        Command::Profile(ProfileCommand::List) => profile::list(env),
        Command::Hook(command) => hook::run(env, command),
        Command::Verify(args) => verify::run(env, &args),
        Command::Generate(command) => generate::run(env, &command),
    }
}

/// Loads a profile (the edge for the pure `profile` module): a file, or a built-in profile
/// named `builtin:NAME`, or by its bare NAME when no file of that name exists. A built-in
/// profile is read from the state folder it is written to ([`crate::builtin`]), and its lock
/// goes to the state folder ([`state_lock_file`]).
pub fn load_profile(env: &Env<'_>, path: &Path) -> Result<Profile, Failure> {
    let current_dir = std::env::current_dir()
        .map_err(|error| Failure::from(local("determine the current directory")(error)))?;
    let mut read = |path: &Path| -> std::io::Result<Vec<u8>> {
        let file = std::fs::File::open(path)?;
        let mut bytes = Vec::new();
        file.take(crate::profile::MAX_PROFILE_BYTES + 1)
            .read_to_end(&mut bytes)?;
        Ok(bytes)
    };
    let state = env.context.state_home().map(|home| home.join("debroot"));
    let mut builtins = || -> std::io::Result<std::path::PathBuf> {
        let state = state.as_deref().ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no state folder: neither XDG_STATE_HOME nor HOME is an absolute path",
            )
        })?;
        crate::builtin::materialize(state)
    };
    let builtin = builtin_name(path)?;
    let file = match builtin {
        Some(name) => builtins()
            .map_err(|source| {
                Failure::from(crate::profile::ProfileError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            })?
            .join(crate::builtin::profile_path(name)),
        None => path.to_path_buf(),
    };
    let mut profile = crate::profile::load(
        &file,
        crate::profile::LoadOptions {
            current_dir: &current_dir,
            now: Timestamp::from_system(env.context.now()),
            read: &mut read,
            builtins: &mut builtins,
        },
    )?;
    if let Some(name) = builtin {
        profile.lock_file = state_lock_file(
            env,
            &format!("builtin-{name}"),
            &format!("the built-in profile `{name}`"),
        )?;
    }
    Ok(profile)
}

/// The built-in profile a profile argument names: `builtin:NAME`, or a bare NAME of a
/// built-in profile when no file of that name exists (a file always wins).
fn builtin_name(path: &Path) -> Result<Option<&'static str>, Failure> {
    let Some(text) = path.to_str() else {
        return Ok(None);
    };
    let (name, explicit) = match text.strip_prefix(crate::builtin::PREFIX) {
        Some(name) => (name, true),
        None => (text, false),
    };
    if let Some(known) = crate::builtin::names().find(|known| *known == name) {
        if explicit || !path.exists() {
            return Ok(Some(known));
        }
        return Ok(None);
    }
    if explicit {
        return Err(CommandError::UnknownBuiltin(name.to_owned()).into());
    }
    Ok(None)
}

/// Where the lock of a profile that is no file of the user's goes (a built-in profile, or the
/// one a command line implies): `$XDG_STATE_HOME/debroot/locks/STEM.lock`, else
/// `~/.local/state/debroot/locks/STEM.lock` (the folder is made). `what` names the profile in
/// the error.
pub fn state_lock_file(
    env: &Env<'_>,
    stem: &str,
    what: &str,
) -> Result<std::path::PathBuf, Failure> {
    let home = env
        .context
        .state_home()
        .ok_or_else(|| CommandError::NoStateDirectory(what.to_owned()))?;
    Ok(home
        .join("debroot")
        .join("locks")
        .join(format!("{stem}.lock")))
}

/// The command line's repository options, as the pipeline takes them.
pub fn repo_options(args: &RepoArgs) -> crate::pipeline::RepoOptions {
    crate::pipeline::RepoOptions {
        mirror: args.mirror.clone(),
        snapshot: args.snapshot.clone(),
        snapshot_server: args.snapshot_server.clone(),
        offline: args.offline,
        jobs: args.jobs,
        timeout: args.timeout,
        retries: args.retries,
    }
}
