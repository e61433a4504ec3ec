//! `debroot profile show` and `debroot profile list`.

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

/// The built-in profiles, a line each: name and what it is (stdout).
pub fn list(env: &Env<'_>) -> Result<Outcome, Failure> {
    let names: Vec<&str> = crate::builtin::names().collect();
    let width = names.iter().map(|name| name.len()).max().unwrap_or(0);
    let mut text = String::new();
    for name in names {
        let summary = crate::builtin::summary(name).unwrap_or("");
        text.push_str(&format!("{name:<width$}  {summary}\n"));
    }
    env.printer.data(&text).map_err(local("write to stdout"))?;
    Ok(Outcome::Success)
}
