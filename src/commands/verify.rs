//! `debroot verify PROFILE`: builds the profile several times from one lock under deliberately
//! different conditions and compares the outputs' SHA256 (DESIGN §8).
//!
//! Each run is a `debroot build --frozen` child process. Run 1 and run 2 differ in every
//! condition a build must not depend on, so one mismatch is enough to know something leaks
//! (runs beyond 2 alternate between the two columns):
//!
//! | condition | run 1 | run 2 |
//! |---|---|---|
//! | output path (and work directory beside it) | `WORK/run-1/out.tar` | `WORK/run-2/a/much/deeper/folder/out.tar` |
//! | umask | 0022 | 0077 |
//! | `TZ` | `UTC` | `Pacific/Chatham` (UTC+12:45) |
//! | `LANG`, `LC_ALL` | `C.UTF-8` | `de_DE.UTF-8` |
//! | host name (a UTS namespace of its own; as root only) | `debroot-verify-1` | `verify-2.example` |
//! | download concurrency (`--jobs`) | `--jobs` (default 8) | 1 |
//! | extraction order (CPUs the build may use) | all | one |
//! | cache | cold: a fresh, empty cache | warm: the user's cache |
//! | mode (`--modes root,unshare`) | each run in each mode | |
//!
//! The cold cache makes run 1 download every package (check your mirror or `--offline`
//! accordingly: `--offline` keeps both runs on the warm cache). On a mismatch the outputs are
//! kept, the conditions that differed are named, and `debroot diff` of the two outputs is
//! shown. `--expect` also compares every run with a recorded digest: a mismatch is an error
//! naming the expected and the built digests (exit 1), preceded, when `--expect` named a build's
//! manifest, by `debroot diff` of that manifest against run 1's (the packages and fields that
//! differ; in the JSON report, `expected_diff`, its records). The outputs are kept when the runs
//! disagree or with `--keep`.
//!
//! Exit 0 when every output has the same SHA256 (and the expected one), 1 when not, 2+ when a
//! build fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::error::CommandError;
use super::{Outcome, repo_options};
use crate::cli::{ModeArg, OutputFormatArg, VerifyArgs};
use crate::error::{ExitClass, Failure, io_at, local};
use crate::pipeline::{Env, locking};

/// The conditions of one run.
#[derive(Debug, Clone, serde::Serialize)]
struct Conditions {
    output: PathBuf,
    umask: String,
    tz: &'static str,
    lang: &'static str,
    hostname: String,
    jobs: usize,
    cpus: &'static str,
    cache: String,
    mode: &'static str,
}

/// What one run produced.
#[derive(Debug, Clone, serde::Serialize)]
struct Run {
    run: usize,
    conditions: Conditions,
    sha256: String,
    seconds: f64,
}

fn mode_name(mode: ModeArg) -> &'static str {
    match mode {
        ModeArg::Auto => "auto",
        ModeArg::Root => "root",
        ModeArg::Unshare => "unshare",
        ModeArg::Extract => "extract",
    }
}

/// What `--expect` recorded.
struct Expected {
    sha256: String,
    /// The file it came from, as given.
    from: Option<String>,
    /// That file, when it is a debroot manifest (then its diff with run 1's is shown).
    manifest: Option<PathBuf>,
}

/// The expected digest: 64 hex digits, or a file holding them (a `sha256sum` line, or a
/// manifest's `output_sha256`).
fn expected_digest(text: &str) -> Result<Expected, Failure> {
    let is_hex = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    if is_hex(text) {
        return Ok(Expected {
            sha256: text.to_ascii_lowercase(),
            from: None,
            manifest: None,
        });
    }
    let content = std::fs::read_to_string(text)
        .map_err(|e| CommandError::ExpectUnreadable(text.to_owned(), e))?;
    if let Ok(manifest) = serde_json::from_str::<serde_json::Value>(&content)
        && let Some(digest) = manifest["output_sha256"].as_str()
        && is_hex(digest)
    {
        return Ok(Expected {
            sha256: digest.to_ascii_lowercase(),
            from: Some(text.to_owned()),
            manifest: Some(PathBuf::from(text)),
        });
    }
    match content.split_whitespace().next() {
        Some(first) if is_hex(first) => Ok(Expected {
            sha256: first.to_ascii_lowercase(),
            from: Some(text.to_owned()),
            manifest: None,
        }),
        _ => Err(CommandError::ExpectHoldsNoDigest(text.to_owned()).into()),
    }
}

