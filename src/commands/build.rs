//! `debroot build`: the command line turned into a [`BuildSpec`], and the pipeline run on it
//! ([`pipeline::build`]). No clap type goes further than this file.

use super::error::CommandError;
use super::{Outcome, repo_options};
use std::path::{Path, PathBuf};

use super::front::{self, FrontError};
use crate::cli::BuildArgs;
use crate::error::Failure;
use crate::hooks::Phase;
use crate::pipeline::{self, BuildSpec, Env, LockPolicy};
use crate::profile::{OutputFormat, Profile};

pub fn run(env: &Env<'_>, args: &BuildArgs) -> Result<Outcome, Failure> {
    crate::workdir::install_signal_handler();
    // The caller's umask must not reach the tree: the folders debroot makes, the files dpkg
    // and maintainer scripts write, get the modes Debian's tools assume (`debroot verify`
    // builds once with 0077 to prove it).
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o022));
    let spec = spec_of(env, args)?;
    match &args.inner {
        Some(work) => pipeline::namespace::build_inner(env, &spec, work)?,
        None => {
            pipeline::build(env, &spec)?;
        }
    }
    Ok(Outcome::Success)
}

/// The build the command line asks for: its profile loaded, its output format decided.
/// `-o -`: the output goes to stdout.
fn is_stdout(output: &std::path::Path) -> bool {
    output.as_os_str() == "-"
}

/// The profile and output the positional arguments name: `PROFILE [OUTPUT] [MIRROR]` (the
/// options override the profile's values), or mmdebstrap's `SUITE [OUTPUT] [MIRROR]` (the profile
/// the options imply); OUTPUT is `-o`'s when given.
fn profile_and_output(env: &Env<'_>, args: &BuildArgs) -> Result<(Profile, PathBuf), Failure> {
    // With `-o`, every positional after the first is a MIRROR.
    let (output, mirrors) = match (&args.output, args.rest.split_first()) {
        (Some(output), _) => (output.clone(), args.rest.as_slice()),
        (None, Some((output, mirrors))) => (PathBuf::from(output), mirrors),
        (None, None) => return Err(FrontError::NoOutput(args.target.clone()).into()),
    };
    let quiet = args.inner.is_some();
    if front::names_profile(&args.target) {
        let profile = super::load_profile(env, Path::new(&args.target))?;
        let before = profile.lock_file.clone();
        let profile = front::override_profile(env, profile, &args.front, mirrors)?;
        if profile.lock_file != before && !quiet {
            env.printer.status(
                "Lockfile",
                &format!(
                    "`{}` (the options change the profile's package set; its own lock is left as it is)",
                    profile.lock_file.display()
                ),
            );
        }
        Ok((profile, output))
    } else {
        let profile = front::implied_profile(env, &args.target, &args.front, mirrors)?;
        if !quiet {
            env.printer.status(
                "Lockfile",
                &format!(
                    "`{}` (`debroot profile show --from-args` prints the profile)",
                    profile.lock_file.display()
                ),
            );
        }
        Ok((profile, output))
    }
}

fn spec_of(env: &Env<'_>, args: &BuildArgs) -> Result<BuildSpec, Failure> {
    let (profile, output) = profile_and_output(env, args)?;
    let chosen = args
        .front
        .format
        .as_deref()
        .map(front::format_of)
        .transpose()?
        .flatten();
    let format = format_of(&output, chosen, &profile)?;
    let verity = verity_of(env, args, &output, &profile, format)?;
    let mode = match &args.front.mode {
        Some(text) => front::mode_of(text)?,
        None => profile.build.mode,
    };
    let lock = if args.frozen {
        LockPolicy::Frozen
    } else if args.locked {
        LockPolicy::Locked
    } else {
        LockPolicy::Normal
    };
    let mut hooks = Vec::new();
    for (phase, texts) in [
        (Phase::Setup, &args.setup_hook),
        (Phase::Extract, &args.extract_hook),
        (Phase::Essential, &args.essential_hook),
        (Phase::Customize, &args.customize_hook),
    ] {
        hooks.extend(texts.iter().map(|text| (phase, text.clone())));
    }
    Ok(BuildSpec {
        profile,
        stdout: is_stdout(&output),
        output,
        format,
        mode,
        lock,
        repo: repo_options(&args.repo),
        hooks,
        hook_timeout: args.hook_timeout,
        keep_failed: args.keep_failed,
        verity,
    })
}

/// Whether a dm-verity hash tree is written: `--verity` (an error without an image file to
/// write it beside), else the profile's `output.verity` (ignored, with a warning, for a format
/// that is no image).
fn verity_of(
    env: &Env<'_>,
    args: &BuildArgs,
    output: &Path,
    profile: &Profile,
    format: OutputFormat,
) -> Result<bool, Failure> {
    let stdout = is_stdout(output);
    if format == OutputFormat::Disk && !stdout {
        // A disk's root slot is always verified: its hash partition is part of the layout.
        return Ok(true);
    }
    if args.verity {
        if stdout {
            return Err(CommandError::VerityNeedsImage("stdout".into()).into());
        }
        if !format.is_image() {
            return Err(CommandError::VerityNeedsImage(format.as_str().to_owned()).into());
        }
        return Ok(true);
    }
    if profile.output.verity && (stdout || !format.is_image()) {
        // Said once: the `unshare` child rebuilds this spec from the same arguments.
        if args.inner.is_none() {
            env.printer.warn(&format!(
                "`output.verity` of the profile applies to images written to a file; no hash tree for {}",
                if stdout { "stdout" } else { format.as_str() }
            ));
        }
        return Ok(false);
    }
    Ok(profile.output.verity)
}

/// The output format: `--format`, else the output's name, else the profile's. A name whose
/// extension debroot does not know (`x.squashfs`, `x.tar.bz2`) is an error without `--format`,
/// never silently a tarball.
///
/// `-o -` is stdout: a tarball (`--format`, default `tar`, never the profile's, never a folder)
/// or, with `--format null`, the manifest; a tarball is refused when stdout is a terminal.
fn format_of(
    output: &Path,
    chosen: Option<OutputFormat>,
    profile: &Profile,
) -> Result<OutputFormat, Failure> {
    if is_stdout(output) {
        let format = chosen.unwrap_or(OutputFormat::Tar);
        if matches!(format, OutputFormat::Dir | OutputFormat::Oci) {
            return Err(CommandError::FolderToStdout.into());
        }
        if format == OutputFormat::Disk {
            return Err(CommandError::DiskToStdout.into());
        }
        if format != OutputFormat::Null && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
            return Err(CommandError::TarballToTerminal.into());
        }
        return Ok(format);
    }
    Ok(match chosen {
        Some(format) => format,
        None => match crate::output::format_of(output) {
            Some(format) => format,
            None => {
                if let Some(extension) = crate::output::unknown_extension(output) {
                    return Err(CommandError::UnknownExtension {
                        output: output.to_path_buf(),
                        extension,
                    }
                    .into());
                }
                profile.output.format.unwrap_or(OutputFormat::Dir)
            }
        },
    })
}
