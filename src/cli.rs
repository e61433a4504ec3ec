//! The command line, as clap types only. Meaning lives in `commands/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::printer::ColorChoice;

/// Build Debian root filesystems that are reproducible to the bit.
#[derive(Debug, Parser)]
#[command(name = "debroot", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Flags every subcommand takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Say less: no progress or status lines (-qq: no warnings either). mmdebstrap's
    /// `-s`/`--silent` is the same.
    #[arg(short, long, action = clap::ArgAction::Count, global = true, short_alias = 's', alias = "silent")]
    pub quiet: u8,

    /// Say more (-vv: debugging output).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// When to colour messages on stderr. `NO_COLOR` also turns colour off.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,

    /// Cache directory for indexes and packages [default: $XDG_CACHE_HOME/debroot].
    #[arg(long, value_name = "DIR", global = true)]
    pub cache_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fetch and verify the suites' indexes and summarize them (what `apt-get update` does).
    Index(IndexArgs),

    /// Resolve the profile's package set and write PROFILE.lock beside it.
    Lock(LockArgs),

    /// Show the dependency chain that pulled a package into the profile's set.
    Why(WhyArgs),

    /// Download every package of the lock into the cache (resolving first when there is none).
    Fetch(FetchArgs),

    /// Build a root filesystem into a directory, tarball or image: from a profile, or from
    /// mmdebstrap's command line (`build --variant=minbase trixie rootfs.tar`).
    Build(Box<BuildArgs>),

    /// Compare two outputs (directories, tarballs or manifests): packages, paths, metadata,
    /// contents, and the archives' bytes; exit 0 when equal, 1 when they differ.
    Diff(DiffArgs),

    /// Inspect and clean the package cache.
    #[command(subcommand)]
    Cache(CacheCommand),

    /// Inspect profiles.
    #[command(subcommand)]
    Profile(ProfileCommand),

    /// Build a profile several times from one lock under different conditions (paths, umask,
    /// time zone, locale, host name, concurrency, cold and warm cache, modes) and compare the
    /// outputs' SHA256: exit 0 when reproducible, 1 when not.
    Verify(VerifyArgs),

    /// Helpers for hooks: run a command in the root, move files across its boundary. Paths
    /// inside the root resolve inside it, symlinks included.
    #[command(subcommand)]
    Hook(HookCommand),

    /// Write shell completions or man pages, generated from this command line.
    #[command(subcommand)]
    Generate(GenerateCommand),
}

/// `debroot generate ...`: what `contrib/update` writes into `contrib/`.
#[derive(Debug, Subcommand)]
pub enum GenerateCommand {
    /// Print the completion script for SHELL on stdout, e.g. `debroot generate completions bash
    /// > /usr/share/bash-completion/completions/debroot`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man pages into DIR (made if missing): debroot.1, and one per subcommand
    /// (debroot-build.1, debroot-hook-chroot.1, ...).
    Man {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

/// `debroot hook ...`. The root is `--root`, else `DEBROOT_ROOT` (set for every hook).
#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// Run CMD confined to the root as maintainer scripts run (`pivot_root`, namespaces of its
    /// own), with their environment. Inside a hook, with the hook's standard streams and CMD's
    /// exit status (`chroot "$1" CMD` in a hook does the same); on a built tree (`--root DIR`),
    /// with stdin from /dev/null, its output relayed, exit 8 if it fails.
    Chroot {
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
        /// The command and its arguments.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<std::ffi::OsString>,
    },
    /// Copy host files and folders into a folder of the root: `copy-in PATH... DIR`.
    CopyIn {
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
        #[arg(required = true, num_args = 2.., value_name = "PATH... DIR")]
        paths: Vec<PathBuf>,
    },
    /// Copy files and folders of the root into a host folder: `copy-out PATH... DIR`.
    CopyOut {
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
        #[arg(required = true, num_args = 2.., value_name = "PATH... DIR")]
        paths: Vec<PathBuf>,
    },
    /// Copy what a host folder holds into a folder of the root (made if missing).
    SyncIn {
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
        from: PathBuf,
        to: PathBuf,
    },
    /// Copy what a folder of the root holds into a host folder (made if missing).
    SyncOut {
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
        from: PathBuf,
        to: PathBuf,
    },
    /// Unpack a host tarball (plain, gzip, xz or zstd) into a folder of the root.
    TarIn {
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
        tarball: PathBuf,
        dir: PathBuf,
    },
    /// Write a folder of the root as a host tarball (compressed as its name says).
    TarOut {
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
        dir: PathBuf,
        tarball: PathBuf,
    },
}

/// Where indexes and packages come from; the same on every subcommand that reads them.
#[derive(Debug, Args)]
pub struct RepoArgs {
    /// Mirror URL (http, https or file), or `host` for the host's apt sources. Overrides
    /// DEBROOT_MIRROR and the profile.
    #[arg(long, value_name = "URL|host")]
    pub mirror: Option<String>,