/// The runs' digests for a message: one, or each with its run when they differ.
fn got_text(runs: &[Run]) -> String {
    if runs.iter().all(|r| r.sha256 == runs[0].sha256) {
        return format!("sha256:{}", runs[0].sha256);
    }
    runs.iter()
        .map(|r| format!("sha256:{} (run {})", r.sha256, r.run))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The provenance of run 1's output, as its build wrote it, with what `verify` adds: every
/// run's digest and conditions (`runDetails.byproducts`, named by the output's file name, never
/// its temporary path) and the verification's parameters
/// (`buildDefinition.internalParameters.verify`). No time is recorded: verifying again writes
/// the same bytes.
fn write_provenance(path: &Path, runs: &[Run], expected: Option<&Expected>) -> Result<(), Failure> {
    let first = &runs[0].conditions.output;
    let source = {
        let mut name = first.as_os_str().to_owned();
        name.push(".provenance.json");
        PathBuf::from(name)
    };
    let text = std::fs::read_to_string(&source).map_err(io_at("read", &source))?;
    let mut statement: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| io_at("read", &source)(std::io::Error::other(e)))?;
    let byproducts: Vec<serde_json::Value> = runs
        .iter()
        .map(|run| {
            let c = &run.conditions;
            serde_json::json!({
                "name": format!("run {}", run.run),
                "digest": { "sha256": run.sha256 },
                "annotations": {
                    "mode": c.mode,
                    "umask": c.umask,
                    "tz": c.tz,
                    "lang": c.lang,
                    "hostname": c.hostname,
                    "jobs": c.jobs,
                    "cpus": c.cpus,
                    "cache": c.cache,
                    "output": c.output.file_name().map(|n| n.to_string_lossy().into_owned()),
                },
            })
        })
        .collect();
    let verify = serde_json::json!({
        "runs": runs.len(),
        "reproducible": true,
        "expected": expected.map(|e| &e.sha256),
    });
    if let Some(predicate) = statement.get_mut("predicate") {
        predicate["runDetails"]["byproducts"] = byproducts.into();
        predicate["buildDefinition"]["internalParameters"]["verify"] = verify;
    }
    let mut out = serde_json::to_string_pretty(&statement).unwrap_or_default();
    out.push('\n');
    crate::atomic::write(path, out.as_bytes(), 0o644).map_err(io_at("write", path))?;
    Ok(())
}

/// The manifest a build writes beside its output.
fn manifest_of(output: &Path) -> PathBuf {
    let mut name = output.as_os_str().to_owned();
    name.push(".manifest.json");
    PathBuf::from(name)
}

