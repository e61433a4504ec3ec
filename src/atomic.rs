//! Writing a file so that its path holds the old content or the new, never a part.
//!
//! A temporary file is created beside the final path (`O_EXCL`, never following a link), the
//! bytes are written and fsynced, the file is renamed over the final path (which replaces a
//! symlink planted there instead of writing through it), and the directory is fsynced.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A temporary file beside `path`, removed on drop unless persisted.
pub struct Temporary {
    path: PathBuf,
    file: Option<File>,
    target: PathBuf,
}

static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Temporary {
    /// Creates `.NAME.debroot-PID-N.tmp` beside `target`.
    pub fn beside(target: &Path, mode: u32) -> io::Result<Self> {
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "output".into());
        for _ in 0..1000 {
            let serial = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let path = parent.join(format!(
                ".{name}.debroot-{}-{serial}.tmp",
                std::process::id()
            ));
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(mode)
                .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
                .open(&path)
            {
                Ok(file) => {
                    return Ok(Temporary {
                        path,
                        file: Some(file),
                        target: target.to_path_buf(),
                    });
                }
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(error) => return Err(error),
            }
        }
        Err(io::Error::other("cannot create a unique temporary file"))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn file(&mut self) -> &mut File {
        self.file
            .as_mut()
            .expect("the file is present until persisted")
    }

    /// fsync, rename over the target, fsync the directory.
    pub fn persist(mut self) -> io::Result<()> {
        let file = self
            .file
            .take()
            .expect("the file is present until persisted");
        file.sync_all()?;
        drop(file);
        fs::rename(&self.path, &self.target)?;
        let parent = match self.target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        File::open(parent)?.sync_all()
    }
}

impl Drop for Temporary {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let mut temporary = Temporary::beside(path, mode)?;
    temporary.file().write_all(bytes)?;
    temporary.persist()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_a_planted_symlink_instead_of_writing_through_it() {
        let dir = tempfile::tempdir().unwrap();
        let sentinel = dir.path().join("sentinel");
        fs::write(&sentinel, b"keep").unwrap();
        let target = dir.path().join("out.lock");
        std::os::unix::fs::symlink(&sentinel, &target).unwrap();
        write(&target, b"new", 0o644).unwrap();
        assert_eq!(fs::read(&sentinel).unwrap(), b"keep");
        assert_eq!(fs::read(&target).unwrap(), b"new");
        assert!(
            !fs::symlink_metadata(&target)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            2,
            "no temporary left"
        );
    }
}
