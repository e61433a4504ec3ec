//! `debroot profile show`.

use std::path::Path;

use super::Outcome;
use crate::error::{Failure, local};
use crate::pipeline::Env;

pub fn show(env: &Env<'_>, path: &Path) -> Result<Outcome, Failure> {
    let profile = super::load_profile(env, path)?;
    env.printer
        .data(&profile.to_toml())
        .map_err(local("write to stdout"))?;
    Ok(Outcome::Success)
}
