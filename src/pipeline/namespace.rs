//! An `unshare` build without root: the root phases run in a debroot child that is root of a
//! user namespace (`__userns`), handed the verified `.deb`s as inherited descriptors and the
//! lock in `WORKDIR/inner.json`; it answers in `WORKDIR/built.json`.

use std::path::Path;

use crate::cache::Blobs;
use crate::error::{ExitClass, Failure, ResultExt, io_at, local};
use crate::profile::Mode;

use super::error::BuildError;
use super::{BuildSpec, Built, Env, Timings, hook_plan, locking, setup};

/// What the parent of an `unshare` build hands to its child in the user namespace
/// (`WORKDIR/inner.json`); the child answers in `WORKDIR/built.json`.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct InnerSpec {
    /// The lock, as its TOML text.
    lock: String,
    epoch: i64,
    /// The `.deb`s the parent fetched and verified, as descriptors the child inherits: SHA256
    /// (hex) and descriptor number. The child reads them, and no path of the cache.
    blobs: Vec<(String, i32)>,
    /// Seconds the build had taken when the child started: its progress display goes on
    /// counting from there.
    #[serde(default)]
    elapsed: f64,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct InnerReport {
    built: Built,
    /// Phase name and seconds.
    timings: Vec<(String, f64)>,
}

/// Runs the root phases in a debroot child that is root of a user namespace, handing it the
/// verified `.deb`s (`blobs`) as inherited descriptors.
#[allow(clippy::too_many_arguments)]
pub fn in_namespace(
    env: &Env<'_>,
    work: &std::path::Path,
    lock: &crate::lock::Lock,
    profile: &crate::profile::Profile,
    epoch: i64,
    blobs: &Blobs,
    uids: crate::userns::IdMap,
    gids: crate::userns::IdMap,
    timings: &mut Timings,
) -> Result<Built, Failure> {
    use std::os::fd::{AsFd, AsRawFd};
    let spec = InnerSpec {
        lock: lock.to_toml(&profile.file_name()),
        epoch,
        blobs: blobs
            .iter()
            .map(|(digest, blob)| (digest.hex(), blob.as_fd().as_raw_fd()))
            .collect(),
        elapsed: env.printer.elapsed().as_secs_f64(),
    };
    let spec_path = work.join("inner.json");
    let text = serde_json::to_string(&spec).unwrap_or_default();
    std::fs::write(&spec_path, text).map_err(io_at("use", &spec_path))?;
    let mut args: Vec<std::ffi::OsString> = vec!["cli".into()];
    args.extend(std::env::args_os().skip(1));
    args.push("--inner".into());
    args.push(work.as_os_str().to_owned());
    let inherit: Vec<std::os::fd::BorrowedFd<'_>> = blobs.values().map(AsFd::as_fd).collect();
    let mut child = crate::userns::Namespaced::spawn_with(&args, uids, gids, &inherit)?.child;
    crate::workdir::track_child(child.id(), true);
    let status = child.wait();
    crate::workdir::track_child(child.id(), false);
    let status = status.map_err(local("wait for debroot"))?;
    if !status.success() {
        use std::os::unix::process::ExitStatusExt;
        let class =
            status
                .code()
                .and_then(ExitClass::from_code)
                .unwrap_or(if status.signal().is_some() {
                    ExitClass::Interrupted
                } else {
                    ExitClass::Output
                });
        return Err(Failure::reported(class));
    }
    let report_path = work.join("built.json");
    let text = std::fs::read_to_string(&report_path).map_err(io_at("use", &report_path))?;
    let report: InnerReport = serde_json::from_str(&text).map_err(io_at("read", &report_path))?;
    for (phase, seconds) in report.timings {
        let name: &'static str = match phase.as_str() {
            "extract" => "extract",
            "install-unpack" => "install-unpack",
            "configure" => "configure",
            "cleanup" => "cleanup",
            "hooks" => "hooks",
            "write" => "write",
            _ => "other",
        };
        timings
            .0
            .push((name, std::time::Duration::from_secs_f64(seconds.max(0.0))));
    }
    Ok(report.built)
}

