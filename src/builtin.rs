//! The profiles debroot ships (`profiles/*.toml` and the hooks they name), embedded in the
//! binary so that `debroot build kiosk-chromium -o k.squashfs` works from any folder after
//! `cargo install`, and a user's profile can say `extends = "builtin:kiosk-chromium"`.
//!
//! A built-in profile is loaded as any profile is, from files: the embedded tree is written
//! once into the state folder (`$XDG_STATE_HOME/debroot/builtin/DIGEST/`, named by the digest
//! of what is embedded, so a newer debroot never reads an older tree), and the profile is
//! read from there. Relative paths (`extends`, `build.hooks`) therefore mean what they mean in
//! the source checkout, and hooks are ordinary executable files. Its lock goes to the state
//! folder too (`commands::state_lock_file`), never beside the embedded profile.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::digest::Hasher;

/// One embedded file: its path in the source checkout, whether it is executable, its bytes.
pub struct File {
    pub path: &'static str,
    pub executable: bool,
    pub bytes: &'static [u8],
}

macro_rules! embed {
    ($path:literal, $executable:literal) => {
        File {
            path: $path,
            executable: $executable,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $path)),
        }
    };
}

/// Every embedded file. A unit test checks this list against the checkout's `profiles/*.toml`
/// and `hooks/*/*`, so a new profile or hook cannot be left out.
pub const FILES: &[File] = &[
    embed!("profiles/minbase.toml", false),
    embed!("profiles/kiosk-sway.toml", false),
    embed!("profiles/kiosk-wayvnc.toml", false),
    embed!("profiles/kiosk-chromium.toml", false),
    embed!("profiles/kiosk-machine.toml", false),
    embed!("hooks/README.md", false),
    embed!("hooks/kiosk-sway/customize10-kiosk-user", true),
    embed!("hooks/kiosk-sway/customize20-session", true),
    embed!("hooks/kiosk-wayvnc/customize30-wayvnc", true),
    embed!("hooks/kiosk-chromium/customize40-chromium", true),
    embed!("hooks/kiosk-machine/essential50-dracut", true),
    embed!("hooks/kiosk-machine/customize50-machine", true),
    embed!("hooks/kiosk-machine/kiosk-update", true),
];

/// The prefix that names a built-in profile where a path could stand: `builtin:minbase`.
pub const PREFIX: &str = "builtin:";

/// The built-in profiles' names, in the order `debroot profile list` shows them.
pub fn names() -> impl Iterator<Item = &'static str> {
    FILES.iter().filter_map(|file| {
        file.path
            .strip_prefix("profiles/")
            .and_then(|name| name.strip_suffix(".toml"))
    })
}

/// Whether `name` is a built-in profile.
pub fn exists(name: &str) -> bool {
    names().any(|known| known == name)
}

/// A built-in profile's one-line description: the first comment line of its file, after
/// `NAME: `.
pub fn summary(name: &str) -> Option<&'static str> {
    let file = FILES
        .iter()
        .find(|file| file.path.strip_prefix("profiles/") == Some(&format!("{name}.toml")))?;
    let text = std::str::from_utf8(file.bytes).ok()?;
    let first = text.lines().next()?.strip_prefix("# ")?;
    Some(first.split_once(": ").map_or(first, |(_, rest)| rest))
}

/// The profile file of a built-in profile, relative to the folder [`materialize`] returns.
pub fn profile_path(name: &str) -> PathBuf {
    Path::new("profiles").join(format!("{name}.toml"))
}

/// The digest of everything embedded (paths, modes and bytes), 16 hex digits: the name of
/// the folder the tree is written to.
pub fn digest() -> String {
    let mut hasher = Hasher::new();
    for file in FILES {
        hasher.update(file.path.as_bytes());
        hasher.update(&[0, u8::from(file.executable)]);
        hasher.update(&(file.bytes.len() as u64).to_le_bytes());
        hasher.update(file.bytes);
    }
    hasher.finish().hex()[..16].to_owned()
}

