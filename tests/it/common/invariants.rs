//! docs/THREATS.md §3.0's global invariants I1–I7, as assertions for the threat-corpus tests.
//!
//! A test makes a [`Sentinel`] in its temporary directory (outside any work directory) and
//! points its hostile archives at it, by absolute path and by relative paths that climb to it.
//! Every run of debroot is wrapped in a [`Watch`], which records the temporary directory before
//! the run and checks it after:
//!
//! ```ignore
//! let watch = Watch::start(fixture.path(), &output, &cache, &[lock]);
//! let run = fixture.run(&["build", ...], &[]);
//! assert_error(&run, 7, &["`evil 1.0`", "`../x`", "unsafe path"]); // I5
//! watch.assert_failed(); // I1 I2 I3 I4 I6 I7
//! ```
//!
//! | ID | checked by |
//! |---|---|
//! | I1 nothing outside the allowed paths changed | [`Watch`]: kind, mode, owner, link count and SHA-256 of every file of the temporary directory (the sentinel included), before and after |
//! | I2 no partial artefact | [`Watch::assert_failed`]: the output as before (absent), no `*.tmp*` or `.debroot-new-*` beside it |
//! | I3 no mounts left | [`assert_no_mounts_below`]: no mount point under the temporary directory in `/proc/self/mountinfo` |
//! | I4 no processes left | [`assert_no_processes_below`]: no process whose root, cwd or executable is under it |
//! | I5 clear error | [`assert_error`]: the exit code, one `error:` line naming the object and the reason, no `panicked at` |
//! | I6 work dir cleaned | [`work_dirs`]: no `.NAME.debroot-*` beside the output |
//! | I7 cache integrity | [`super::assert_cache_verified`] and no temporary file in the cache |

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Output;

use super::repo::sha256_hex;
use super::stderr;

/// `host_sentinel/` with files of known content and mode, outside every work directory.
pub struct Sentinel {
    /// `host_sentinel/`.
    pub root: PathBuf,
    /// `host_sentinel/sentinel_file` (0644).
    pub file: PathBuf,
    /// `host_sentinel/sentinel_dir/` (0755), holding `inner` (0600).
    pub dir: PathBuf,
    /// `host_sentinel/script` (0755), a shell script.
    pub script: PathBuf,
}

impl Sentinel {
    /// Creates the sentinel in `parent`.
    pub fn create(parent: &Path) -> Self {
        let root = parent.join("host_sentinel");
        let dir = root.join("sentinel_dir");
        std::fs::create_dir_all(&dir).unwrap();
        let file = root.join("sentinel_file");
        std::fs::write(&file, b"sentinel: must never change\n").unwrap();
        std::fs::set_permissions(&file, PermissionsExt::from_mode(0o644)).unwrap();
        std::fs::write(dir.join("inner"), b"inner\n").unwrap();
        std::fs::set_permissions(dir.join("inner"), PermissionsExt::from_mode(0o600)).unwrap();
        std::fs::set_permissions(&dir, PermissionsExt::from_mode(0o755)).unwrap();
        let script = root.join("script");
        std::fs::write(&script, b"#!/bin/sh\necho sentinel\n").unwrap();
        std::fs::set_permissions(&script, PermissionsExt::from_mode(0o755)).unwrap();
        Sentinel {
            root,
            file,
            dir,
            script,
        }
    }

    /// A relative link target that reaches `path` from any depth inside a root: up to `/`
    /// (64 `../`, more than any test nests) and down again.
    pub fn climbing(path: &Path) -> String {
        let absolute = path.to_str().expect("UTF-8 temporary path");
        format!("{}{}", "../".repeat(64), absolute.trim_start_matches('/'))
    }

    /// `path` as text (for absolute link targets and names).
    pub fn absolute(path: &Path) -> String {
        path.to_str().expect("UTF-8 temporary path").to_owned()
    }
}

/// What a change to one path would show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// Directories' link counts change with their subdirectories, so they are left out.
    Dir {
        mode: u32,
        uid: u32,
        gid: u32,
    },
    File {
        mode: u32,
        uid: u32,
        gid: u32,
        nlink: u64,
        sha256: String,
    },
    Symlink {
        target: PathBuf,
    },
    Other {
        mode: u32,
    },
}

/// The state of every path under `root` but those in `skip` (and below them), by path.
pub fn snapshot(root: &Path, skip: &[PathBuf]) -> BTreeMap<PathBuf, Node> {
    let mut nodes = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        if skip.iter().any(|s| path.starts_with(s)) {
            continue;
        }
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let mode = meta.mode() & 0o7777;
        let node = if meta.file_type().is_symlink() {
            Node::Symlink {
                target: std::fs::read_link(&path).unwrap_or_default(),
            }
        } else if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&path) {
                for entry in entries.flatten() {
                    stack.push(entry.path());
                }
            }
            Node::Dir {
                mode,
                uid: meta.uid(),
                gid: meta.gid(),
            }
        } else if meta.is_file() {
            Node::File {
                mode,
                uid: meta.uid(),
                gid: meta.gid(),
                nlink: meta.nlink(),
                sha256: std::fs::read(&path)
                    .map(|b| sha256_hex(&b))
                    .unwrap_or_default(),
            }
        } else {
            Node::Other { mode: meta.mode() }
        };
        nodes.insert(path, node);
    }
    nodes
}

