//! The hook helpers that write to the host (`copy-out`, `sync-out`, `tar-out`), run on a
//! plain directory tree with `--root` (no build, no privilege): docs/THREATS.md G5, a symlink left
//! in the destination by an earlier run (or planted there) is replaced, never written through.

use crate::common;

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::Output;

use common::stderr;

fn helper(dir: &Path, root: &Path, args: &[&str]) -> Output {
    let mut all = vec!["hook", args[0], "--root", root.to_str().unwrap()];
    all.extend_from_slice(&args[1..]);
    common::debroot(dir, &all, &[])
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path)
        .unwrap()
        .file_type()
        .is_symlink()
}

/// A victim file and folder outside everything, whose content and mode must not change.
struct Victims {
    file: std::path::PathBuf,
    dir: std::path::PathBuf,
}

impl Victims {
    fn new(base: &Path) -> Self {
        let file = base.join("victim_file");
        std::fs::write(&file, "victim\n").unwrap();
        std::fs::set_permissions(&file, PermissionsExt::from_mode(0o644)).unwrap();
        let dir = base.join("victim_dir");
        std::fs::create_dir(&dir).unwrap();
        Victims { file, dir }
    }

    fn assert_untouched(&self, what: &str) {
        assert_eq!(
            std::fs::read_to_string(&self.file).unwrap(),
            "victim\n",
            "{what}: written through"
        );
        assert_eq!(mode(&self.file), 0o644, "{what}: mode set through");
        assert_eq!(
            std::fs::read_dir(&self.dir).unwrap().count(),
            0,
            "{what}: written into through a symlinked folder"
        );
    }
}

/// The root's `/x` first holds symlinks at `f` (to the victim file) and `d` (to the victim
/// folder), then a setuid file at `f` and a folder at `d`.
fn first_links(root: &Path, victims: &Victims) {
    std::fs::create_dir_all(root.join("x/sub")).unwrap();
    std::fs::write(root.join("x/sub/g"), "g\n").unwrap();
    symlink(&victims.file, root.join("x/f")).unwrap();
    symlink(&victims.dir, root.join("x/d")).unwrap();
}

fn then_files(root: &Path) {
    std::fs::remove_file(root.join("x/f")).unwrap();
    std::fs::write(root.join("x/f"), "payload\n").unwrap();
    std::fs::set_permissions(root.join("x/f"), PermissionsExt::from_mode(0o4755)).unwrap();
    std::fs::remove_file(root.join("x/d")).unwrap();
    std::fs::create_dir(root.join("x/d")).unwrap();
    std::fs::write(root.join("x/d/inner"), "inner\n").unwrap();
}

fn assert_replaced(out: &Path, victims: &Victims, what: &str) {
    victims.assert_untouched(what);
    assert!(!is_symlink(&out.join("f")), "{what}: f is still a symlink");
    assert_eq!(
        std::fs::read_to_string(out.join("f")).unwrap(),
        "payload\n",
        "{what}"
    );
    assert_eq!(mode(&out.join("f")), 0o4755, "{what}: mode kept");
    assert!(!is_symlink(&out.join("d")), "{what}: d is still a symlink");
    assert_eq!(
        std::fs::read_to_string(out.join("d/inner")).unwrap(),
        "inner\n",
        "{what}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("sub/g")).unwrap(),
        "g\n",
        "{what}"
    );
    let names: Vec<String> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.contains(".tmp")),
        "{what}: temporary left: {names:?}"
    );
}