/// `build --inner WORKDIR`: the root phases, as root of the user namespace `__userns` made,
/// on the `.deb`s and lock the parent handed over in `WORKDIR/inner.json`.
pub fn build_inner(env: &Env<'_>, spec: &BuildSpec, work: &Path) -> Result<(), Failure> {
    let cache = locking::open_cache(env)?;
    let output = if spec.stdout {
        setup::written_at(spec, work, Path::new("-"))
    } else {
        setup::preflight(&spec.output, spec.format, cache.dir())?
    };
    let spec_path = work.join("inner.json");
    let text = std::fs::read_to_string(&spec_path).map_err(io_at("read", &spec_path))?;
    let inner: InnerSpec = serde_json::from_str(&text).map_err(io_at("read", &spec_path))?;
    let lock = crate::lock::Lock::parse(&inner.lock).context(|| "cannot read the lock")?;
    let blobs = adopt_blobs(&inner, &lock)?;
    // The parent draws nothing while it waits: this process's display (or plain lines, on the
    // stderr it inherited) carries on with the build's elapsed time.
    let printer = env
        .printer
        .started_before(std::time::Duration::from_secs_f64(
            inner.elapsed.clamp(0.0, 1e9),
        ));
    let env = &Env {
        context: env.context,
        printer: &printer,
        cache_dir: env.cache_dir.clone(),
    };
    let hook_plan = hook_plan::hook_plan(env, spec)?;
    let root = work.join("root");
    crate::workdir::register(&root);
    let mut timings = Timings::default();
    let built = super::build_root(
        env,
        &super::RootJob {
            profile: &spec.profile,
            lock: &lock,
            cache: &cache,
            blobs: &blobs,
            root: &root,
            output: &output,
            format: spec.format,
            verity: spec.verity,
            mode: Mode::Unshare,
            epoch: inner.epoch,
            hook_plan: &hook_plan,
            // The user's build, as root of its user namespace.
            private: true,
            keep_failed: spec.keep_failed,
        },
        &mut timings,
    );
    let built = match built {
        Ok(built) => built,
        Err(failure) => {
            // Only root of the namespace can remove what the build made; the parent removes
            // the rest.
            if !spec.keep_failed {
                let _ = crate::workdir::remove(&root);
            }
            crate::workdir::unregister(&root);
            return Err(failure);
        }
    };
    crate::workdir::unregister(&root);
    let report = InnerReport {
        built,
        timings: timings
            .0
            .iter()
            .map(|(phase, time)| ((*phase).to_owned(), time.as_secs_f64()))
            .collect(),
    };
    let report_path = work.join("built.json");
    let text = serde_json::to_string(&report).unwrap_or_default();
    std::fs::write(&report_path, text).map_err(io_at("write", &report_path))?;
    Ok(())
}

/// The `.deb`s the parent handed over (see [`InnerSpec::blobs`]): one per package of the lock,
/// each a regular file of the size the lock says.
fn adopt_blobs(spec: &InnerSpec, lock: &crate::lock::Lock) -> Result<Blobs, Failure> {
    let refused = BuildError::HandedOver;
    let mut blobs = Blobs::new();
    for (hex, fd) in &spec.blobs {
        let digest = crate::digest::Sha256Digest::parse(hex).map_err(|e| refused(e.to_string()))?;
        let size = lock
            .packages
            .iter()
            .find(|p| p.sha256 == digest)
            .map(|p| p.size)
            .ok_or_else(|| refused(format!("sha256:{hex} is no package of the lock")))?;
        // Never a standard stream, never one descriptor twice: each is a distinct descriptor
        // the parent made inheritable for this process alone, and nothing here owns it yet.
        if *fd <= 2
            || blobs.contains_key(&digest)
            || spec.blobs.iter().filter(|(_, other)| other == fd).count() != 1
        {
            return Err(refused(format!("descriptor {fd} for sha256:{hex}")).into());
        }
        // SAFETY: see above; a number that is not open makes `adopt`'s fstat fail.
        let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(*fd) };
        let blob = crate::cache::Blob::adopt(fd, digest, size)
            .map_err(|e| refused(format!("sha256:{hex}: {e}")))?;
        blobs.insert(digest, blob);
    }
    Ok(blobs)
}