    /// Pin to Debian's archive as it was at this time (YYYYMMDDTHHMMSSZ), overriding the profile.
    #[arg(long, value_name = "TIMESTAMP")]
    pub snapshot: Option<String>,

    /// Server with snapshot.debian.org's URL layout [default: https://snapshot.debian.org].
    #[arg(long, value_name = "URL")]
    pub snapshot_server: Option<String>,

    /// Use the cache only: make no network request, and fail clearly when something is missing.
    #[arg(long)]
    pub offline: bool,

    /// Downloads at a time.
    #[arg(long, short = 'j', value_name = "N", default_value_t = 8)]
    pub jobs: usize,

    /// Seconds a transfer may make no progress before it is retried.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub timeout: u64,

    /// Retries of a transient network failure (with exponential backoff).
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub retries: u32,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// For people.
    #[default]
    Text,
    /// For programs.
    Json,
}

#[derive(Debug, Args)]
pub struct IndexArgs {
    /// The profile: a file (e.g. profiles/minbase.toml) or a built-in profile's name.
    pub profile: PathBuf,

    #[command(flatten)]
    pub repo: RepoArgs,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// List the built-in profiles (`debroot build NAME`, `extends = "builtin:NAME"`).
    List,
    /// Print a profile after `extends`, with defaults filled in, as TOML.
    Show {
        /// The profile (a file or a built-in profile's name); with `--from-args`, the SUITE of an
        /// mmdebstrap-style command line.
        #[arg(value_name = "PROFILE|SUITE")]
        profile: String,

        /// Print the profile the command line implies: `debroot profile show --from-args
        /// [OPTIONS] SUITE [MIRROR]` shows what `debroot build [OPTIONS] SUITE OUTPUT [MIRROR]`
        /// builds (save it as a file to keep and lock it).
        #[arg(long)]
        from_args: bool,

        /// A mirror URL or `host`, as `build`'s MIRROR.
        #[arg(value_name = "MIRROR")]
        mirrors: Vec<String>,

        #[command(flatten)]
        front: Box<FrontArgs>,
    },
}

#[derive(Debug, Args)]
pub struct LockArgs {
    /// The profile: a file (its lock is written beside it) or a built-in profile's name (its
    /// lock goes to the state folder, `$XDG_STATE_HOME/debroot/locks/`).
    pub profile: PathBuf,

    #[command(flatten)]
    pub repo: RepoArgs,

    /// Resolve again against the current indexes, even when the lock matches the profile.
    #[arg(long)]
    pub update: bool,

    /// Write nothing; exit 1 if the lock would change.
    #[arg(long)]
    pub check: bool,

    /// Print the lock to stdout instead of writing it.
    #[arg(long)]
    pub print: bool,

    /// Output format of the summary.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct WhyArgs {
    /// The profile: a file (e.g. profiles/minbase.toml) or a built-in profile's name.
    pub profile: PathBuf,

    /// The package, `name` or `name:arch`.
    pub package: String,

    #[command(flatten)]
    pub repo: RepoArgs,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The first output: a directory, a .tar[.gz|.xz|.zst], or a debroot manifest
    /// (OUTPUT.manifest.json).
    pub a: PathBuf,

    /// The second output, of any of the same kinds.
    pub b: PathBuf,

    /// Output format (json: JSON Lines, one record a line; the schema is in the README).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Lines of context around each change of a text diff.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub context: usize,

    /// Most lines of text diff shown per file.
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub max_lines: usize,
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// A profile (its lock is used, or written) or a lockfile.
    pub target: PathBuf,

