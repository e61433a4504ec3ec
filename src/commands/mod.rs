//! One orchestrator per subcommand. Commands are where typed module errors meet context
//! (`ResultExt::context`) and where edge I/O is wired to pure modules.

mod profile;

use std::io::Read;
use std::path::Path;

use crate::cli::{Cli, Command, ProfileCommand};
use crate::context::Context;
use crate::error::{ExitClass, Failure};
use crate::printer::Printer;
use crate::timestamp::Timestamp;

/// What a successful command reports to `main`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Success,
    /// Exit 1: a comparison found differences.
    Differs,
}

/// Everything a command may use.
pub struct Env<'a> {
    pub context: &'a Context,
    pub printer: &'a Printer,
}

pub fn dispatch(cli: Cli, env: &Env<'_>) -> Result<Outcome, Failure> {
    match cli.command {
        Command::Profile(ProfileCommand::Show { profile }) => profile::show(env, &profile),
    }
}

/// Loads a profile from disk (the edge for the pure `profile` module).
pub fn load_profile(env: &Env<'_>, path: &Path) -> Result<crate::profile::Profile, Failure> {
    let current_dir = std::env::current_dir().map_err(|error| {
        Failure::new(ExitClass::Output, error).context("cannot determine the current directory")
    })?;
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