/// The differences between two snapshots, one line each.
pub fn differences(
    before: &BTreeMap<PathBuf, Node>,
    after: &BTreeMap<PathBuf, Node>,
) -> Vec<String> {
    let mut lines = Vec::new();
    for (path, node) in before {
        match after.get(path) {
            None => lines.push(format!("removed {}", path.display())),
            Some(other) if other != node => {
                lines.push(format!("changed {}: {node:?} -> {other:?}", path.display()))
            }
            Some(_) => {}
        }
    }
    for (path, node) in after {
        if !before.contains_key(path) {
            lines.push(format!("created {}: {node:?}", path.display()));
        }
    }
    lines
}

/// The work directories of a build writing `output` (`.NAME.debroot-PID-N` beside it).
pub fn work_dirs(output: &Path) -> Vec<PathBuf> {
    let name = output.file_name().unwrap().to_string_lossy().into_owned();
    let prefix = format!(".{name}.debroot-");
    list(output.parent().unwrap())
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
        })
        .collect()
}

/// Temporary files left in `dir`: `*.tmp*` names and the extractor's `.debroot-new-*`.
pub fn temporary_leftovers(dir: &Path) -> Vec<PathBuf> {
    list(dir)
        .into_iter()
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.contains(".tmp") || name.starts_with(".debroot-new-")
        })
        .collect()
}

fn list(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    paths.sort();
    paths
}

/// docs/THREATS.md I3: no mount point at or under `dir` in this mount namespace.
pub fn assert_no_mounts_below(dir: &Path) {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let prefix = dir.to_string_lossy().into_owned();
    let mounts: Vec<&str> = text
        .lines()
        .filter(|line| {
            line.split(' ')
                .nth(4)
                .is_some_and(|point| point == prefix || point.starts_with(&format!("{prefix}/")))
        })
        .collect();
    assert!(
        mounts.is_empty(),
        "I3: mounts left under {}: {mounts:?}",
        dir.display()
    );
}

