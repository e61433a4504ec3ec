//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod deb;
pub mod fixture;
pub mod hostbase;
pub mod images;
pub mod invariants;
pub mod keys;
pub mod repo;
pub mod sbom_tools;
pub mod scenario;
pub mod server;
pub mod snapshot;
pub mod tools;
pub mod tree;
pub mod user;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository's root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The trimmed real trixie `Packages` index, decompressed.
pub fn fixture_packages() -> Vec<u8> {
    let path = repo_root().join("tests/fixtures/trixie-main-amd64-Packages.trimmed.xz");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    liblzma::read::XzDecoder::new(file)
        .read_to_end(&mut out)
        .expect("fixture decompresses");
    out
}

/// Runs the debroot binary with `args` in `dir`, with a clean environment plus `env`.
pub fn debroot(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_debroot"));
    command.args(args).current_dir(dir).env_clear();
    command.env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("debroot runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// docs/THREATS.md I7: every blob in the cache at `dir` hashes to its name.
pub fn assert_cache_verified(dir: &Path) {
    let blobs = dir.join("v1/sha256");
    let Ok(shards) = std::fs::read_dir(&blobs) else {
        return;
    };
    for shard in shards {
        for entry in std::fs::read_dir(shard.unwrap().path()).unwrap() {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let name = path.file_name().unwrap().to_str().unwrap();
            assert_eq!(
                repo::sha256_hex(&bytes),
                name,
                "cache blob {} is not what its name says",
                path.display()
            );
        }
    }
}

/// Whether the cache at `dir` holds a blob with this digest.
pub fn cache_holds(dir: &Path, digest: &str) -> bool {
    dir.join("v1/sha256")
        .join(&digest[..2])
        .join(digest)
        .exists()
}
