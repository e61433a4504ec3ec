//! Whether this machine can run the programs of a profile's native architecture: natively, or
//! through qemu-user registered with the kernel's binfmt_misc with the `F` flag.
//!
//! A build in `root` or `unshare` mode runs the root's own `/bin/sh`, dpkg and maintainer
//! scripts, all built for the profile's native architecture (the first of
//! `source.architectures`). When that is not an architecture the host runs natively, the kernel
//! hands each of those programs to the interpreter registered in binfmt_misc for its ELF header:
//! `qemu-aarch64` for arm64, and so on. The registration needs the `F` ("fix binary") flag: the
//! kernel then opens the interpreter once, when it is registered, and uses that open file in every
//! mount namespace and chroot; without `F` it looks the interpreter's path up inside the root at
//! exec time, where it does not exist (Documentation/admin-guide/binfmt-misc.rst). mmdebstrap
//! 1.4.0 relies on the same flag since it stopped copying `qemu-*-static` into the root.
//!
//! The check runs before anything is downloaded (the setup phase), so that a machine without
//! qemu fails at once, naming the registration it lacks and the Debian package that provides it,
//! instead of after the download with `Exec format error` from the first maintainer script.
//! `extract` mode runs nothing and needs no check; of a multi-arch profile only the native
//! architecture is checked, as dpkg and the maintainer scripts are the native architecture's.
//!
//! The host's architecture is the one this debroot was compiled for
//! ([`Architecture::build_default`], from `std::env::consts::ARCH`): it is certainly an
//! architecture this kernel runs (debroot is running), it needs no `dpkg` on the host (nor the
//! exec of one), and it is the default native architecture of a profile, so a profile that names
//! none never needs qemu. What else the host runs without qemu is an explicit table
//! ([`runs_natively`]): amd64 runs i386 (the kernel's IA-32 emulation, enabled in Debian's
//! kernels; Debian's qemu packages register no `qemu-i386` on amd64 for this reason; a kernel
//! booted with `ia32_emulation=0` is not detected, and an i386 build fails at its first script
//! there). arm64 is
//! not assumed to run armhf or armel, which depends on the CPU (many arm64 cores have no
//! AArch32): it needs a `qemu-arm` registration like any foreign architecture.
//!
//! The parsing here is pure ([`parse_registration`], [`parse_status`], [`package_for`],
//! [`qemu_name`]); [`check`] is the edge that reads binfmt_misc and `/etc/os-release`.

use std::path::{Path, PathBuf};

use crate::debian::Architecture;
use crate::error::{Classify, ExitClass};

/// Where binfmt_misc is mounted.
pub const BINFMT_MISC: &str = "/proc/sys/fs/binfmt_misc";

/// The name qemu gives the CPU of a Debian architecture (`qemu-<name>`), as mmdebstrap's
/// `deb2qemu` table; `None` for an architecture qemu-user does not emulate.
pub fn qemu_name(arch: &str) -> Option<&'static str> {
    Some(match arch {
        "alpha" => "alpha",
        "amd64" => "x86_64",
        "arm" | "armel" | "armhf" => "arm",
        "arm64" => "aarch64",
        "hppa" => "hppa",
        "i386" => "i386",
        "loong64" => "loongarch64",
        "m68k" => "m68k",
        "mips" => "mips",
        "mipsel" => "mipsel",
        "mips64" => "mips64",
        "mips64el" => "mips64el",
        "powerpc" => "ppc",
        "ppc64" => "ppc64",
        "ppc64el" => "ppc64le",
        "riscv64" => "riscv64",
        "s390x" => "s390x",
        "sh4" => "sh4",
        "sparc64" => "sparc64",
        _ => return None,
    })
}

/// Whether a `host` machine runs programs of `arch` without emulation: its own architecture,
/// and i386 on amd64. Everything else goes through binfmt_misc.
pub fn runs_natively(host: &str, arch: &str) -> bool {
    host == arch || matches!((host, arch), ("amd64", "i386"))
}

/// A binfmt_misc registration, as its file under [`BINFMT_MISC`] shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Registration {
    /// The first line is `enabled` (not `disabled`).
    pub enabled: bool,
    /// The `interpreter` line.
    pub interpreter: Option<String>,
    /// The letters of the `flags:` line (`POCF`), empty when there is none.
    pub flags: String,
}

