//! debroot builds Debian root filesystems that are reproducible to the bit.
//!
//! A tour of the pipeline, each step in the module named after it:
//!
//! 1. [`profile`]: the TOML profile says what to build (suite, variant, packages, hooks, output).
//! 2. `repo`: signed repository indexes, verified, from a snapshot, a mirror or the host's apt
//!    sources.
//! 3. `resolve`: the whole package set in one pass, before anything is downloaded.
//! 4. `lock`: the resolution, written as a byte-stable lockfile.
//! 5. `cache` and `fetch`: `.deb`s into a content-addressed store, verified by SHA256.
//! 6. `unpack`, `install`, `hooks`: safe extraction, maintainer scripts and hooks in a sealed
//!    namespace.
//! 7. `output` and `diff`: the tree written as a directory or tarball, and compared.
//!    The tar format, read (`.deb` members, outputs for `diff`) and written, is one module: `tar`.
//!
//! The Debian vocabulary all of them share (deb822, versions, relations, architectures) is in
//! [`debian`]. [`context`] is the only reader of the environment and the clock; [`error`] maps
//! failures to the documented exit codes; [`printer`] keeps stdout for data.
//!
//! Steps 2 to 7 are being built issue by issue; this crate documents only what exists.

pub mod atomic;
pub mod cache;
pub mod cli;
pub mod commands;
pub mod compression;
pub mod confine;
pub mod context;
pub mod debian;
pub mod diff;
pub mod digest;
pub mod error;
pub mod fdwalk;
pub mod fetch;
pub mod hooks;
pub mod install;
pub mod lock;
pub mod output;
pub mod pipeline;
pub mod printer;
pub mod profile;
pub mod repo;
pub mod resolve;
pub mod tar;
pub mod timestamp;
pub mod unpack;
pub mod userns;
pub mod workdir;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

use crate::commands::{Env, Outcome};
use crate::context::Context;
use crate::error::ExitClass;
use crate::printer::Printer;

/// How debroot runs itself (namespace helpers): the running executable's inode, which stays
/// valid when the file on disk is replaced during a build (an upgrade, a rebuild).
pub const SELF_EXE: &str = "/proc/self/exe";

/// `__userns remove PATH` and `__userns cli ARGS...`: see [`userns`].
fn userns_main(args: &[OsString], context: &Context) -> ExitCode {
    if let Err(message) = userns::enter() {
        eprintln!("error: {message}");
        return ExitCode::from(ExitClass::Usage.code());
    }
    match (args.get(2).and_then(|a| a.to_str()), args.get(3)) {
        (Some("remove"), Some(path)) => match workdir::remove(std::path::Path::new(path)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!(
                    "error: cannot remove `{}`: {error}",
                    std::path::Path::new(path).display()
                );
                ExitCode::from(ExitClass::Output.code())
            }
        },
        (Some("cli"), _) => run(args[..1].iter().chain(&args[3..]).cloned(), context),
        _ => {
            eprintln!("error: invalid arguments to __userns");
            ExitCode::from(ExitClass::Usage.code())
        }
    }
}

/// Runs debroot with `args` (argv, program name first) and returns the exit code.
pub fn run(args: impl IntoIterator<Item = OsString>, context: &Context) -> ExitCode {
    let args: Vec<OsString> = args.into_iter().collect();
    // The namespace helpers are debroot re-executed by itself; they are not a user interface.
    match args.get(1).and_then(|a| a.to_str()) {
        Some("__sandbox") => {
            return ExitCode::from(install::sandbox::sandbox_main(&args[2..]).clamp(0, 255) as u8);
        }
        Some("__sandbox-init") => {
            return ExitCode::from(install::sandbox::init_main(&args[2..]).clamp(0, 255) as u8);
        }
        Some("__reaper") => {
            return ExitCode::from(install::reaper::reaper_main(&args[2..]).clamp(0, 255) as u8);
        }
        Some("__userns") => return userns_main(&args, context),
        _ => {}
    }
    // Run as `chroot` from a hook's `PATH` (see `hooks`).
    if args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .is_some_and(|name| name == "chroot")
    {
        return commands::chroot_shim(&args, context);
    }
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            // clap prints help and version to stdout and usage errors to stderr, exit 0 or 2.
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() { 2 } else { 0 });
        }
    };
    let printer = Printer::new(
        cli.global.quiet,
        cli.global.verbose,
        cli.global.color,
        context,
    );
    let env = Env {
        context,
        printer: &printer,
        cache_dir: cli.global.cache_dir.clone(),
    };
    let result = commands::dispatch(cli, &env);
    workdir::yield_to_interruption();
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Differs) => ExitCode::from(1),
        Ok(Outcome::Status(code)) => ExitCode::from(code),
        Err(failure) => {
            printer.error(&failure);
            ExitCode::from(failure.class().code())
        }
    }
}