    #[command(flatten)]
    pub repo: RepoArgs,
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// How many blobs the cache holds, and how many bytes.
    Info,
    /// Remove every blob that none of the given locks needs.
    Gc {
        /// Lockfiles whose packages are kept.
        #[arg(long = "keep", value_name = "LOCKFILE", required = true, num_args = 1..)]
        keep: Vec<PathBuf>,
    },
}

/// `--mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeArg {
    /// root as uid 0, else unshare.
    Auto,
    /// Maintainer scripts in private namespaces, as root.
    Root,
    /// The same in a user namespace, for a normal user (needs /etc/subuid ranges).
    Unshare,
    /// Unpack only: no scripts, no privilege.
    Extract,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormatArg {
    Dir,
    Tar,
    #[value(name = "tar.gz")]
    TarGz,
    #[value(name = "tar.xz")]
    TarXz,
    #[value(name = "tar.zst")]
    TarZst,
    /// Build, and write only the manifest (`OUTPUT.manifest.json`, or stdout with `-o -`).
    Null,
    /// A squashfs image (zstd), as `.squashfs` or `.sqfs` names.
    Squashfs,
    /// An EROFS image (uncompressed).
    Erofs,
    /// An ext4 image.
    Ext4,
    /// An OCI image layout folder, as `.oci` names.
    Oci,
    /// An OCI image layout as a tar archive, as `.oci.tar` names.
    OciArchive,
    /// A bootable A/B disk image (GPT, ESP, verity root slots), as `.img` or `.raw` names,
    /// and its update bundle `OUTPUT.update/`.
    Disk,
}

impl OutputFormatArg {
    /// The format it names.
    pub fn format(self) -> crate::profile::OutputFormat {
        use crate::profile::OutputFormat;
        match self {
            OutputFormatArg::Dir => OutputFormat::Dir,
            OutputFormatArg::Tar => OutputFormat::Tar,
            OutputFormatArg::TarGz => OutputFormat::TarGz,
            OutputFormatArg::TarXz => OutputFormat::TarXz,
            OutputFormatArg::TarZst => OutputFormat::TarZst,
            OutputFormatArg::Null => OutputFormat::Null,
            OutputFormatArg::Squashfs => OutputFormat::Squashfs,
            OutputFormatArg::Erofs => OutputFormat::Erofs,
            OutputFormatArg::Ext4 => OutputFormat::Ext4,
            OutputFormatArg::Oci => OutputFormat::Oci,
            OutputFormatArg::OciArchive => OutputFormat::OciArchive,
            OutputFormatArg::Disk => OutputFormat::Disk,
        }
    }
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// A profile (a `.toml` file, a path, a built-in profile's name or `builtin:NAME`), or, as mmdebstrap takes it, the
    /// SUITE (codename or suite) of a build with no profile file.
    #[arg(value_name = "PROFILE|SUITE")]
    pub target: String,

    /// OUTPUT (unless `-o` gives it), then MIRROR: a mirror URL or `host` (as mmdebstrap's
    /// `SUITE TARGET [MIRROR]`).
    #[arg(value_name = "OUTPUT [MIRROR]")]
    pub rest: Vec<String>,

    /// Where to write the root filesystem: a directory, a .tar[.gz|.xz|.zst] file, a
    /// .squashfs, .erofs or .ext4 image, an .img disk image, or `-` for stdout (never a terminal; `--format`,
    /// default tar). The second positional argument says the same.
    #[arg(short, long, value_name = "OUTPUT")]
    pub output: Option<PathBuf>,

    #[command(flatten)]
    pub front: FrontArgs,

    /// Write a dm-verity hash tree beside an image (`OUTPUT.verity`, its root hash in
    /// `OUTPUT.roothash` and the manifest) [default: the profile's `output.verity`].
    #[arg(long)]
    pub verity: bool,

    /// Fail if the lock is missing or would change.
    #[arg(long, conflicts_with = "frozen")]
    pub locked: bool,

    /// Build from the lock as it is: read no index, resolve nothing.
    #[arg(long)]
    pub frozen: bool,

    /// Keep the work directory of a failed build for inspection.
    #[arg(long)]
    pub keep_failed: bool,

    /// A hook run on the empty root, before anything is unpacked (repeatable): an executable
    /// file, or a shell snippet; the root's path is `$1`.
    #[arg(long, value_name = "CMD")]
    pub setup_hook: Vec<String>,

    /// A hook run once the Essential set is unpacked, before any maintainer script.
    #[arg(long, value_name = "CMD")]
    pub extract_hook: Vec<String>,

    /// A hook run once the Essential set is configured.
    #[arg(long, value_name = "CMD")]
    pub essential_hook: Vec<String>,

    /// A hook run once every package is installed, before cleanup.
    #[arg(long, value_name = "CMD")]
    pub customize_hook: Vec<String>,

    /// How long one hook may run [default: the profile's `build.hook-timeout`, else 600].
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub hook_timeout: Option<u64>,

    /// Internal: the root phases of an `unshare` build, inside the user namespace, from the
    /// work directory's `inner.json`.
    #[arg(long, hide = true, value_name = "WORKDIR")]
    pub inner: Option<PathBuf>,

