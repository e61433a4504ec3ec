//! The shell completions and man pages committed in `contrib/` are what the command line
//! generates (`debroot generate`), so that a change to the command line without `bash
//! contrib/update` fails here, and in CI.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const UPDATE: &str = "the command line changed: run `bash contrib/update` and commit contrib/";

/// The files of `dir`, by name.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        out.insert(name, std::fs::read(&path).unwrap());
    }
    out
}

#[test]
fn completions_and_man_pages_are_current() {
    let root = common::repo_root();
    let scratch = tempfile::tempdir().unwrap();
    let mut stale = BTreeSet::new();
    for (shell, file) in [
        ("bash", "debroot.bash"),
        ("zsh", "_debroot"),
        ("fish", "debroot.fish"),
    ] {
        let output = common::debroot(scratch.path(), &["generate", "completions", shell], &[]);
        assert_eq!(output.status.code(), Some(0), "{}", common::stderr(&output));
        let committed = root.join("contrib/completions").join(file);
        if std::fs::read(&committed).ok().as_deref() != Some(&output.stdout[..]) {
            stale.insert(format!("contrib/completions/{file}"));
        }
    }
    let man = scratch.path().join("man");
    let output = common::debroot(
        scratch.path(),
        &["generate", "man", man.to_str().unwrap()],
        &[],
    );
    assert_eq!(output.status.code(), Some(0), "{}", common::stderr(&output));
    let generated = files(&man);
    let committed = files(&root.join("contrib/man"));
    for name in generated.keys().chain(committed.keys()) {
        if generated.get(name) != committed.get(name) {
            stale.insert(format!("contrib/man/{name}"));
        }
    }
    let stale: Vec<String> = stale.into_iter().collect();
    assert!(stale.is_empty(), "{UPDATE}; stale: {}", stale.join(", "));
}

/// `debroot generate man` into a folder it cannot make says which page and what to do.
#[test]
fn man_pages_into_an_unwritable_place_fail_with_the_path() {
    let scratch = tempfile::tempdir().unwrap();
    std::fs::write(scratch.path().join("file"), b"").unwrap();
    let output = common::debroot(scratch.path(), &["generate", "man", "file/man"], &[]);
    assert_eq!(output.status.code(), Some(9), "{}", common::stderr(&output));
    let stderr = common::stderr(&output);
    assert!(
        stderr.contains("cannot write the man page `file/man/debroot.1`"),
        "{stderr}"
    );
    assert!(stderr.contains("debroot generate man DIR"), "{stderr}");
}
