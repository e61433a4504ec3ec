//! The host programs tests need beyond Debian's Essential packages, listed in `tests/tools` with
//! their packages and the tests that need them. `bash tests/run` leaves those tests out when a
//! program is missing and says so; [`require`] makes a test run directly (`cargo nextest run`)
//! fail at once with the package to install, instead of a bare `No such file or directory`.

use std::path::Path;
use std::process::{Command, Stdio};

/// One line of `tests/tools`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// A command on `PATH`, or `perl:MODULE`.
    pub program: String,
    /// The Debian packages that ship it.
    pub packages: Vec<String>,
    /// `module::` (every test of the module) or `module::test`.
    pub tests: Vec<String>,
}

impl Requirement {
    /// Whether `name` (`module::test`) is one of the tests this line names.
    pub fn covers(&self, name: &str) -> bool {
        self.tests.iter().any(|test| {
            if test.ends_with("::") {
                name.starts_with(test.as_str())
            } else {
                name == test
            }
        })
    }

    /// Whether the host has the program.
    pub fn present(&self) -> bool {
        present(&self.program)
    }
}

/// The lines of `tests/tools`, in file order.
pub fn requirements() -> Vec<Requirement> {
    let path = super::repo_root().join("tests/tools");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    parse(&text)
}

/// Parses the text of `tests/tools`: `#` comments, blank lines, and lines of
/// `PROGRAM PACKAGE[,PACKAGE...] TEST...`.
pub fn parse(text: &str) -> Vec<Requirement> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let mut words = line.split_whitespace();
            let program = words.next().unwrap_or_default().to_owned();
            let packages = words
                .next()
                .unwrap_or_default()
                .split(',')
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect();
            Requirement {
                program,
                packages,
                tests: words.map(str::to_owned).collect(),
            }
        })
        .collect()
}

/// Whether `program` (a command, `perl:MODULE` or `binfmt:NAME`) is on this host: checked as
/// `tests/run` checks it (`command -v`, `perl -MMODULE -e 1`, the registration's file).
// The test reads PATH as `tests/run` and `Command::new` do; debroot itself reads the environment
// only in context.rs.
#[allow(clippy::disallowed_methods)]
pub fn present(program: &str) -> bool {
    if let Some(module) = program.strip_prefix("perl:") {
        return Command::new("perl")
            .arg(format!("-M{module}"))
            .args(["-e", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    }
    if let Some(name) = program.strip_prefix("binfmt:") {
        // A registration another architecture's programs run through (qemu-user): enabled, and
        // with the F flag, so that it works inside the build's root too.
        let text = std::fs::read_to_string(Path::new("/proc/sys/fs/binfmt_misc").join(name))
            .unwrap_or_default();
        return text.lines().next() == Some("enabled")
            && text
                .lines()
                .any(|l| l.strip_prefix("flags:").is_some_and(|f| f.contains('F')));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    // Tests that run root-only tools (`setcap`, `e2fsck`) look in the sbin folders too, as root's
    // PATH does.
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(Into::into))
        .any(|dir| is_executable(&dir.join(program)))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Fails the calling test at once when the host lacks `program`, naming the package to install.
/// `program` must be a line of `tests/tools` that names the calling test (checked by the
/// hermetic test `tools::every_required_program_is_listed`).
pub fn require(program: &str) {
    let requirement = requirements()
        .into_iter()
        .find(|r| r.program == program)
        .unwrap_or_else(|| panic!("`{program}` is not a line of tests/tools: add it there"));
    if !requirement.present() {
        let what = if let Some(module) = program.strip_prefix("perl:") {
            format!("the Perl module {module}")
        } else if let Some(name) = program.strip_prefix("binfmt:") {
            format!(
                "`{name}` registered in /proc/sys/fs/binfmt_misc (mounted), enabled, with the F flag"
            )
        } else {
            format!("`{program}`")
        };
        panic!(
            "this test needs {what}, which this host lacks: apt-get install {} \
             (`bash tests/run` leaves out the tests that need it and says so)",
            requirement.packages.join(" ")
        );
    }
}
