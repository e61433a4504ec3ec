//! debroot builds Debian root filesystems that are reproducible to the bit.
//!
//! # The pipeline
//!
//! [`pipeline::build`] runs a build, one call per phase, in this order (its module docs say
//! more); each phase uses the modules named after what it does:
//!
//! 1. **setup** ([`pipeline::setup`]): the output path, the inputs, the mode, the hooks and
//!    whether the host runs the native architecture ([`binfmt`]: natively or through qemu-user)
//!    checked before anything is downloaded; a private work directory ([`workdir`]).
//! 2. **lock** ([`pipeline::locking`]): the [`profile`] says what to build; [`repo`] reads the
//!    signed indexes (from a snapshot, a mirror or the host's apt sources); [`resolve`] chooses
//!    the whole package set in one pass; [`lock`] writes it as a byte-stable lockfile.
//! 3. **fetch** ([`pipeline::fetching`]): [`fetch`] downloads the `.deb`s into the
//!    content-addressed [`cache`], verified by SHA256.
//! 4. **extract, essential, install** ([`pipeline::build_root`]): [`unpack`] extracts packages
//!    safely and in parallel; [`install`] registers them with dpkg and runs maintainer scripts
//!    in the [`sandbox`]; [`hooks`] run between the phases; in `unshare` mode without root all
//!    of it runs as root of a user namespace ([`userns`], [`pipeline::namespace`]).
//! 5. **cleanup and output** ([`pipeline::write`]): [`install::cleanup`], mtimes clamped to the
//!    epoch, the tree written by [`output`] as a directory or tarball, or by [`image`] as a
//!    squashfs, erofs or ext4 image (with its dm-verity hash tree), and its manifest.
//!
//! The tar format, read (`.deb` members, outputs for `diff`) and written, is one module: [`tar`].
//!
//! `debroot diff` compares two outputs ([`diff`], reading them with [`output::read`]);
//! `debroot verify` builds twice under different conditions and compares.
//!
//! # Shared pieces
//!
//! - [`debian`]: the Debian vocabulary (deb822, versions, relations, architectures). Pure.
//! - [`digest`], [`timestamp`], [`compression`]: SHA-256, Debian's time forms, decoders with caps.
//! - [`context`]: the only reader of the environment and the clock; [`printer`]: stdout for
//!   data, stderr for the rest; [`error`]: failures to the documented exit codes.
//! - [`atomic`]: write beside, then rename; [`fdwalk`]: walking trees by descriptors;
//!   [`confine`]: debroot's own file operations on the root, chrooted; [`redact`]:
//!   credentials never shown.
//! - [`builtin`]: the shipped profiles and hooks, embedded in the binary.
//! - [`cli`] (clap types) and [`commands`] (one orchestrator per subcommand) are the edge: no
//!   clap type goes past `commands`, which turns arguments into a [`pipeline::BuildSpec`].
//!
//! Modules depend downwards only: `commands` -> `pipeline` -> the phases' modules -> the shared
//! pieces; no circle (the test `structure::modules_depend_on_each_other_without_a_circle`
//! checks it).

pub mod atomic;
pub mod binfmt;
pub mod builtin;
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
pub mod image;
pub mod install;
pub mod lock;
pub mod output;
pub mod pathfilter;
pub mod pipeline;
pub mod printer;
pub mod profile;
pub mod redact;
pub mod repo;
pub mod resolve;
pub mod sandbox;
pub mod sbom;
pub mod tar;
pub mod timestamp;
pub mod unpack;
pub mod userns;
pub mod workdir;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

use crate::commands::Outcome;
use crate::context::Context;
use crate::error::ExitClass;
use crate::pipeline::Env;
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
            return ExitCode::from(sandbox::sandbox_main(&args[2..]).clamp(0, 255) as u8);
        }
        Some("__sandbox-init") => {
            return ExitCode::from(sandbox::init_main(&args[2..]).clamp(0, 255) as u8);
        }
        Some("__reaper") => {
            return ExitCode::from(sandbox::reaper::reaper_main(&args[2..]).clamp(0, 255) as u8);
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