pub fn run(env: &Env<'_>, args: &VerifyArgs) -> Result<Outcome, Failure> {
    if args.runs < 2 {
        return Err(CommandError::TooFewRuns.into());
    }
    let expected = args.expect.as_deref().map(expected_digest).transpose()?;
    let profile = super::load_profile(env, &args.profile)?;
    // One lock for every run: written now if missing or out of date.
    let lock = locking::current_lock(env, &profile, &repo_options(&args.repo))?;
    let cache = locking::open_cache(env)?;
    let root = rustix::process::geteuid().is_root();
    let modes: Vec<ModeArg> = if args.modes.is_empty() {
        vec![ModeArg::Auto]
    } else {
        args.modes.clone()
    };
    if root && modes.contains(&ModeArg::Unshare) {
        env.printer.warn(
            "as root, unshare mode builds as root mode does; run verify as a normal user to check the user namespace",
        );
    }
    let extension = match args.output_format {
        // An OCI layout is a folder: its archive (`oci-archive`) is the file to compare.
        OutputFormatArg::Dir | OutputFormatArg::Null | OutputFormatArg::Oci => {
            return Err(CommandError::VerifyNeedsFiles.into());
        }
        // The name chooses the format: an OCI archive is `.oci.tar`.
        OutputFormatArg::OciArchive => "oci.tar",
        OutputFormatArg::Disk => "img",
        other => other.format().as_str(),
    };
    let base = env.context.temp_dir();
    let work = crate::workdir::create(&base, "verify")
        .map_err(io_at("create a work directory in", &base))?;
    crate::workdir::register(&work);
    let result = verify_in(env, args, &profile, &cache, &work, &modes, extension, root);
    let keep = args.keep || !matches!(result, Ok((true, _)));
    let (reproducible, runs) = match result {
        Ok(done) => done,
        Err(failure) => {
            crate::workdir::unregister(&work);
            env.printer.warn(&format!(
                "the runs' outputs and logs are kept in `{}`",
                work.display()
            ));
            return Err(failure);
        }
    };
    let expected_ok = expected
        .as_ref()
        .is_none_or(|e| runs.iter().all(|r| r.sha256 == e.sha256));
    // The expected manifest against run 1's: which packages and fields differ.
    let expected_manifest = expected
        .as_ref()
        .and_then(|e| e.manifest.as_deref())
        .filter(|_| !expected_ok);
    let run_manifest = manifest_of(&runs[0].conditions.output);
    if args.format == crate::cli::Format::Json {
        let expected_diff = match expected_manifest {
            Some(manifest) => Some(diff_records(manifest, &run_manifest)?),
            None => None,
        };
        let report = serde_json::json!({
            "profile": profile.path,
            "lock_digest": lock.digest(&profile.file_name()).hex(),
            "reproducible": reproducible,
            "expected": expected.as_ref().map(|e| &e.sha256),
            "expected_from": expected.as_ref().and_then(|e| e.from.as_ref()),
            "expected_matches": expected.as_ref().map(|_| expected_ok),
            "got": runs.iter().map(|r| &r.sha256).collect::<std::collections::BTreeSet<_>>(),
            "expected_diff": expected_diff,
            "runs": runs,
            "kept": if keep { Some(&work) } else { None },
        });
        env.printer
            .data(&format!("{report}\n"))
            .map_err(local("write the report"))?;
    } else {
        for run in &runs {
            env.printer.status(
                "Run",
                &format!(
                    "{} ({}, {}): sha256:{} in {:.2}s",
                    run.run, run.conditions.mode, run.conditions.cache, run.sha256, run.seconds
                ),
            );
        }
        if reproducible {
            env.printer.status(
                "Reproducible",
                &format!("{} runs, one SHA256: {}", runs.len(), runs[0].sha256),
            );
        }
        if let Some(expected) = &expected
            && expected_ok
        {
            env.printer
                .status("Expected", &format!("sha256:{} matches", expected.sha256));
        }
        if let Some(manifest) = expected_manifest {
            env.printer.status(
                "Comparing",
                &format!(
                    "the expected manifest `{}` with run 1's",
                    manifest.display()
                ),
            );
            show_diff(env, manifest, &run_manifest)?;
        }
    }
    if let Some(path) = &args.provenance {
        if reproducible && expected_ok {
            write_provenance(path, &runs, expected.as_ref())?;
            env.printer.status(
                "Attested",
                &format!("{} runs in `{}`", runs.len(), path.display()),
            );
        } else {
            env.printer.warn(&format!(
                "no provenance written to `{}`: the runs do not agree",
                path.display()
            ));
        }
    }
    if keep {
        crate::workdir::unregister(&work);
        if !reproducible || !expected_ok || args.keep {
            env.printer.warn(&format!(
                "the runs' outputs are kept in `{}`",
                work.display()
            ));
        }
    } else if let Err(error) = crate::workdir::remove_anywhere(&work) {
        env.printer
            .warn(&format!("cannot remove `{}`: {error}", work.display()));
    }
    if let Some(expected) = expected
        && !expected_ok
    {
        return Err(CommandError::NotExpected {
            expected: expected.sha256,
            from: expected.from,
            got: got_text(&runs),
            manifest: expected.manifest.is_some(),
            kept: keep.then_some(work),
        }
        .into());
    }
    Ok(if reproducible {
        Outcome::Success
    } else {
        Outcome::Differs
    })
}

