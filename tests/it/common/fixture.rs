//! A fixture archive served on loopback, with a profile and keyring beside it, and helpers to
//! run debroot against it.

use std::path::{Path, PathBuf};
use std::process::Output;

use super::debroot;
use super::repo::{self, Suite};
use super::server::Server;

pub const SNAPSHOT: &str = "20261101T120000Z";

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub server: Server,
    pub written: repo::Written,
}

impl Fixture {
    pub fn new(suites: Vec<Suite>) -> Self {
        Fixture::in_dir(tempfile::tempdir().unwrap(), suites)
    }

    /// A fixture in `dir`, made beforehand (for packages that name paths inside it).
    pub fn in_dir(dir: tempfile::TempDir, suites: Vec<Suite>) -> Self {
        let www = dir.path().join("www");
        let written = repo::write_archive(&www, &suites);
        repo::write_keyring(dir.path());
        std::fs::write(dir.path().join("p.toml"), repo::profile("", "")).unwrap();
        let server = Server::start(&www);
        Fixture {
            dir,
            server,
            written,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn mirror(&self) -> String {
        self.server.url("debian")
    }

    /// `debroot index p.toml --mirror ... --format json` plus `extra` arguments.
    pub fn index(&self, extra: &[&str]) -> Output {
        let mirror = self.mirror();
        let cache = self.path().join("cache");
        let mut args = vec![
            "index",
            "p.toml",
            "--mirror",
            &mirror,
            "--format",
            "json",
            "--cache-dir",
            cache.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        debroot(self.path(), &args, &[("HOME", "/nonexistent")])
    }

    pub fn set_keyring(&self, bytes: &[u8]) {
        std::fs::write(self.path().join("keyring.gpg"), bytes).unwrap();
    }

    pub fn inrelease(&self, suite: &str) -> PathBuf {
        self.written.inrelease(suite).to_path_buf()
    }

    pub fn edit_inrelease(&self, suite: &str, edit: impl FnOnce(String) -> String) {
        let path = self.inrelease(suite);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, edit(text)).unwrap();
    }

    pub fn package_requests(&self) -> Vec<String> {
        self.server
            .requests()
            .into_iter()
            .filter(|p| p.contains("/Packages") || p.contains("/by-hash/"))
            .collect()
    }
}

impl Fixture {
    /// `debroot ARGS` in the fixture's folder, with `--mirror` and `--cache-dir` appended.
    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mirror = self.mirror();
        let cache = self.path().join("cache");
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--mirror", &mirror, "--cache-dir", cache.to_str().unwrap()]);
        debroot(self.path(), &all, env)
    }

    pub fn write_profile(&self, extra_source: &str, extra: &str) {
        std::fs::write(
            self.path().join("p.toml"),
            repo::profile(extra_source, extra),
        )
        .unwrap();
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path().join(name)).unwrap()
    }
}