impl Registration {
    /// The `F` flag: the interpreter was opened when registered, so it runs in a chroot too.
    pub fn fixes_binary(&self) -> bool {
        self.flags.contains('F')
    }
}

/// Parses a registration file: `enabled` or `disabled`, then `interpreter PATH`, `flags: POCF`,
/// `offset N`, `magic HEX`, `mask HEX` (Linux fs/binfmt_misc.c `entry_status`). Unknown lines
/// are ignored; a text that is not a registration at all parses as disabled, with no flags.
pub fn parse_registration(text: &str) -> Registration {
    let mut registration = Registration::default();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if number == 0 {
            registration.enabled = line == "enabled";
        } else if let Some(path) = line.strip_prefix("interpreter ") {
            registration.interpreter = Some(path.to_owned());
        } else if let Some(flags) = line.strip_prefix("flags:") {
            registration.flags = flags.trim().to_owned();
        }
    }
    registration
}

/// Whether binfmt_misc's `status` file says `enabled`.
pub fn parse_status(text: &str) -> bool {
    text.trim_end() == "enabled"
}

/// The Debian package that registers qemu-user with binfmt_misc (with `F`), for a host whose
/// `/etc/os-release` is `os_release`: `qemu-user-static` on Debian 12 and older (where it also
/// provides the registrations), `qemu-user-binfmt` from Debian 13 on (where `qemu-user` is static
/// and `qemu-user-static` only a transitional package). Both, when the release is not known.
pub fn package_for(os_release: Option<&str>) -> &'static str {
    let version = os_release.and_then(|text| {
        text.lines().find_map(|line| {
            let value = line.strip_prefix("VERSION_ID=")?;
            let value = value.trim().trim_matches('"');
            value.split('.').next()?.parse::<u32>().ok()
        })
    });
    match version {
        Some(version) if version <= 12 => "qemu-user-static",
        Some(_) => "qemu-user-binfmt",
        None => "qemu-user-static (Debian 12) or qemu-user-binfmt (Debian 13 and later)",
    }
}

/// How the programs of the native architecture will run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runs {
    /// The host runs them itself.
    Natively,
    /// Through the qemu interpreter of this registration.
    Emulated { registration: PathBuf },
}

/// Why the programs of the native architecture cannot run here. Exit 2: the machine must be set
/// up (or the profile changed) before the build can run.
#[derive(Debug, thiserror::Error)]
pub enum BinfmtError {
    #[error("this {host} machine cannot run {arch} programs: qemu-user does not emulate {arch}")]
    NoEmulator { host: String, arch: String },
    #[error(
        "this {host} machine cannot run {arch} programs: binfmt_misc is not mounted on `{}`",
        .dir.display()
    )]
    NotMounted {
        host: String,
        arch: String,
        dir: PathBuf,
        package: &'static str,
    },
    #[error(
        "this {host} machine cannot run {arch} programs: binfmt_misc is disabled (`{}` does not say `enabled`)",
        .dir.join("status").display()
    )]
    Disabled {
        host: String,
        arch: String,
        dir: PathBuf,
    },
    #[error(
        "this {host} machine cannot run {arch} programs: no qemu-user registration `{}`",
        .path.display()
    )]
    Missing {
        host: String,
        arch: String,
        path: PathBuf,
        package: &'static str,
    },
    #[error("the qemu-user registration `{}` is disabled", .path.display())]
    RegistrationDisabled { path: PathBuf },
    #[error(
        "the qemu-user registration `{}` lacks the `F` flag (flags: `{flags}`): its interpreter cannot be found inside the root",
        .path.display()
    )]
    NotFixed {
        path: PathBuf,
        flags: String,
        package: &'static str,
    },
    #[error("cannot read `{}`", .path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Classify for BinfmtError {
    fn class(&self) -> ExitClass {
        ExitClass::Usage
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            BinfmtError::NoEmulator { host, .. } => format!(
                "build on a machine that runs it, or name a native architecture (the first of `source.architectures`) this {host} machine can run"
            ),
            BinfmtError::NotMounted { dir, package, .. } => format!(
                "as root: `mount -t binfmt_misc binfmt_misc {}`, then make sure {package} is installed (its registrations are loaded by systemd-binfmt, or `/usr/lib/systemd/systemd-binfmt` when systemd is not running)",
                dir.display()
            ),
            BinfmtError::Disabled { dir, .. } => {
                format!("as root: `echo 1 > {}`", dir.join("status").display())
            }
            BinfmtError::Missing { package, .. } => format!(
                "install {package} (`apt-get install {}`), which registers qemu-user with the `F` flag; without systemd, load its registrations with `/usr/lib/systemd/systemd-binfmt`",
                package.split(' ').next().unwrap_or(package)
            ),
            BinfmtError::RegistrationDisabled { path } => {
                format!("as root: `echo 1 > {}`", path.display())
            }
            BinfmtError::NotFixed { path, package, .. } => format!(
                "remove it (as root: `echo -1 > {}`) and register it again with `F`, as {package} does (`/usr/lib/systemd/systemd-binfmt`)",
                path.display()
            ),
            BinfmtError::Unreadable { .. } => return None,
        })
    }
}

