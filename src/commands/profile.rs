//! `debroot profile show` and `debroot profile list`.

use std::path::Path;

use super::Outcome;
use super::front;
use crate::cli::FrontArgs;
use crate::error::{Failure, local};
use crate::pipeline::Env;

/// Prints a profile (with the options' overrides), or with `--from-args` the profile an
/// mmdebstrap-style command line implies, complete, to save as a file.
pub fn show(
    env: &Env<'_>,
    target: &str,
    from_args: bool,
    args: &FrontArgs,
    mirrors: &[String],
) -> Result<Outcome, Failure> {
    let text = if from_args {
        let profile = front::implied_profile_text(env, target, args, mirrors)?;
        format!(
            "# The profile of `debroot build [OPTIONS] {target} OUTPUT`, with defaults filled in.\n# Save it as a file to keep it; its lock goes beside that file.\n\n{}",
            profile
        )
    } else {
        let profile = super::load_profile(env, Path::new(target))?;
        front::override_profile(env, profile, args, mirrors)?.to_toml()
    };
    env.printer.data(&text).map_err(local("write to stdout"))?;
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