/// docs/THREATS.md I4: no process whose root, working directory or executable is under `dir`.
pub fn assert_no_processes_below(dir: &Path) {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        for link in ["root", "cwd", "exe"] {
            if let Ok(target) = std::fs::read_link(entry.path().join(link))
                && target.starts_with(dir)
            {
                found.push(format!("{name} ({link} -> {})", target.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "I4: processes left in {}: {found:?}",
        dir.display()
    );
}

/// docs/THREATS.md I5: the run exited with `code` and said why on one `error:` line that contains
/// every one of `needles`; nothing panicked. Returns the `error:` line.
pub fn assert_error(run: &Output, code: i32, needles: &[&str]) -> String {
    let text = stderr(run);
    assert!(!text.contains("panicked at"), "I5: a panic:\n{text}");
    assert_eq!(
        run.status.code(),
        Some(code),
        "I5: exit code; stderr:\n{text}"
    );
    let errors: Vec<&str> = text.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "I5: one `error:` line; stderr:\n{text}");
    for needle in needles {
        assert!(
            errors[0].contains(needle),
            "I5: the `error:` line does not name {needle:?}; stderr:\n{text}"
        );
    }
    errors[0].to_owned()
}

/// A run that succeeded, without a panic.
pub fn assert_success(run: &Output) {
    let text = stderr(run);
    assert!(!text.contains("panicked at"), "a panic:\n{text}");
    assert_eq!(run.status.code(), Some(0), "stderr:\n{text}");
}

/// The state of a test's temporary directory around one run of debroot.
pub struct Watch {
    dir: PathBuf,
    output: PathBuf,
    cache: PathBuf,
    allowed: Vec<PathBuf>,
    before: BTreeMap<PathBuf, Node>,
    /// Temporary-looking files the test planted beside the output before the run: not
    /// leftovers of the run, and still compared (they must be left as they were).
    planted: Vec<PathBuf>,
}

impl Watch {
    /// Records `dir` before a run writing `output` with the cache at `cache`. `allowed`: paths
    /// the run may change besides the cache (the lock it writes).
    pub fn start(dir: &Path, output: &Path, cache: &Path, allowed: &[PathBuf]) -> Self {
        let mut skip = allowed.to_vec();
        skip.push(cache.to_path_buf());
        let before = snapshot(dir, &skip);
        Watch {
            dir: dir.to_path_buf(),
            output: output.to_path_buf(),
            cache: cache.to_path_buf(),
            allowed: skip,
            before,
            planted: Vec::new(),
        }
    }

    /// Declares `paths` (beside the output, planted before [`Watch::start`]) as the test's own:
    /// the I2 check of temporary files passes over them, I1 still requires them unchanged.
    pub fn with_planted(mut self, paths: &[PathBuf]) -> Self {
        self.planted.extend_from_slice(paths);
        self
    }

    fn assert_common(&self, after: &BTreeMap<PathBuf, Node>) {
        // I6 before I1, for the clearer message.
        let work: Vec<PathBuf> = work_dirs(&self.output)
            .into_iter()
            .filter(|p| !self.planted.contains(p))
            .collect();
        assert!(work.is_empty(), "I6: work directories left: {work:?}");
        let leftovers: Vec<PathBuf> = temporary_leftovers(self.output.parent().unwrap())
            .into_iter()
            .filter(|p| !self.planted.contains(p))
            .collect();
        assert!(
            leftovers.is_empty(),
            "I2: temporary files left: {leftovers:?}"
        );
        let changes = differences(&self.before, after);
        let sentinel: Vec<&String> = changes
            .iter()
            .filter(|c| c.contains("host_sentinel"))
            .collect();
        assert!(
            sentinel.is_empty(),
            "I1: host_sentinel changed: {sentinel:#?}"
        );
        assert!(
            changes.is_empty(),
            "I1: changed outside the allowed paths: {changes:#?}"
        );
        assert_no_mounts_below(&self.dir);
        assert_no_processes_below(&self.dir);
        super::assert_cache_verified(&self.cache);
        let tmp = list(&self.cache.join("v1/tmp"));
        assert!(tmp.is_empty(), "I7: temporary files in the cache: {tmp:?}");
    }

    /// After a failed run: I1, I2 (the output as it was), I3, I4, I6, I7.
    pub fn assert_failed(&self) {
        let after = snapshot(&self.dir, &self.allowed);
        self.assert_common(&after);
    }

    /// After a successful run: the same, with the output, its manifest, its provenance and
    /// its SBOMs allowed to appear.
    pub fn assert_succeeded(&self) {
        let mut skip = self.allowed.clone();
        skip.push(self.output.clone());
        for suffix in [
            ".manifest.json",
            ".provenance.json",
            ".spdx.json",
            ".cdx.json",
        ] {
            let mut beside = self.output.as_os_str().to_owned();
            beside.push(suffix);
            skip.push(PathBuf::from(beside));
        }
        let before: BTreeMap<PathBuf, Node> = self
            .before
            .iter()
            .filter(|(p, _)| !skip.iter().any(|s| p.starts_with(s)))
            .map(|(p, n)| (p.clone(), n.clone()))
            .collect();
        let after = snapshot(&self.dir, &skip);
        let watch = Watch {
            dir: self.dir.clone(),
            output: self.output.clone(),
            cache: self.cache.clone(),
            allowed: skip,
            before,
            planted: self.planted.clone(),
        };
        watch.assert_common(&after);
    }
}

/// Runs debroot (with a clean environment, in `dir`) with its address space capped at
/// `address_space_kib` KiB, so that an attempt to allocate more (a decoder's 1.5 GiB
/// dictionary) fails instead of succeeding, and measures its peak resident set with GNU time
/// when the host has `/usr/bin/time`. Returns the run and the peak in KiB.
pub fn debroot_bounded(dir: &Path, args: &[&str], address_space_kib: u64) -> (Output, Option<u64>) {
    let (run, measured) = debroot_bounded_measured(dir, args, address_space_kib);
    (run, measured.map(|m| m.peak_kib))
}

/// What GNU time measured of a run.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    /// Peak resident set, KiB.
    pub peak_kib: u64,
    /// User plus system CPU time: the work done, whatever else loads the machine.
    pub cpu: std::time::Duration,
}

/// [`debroot_bounded`], returning GNU time's peak and CPU time.
pub fn debroot_bounded_measured(
    dir: &Path,
    args: &[&str],
    address_space_kib: u64,
) -> (Output, Option<Measured>) {
    let time = Path::new("/usr/bin/time");
    // Outside `dir`, which the watch compares.
    let measure = tempfile::NamedTempFile::new().unwrap();
    let mut script = format!("ulimit -v {address_space_kib} && exec ");
    if time.exists() {
        script.push_str("/usr/bin/time -f '%M %U %S' -o \"$DEBROOT_TEST_MAXRSS\" ");
    }
    script.push_str("\"$@\"");
    let run = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_debroot"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("DEBROOT_TEST_MAXRSS", measure.path())
        .output()
        .expect("debroot runs");
    let measured = std::fs::read_to_string(measure.path())
        .ok()
        .and_then(|text| {
            let line = text.lines().last()?.to_owned();
            let mut fields = line.split_whitespace();
            let peak_kib = fields.next()?.parse().ok()?;
            let user: f64 = fields.next()?.parse().ok()?;
            let system: f64 = fields.next()?.parse().ok()?;
            Some(Measured {
                peak_kib,
                cpu: std::time::Duration::from_secs_f64(user + system),
            })
        });
    (run, measured)
}