/// Checks that the host can run programs of `native` (the edge: reads `binfmt_dir`, the
/// binfmt_misc mount, and `/etc/os-release` for the package to name). `host` is the host's
/// architecture ([`Architecture::build_default`] outside tests).
pub fn check(
    binfmt_dir: &Path,
    host: &Architecture,
    native: &Architecture,
) -> Result<Runs, BinfmtError> {
    let (host, arch) = (host.as_str(), native.as_str());
    if runs_natively(host, arch) {
        return Ok(Runs::Natively);
    }
    let Some(qemu) = qemu_name(arch) else {
        return Err(BinfmtError::NoEmulator {
            host: host.to_owned(),
            arch: arch.to_owned(),
        });
    };
    let package = || package_for(std::fs::read_to_string("/etc/os-release").ok().as_deref());
    let status_path = binfmt_dir.join("status");
    let status = match std::fs::read_to_string(&status_path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(BinfmtError::NotMounted {
                host: host.to_owned(),
                arch: arch.to_owned(),
                dir: binfmt_dir.to_path_buf(),
                package: package(),
            });
        }
        Err(source) => {
            return Err(BinfmtError::Unreadable {
                path: status_path,
                source,
            });
        }
    };
    if !parse_status(&status) {
        return Err(BinfmtError::Disabled {
            host: host.to_owned(),
            arch: arch.to_owned(),
            dir: binfmt_dir.to_path_buf(),
        });
    }
    let path = binfmt_dir.join(format!("qemu-{qemu}"));
    let registration = match std::fs::read_to_string(&path) {
        Ok(text) => parse_registration(&text),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(BinfmtError::Missing {
                host: host.to_owned(),
                arch: arch.to_owned(),
                path,
                package: package(),
            });
        }
        Err(source) => return Err(BinfmtError::Unreadable { path, source }),
    };
    if !registration.enabled {
        return Err(BinfmtError::RegistrationDisabled { path });
    }
    if !registration.fixes_binary() {
        return Err(BinfmtError::NotFixed {
            path,
            flags: registration.flags,
            package: package(),
        });
    }
    Ok(Runs::Emulated { registration: path })
}

#[cfg(test)]
mod tests {
    use super::*;

    const AARCH64: &str = "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: POF\noffset 0\nmagic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n";

    fn arch(name: &str) -> Architecture {
        Architecture::parse(name).unwrap()
    }

    #[test]
    fn registrations_parse() {
        let r = parse_registration(AARCH64);
        assert!(r.enabled && r.fixes_binary());
        assert_eq!(
            r.interpreter.as_deref(),
            Some("/usr/libexec/qemu-binfmt/aarch64-binfmt-P")
        );
        assert_eq!(r.flags, "POF");
        let r = parse_registration(&AARCH64.replace("enabled", "disabled"));
        assert!(!r.enabled);
        let r = parse_registration(&AARCH64.replace("flags: POF", "flags: OC"));
        assert!(r.enabled && !r.fixes_binary());
        // No flags line at all (old kernels print none when no flag is set).
        let r = parse_registration("enabled\ninterpreter /usr/bin/qemu-aarch64\noffset 0\n");
        assert!(r.enabled && !r.fixes_binary());
        for junk in [
            "",
            "\n\n",
            "flags: F",
            "\u{0}enabled",
            "enabled-ish\nflags: F",
        ] {
            assert!(!parse_registration(junk).enabled, "{junk:?}");
        }
        assert!(parse_status("enabled\n") && !parse_status("disabled\n") && !parse_status(""));
    }

