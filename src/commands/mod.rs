//! One orchestrator per subcommand. Commands are where typed module errors meet context
//! (`ResultExt::context`) and where edge I/O is wired to pure modules.

mod build;
mod cache;
mod diff;
mod error;
mod fetch;
mod front;
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
        Command::Hook(command) => hook::run(env, command),
        Command::Verify(args) => verify::run(env, &args),
    }
}

/// Loads a profile from disk (the edge for the pure `profile` module).
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
    let profile = crate::profile::load(
        path,
        crate::profile::LoadOptions {
            current_dir: &current_dir,
            now: Timestamp::from_system(env.context.now()),
            read: &mut read,
        },
    )?;
    Ok(profile)
}

/// Where the lock of a profile that is no file of the user's goes (a built-in profile, or the
/// one a command line implies): `$XDG_STATE_HOME/debroot/locks/STEM.lock`, else
/// `~/.local/state/debroot/locks/STEM.lock`. `what` names the profile in the error.
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