/// The records of `debroot diff --format json A B` (its summary line left out).
fn diff_records(a: &Path, b: &Path) -> Result<Vec<serde_json::Value>, Failure> {
    let output = Command::new(crate::SELF_EXE)
        .args(["diff", "--format", "json"])
        .arg(a)
        .arg(b)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(local("run `debroot diff`"))?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|record| record["record"] != "summary")
        .collect())
}

/// Runs the builds and compares them: whether they agree, and every run.
#[allow(clippy::too_many_arguments)]
fn verify_in(
    env: &Env<'_>,
    args: &VerifyArgs,
    profile: &crate::profile::Profile,
    cache: &crate::cache::Cache,
    work: &Path,
    modes: &[ModeArg],
    extension: &str,
    root: bool,
) -> Result<(bool, Vec<Run>), Failure> {
    let mut runs: Vec<Run> = Vec::new();
    let mut number = 0;
    for &mode in modes {
        for index in 0..args.runs {
            number += 1;
            let second = index % 2 == 1;
            let folder = if second {
                work.join(format!("run-{number}/a/much/deeper/folder"))
            } else {
                work.join(format!("run-{number}"))
            };
            std::fs::create_dir_all(&folder).map_err(io_at("create", &folder))?;
            let output = folder.join(format!("out.{extension}"));
            let cold = !second && !args.repo.offline;
            let cache_dir = if cold {
                work.join(format!("cold-cache-{number}"))
            } else {
                cache.dir().to_path_buf()
            };
            let conditions = Conditions {
                output: output.clone(),
                umask: if second { "0077" } else { "0022" }.into(),
                tz: if second { "Pacific/Chatham" } else { "UTC" },
                lang: if second { "de_DE.UTF-8" } else { "C.UTF-8" },
                hostname: match (root, second) {
                    (false, _) => "unchanged (needs root)".into(),
                    (true, false) => format!("debroot-verify-{number}"),
                    (true, true) => format!("verify-{number}.example"),
                },
                jobs: if second { 1 } else { args.repo.jobs },
                cpus: if second { "one" } else { "all" },
                cache: if cold { "cold" } else { "warm" }.into(),
                mode: mode_name(mode),
            };
            let started = std::time::Instant::now();
            build_once(
                env,
                args,
                profile,
                &conditions,
                &cache_dir,
                mode,
                root,
                number,
            )?;
            let seconds = started.elapsed().as_secs_f64();
            let sha256 = sha256_file(&output).map_err(io_at("read", &output))?.hex();
            runs.push(Run {
                run: number,
                conditions,
                sha256,
                seconds,
            });
        }
    }
    let first = &runs[0];
    let mut reproducible = true;
    for other in &runs[1..] {
        if other.sha256 == first.sha256 {
            continue;
        }
        reproducible = false;
        let differed = differing_conditions(&first.conditions, &other.conditions);
        env.printer.warn(&format!(
            "run {} differs from run 1 (sha256:{} vs sha256:{}); the conditions that differed: {}",
            other.run,
            other.sha256,
            first.sha256,
            differed.join(", ")
        ));
        show_diff(env, &first.conditions.output, &other.conditions.output)?;
    }
    Ok((reproducible, runs))
}

/// The SHA256 of a file's bytes, hashed here (not taken from the build's manifest).
fn sha256_file(path: &Path) -> std::io::Result<crate::digest::Sha256Digest> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = crate::digest::Hasher::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            return Ok(hasher.finish());
        }
        hasher.update(&buffer[..n]);
    }
}

/// The names of the conditions in which two runs differed.
fn differing_conditions(a: &Conditions, b: &Conditions) -> Vec<String> {
    let mut names = Vec::new();
    if a.output != b.output {
        names.push("output path".into());
    }
    let pairs: [(&str, String, String); 8] = [
        ("umask", a.umask.clone(), b.umask.clone()),
        ("TZ", a.tz.into(), b.tz.into()),
        ("LANG/LC_ALL", a.lang.into(), b.lang.into()),
        ("host name", a.hostname.clone(), b.hostname.clone()),
        ("--jobs", a.jobs.to_string(), b.jobs.to_string()),
        ("CPUs (extraction order)", a.cpus.into(), b.cpus.into()),
        ("cache", a.cache.clone(), b.cache.clone()),
        ("mode", a.mode.into(), b.mode.into()),
    ];
    for (name, x, y) in pairs {
        if x != y {
            names.push(format!("{name} ({x} vs {y})"));
        }
    }
    names
}