    #[command(flatten)]
    pub repo: RepoArgs,
}

/// mmdebstrap's options, with its names and meanings (README "Coming from mmdebstrap"). They
/// make the profile of a build with no profile file, and override a profile's values when one
/// is given (lists are appended to, single values replaced).
#[derive(Debug, Default, Args)]
pub struct FrontArgs {
    /// Which package set: extract, custom, essential, apt, required (minbase), buildd,
    /// important (debootstrap, -) or standard [default: the profile's, else important].
    #[arg(long, value_name = "NAME")]
    pub variant: Option<String>,

    /// More packages, comma or space separated, repeatable (`pkg`, `pkg:arch`, `pkg=version`,
    /// `pkg/suite`, `./local.deb`; `pkg-` excludes). Appended to the profile's.
    #[arg(long, value_name = "PKG,...", alias = "incl")]
    pub include: Vec<String>,

    /// Packages to keep out, comma or space separated, repeatable. Appended to the profile's.
    #[arg(long, value_name = "PKG,...")]
    pub exclude: Vec<String>,

    /// Archive components, comma or space separated, repeatable [default: main].
    #[arg(long, value_name = "COMP,...", alias = "comp")]
    pub components: Vec<String>,

    /// Architectures, native first, comma or space separated, repeatable.
    #[arg(long, value_name = "NATIVE,...", alias = "arch")]
    pub architectures: Vec<String>,

    /// How maintainer scripts run: auto, root, unshare or extract [default: the profile's
    /// `build.mode`, else auto].
    #[arg(long, value_name = "MODE")]
    pub mode: Option<String>,

    /// Output format: auto, directory (dir), tar, tar.gz, tar.xz, tar.zst, squashfs, erofs,
    /// ext4, oci, oci-archive, disk (a bootable A/B disk image) or null [default: from the
    /// output's name, else the profile's `output.format`].
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,

    /// The OpenPGP keyring the repository must be signed with (`source.keyring`).
    #[arg(long, value_name = "FILE")]
    pub keyring: Vec<PathBuf>,

    /// `path-exclude=GLOB` or `path-include=GLOB` (`packages.path-exclude`/`path-include`),
    /// repeatable; debroot takes no other dpkg option.
    #[arg(long, value_name = "OPTION")]
    pub dpkgopt: Vec<String>,

    /// `Apt::Install-Recommends "true"` (or "false"): `packages.recommends`; debroot takes no
    /// other apt option.
    #[arg(long, value_name = "OPTION")]
    pub aptopt: Vec<String>,

    /// A folder of hooks named setup*, extract*, essential*, customize* (`build.hooks`),
    /// repeatable.
    #[arg(long = "hook-directory", alias = "hook-dir", value_name = "DIR")]
    pub hook_directory: Vec<PathBuf>,

    /// mmdebstrap options debroot does not take: each is an error that says why.
    #[command(flatten)]
    pub unsupported: UnsupportedArgs,
}

/// mmdebstrap's options that debroot refuses, declared so that each says why (never clap's "a
/// similar argument exists").
#[derive(Debug, Default, Args)]
pub struct UnsupportedArgs {
    #[arg(long, hide = true, alias = "dry-run")]
    pub simulate: bool,
    #[arg(long, hide = true, value_name = "STAGE")]
    pub skip: Vec<String>,
    #[arg(long, hide = true, value_name = "FILE")]
    pub logfile: Option<String>,
    #[arg(short = 'd', long, hide = true)]
    pub debug: bool,
    #[arg(long, hide = true)]
    pub man: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The profile, a file or a built-in profile's name (its lock is written first if missing).
    pub profile: PathBuf,

    /// How many builds per mode (at least 2).
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub runs: usize,

    /// The modes to build in, each `--runs` times, all compared with each other
    /// [default: auto].
    #[arg(long, value_enum, value_delimiter = ',', value_name = "MODE,...")]
    pub modes: Vec<ModeArg>,

    /// Also compare every output with this SHA256, or with the one a file holds (a sha256sum
    /// line or a debroot manifest).
    #[arg(long, value_name = "SHA256|FILE")]
    pub expect: Option<String>,

    /// The outputs' format.
    #[arg(long, value_enum, default_value_t = OutputFormatArg::Tar)]
    pub output_format: OutputFormatArg,

    /// Keep the runs' outputs even when they agree (they are always kept when not).
    #[arg(long)]
    pub keep: bool,

    /// When the runs agree (and match `--expect`), write the output's provenance (in-toto,
    /// SLSA v1, as `build` writes beside an output) to FILE, recording every run and the
    /// conditions it built under.
    #[arg(long, value_name = "FILE")]
    pub provenance: Option<PathBuf>,

    /// The report: text, or one JSON object for CI.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    #[command(flatten)]
    pub repo: RepoArgs,
}