/// Writes the embedded tree into `state/builtin/DIGEST/` unless it is there already, and
/// returns that folder. The tree is written into a private temporary folder and renamed into
/// place, so a reader never sees half of it; two debroots doing this at once both succeed.
pub fn materialize(state: &Path) -> std::io::Result<PathBuf> {
    let parent = state.join("builtin");
    let folder = parent.join(digest());
    if folder.is_dir() {
        return Ok(folder);
    }
    std::fs::create_dir_all(&parent)?;
    let temporary = parent.join(format!(".partial-{}-{}", std::process::id(), digest()));
    // Left by a debroot of the same process id that was killed while writing.
    let _ = std::fs::remove_dir_all(&temporary);
    std::fs::create_dir(&temporary)?;
    let written = write_tree(&temporary);
    let placed = written.and_then(|()| std::fs::rename(&temporary, &folder));
    match placed {
        Ok(()) => Ok(folder),
        // Another debroot won the race: its tree is the same bytes.
        Err(_) if folder.is_dir() => {
            let _ = std::fs::remove_dir_all(&temporary);
            Ok(folder)
        }
        Err(error) => {
            let _ = std::fs::remove_dir_all(&temporary);
            Err(error)
        }
    }
}

fn write_tree(folder: &Path) -> std::io::Result<()> {
    for file in FILES {
        let target = folder.join(file.path);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mode = if file.executable { 0o755 } else { 0o644 };
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&target)?;
        out.write_all(file.bytes)?;
        // The umask may have taken bits the hooks need.
        out.set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkout_files() -> Vec<String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut found = Vec::new();
        for entry in std::fs::read_dir(root.join("profiles")).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name.ends_with(".toml") {
                found.push(format!("profiles/{name}"));
            }
        }
        for entry in std::fs::read_dir(root.join("hooks")).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            if entry.file_type().unwrap().is_dir() {
                for hook in std::fs::read_dir(entry.path()).unwrap() {
                    let hook = hook.unwrap().file_name().into_string().unwrap();
                    found.push(format!("hooks/{name}/{hook}"));
                }
            } else {
                found.push(format!("hooks/{name}"));
            }
        }
        found.sort();
        found
    }

    #[test]
    fn every_shipped_profile_and_hook_is_embedded_with_its_mode() {
        let mut embedded: Vec<String> = FILES.iter().map(|f| f.path.to_owned()).collect();
        embedded.sort();
        assert_eq!(
            embedded,
            checkout_files(),
            "src/builtin.rs FILES is out of date"
        );
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for file in FILES {
            let mode = std::fs::metadata(root.join(file.path))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o100 != 0, file.executable, "{}", file.path);
        }
    }

    #[test]
    fn names_and_summaries() {
        assert_eq!(
            names().collect::<Vec<_>>(),
            [
                "minbase",
                "kiosk-sway",
                "kiosk-wayvnc",
                "kiosk-chromium",
                "kiosk-machine"
            ]
        );
        assert!(exists("kiosk-chromium") && !exists("kiosk") && !exists("../minbase"));
        assert!(
            summary("minbase")
                .unwrap()
                .starts_with("the smallest Debian system")
        );
    }

    #[test]
    fn materialize_writes_the_tree_once_and_is_idempotent() {
        let state = tempfile::tempdir().unwrap();
        let folder = materialize(state.path()).unwrap();
        assert_eq!(folder, state.path().join("builtin").join(digest()));
        for file in FILES {
            let path = folder.join(file.path);
            assert_eq!(std::fs::read(&path).unwrap(), file.bytes);
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, if file.executable { 0o755 } else { 0o644 });
        }
        assert_eq!(materialize(state.path()).unwrap(), folder);
        let leftovers: Vec<_> = std::fs::read_dir(state.path().join("builtin"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "{leftovers:?}");
    }
}
