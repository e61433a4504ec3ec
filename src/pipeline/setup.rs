//! The setup phase: everything checked before anything is downloaded (the output path, the
//! build's inputs, the mode, the hooks: docs/THREATS.md E3; whether the host runs the native
//! architecture's programs: `binfmt`), stale leftovers of dead builds removed, and the private
//! work directory made beside the output.

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use crate::cache::Cache;
use crate::error::{Failure, io_at};

use super::error::BuildError;
use crate::profile::{Mode, OutputFormat};

use super::hook_plan::{self, HookPlan};
use super::{BuildSpec, Env, locking};

/// What the setup phase made ready.
pub struct Ready {
    pub cache: Cache,
    /// The output path, its folder resolved (`-` for stdout).
    pub output: PathBuf,
    /// Where the root phases write the output: the output path, or for stdout a file of the
    /// work directory that is then copied to stdout.
    pub written: PathBuf,
    /// The mode the build runs in (`auto` decided).
    pub mode: Mode,
    /// The id maps of the user namespace an `unshare` build without root runs in.
    pub namespace: Option<(crate::userns::IdMap, crate::userns::IdMap)>,
    pub hook_plan: HookPlan,
    pub work: WorkDir,
}

/// Checks everything that can be checked before anything is downloaded, and makes the work
/// directory with its `root/`.
pub fn prepare(env: &Env<'_>, spec: &BuildSpec) -> Result<Ready, Failure> {
    let profile = &spec.profile;
    let mode = effective_mode(spec.mode);
    if mode == Mode::Root && !rustix::process::geteuid().is_root() {
        return Err(BuildError::RootNeedsRoot.into());
    }
    check_architecture(env, spec, mode)?;
    // unshare mode as root is root mode in a user namespace of root's: not needed.
    let namespace = if mode == Mode::Unshare && !rustix::process::geteuid().is_root() {
        let maps = crate::userns::preflight()?;
        crate::workdir::use_namespace(maps.0, maps.1);
        Some(maps)
    } else {
        None
    };
    let cache = locking::open_cache(env)?;
    let output = if spec.stdout {
        PathBuf::from("-")
    } else {
        let output = preflight(&spec.output, spec.format, cache.dir())?;
        let lock_path = profile.lock_path();
        let mut inputs: Vec<(&str, &Path)> = profile
            .files
            .iter()
            .map(|file| ("the profile", file.as_path()))
            .collect();
        inputs.push(("the lock", &lock_path));
        inputs.push(("the keyring", &profile.source.keyring));
        for deb in &profile.packages.local {
            inputs.push(("a local package", &deb.value));
        }
        refuse_inputs(&output, &inputs)?;
        output
    };
    // Hook files are checked before anything is downloaded too.
    let hook_plan = hook_plan::hook_plan(env, spec)?;
    if mode == Mode::Extract
        && hook_plan
            .hooks
            .iter()
            .any(|h| h.phase == crate::hooks::Phase::Essential)
    {
        env.printer
            .warn("essential hooks do not run in extract mode: no Essential set is configured");
    }
    // The work directory is beside the output, or, for stdout, in the temporary folder.
    let (parent, name) = if spec.stdout {
        (env.context.temp_dir(), "stdout".to_owned())
    } else {
        let parent = output.parent().unwrap_or(Path::new(".")).to_path_buf();
        let name = output
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        (parent, name)
    };
    remove_stale(env, &parent, &name);
    let work = WorkDir::create(&parent, &name, spec.keep_failed)?;
    let written = written_at(spec, &work.path, &output);
    Ok(Ready {
        cache,
        written,
        output,
        mode,
        namespace,
        hook_plan,
        work,
    })
}

/// Checks that this machine can run the programs of the profile's native architecture, natively
/// or through qemu-user with binfmt_misc's `F` flag ([`crate::binfmt`]). `extract` mode runs
/// none.
fn check_architecture(env: &Env<'_>, spec: &BuildSpec, mode: Mode) -> Result<(), Failure> {
    if mode == Mode::Extract {
        return Ok(());
    }
    let dir = env
        .context
        .binfmt_misc()
        .unwrap_or_else(|| PathBuf::from(crate::binfmt::BINFMT_MISC));
    let native = spec.profile.source.native_architecture();
    let host = crate::debian::Architecture::build_default();
    if let crate::binfmt::Runs::Emulated { registration } =
        crate::binfmt::check(&dir, &host, native)?
    {
        env.printer.detail(&format!(
            "{native} programs run through qemu-user on this {host} machine (`{}`)",
            registration.display()
        ));
    }
    Ok(())
}

/// Where the root phases write the output of `spec` ([`Ready::written`]); `work` is the work
/// directory (the child of an `unshare` build knows it too).
pub fn written_at(spec: &BuildSpec, work: &Path, output: &Path) -> PathBuf {
    if spec.stdout {
        work.join("stdout")
    } else {
        output.to_path_buf()
    }
}

/// Removes what builds of debroot processes that are gone left beside the output.
fn remove_stale(env: &Env<'_>, parent: &Path, name: &str) {
    for (path, pid, error) in crate::workdir::remove_stale(parent, name) {
        let what = if path.to_string_lossy().ends_with(".tmp") {
            "stale temporary output"
        } else {
            "stale work directory"
        };
        match error {
            None => env.printer.warn(&format!(
                "removed the {what} `{}` of debroot process {pid}, which is gone",
                path.display()
            )),
            Some(error) => env.printer.warn(&format!(
                "cannot remove the {what} `{}` of debroot process {pid}: {error}",
                path.display()
            )),
        }
    }
}