#[test]
fn g5_sync_out_replaces_symlinks_an_earlier_run_left() {
    let base = tempfile::tempdir().unwrap();
    let base = base.path();
    let victims = Victims::new(base);
    let root = base.join("root");
    first_links(&root, &victims);
    let run = helper(base, &root, &["sync-out", "/x", "out"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    // The first run copies the links as links (what is copied is never followed).
    assert_eq!(
        std::fs::read_link(base.join("out/f")).unwrap(),
        victims.file
    );
    assert_eq!(std::fs::read_link(base.join("out/d")).unwrap(), victims.dir);
    then_files(&root);
    let run = helper(base, &root, &["sync-out", "/x", "out"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert_replaced(&base.join("out"), &victims, "sync-out");
}

#[test]
fn g5_copy_out_replaces_symlinks_an_earlier_run_left() {
    let base = tempfile::tempdir().unwrap();
    let base = base.path();
    let victims = Victims::new(base);
    let root = base.join("root");
    first_links(&root, &victims);
    std::fs::create_dir(base.join("out")).unwrap();
    let run = helper(base, &root, &["copy-out", "/x", "out"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert_eq!(
        std::fs::read_link(base.join("out/x/f")).unwrap(),
        victims.file
    );
    then_files(&root);
    let run = helper(base, &root, &["copy-out", "/x", "out"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert_replaced(&base.join("out/x"), &victims, "copy-out");

    // A symlink at the copied name itself (the first name below the named folder): replaced
    // by the folder, for a folder, and by the file, for a file.
    std::fs::create_dir(base.join("out2")).unwrap();
    symlink(&victims.dir, base.join("out2/x")).unwrap();
    symlink(&victims.file, base.join("out2/f")).unwrap();
    let run = helper(base, &root, &["copy-out", "/x", "/x/f", "out2"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert_replaced(&base.join("out2/x"), &victims, "copy-out, link at the top");
    assert!(!is_symlink(&base.join("out2/f")));
    assert_eq!(mode(&base.join("out2/f")), 0o4755);
}

/// The folder the user names is the user's choice: a symlink there is followed (as `cp` and
/// `rsync` do); only what is below it is never followed.
#[test]
fn the_named_destination_may_be_a_symlink() {
    let base = tempfile::tempdir().unwrap();
    let base = base.path();
    let root = base.join("root");
    std::fs::create_dir_all(root.join("x")).unwrap();
    std::fs::write(root.join("x/f"), "f\n").unwrap();
    std::fs::create_dir(base.join("real")).unwrap();
    symlink("real", base.join("named")).unwrap();
    let run = helper(base, &root, &["sync-out", "/x", "named"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let run = helper(base, &root, &["copy-out", "/x", "named"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert_eq!(std::fs::read_to_string(base.join("real/f")).unwrap(), "f\n");
    assert_eq!(
        std::fs::read_to_string(base.join("real/x/f")).unwrap(),
        "f\n"
    );
}

/// A file where a folder goes (or the reverse) is an error that names it, not a replacement.
#[test]
fn a_file_where_a_folder_goes_is_refused() {
    let base = tempfile::tempdir().unwrap();
    let base = base.path();
    let root = base.join("root");
    std::fs::create_dir_all(root.join("x/d")).unwrap();
    std::fs::create_dir_all(base.join("out")).unwrap();
    std::fs::write(base.join("out/d"), "keep\n").unwrap();
    let run = helper(base, &root, &["sync-out", "/x", "out"]);
    assert_eq!(run.status.code(), Some(8), "{}", stderr(&run));
    assert!(stderr(&run).contains("out/d"), "{}", stderr(&run));
    assert_eq!(
        std::fs::read_to_string(base.join("out/d")).unwrap(),
        "keep\n"
    );
}

/// `tar-out` writes beside the tarball's name and renames over it: a symlink there is
/// replaced.
#[test]
fn g5_tar_out_replaces_a_symlink_at_the_tarball() {
    let base = tempfile::tempdir().unwrap();
    let base = base.path();
    let victims = Victims::new(base);
    let root = base.join("root");
    std::fs::create_dir_all(root.join("x")).unwrap();
    std::fs::write(root.join("x/f"), "f\n").unwrap();
    symlink(&victims.file, base.join("out.tar")).unwrap();
    let run = helper(base, &root, &["tar-out", "/x", "out.tar"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    victims.assert_untouched("tar-out");
    assert!(!is_symlink(&base.join("out.tar")));
    let entries = common::tree::read_tar(&base.join("out.tar"));
    assert!(entries.contains_key(&b"f"[..]), "{:?}", entries.keys());
}