/// Relays `debroot diff A B` of two outputs.
fn show_diff(env: &Env<'_>, a: &Path, b: &Path) -> Result<(), Failure> {
    let output = Command::new(crate::SELF_EXE)
        .arg("diff")
        .arg(a)
        .arg(b)
        .stdin(Stdio::null())
        .output()
        .map_err(local("run `debroot diff`"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    env.printer.data(&text).map_err(local("write the diff"))?;
    if !output.stderr.is_empty() {
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(())
}

/// One `debroot build --frozen` under `conditions`.
#[allow(clippy::too_many_arguments)]
fn build_once(
    env: &Env<'_>,
    args: &VerifyArgs,
    profile: &crate::profile::Profile,
    conditions: &Conditions,
    cache_dir: &Path,
    mode: ModeArg,
    root: bool,
    number: usize,
) -> Result<(), Failure> {
    use std::os::unix::process::CommandExt;
    let mut command = Command::new(crate::SELF_EXE);
    command
        .arg("build")
        .arg(&profile.path)
        .arg("-o")
        .arg(&conditions.output)
        .arg("--frozen")
        .args(["--mode", mode_name(mode)])
        .arg("--cache-dir")
        .arg(cache_dir)
        .args(["--jobs", &conditions.jobs.to_string()])
        .args(["--timeout", &args.repo.timeout.to_string()])
        .args(["--retries", &args.repo.retries.to_string()]);
    if let Some(mirror) = &args.repo.mirror {
        command.arg("--mirror").arg(mirror);
    }
    if let Some(snapshot) = &args.repo.snapshot {
        command.arg("--snapshot").arg(snapshot);
    }
    if let Some(server) = &args.repo.snapshot_server {
        command.arg("--snapshot-server").arg(server);
    }
    if args.repo.offline {
        command.arg("--offline");
    }
    command
        .env_clear()
        .env("PATH", crate::hooks::PATH)
        .env("TZ", conditions.tz)
        .env("LANG", conditions.lang)
        .env("LC_ALL", conditions.lang)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env.context.build_passthrough() {
        command.env(name, value);
    }
    let umask = if conditions.umask == "0077" {
        0o077
    } else {
        0o022
    };
    let hostname: Option<Vec<u8>> = root.then(|| conditions.hostname.clone().into_bytes());
    let one_cpu = conditions.cpus == "one";
    let mut cpus = rustix::thread::CpuSet::new();
    cpus.set(0);
    // SAFETY: between fork and exec only system calls, on data prepared before the fork.
    unsafe {
        command.pre_exec(move || {
            rustix::process::umask(rustix::fs::Mode::from_raw_mode(umask));
            if let Some(name) = &hostname {
                rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWUTS)?;
                rustix::system::sethostname(name)?;
            }
            if one_cpu {
                rustix::thread::sched_setaffinity(None, &cpus)?;
            }
            Ok(())
        });
    }
    env.printer.status(
        "Building",
        &format!(
            "run {number} ({} mode, {} cache, umask {}, TZ={}, {})",
            conditions.mode,
            conditions.cache,
            conditions.umask,
            conditions.tz,
            if one_cpu { "one CPU" } else { "all CPUs" }
        ),
    );
    let child = command.spawn().map_err(local("run `debroot build`"))?;
    crate::workdir::track_child(child.id(), true);
    let output = child.wait_with_output();
    let output = output.map_err(local("run `debroot build`"))?;
    let log = conditions.output.with_extension("log");
    let _ = std::fs::write(&log, &output.stderr);
    if !output.status.success() {
        let class = output
            .status
            .code()
            .and_then(ExitClass::from_code)
            .unwrap_or(ExitClass::Output);
        let text = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(CommandError::RunFailed {
            class,
            number,
            profile: profile.path.clone(),
            mode: conditions.mode.to_owned(),
            log,
            tail: tail.join("\n"),
        }
        .into());
    }
    Ok(())
}
