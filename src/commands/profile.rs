//! `debroot profile show`.

use std::path::Path;

use super::Outcome;
use crate::error::{ExitClass, Failure};
use crate::pipeline::Env;

pub fn show(env: &Env<'_>, path: &Path) -> Result<Outcome, Failure> {
    let profile = super::load_profile(env, path)?;
    env.printer.data(&profile.to_toml()).map_err(|error| {
        Failure::new(ExitClass::Output, error).context("cannot write to stdout")
    })?;
    Ok(Outcome::Success)
}