/// The build's private work directory beside the output, with the empty `root/` the tree is
/// built in. Removed when dropped, unless the build failed and is to be kept.
pub struct WorkDir {
    pub path: PathBuf,
    keep_on_failure: bool,
    pub succeeded: bool,
}

impl WorkDir {
    fn create(parent: &Path, name: &str, keep_on_failure: bool) -> Result<Self, Failure> {
        let work = WorkDir {
            path: crate::workdir::create(parent, name)
                .map_err(io_at("create a work directory in", parent))?,
            keep_on_failure,
            succeeded: false,
        };
        let root = work.root();
        std::fs::create_dir(&root).map_err(io_at("create", &root))?;
        std::fs::set_permissions(&root, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .map_err(io_at("set the mode of", &root))?;
        Ok(work)
    }

    /// Where the tree is built.
    pub fn root(&self) -> PathBuf {
        self.path.join("root")
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if self.succeeded || !self.keep_on_failure {
            if let Err(error) = crate::workdir::remove_anywhere(&self.path) {
                eprintln!(
                    "warning: cannot remove the work directory `{}`: {error}",
                    self.path.display()
                );
            }
        } else {
            crate::workdir::unregister(&self.path);
            eprintln!(
                "note: the failed build's work directory is kept at `{}`",
                self.path.display()
            );
        }
    }
}

/// Checks the output path before anything is downloaded (docs/THREATS.md E3).
pub fn preflight(output: &Path, format: OutputFormat, cache: &Path) -> Result<PathBuf, Failure> {
    let name = output
        .file_name()
        .ok_or_else(|| BuildError::OutputHasNoName(output.to_path_buf()))?;
    let parent = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let parent =
        std::fs::canonicalize(&parent).map_err(|source| BuildError::OutputFolderMissing {
            path: parent,
            source,
        })?;
    let output = parent.join(name);
    if rustix::fs::access(&parent, rustix::fs::Access::WRITE_OK).is_err() {
        return Err(BuildError::OutputFolderReadOnly(parent).into());
    }
    if let Ok(cache) = std::fs::canonicalize(cache)
        && output.starts_with(&cache)
    {
        return Err(BuildError::OutputInCache { output, cache }.into());
    }
    match std::fs::symlink_metadata(&output) {
        // Only `OUTPUT.manifest.json` is written.
        _ if format == OutputFormat::Null => {}
        Ok(meta) if format == OutputFormat::Dir => {
            let empty = meta.is_dir()
                && std::fs::read_dir(&output)
                    .map(|mut d| d.next().is_none())
                    .unwrap_or(false);
            if !empty {
                return Err(BuildError::OutputNotEmpty(output).into());
            }
        }
        // An OCI layout folder replaces an empty folder or an earlier layout, nothing else.
        Ok(meta) if format == OutputFormat::Oci => {
            let replaceable = meta.is_dir()
                && (output.join("oci-layout").is_file()
                    || std::fs::read_dir(&output)
                        .map(|mut d| d.next().is_none())
                        .unwrap_or(false));
            if !replaceable {
                return Err(BuildError::OutputNotLayout(output).into());
            }
        }
        Ok(meta) if meta.is_dir() => {
            return Err(BuildError::OutputIsFolder {
                output,
                format: format.as_str(),
            }
            .into());
        }
        // Replaced only when it is a regular file: `-o /dev/null` as root must not turn the
        // host's device into a file, nor a symlink send the output elsewhere.
        Ok(meta) if !meta.is_file() => {
            let kind = match meta.file_type() {
                t if t.is_symlink() => "a symbolic link",
                t if t.is_char_device() => "a character device",
                t if t.is_block_device() => "a block device",
                t if t.is_fifo() => "a FIFO",
                t if t.is_socket() => "a socket",
                _ => "not a regular file",
            };
            return Err(BuildError::OutputNotRegular { output, kind }.into());
        }
        _ => {}
    }
    Ok(output)
}

/// Refuses an output that would replace one of the build's inputs (docs/THREATS.md E3): `-o p.lock
/// --format tar` must not turn the lock into a tarball. `output` is what [`preflight`] returned;
/// `inputs` are `(what, path)`, an input that does not exist is skipped. An input is matched by
/// its resolved path and by its own name in its resolved folder (a symlinked profile included).
pub fn refuse_inputs(output: &Path, inputs: &[(&str, &Path)]) -> Result<(), Failure> {
    for (what, input) in inputs {
        let resolved = std::fs::canonicalize(input).ok();
        let named = input.file_name().and_then(|name| {
            let parent = match input.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            Some(std::fs::canonicalize(parent).ok()?.join(name))
        });
        if resolved.as_deref() == Some(output) || named.as_deref() == Some(output) {
            return Err(BuildError::OutputIsInput {
                output: output.to_path_buf(),
                what: (*what).to_owned(),
                input: input.to_path_buf(),
            }
            .into());
        }
    }
    Ok(())
}

/// The mode a build runs in: `auto` is `root` as uid 0, else `unshare`.
pub fn effective_mode(mode: Mode) -> Mode {
    match mode {
        Mode::Auto if rustix::process::geteuid().is_root() => Mode::Root,
        Mode::Auto => Mode::Unshare,
        other => other,
    }
}