    #[test]
    fn qemu_names_are_mmdebstraps() {
        for (debian, qemu) in [
            ("amd64", "x86_64"),
            ("arm64", "aarch64"),
            ("armel", "arm"),
            ("armhf", "arm"),
            ("i386", "i386"),
            ("ppc64el", "ppc64le"),
            ("riscv64", "riscv64"),
            ("s390x", "s390x"),
            ("mips64el", "mips64el"),
            ("loong64", "loongarch64"),
            ("powerpc", "ppc"),
        ] {
            assert_eq!(qemu_name(debian), Some(qemu), "{debian}");
        }
        assert_eq!(qemu_name("hurd-amd64"), None);
        assert!(runs_natively("amd64", "i386") && runs_natively("arm64", "arm64"));
        assert!(!runs_natively("i386", "amd64") && !runs_natively("arm64", "armhf"));
    }

    #[test]
    fn the_package_follows_the_release() {
        let bookworm = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_ID=\"12\"\n";
        assert_eq!(package_for(Some(bookworm)), "qemu-user-static");
        assert_eq!(package_for(Some("VERSION_ID=\"13\"\n")), "qemu-user-binfmt");
        assert_eq!(package_for(Some("VERSION_ID=11\n")), "qemu-user-static");
        // sid has no VERSION_ID.
        for unknown in [None, Some("PRETTY_NAME=\"Debian GNU/Linux forky/sid\"\n")] {
            let both = package_for(unknown);
            assert!(both.contains("qemu-user-static") && both.contains("qemu-user-binfmt"));
        }
    }

    #[test]
    fn the_check_reads_the_registration() {
        let dir = tempfile::tempdir().unwrap();
        let (amd64, arm64) = (arch("amd64"), arch("arm64"));
        // Natively: nothing is read.
        assert_eq!(
            check(dir.path(), &amd64, &arch("i386")).unwrap(),
            Runs::Natively
        );
        assert_eq!(check(dir.path(), &amd64, &amd64).unwrap(), Runs::Natively);
        let err = check(dir.path(), &amd64, &arm64).unwrap_err();
        assert!(matches!(err, BinfmtError::NotMounted { .. }), "{err}");
        assert!(err.to_string().contains("binfmt_misc is not mounted"));
        assert!(err.hint().unwrap().contains("mount -t binfmt_misc"));
        std::fs::write(dir.path().join("status"), "disabled\n").unwrap();
        let err = check(dir.path(), &amd64, &arm64).unwrap_err();
        assert!(matches!(err, BinfmtError::Disabled { .. }), "{err}");
        std::fs::write(dir.path().join("status"), "enabled\n").unwrap();
        let err = check(dir.path(), &amd64, &arm64).unwrap_err();
        assert!(err.to_string().contains("qemu-aarch64"), "{err}");
        assert!(err.hint().unwrap().contains("qemu-user"), "{err}");
        assert_eq!(err.class(), ExitClass::Usage);
        let reg = dir.path().join("qemu-aarch64");
        std::fs::write(&reg, AARCH64.replace("flags: POF", "flags: OC")).unwrap();
        let err = check(dir.path(), &amd64, &arm64).unwrap_err();
        assert!(matches!(err, BinfmtError::NotFixed { .. }), "{err}");
        assert!(err.to_string().contains("`F` flag"), "{err}");
        std::fs::write(&reg, AARCH64.replace("enabled", "disabled")).unwrap();
        let err = check(dir.path(), &amd64, &arm64).unwrap_err();
        assert!(matches!(err, BinfmtError::RegistrationDisabled { .. }));
        std::fs::write(&reg, AARCH64).unwrap();
        assert_eq!(
            check(dir.path(), &amd64, &arm64).unwrap(),
            Runs::Emulated { registration: reg }
        );
        let err = check(dir.path(), &amd64, &arch("hurd-i386")).unwrap_err();
        assert!(matches!(err, BinfmtError::NoEmulator { .. }));
    }
}
