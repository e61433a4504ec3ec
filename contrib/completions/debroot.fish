# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_debroot_global_optspecs
    string join \n q/quiet v/verbose color= cache-dir= h/help V/version
end

function __fish_debroot_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_debroot_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_debroot_using_subcommand
    set -l cmd (__fish_debroot_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c debroot -n "__fish_debroot_needs_command" -l color -d 'When to colour messages on stderr. `NO_COLOR` also turns colour off' -r -f -a "auto\t'Colour when stderr is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c debroot -n "__fish_debroot_needs_command" -l cache-dir -d 'Cache directory for indexes and packages [default: $XDG_CACHE_HOME/debroot]' -r -F
complete -c debroot -n "__fish_debroot_needs_command" -s q -l quiet -d 'Say less: no progress or status lines (-qq: no warnings either). mmdebstrap\'s `-s`/`--silent` is the same'
complete -c debroot -n "__fish_debroot_needs_command" -s v -l verbose -d 'Say more (-vv: debugging output)'
complete -c debroot -n "__fish_debroot_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c debroot -n "__fish_debroot_needs_command" -s V -l version -d 'Print version'
complete -c debroot -n "__fish_debroot_needs_command" -f -a "index" -d 'Fetch and verify the suites\' indexes and summarize them (what `apt-get update` does)'
complete -c debroot -n "__fish_debroot_needs_command" -f -a "lock" -d 'Resolve the profile\'s package set and write PROFILE.lock beside it'
complete -c debroot -n "__fish_debroot_needs_command" -f -a "why" -d 'Show the dependency chain that pulled a package into the profile\'s set'
complete -c debroot -n "__fish_debroot_needs_command" -f -a "fetch" -d 'Download every package of the lock into the cache (resolving first when there is none)'
complete -c debroot -n "__fish_debroot_needs_command" -f -a "build" -d 'Build a root filesystem into a directory, tarball or image: from a profile, or from mmdebstrap\'s command line (`build --variant=minbase trixie rootfs.tar`)'
complete -c debroot -n "__fish_debroot_needs_command" -f -a "diff" -d 'Compare two outputs (directories, tarballs or manifests): packages, paths, metadata, contents, and the archives\' bytes; exit 0 when equal, 1 when they differ'
complete -c debroot -n "__fish_debroot_needs_command" -f -a "cache" -d 'Inspect and clean the package cache'
complete -c debroot -n "__fish_debroot_needs_command" -f -a "profile" -d 'Inspect profiles'
complete -c debroot -n "__fish_debroot_needs_command" -f -a "verify" -d 'Build a profile several times from one lock under different conditions (paths, umask, time zone, locale, host name, concurrency, cold and warm cache, modes) and compare the outputs\' SHA256: exit 0 when reproducible, 1 when not'
complete -c debroot -n "__fish_debroot_needs_command" -f -a "hook" -d 'Helpers for hooks: run a command in the root, move files across its boundary. Paths inside the root resolve inside it, symlinks included'
complete -c debroot -n "__fish_debroot_needs_command" -f -a "generate" -d 'Write shell completions or man pages, generated from this command line'
complete -c debroot -n "__fish_debroot_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c debroot -n "__fish_debroot_using_subcommand index" -l mirror -d 'Mirror URL (http, https or file), or `host` for the host\'s apt sources. Overrides DEBROOT_MIRROR and the profile' -r
complete -c debroot -n "__fish_debroot_using_subcommand index" -l snapshot -d 'Pin to Debian\'s archive as it was at this time (YYYYMMDDTHHMMSSZ), overriding the profile' -r
complete -c debroot -n "__fish_debroot_using_subcommand index" -l snapshot-server -d 'Server with snapshot.debian.org\'s URL layout [default: https://snapshot.debian.org]' -r
complete -c debroot -n "__fish_debroot_using_subcommand index" -s j -l jobs -d 'Downloads at a time' -r
complete -c debroot -n "__fish_debroot_using_subcommand index" -l timeout -d 'Seconds a transfer may make no progress before it is retried' -r
complete -c debroot -n "__fish_debroot_using_subcommand index" -l retries -d 'Retries of a transient network failure (with exponential backoff)' -r
complete -c debroot -n "__fish_debroot_using_subcommand index" -l format -d 'Output format' -r -f -a "text\t'For people'
json\t'For programs'"
complete -c debroot -n "__fish_debroot_using_subcommand index" -l color -d 'When to colour messages on stderr. `NO_COLOR` also turns colour off' -r -f -a "auto\t'Colour when stderr is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c debroot -n "__fish_debroot_using_subcommand index" -l cache-dir -d 'Cache directory for indexes and packages [default: $XDG_CACHE_HOME/debroot]' -r -F
complete -c debroot -n "__fish_debroot_using_subcommand index" -l offline -d 'Use the cache only: make no network request, and fail clearly when something is missing'
complete -c debroot -n "__fish_debroot_using_subcommand index" -s q -l quiet -d 'Say less: no progress or status lines (-qq: no warnings either). mmdebstrap\'s `-s`/`--silent` is the same'
complete -c debroot -n "__fish_debroot_using_subcommand index" -s v -l verbose -d 'Say more (-vv: debugging output)'
complete -c debroot -n "__fish_debroot_using_subcommand index" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c debroot -n "__fish_debroot_using_subcommand index" -s V -l version -d 'Print version'
complete -c debroot -n "__fish_debroot_using_subcommand lock" -l mirror -d 'Mirror URL (http, https or file), or `host` for the host\'s apt sources. Overrides DEBROOT_MIRROR and the profile' -r
complete -c debroot -n "__fish_debroot_using_subcommand lock" -l snapshot -d 'Pin to Debian\'s archive as it was at this time (YYYYMMDDTHHMMSSZ), overriding the profile' -r
complete -c debroot -n "__fish_debroot_using_subcommand lock" -l snapshot-server -d 'Server with snapshot.debian.org\'s URL layout [default: https://snapshot.debian.org]' -r
complete -c debroot -n "__fish_debroot_using_subcommand lock" -s j -l jobs -d 'Downloads at a time' -r
complete -c debroot -n "__fish_debroot_using_subcommand lock" -l timeout -d 'Seconds a transfer may make no progress before it is retried' -r
complete -c debroot -n "__fish_debroot_using_subcommand lock" -l retries -d 'Retries of a transient network failure (with exponential backoff)' -r
complete -c debroot -n "__fish_debroot_using_subcommand lock" -l format -d 'Output format of the summary' -r -f -a "text\t'For people'
json\t'For programs'"
complete -c debroot -n "__fish_debroot_using_subcommand lock" -l color -d 'When to colour messages on stderr. `NO_COLOR` also turns colour off' -r -f -a "auto\t'Colour when stderr is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c debroot -n "__fish_debroot_using_subcommand lock" -l cache-dir -d 'Cache directory for indexes and packages [default: $XDG_CACHE_HOME/debroot]' -r -F
complete -c debroot -n "__fish_debroot_using_subcommand lock" -l offline -d 'Use the cache only: make no network request, and fail clearly when something is missing'
complete -c debroot -n "__fish_debroot_using_subcommand lock" -l update -d 'Resolve again against the current indexes, even when the lock matches the profile'
complete -c debroot -n "__fish_debroot_using_subcommand lock" -l check -d 'Write nothing; exit 1 if the lock would change'
complete -c debroot -n "__fish_debroot_using_subcommand lock" -l print -d 'Print the lock to stdout instead of writing it'
complete -c debroot -n "__fish_debroot_using_subcommand lock" -s q -l quiet -d 'Say less: no progress or status lines (-qq: no warnings either). mmdebstrap\'s `-s`/`--silent` is the same'
complete -c debroot -n "__fish_debroot_using_subcommand lock" -s v -l verbose -d 'Say more (-vv: debugging output)'
complete -c debroot -n "__fish_debroot_using_subcommand lock" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c debroot -n "__fish_debroot_using_subcommand lock" -s V -l version -d 'Print version'
complete -c debroot -n "__fish_debroot_using_subcommand why" -l mirror -d 'Mirror URL (http, https or file), or `host` for the host\'s apt sources. Overrides DEBROOT_MIRROR and the profile' -r
complete -c debroot -n "__fish_debroot_using_subcommand why" -l snapshot -d 'Pin to Debian\'s archive as it was at this time (YYYYMMDDTHHMMSSZ), overriding the profile' -r
complete -c debroot -n "__fish_debroot_using_subcommand why" -l snapshot-server -d 'Server with snapshot.debian.org\'s URL layout [default: https://snapshot.debian.org]' -r
complete -c debroot -n "__fish_debroot_using_subcommand why" -s j -l jobs -d 'Downloads at a time' -r
complete -c debroot -n "__fish_debroot_using_subcommand why" -l timeout -d 'Seconds a transfer may make no progress before it is retried' -r
complete -c debroot -n "__fish_debroot_using_subcommand why" -l retries -d 'Retries of a transient network failure (with exponential backoff)' -r
complete -c debroot -n "__fish_debroot_using_subcommand why" -l format -d 'Output format' -r -f -a "text\t'For people'
json\t'For programs'"
complete -c debroot -n "__fish_debroot_using_subcommand why" -l color -d 'When to colour messages on stderr. `NO_COLOR` also turns colour off' -r -f -a "auto\t'Colour when stderr is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c debroot -n "__fish_debroot_using_subcommand why" -l cache-dir -d 'Cache directory for indexes and packages [default: $XDG_CACHE_HOME/debroot]' -r -F
complete -c debroot -n "__fish_debroot_using_subcommand why" -l offline -d 'Use the cache only: make no network request, and fail clearly when something is missing'
complete -c debroot -n "__fish_debroot_using_subcommand why" -s q -l quiet -d 'Say less: no progress or status lines (-qq: no warnings either). mmdebstrap\'s `-s`/`--silent` is the same'
complete -c debroot -n "__fish_debroot_using_subcommand why" -s v -l verbose -d 'Say more (-vv: debugging output)'
complete -c debroot -n "__fish_debroot_using_subcommand why" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c debroot -n "__fish_debroot_using_subcommand why" -s V -l version -d 'Print version'
complete -c debroot -n "__fish_debroot_using_subcommand fetch" -l mirror -d 'Mirror URL (http, https or file), or `host` for the host\'s apt sources. Overrides DEBROOT_MIRROR and the profile' -r
complete -c debroot -n "__fish_debroot_using_subcommand fetch" -l snapshot -d 'Pin to Debian\'s archive as it was at this time (YYYYMMDDTHHMMSSZ), overriding the profile' -r
complete -c debroot -n "__fish_debroot_using_subcommand fetch" -l snapshot-server -d 'Server with snapshot.debian.org\'s URL layout [default: https://snapshot.debian.org]' -r
complete -c debroot -n "__fish_debroot_using_subcommand fetch" -s j -l jobs -d 'Downloads at a time' -r
complete -c debroot -n "__fish_debroot_using_subcommand fetch" -l timeout -d 'Seconds a transfer may make no progress before it is retried' -r
complete -c debroot -n "__fish_debroot_using_subcommand fetch" -l retries -d 'Retries of a transient network failure (with exponential backoff)' -r
complete -c debroot -n "__fish_debroot_using_subcommand fetch" -l color -d 'When to colour messages on stderr. `NO_COLOR` also turns colour off' -r -f -a "auto\t'Colour when stderr is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c debroot -n "__fish_debroot_using_subcommand fetch" -l cache-dir -d 'Cache directory for indexes and packages [default: $XDG_CACHE_HOME/debroot]' -r -F
complete -c debroot -n "__fish_debroot_using_subcommand fetch" -l offline -d 'Use the cache only: make no network request, and fail clearly when something is missing'
complete -c debroot -n "__fish_debroot_using_subcommand fetch" -s q -l quiet -d 'Say less: no progress or status lines (-qq: no warnings either). mmdebstrap\'s `-s`/`--silent` is the same'
complete -c debroot -n "__fish_debroot_using_subcommand fetch" -s v -l verbose -d 'Say more (-vv: debugging output)'
complete -c debroot -n "__fish_debroot_using_subcommand fetch" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c debroot -n "__fish_debroot_using_subcommand fetch" -s V -l version -d 'Print version'
complete -c debroot -n "__fish_debroot_using_subcommand build" -s o -l output -d 'Where to write the root filesystem: a directory, a .tar[.gz|.xz|.zst] file, a .squashfs, .erofs or .ext4 image, an .img disk image, or `-` for stdout (never a terminal; `--format`, default tar). The second positional argument says the same' -r -F
complete -c debroot -n "__fish_debroot_using_subcommand build" -l variant -d 'Which package set: extract, custom, essential, apt, required (minbase), buildd, important (debootstrap, -) or standard [default: the profile\'s, else important]' -r
complete -c debroot -n "__fish_debroot_using_subcommand build" -l include -d 'More packages, comma or space separated, repeatable (`pkg`, `pkg:arch`, `pkg=version`, `pkg/suite`, `./local.deb`; `pkg-` excludes). Appended to the profile\'s' -r
complete -c debroot -n "__fish_debroot_using_subcommand build" -l exclude -d 'Packages to keep out, comma or space separated, repeatable. Appended to the profile\'s' -r
complete -c debroot -n "__fish_debroot_using_subcommand build" -l components -d 'Archive components, comma or space separated, repeatable [default: main]' -r
complete -c debroot -n "__fish_debroot_using_subcommand build" -l architectures -d 'Architectures, native first, comma or space separated, repeatable' -r
complete -c debroot -n "__fish_debroot_using_subcommand build" -l mode -d 'How maintainer scripts run: auto, root, unshare or extract [default: the profile\'s `build.mode`, else auto]' -r
complete -c debroot -n "__fish_debroot_using_subcommand build" -l format -d 'Output format: auto, directory (dir), tar, tar.gz, tar.xz, tar.zst, squashfs, erofs, ext4, oci, oci-archive, disk (a bootable A/B disk image) or null [default: from the output\'s name, else the profile\'s `output.format`]' -r
complete -c debroot -n "__fish_debroot_using_subcommand build" -l keyring -d 'The OpenPGP keyring the repository must be signed with (`source.keyring`)' -r -F
complete -c debroot -n "__fish_debroot_using_subcommand build" -l dpkgopt -d '`path-exclude=GLOB` or `path-include=GLOB` (`packages.path-exclude`/`path-include`), repeatable; debroot takes no other dpkg option' -r
complete -c debroot -n "__fish_debroot_using_subcommand build" -l aptopt -d '`Apt::Install-Recommends "true"` (or "false"): `packages.recommends`; debroot takes no other apt option' -r
complete -c debroot -n "__fish_debroot_using_subcommand build" -l hook-directory -d 'A folder of hooks named setup*, extract*, essential*, customize* (`build.hooks`), repeatable' -r -F
complete -c debroot -n "__fish_debroot_using_subcommand build" -l skip -r
complete -c debroot -n "__fish_debroot_using_subcommand build" -l logfile -r
complete -c debroot -n "__fish_debroot_using_subcommand build" -l setup-hook -d 'A hook run on the empty root, before anything is unpacked (repeatable): an executable file, or a shell snippet; the root\'s path is `$1`' -r
complete -c debroot -n "__fish_debroot_using_subcommand build" -l extract-hook -d 'A hook run once the Essential set is unpacked, before any maintainer script' -r
complete -c debroot -n "__fish_debroot_using_subcommand build" -l essential-hook -d 'A hook run once the Essential set is configured' -r
complete -c debroot -n "__fish_debroot_using_subcommand build" -l customize-hook -d 'A hook run once every package is installed, before cleanup' -r
complete -c debroot -n "__fish_debroot_using_subcommand build" -l hook-timeout -d 'How long one hook may run [default: the profile\'s `build.hook-timeout`, else 600]' -r
complete -c debroot -n "__fish_debroot_using_subcommand build" -l inner -d 'Internal: the root phases of an `unshare` build, inside the user namespace, from the work directory\'s `inner.json`' -r -F
complete -c debroot -n "__fish_debroot_using_subcommand build" -l mirror -d 'Mirror URL (http, https or file), or `host` for the host\'s apt sources. Overrides DEBROOT_MIRROR and the profile' -r
complete -c debroot -n "__fish_debroot_using_subcommand build" -l snapshot -d 'Pin to Debian\'s archive as it was at this time (YYYYMMDDTHHMMSSZ), overriding the profile' -r
complete -c debroot -n "__fish_debroot_using_subcommand build" -l snapshot-server -d 'Server with snapshot.debian.org\'s URL layout [default: https://snapshot.debian.org]' -r
complete -c debroot -n "__fish_debroot_using_subcommand build" -s j -l jobs -d 'Downloads at a time' -r
complete -c debroot -n "__fish_debroot_using_subcommand build" -l timeout -d 'Seconds a transfer may make no progress before it is retried' -r
complete -c debroot -n "__fish_debroot_using_subcommand build" -l retries -d 'Retries of a transient network failure (with exponential backoff)' -r
complete -c debroot -n "__fish_debroot_using_subcommand build" -l color -d 'When to colour messages on stderr. `NO_COLOR` also turns colour off' -r -f -a "auto\t'Colour when stderr is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c debroot -n "__fish_debroot_using_subcommand build" -l cache-dir -d 'Cache directory for indexes and packages [default: $XDG_CACHE_HOME/debroot]' -r -F
complete -c debroot -n "__fish_debroot_using_subcommand build" -l simulate
complete -c debroot -n "__fish_debroot_using_subcommand build" -s d -l debug
complete -c debroot -n "__fish_debroot_using_subcommand build" -l man
complete -c debroot -n "__fish_debroot_using_subcommand build" -l verity -d 'Write a dm-verity hash tree beside an image (`OUTPUT.verity`, its root hash in `OUTPUT.roothash` and the manifest) [default: the profile\'s `output.verity`]'
complete -c debroot -n "__fish_debroot_using_subcommand build" -l locked -d 'Fail if the lock is missing or would change'
complete -c debroot -n "__fish_debroot_using_subcommand build" -l frozen -d 'Build from the lock as it is: read no index, resolve nothing'
complete -c debroot -n "__fish_debroot_using_subcommand build" -l keep-failed -d 'Keep the work directory of a failed build for inspection'
complete -c debroot -n "__fish_debroot_using_subcommand build" -l offline -d 'Use the cache only: make no network request, and fail clearly when something is missing'
complete -c debroot -n "__fish_debroot_using_subcommand build" -s q -l quiet -d 'Say less: no progress or status lines (-qq: no warnings either). mmdebstrap\'s `-s`/`--silent` is the same'
complete -c debroot -n "__fish_debroot_using_subcommand build" -s v -l verbose -d 'Say more (-vv: debugging output)'
complete -c debroot -n "__fish_debroot_using_subcommand build" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c debroot -n "__fish_debroot_using_subcommand build" -s V -l version -d 'Print version'
complete -c debroot -n "__fish_debroot_using_subcommand diff" -l format -d 'Output format (json: JSON Lines, one record a line; the schema is in the README)' -r -f -a "text\t'For people'
json\t'For programs'"
complete -c debroot -n "__fish_debroot_using_subcommand diff" -l context -d 'Lines of context around each change of a text diff' -r
complete -c debroot -n "__fish_debroot_using_subcommand diff" -l max-lines -d 'Most lines of text diff shown per file' -r
complete -c debroot -n "__fish_debroot_using_subcommand diff" -l color -d 'When to colour messages on stderr. `NO_COLOR` also turns colour off' -r -f -a "auto\t'Colour when stderr is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c debroot -n "__fish_debroot_using_subcommand diff" -l cache-dir -d 'Cache directory for indexes and packages [default: $XDG_CACHE_HOME/debroot]' -r -F
complete -c debroot -n "__fish_debroot_using_subcommand diff" -s q -l quiet -d 'Say less: no progress or status lines (-qq: no warnings either). mmdebstrap\'s `-s`/`--silent` is the same'
complete -c debroot -n "__fish_debroot_using_subcommand diff" -s v -l verbose -d 'Say more (-vv: debugging output)'
complete -c debroot -n "__fish_debroot_using_subcommand diff" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c debroot -n "__fish_debroot_using_subcommand diff" -s V -l version -d 'Print version'
complete -c debroot -n "__fish_debroot_using_subcommand cache; and not __fish_seen_subcommand_from info gc help" -l color -d 'When to colour messages on stderr. `NO_COLOR` also turns colour off' -r -f -a "auto\t'Colour when stderr is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c debroot -n "__fish_debroot_using_subcommand cache; and not __fish_seen_subcommand_from info gc help" -l cache-dir -d 'Cache directory for indexes and packages [default: $XDG_CACHE_HOME/debroot]' -r -F
complete -c debroot -n "__fish_debroot_using_subcommand cache; and not __fish_seen_subcommand_from info gc help" -s q -l quiet -d 'Say less: no progress or status lines (-qq: no warnings either). mmdebstrap\'s `-s`/`--silent` is the same'
complete -c debroot -n "__fish_debroot_using_subcommand cache; and not __fish_seen_subcommand_from info gc help" -s v -l verbose -d 'Say more (-vv: debugging output)'
complete -c debroot -n "__fish_debroot_using_subcommand cache; and not __fish_seen_subcommand_from info gc help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c debroot -n "__fish_debroot_using_subcommand cache; and not __fish_seen_subcommand_from info gc help" -s V -l version -d 'Print version'
complete -c debroot -n "__fish_debroot_using_subcommand cache; and not __fish_seen_subcommand_from info gc help" -f -a "info" -d 'How many blobs the cache holds, and how many bytes'
complete -c debroot -n "__fish_debroot_using_subcommand cache; and not __fish_seen_subcommand_from info gc help" -f -a "gc" -d 'Remove every blob that none of the given locks needs'
complete -c debroot -n "__fish_debroot_using_subcommand cache; and not __fish_seen_subcommand_from info gc help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c debroot -n "__fish_debroot_using_subcommand cache; and __fish_seen_subcommand_from info" -l color -d 'When to colour messages on stderr. `NO_COLOR` also turns colour off' -r -f -a "auto\t'Colour when stderr is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c debroot -n "__fish_debroot_using_subcommand cache; and __fish_seen_subcommand_from info" -l cache-dir -d 'Cache directory for indexes and packages [default: $XDG_CACHE_HOME/debroot]' -r -F
complete -c debroot -n "__fish_debroot_using_subcommand cache; and __fish_seen_subcommand_from info" -s q -l quiet -d 'Say less: no progress or status lines (-qq: no warnings either). mmdebstrap\'s `-s`/`--silent` is the same'
complete -c debroot -n "__fish_debroot_using_subcommand cache; and __fish_seen_subcommand_from info" -s v -l verbose -d 'Say more (-vv: debugging output)'
complete -c debroot -n "__fish_debroot_using_subcommand cache; and __fish_seen_subcommand_from info" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c debroot -n "__fish_debroot_using_subcommand cache; and __fish_seen_subcommand_from info" -s V -l version -d 'Print version'
complete -c debroot -n "__fish_debroot_using_subcommand cache; and __fish_seen_subcommand_from gc" -l keep -d 'Lockfiles whose packages are kept' -r -F
complete -c debroot -n "__fish_debroot_using_subcommand cache; and __fish_seen_subcommand_from gc" -l color -d 'When to colour messages on stderr. `NO_COLOR` also turns colour off' -r -f -a "auto\t'Colour when stderr is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c debroot -n "__fish_debroot_using_subcommand cache; and __fish_seen_subcommand_from gc" -l cache-dir -d 'Cache directory for indexes and packages [default: $XDG_CACHE_HOME/debroot]' -r -F
complete -c debroot -n "__fish_debroot_using_subcommand cache; and __fish_seen_subcommand_from gc" -s q -l quiet -d 'Say less: no progress or status lines (-qq: no warnings either). mmdebstrap\'s `-s`/`--silent` is the same'
complete -c debroot -n "__fish_debroot_using_subcommand cache; and __fish_seen_subcommand_from gc" -s v -l verbose -d 'Say more (-vv: debugging output)'
complete -c debroot -n "__fish_debroot_using_subcommand cache; and __fish_seen_subcommand_from gc" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c debroot -n "__fish_debroot_using_subcommand cache; and __fish_seen_subcommand_from gc" -s V -l version -d 'Print version'
complete -c debroot -n "__fish_debroot_using_subcommand cache; and __fish_seen_subcommand_from help" -f -a "info" -d 'How many blobs the cache holds, and how many bytes'
complete -c debroot -n "__fish_debroot_using_subcommand cache; and __fish_seen_subcommand_from help" -f -a "gc" -d 'Remove every blob that none of the given locks needs'
complete -c debroot -n "__fish_debroot_using_subcommand cache; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c debroot -n "__fish_debroot_using_subcommand profile; and not __fish_seen_subcommand_from list show help" -l color -d 'When to colour messages on stderr. `NO_COLOR` also turns colour off' -r -f -a "auto\t'Colour when stderr is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c debroot -n "__fish_debroot_using_subcommand profile; and not __fish_seen_subcommand_from list show help" -l cache-dir -d 'Cache directory for indexes and packages [default: $XDG_CACHE_HOME/debroot]' -r -F
complete -c debroot -n "__fish_debroot_using_subcommand profile; and not __fish_seen_subcommand_from list show help" -s q -l quiet -d 'Say less: no progress or status lines (-qq: no warnings either). mmdebstrap\'s `-s`/`--silent` is the same'
complete -c debroot -n "__fish_debroot_using_subcommand profile; and not __fish_seen_subcommand_from list show help" -s v -l verbose -d 'Say more (-vv: debugging output)'
complete -c debroot -n "__fish_debroot_using_subcommand profile; and not __fish_seen_subcommand_from list show help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c debroot -n "__fish_debroot_using_subcommand profile; and not __fish_seen_subcommand_from list show help" -s V -l version -d 'Print version'
complete -c debroot -n "__fish_debroot_using_subcommand profile; and not __fish_seen_subcommand_from list show help" -f -a "list" -d 'List the built-in profiles (`debroot build NAME`, `extends = "builtin:NAME"`)'
complete -c debroot -n "__fish_debroot_using_subcommand profile; and not __fish_seen_subcommand_from list show help" -f -a "show" -d 'Print a profile after `extends`, with defaults filled in, as TOML'
complete -c debroot -n "__fish_debroot_using_subcommand profile; and not __fish_seen_subcommand_from list show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c debroot -n "__fish_debroot_using_subcommand profile; and __fish_seen_subcommand_from list" -l color -d 'When to colour messages on stderr. `NO_COLOR` also turns colour off' -r -f -a "auto\t'Colour when stderr is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c debroot -n "__fish_debroot_using_subcommand profile; and __fish_seen_subcommand_from list" -l cache-dir -d 'Cache directory for indexes and packages [default: $XDG_CACHE_HOME/debroot]' -r -F
complete -c debroot -n "__fish_debroot_using_subcommand profile; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Say less: no progress or status lines (-qq: no warnings either). mmdebstrap\'s `-s`/`--silent` is the same'
complete -c debroot -n "__fish_debroot_using_subcommand profile; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Say more (-vv: debugging output)'
complete -c debroot -n "__fish_debroot_using_subcommand profile; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c debroot -n "__fish_debroot_using_subcommand profile; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c debroot -n "__fish_debroot_using_subcommand profile; and __fish_seen_subcommand_from show" -l variant -d 'Which package set: extract, custom, essential, apt, required (minbase), buildd, important (debootstrap, -) or standard [default: the profile\'s, else important]' -r
complete -c debroot -n "__fish_debroot_using_subcommand profile; and __fish_seen_subcommand_from show" -l include -d 'More packages, comma or space separated, repeatable (`pkg`, `pkg:arch`, `pkg=version`, `pkg/suite`, `./local.deb`; `pkg-` excludes). Appended to the profile\'s' -r
complete -c debroot -n "__fish_debroot_using_subcommand profile; and __fish_seen_subcommand_from show" -l exclude -d 'Packages to keep out, comma or space separated, repeatable. Appended to the profile\'s' -r
complete -c debroot -n "__fish_debroot_using_subcommand profile; and __fish_seen_subcommand_from show" -l components -d 'Archive components, comma or space separated, repeatable [default: main]' -r
complete -c debroot -n "__fish_debroot_using_subcommand profile; and __fish_seen_subcommand_from show" -l architectures -d 'Architectures, native first, comma or space separated, repeatable' -r
complete -c debroot -n "__fish_debroot_using_subcommand profile; and __fish_seen_subcommand_from show" -l mode -d 'How maintainer scripts run: auto, root, unshare or extract [default: the profile\'s `build.mode`, else auto]' -r
complete -c debroot -n "__fish_debroot_using_subcommand profile; and __fish_seen_subcommand_from show" -l format -d 'Output format: auto, directory (dir), tar, tar.gz, tar.xz, tar.zst, squashfs, erofs, ext4, oci, oci-archive, disk (a bootable A/B disk image) or null [default: from the output\'s name, else the profile\'s `output.format`]' -r
complete -c debroot -n "__fish_debroot_using_subcommand profile; and __fish_seen_subcommand_from show" -l keyring -d 'The OpenPGP keyring the repository must be signed with (`source.keyring`)' -r -F
complete -c debroot -n "__fish_debroot_using_subcommand profile; and __fish_seen_subcommand_from show" -l dpkgopt -d '`path-exclude=GLOB` or `path-include=GLOB` (`packages.path-exclude`/`path-include`), repeatable; debroot takes no other dpkg option' -r
complete -c debroot -n "__fish_debroot_using_subcommand profile; and __fish_seen_subcommand_from show" -l aptopt -d '`Apt::Install-Recommends "true"` (or "false"): `packages.recommends`; debroot takes no other apt option' -r
complete -c debroot -n "__fish_debroot_using_subcommand profile; and __fish_seen_subcommand_from show" -l hook-directory -d 'A folder of hooks named setup*, extract*, essential*, customize* (`build.hooks`), repeatable' -r -F
complete -c debroot -n "__fish_debroot_using_subcommand profile; and __fish_seen_subcommand_from show" -l skip -r
complete -c debroot -n "__fish_debroot_using_subcommand profile; and __fish_seen_subcommand_from show" -l logfile -r
complete -c debroot -n "__fish_debroot_using_subcommand profile; and __fish_seen_subcommand_from show" -l color -d 'When to colour messages on stderr. `NO_COLOR` also turns colour off' -r -f -a "auto\t'Colour when stderr is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c debroot -n "__fish_debroot_using_subcommand profile; and __fish_seen_subcommand_from show" -l cache-dir -d 'Cache directory for indexes and packages [default: $XDG_CACHE_HOME/debroot]' -r -F
complete -c debroot -n "__fish_debroot_using_subcommand profile; and __fish_seen_subcommand_from show" -l from-args -d 'Print the profile the command line implies: `debroot profile show --from-args [OPTIONS] SUITE [MIRROR]` shows what `debroot build [OPTIONS] SUITE OUTPUT [MIRROR]` builds (save it as a file to keep and lock it)'
complete -c debroot -n "__fish_debroot_using_subcommand profile; and __fish_seen_subcommand_from show" -l simulate
complete -c debroot -n "__fish_debroot_using_subcommand profile; and __fish_seen_subcommand_from show" -s d -l debug
complete -c debroot -n "__fish_debroot_using_subcommand profile; and __fish_seen_subcommand_from show" -l man
complete -c debroot -n "__fish_debroot_using_subcommand profile; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Say less: no progress or status lines (-qq: no warnings either). mmdebstrap\'s `-s`/`--silent` is the same'
complete -c debroot -n "__fish_debroot_using_subcommand profile; and __fish_seen_subcommand_from show" -s v -l verbose -d 'Say more (-vv: debugging output)'
complete -c debroot -n "__fish_debroot_using_subcommand profile; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c debroot -n "__fish_debroot_using_subcommand profile; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c debroot -n "__fish_debroot_using_subcommand profile; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the built-in profiles (`debroot build NAME`, `extends = "builtin:NAME"`)'
complete -c debroot -n "__fish_debroot_using_subcommand profile; and __fish_seen_subcommand_from help" -f -a "show" -d 'Print a profile after `extends`, with defaults filled in, as TOML'
complete -c debroot -n "__fish_debroot_using_subcommand profile; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c debroot -n "__fish_debroot_using_subcommand verify" -l runs -d 'How many builds per mode (at least 2)' -r
complete -c debroot -n "__fish_debroot_using_subcommand verify" -l modes -d 'The modes to build in, each `--runs` times, all compared with each other [default: auto]' -r -f -a "auto\t'root as uid 0, else unshare'
root\t'Maintainer scripts in private namespaces, as root'
unshare\t'The same in a user namespace, for a normal user (needs /etc/subuid ranges)'
extract\t'Unpack only: no scripts, no privilege'"
complete -c debroot -n "__fish_debroot_using_subcommand verify" -l expect -d 'Also compare every output with this SHA256, or with the one a file holds (a sha256sum line or a debroot manifest)' -r
complete -c debroot -n "__fish_debroot_using_subcommand verify" -l output-format -d 'The outputs\' format' -r -f -a "dir\t''
tar\t''
tar.gz\t''
tar.xz\t''
tar.zst\t''
null\t'Build, and write only the manifest (`OUTPUT.manifest.json`, or stdout with `-o -`)'
squashfs\t'A squashfs image (zstd), as `.squashfs` or `.sqfs` names'
erofs\t'An EROFS image (uncompressed)'
ext4\t'An ext4 image'
oci\t'An OCI image layout folder, as `.oci` names'
oci-archive\t'An OCI image layout as a tar archive, as `.oci.tar` names'
disk\t'A bootable A/B disk image (GPT, ESP, verity root slots), as `.img` or `.raw` names, and its update bundle `OUTPUT.update/`'"
complete -c debroot -n "__fish_debroot_using_subcommand verify" -l provenance -d 'When the runs agree (and match `--expect`), write the output\'s provenance (in-toto, SLSA v1, as `build` writes beside an output) to FILE, recording every run and the conditions it built under' -r -F
complete -c debroot -n "__fish_debroot_using_subcommand verify" -l format -d 'The report: text, or one JSON object for CI' -r -f -a "text\t'For people'
json\t'For programs'"
complete -c debroot -n "__fish_debroot_using_subcommand verify" -l mirror -d 'Mirror URL (http, https or file), or `host` for the host\'s apt sources. Overrides DEBROOT_MIRROR and the profile' -r
complete -c debroot -n "__fish_debroot_using_subcommand verify" -l snapshot -d 'Pin to Debian\'s archive as it was at this time (YYYYMMDDTHHMMSSZ), overriding the profile' -r
complete -c debroot -n "__fish_debroot_using_subcommand verify" -l snapshot-server -d 'Server with snapshot.debian.org\'s URL layout [default: https://snapshot.debian.org]' -r
complete -c debroot -n "__fish_debroot_using_subcommand verify" -s j -l jobs -d 'Downloads at a time' -r
complete -c debroot -n "__fish_debroot_using_subcommand verify" -l timeout -d 'Seconds a transfer may make no progress before it is retried' -r
complete -c debroot -n "__fish_debroot_using_subcommand verify" -l retries -d 'Retries of a transient network failure (with exponential backoff)' -r
complete -c debroot -n "__fish_debroot_using_subcommand verify" -l color -d 'When to colour messages on stderr. `NO_COLOR` also turns colour off' -r -f -a "auto\t'Colour when stderr is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c debroot -n "__fish_debroot_using_subcommand verify" -l cache-dir -d 'Cache directory for indexes and packages [default: $XDG_CACHE_HOME/debroot]' -r -F
complete -c debroot -n "__fish_debroot_using_subcommand verify" -l keep -d 'Keep the runs\' outputs even when they agree (they are always kept when not)'
complete -c debroot -n "__fish_debroot_using_subcommand verify" -l offline -d 'Use the cache only: make no network request, and fail clearly when something is missing'
complete -c debroot -n "__fish_debroot_using_subcommand verify" -s q -l quiet -d 'Say less: no progress or status lines (-qq: no warnings either). mmdebstrap\'s `-s`/`--silent` is the same'
complete -c debroot -n "__fish_debroot_using_subcommand verify" -s v -l verbose -d 'Say more (-vv: debugging output)'
complete -c debroot -n "__fish_debroot_using_subcommand verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c debroot -n "__fish_debroot_using_subcommand verify" -s V -l version -d 'Print version'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and not __fish_seen_subcommand_from chroot copy-in copy-out sync-in sync-out tar-in tar-out help" -l color -d 'When to colour messages on stderr. `NO_COLOR` also turns colour off' -r -f -a "auto\t'Colour when stderr is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c debroot -n "__fish_debroot_using_subcommand hook; and not __fish_seen_subcommand_from chroot copy-in copy-out sync-in sync-out tar-in tar-out help" -l cache-dir -d 'Cache directory for indexes and packages [default: $XDG_CACHE_HOME/debroot]' -r -F
complete -c debroot -n "__fish_debroot_using_subcommand hook; and not __fish_seen_subcommand_from chroot copy-in copy-out sync-in sync-out tar-in tar-out help" -s q -l quiet -d 'Say less: no progress or status lines (-qq: no warnings either). mmdebstrap\'s `-s`/`--silent` is the same'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and not __fish_seen_subcommand_from chroot copy-in copy-out sync-in sync-out tar-in tar-out help" -s v -l verbose -d 'Say more (-vv: debugging output)'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and not __fish_seen_subcommand_from chroot copy-in copy-out sync-in sync-out tar-in tar-out help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and not __fish_seen_subcommand_from chroot copy-in copy-out sync-in sync-out tar-in tar-out help" -s V -l version -d 'Print version'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and not __fish_seen_subcommand_from chroot copy-in copy-out sync-in sync-out tar-in tar-out help" -f -a "chroot" -d 'Run CMD confined to the root as maintainer scripts run (`pivot_root`, namespaces of its own), with their environment. Inside a hook, with the hook\'s standard streams and CMD\'s exit status (`chroot "$1" CMD` in a hook does the same); on a built tree (`--root DIR`), with stdin from /dev/null, its output relayed, exit 8 if it fails'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and not __fish_seen_subcommand_from chroot copy-in copy-out sync-in sync-out tar-in tar-out help" -f -a "copy-in" -d 'Copy host files and folders into a folder of the root: `copy-in PATH... DIR`'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and not __fish_seen_subcommand_from chroot copy-in copy-out sync-in sync-out tar-in tar-out help" -f -a "copy-out" -d 'Copy files and folders of the root into a host folder: `copy-out PATH... DIR`'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and not __fish_seen_subcommand_from chroot copy-in copy-out sync-in sync-out tar-in tar-out help" -f -a "sync-in" -d 'Copy what a host folder holds into a folder of the root (made if missing)'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and not __fish_seen_subcommand_from chroot copy-in copy-out sync-in sync-out tar-in tar-out help" -f -a "sync-out" -d 'Copy what a folder of the root holds into a host folder (made if missing)'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and not __fish_seen_subcommand_from chroot copy-in copy-out sync-in sync-out tar-in tar-out help" -f -a "tar-in" -d 'Unpack a host tarball (plain, gzip, xz or zstd) into a folder of the root'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and not __fish_seen_subcommand_from chroot copy-in copy-out sync-in sync-out tar-in tar-out help" -f -a "tar-out" -d 'Write a folder of the root as a host tarball (compressed as its name says)'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and not __fish_seen_subcommand_from chroot copy-in copy-out sync-in sync-out tar-in tar-out help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from chroot" -l root -r -F
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from chroot" -l color -d 'When to colour messages on stderr. `NO_COLOR` also turns colour off' -r -f -a "auto\t'Colour when stderr is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from chroot" -l cache-dir -d 'Cache directory for indexes and packages [default: $XDG_CACHE_HOME/debroot]' -r -F
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from chroot" -s q -l quiet -d 'Say less: no progress or status lines (-qq: no warnings either). mmdebstrap\'s `-s`/`--silent` is the same'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from chroot" -s v -l verbose -d 'Say more (-vv: debugging output)'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from chroot" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from chroot" -s V -l version -d 'Print version'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from copy-in" -l root -r -F
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from copy-in" -l color -d 'When to colour messages on stderr. `NO_COLOR` also turns colour off' -r -f -a "auto\t'Colour when stderr is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from copy-in" -l cache-dir -d 'Cache directory for indexes and packages [default: $XDG_CACHE_HOME/debroot]' -r -F
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from copy-in" -s q -l quiet -d 'Say less: no progress or status lines (-qq: no warnings either). mmdebstrap\'s `-s`/`--silent` is the same'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from copy-in" -s v -l verbose -d 'Say more (-vv: debugging output)'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from copy-in" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from copy-in" -s V -l version -d 'Print version'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from copy-out" -l root -r -F
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from copy-out" -l color -d 'When to colour messages on stderr. `NO_COLOR` also turns colour off' -r -f -a "auto\t'Colour when stderr is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from copy-out" -l cache-dir -d 'Cache directory for indexes and packages [default: $XDG_CACHE_HOME/debroot]' -r -F
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from copy-out" -s q -l quiet -d 'Say less: no progress or status lines (-qq: no warnings either). mmdebstrap\'s `-s`/`--silent` is the same'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from copy-out" -s v -l verbose -d 'Say more (-vv: debugging output)'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from copy-out" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from copy-out" -s V -l version -d 'Print version'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from sync-in" -l root -r -F
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from sync-in" -l color -d 'When to colour messages on stderr. `NO_COLOR` also turns colour off' -r -f -a "auto\t'Colour when stderr is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from sync-in" -l cache-dir -d 'Cache directory for indexes and packages [default: $XDG_CACHE_HOME/debroot]' -r -F
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from sync-in" -s q -l quiet -d 'Say less: no progress or status lines (-qq: no warnings either). mmdebstrap\'s `-s`/`--silent` is the same'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from sync-in" -s v -l verbose -d 'Say more (-vv: debugging output)'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from sync-in" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from sync-in" -s V -l version -d 'Print version'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from sync-out" -l root -r -F
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from sync-out" -l color -d 'When to colour messages on stderr. `NO_COLOR` also turns colour off' -r -f -a "auto\t'Colour when stderr is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from sync-out" -l cache-dir -d 'Cache directory for indexes and packages [default: $XDG_CACHE_HOME/debroot]' -r -F
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from sync-out" -s q -l quiet -d 'Say less: no progress or status lines (-qq: no warnings either). mmdebstrap\'s `-s`/`--silent` is the same'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from sync-out" -s v -l verbose -d 'Say more (-vv: debugging output)'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from sync-out" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from sync-out" -s V -l version -d 'Print version'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from tar-in" -l root -r -F
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from tar-in" -l color -d 'When to colour messages on stderr. `NO_COLOR` also turns colour off' -r -f -a "auto\t'Colour when stderr is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from tar-in" -l cache-dir -d 'Cache directory for indexes and packages [default: $XDG_CACHE_HOME/debroot]' -r -F
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from tar-in" -s q -l quiet -d 'Say less: no progress or status lines (-qq: no warnings either). mmdebstrap\'s `-s`/`--silent` is the same'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from tar-in" -s v -l verbose -d 'Say more (-vv: debugging output)'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from tar-in" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from tar-in" -s V -l version -d 'Print version'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from tar-out" -l root -r -F
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from tar-out" -l color -d 'When to colour messages on stderr. `NO_COLOR` also turns colour off' -r -f -a "auto\t'Colour when stderr is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from tar-out" -l cache-dir -d 'Cache directory for indexes and packages [default: $XDG_CACHE_HOME/debroot]' -r -F
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from tar-out" -s q -l quiet -d 'Say less: no progress or status lines (-qq: no warnings either). mmdebstrap\'s `-s`/`--silent` is the same'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from tar-out" -s v -l verbose -d 'Say more (-vv: debugging output)'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from tar-out" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from tar-out" -s V -l version -d 'Print version'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from help" -f -a "chroot" -d 'Run CMD confined to the root as maintainer scripts run (`pivot_root`, namespaces of its own), with their environment. Inside a hook, with the hook\'s standard streams and CMD\'s exit status (`chroot "$1" CMD` in a hook does the same); on a built tree (`--root DIR`), with stdin from /dev/null, its output relayed, exit 8 if it fails'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from help" -f -a "copy-in" -d 'Copy host files and folders into a folder of the root: `copy-in PATH... DIR`'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from help" -f -a "copy-out" -d 'Copy files and folders of the root into a host folder: `copy-out PATH... DIR`'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from help" -f -a "sync-in" -d 'Copy what a host folder holds into a folder of the root (made if missing)'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from help" -f -a "sync-out" -d 'Copy what a folder of the root holds into a host folder (made if missing)'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from help" -f -a "tar-in" -d 'Unpack a host tarball (plain, gzip, xz or zstd) into a folder of the root'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from help" -f -a "tar-out" -d 'Write a folder of the root as a host tarball (compressed as its name says)'
complete -c debroot -n "__fish_debroot_using_subcommand hook; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c debroot -n "__fish_debroot_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -l color -d 'When to colour messages on stderr. `NO_COLOR` also turns colour off' -r -f -a "auto\t'Colour when stderr is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c debroot -n "__fish_debroot_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -l cache-dir -d 'Cache directory for indexes and packages [default: $XDG_CACHE_HOME/debroot]' -r -F
complete -c debroot -n "__fish_debroot_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -s q -l quiet -d 'Say less: no progress or status lines (-qq: no warnings either). mmdebstrap\'s `-s`/`--silent` is the same'
complete -c debroot -n "__fish_debroot_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -s v -l verbose -d 'Say more (-vv: debugging output)'
complete -c debroot -n "__fish_debroot_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c debroot -n "__fish_debroot_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -s V -l version -d 'Print version'
complete -c debroot -n "__fish_debroot_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -f -a "completions" -d 'Print the completion script for SHELL on stdout, e.g. `debroot generate completions bash > /usr/share/bash-completion/completions/debroot`'
complete -c debroot -n "__fish_debroot_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -f -a "man" -d 'Write the man pages into DIR (made if missing): debroot.1, and one per subcommand (debroot-build.1, debroot-hook-chroot.1, ...)'
complete -c debroot -n "__fish_debroot_using_subcommand generate; and not __fish_seen_subcommand_from completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c debroot -n "__fish_debroot_using_subcommand generate; and __fish_seen_subcommand_from completions" -l color -d 'When to colour messages on stderr. `NO_COLOR` also turns colour off' -r -f -a "auto\t'Colour when stderr is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c debroot -n "__fish_debroot_using_subcommand generate; and __fish_seen_subcommand_from completions" -l cache-dir -d 'Cache directory for indexes and packages [default: $XDG_CACHE_HOME/debroot]' -r -F
complete -c debroot -n "__fish_debroot_using_subcommand generate; and __fish_seen_subcommand_from completions" -s q -l quiet -d 'Say less: no progress or status lines (-qq: no warnings either). mmdebstrap\'s `-s`/`--silent` is the same'
complete -c debroot -n "__fish_debroot_using_subcommand generate; and __fish_seen_subcommand_from completions" -s v -l verbose -d 'Say more (-vv: debugging output)'
complete -c debroot -n "__fish_debroot_using_subcommand generate; and __fish_seen_subcommand_from completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c debroot -n "__fish_debroot_using_subcommand generate; and __fish_seen_subcommand_from completions" -s V -l version -d 'Print version'
complete -c debroot -n "__fish_debroot_using_subcommand generate; and __fish_seen_subcommand_from man" -l color -d 'When to colour messages on stderr. `NO_COLOR` also turns colour off' -r -f -a "auto\t'Colour when stderr is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c debroot -n "__fish_debroot_using_subcommand generate; and __fish_seen_subcommand_from man" -l cache-dir -d 'Cache directory for indexes and packages [default: $XDG_CACHE_HOME/debroot]' -r -F
complete -c debroot -n "__fish_debroot_using_subcommand generate; and __fish_seen_subcommand_from man" -s q -l quiet -d 'Say less: no progress or status lines (-qq: no warnings either). mmdebstrap\'s `-s`/`--silent` is the same'
complete -c debroot -n "__fish_debroot_using_subcommand generate; and __fish_seen_subcommand_from man" -s v -l verbose -d 'Say more (-vv: debugging output)'
complete -c debroot -n "__fish_debroot_using_subcommand generate; and __fish_seen_subcommand_from man" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c debroot -n "__fish_debroot_using_subcommand generate; and __fish_seen_subcommand_from man" -s V -l version -d 'Print version'
complete -c debroot -n "__fish_debroot_using_subcommand generate; and __fish_seen_subcommand_from help" -f -a "completions" -d 'Print the completion script for SHELL on stdout, e.g. `debroot generate completions bash > /usr/share/bash-completion/completions/debroot`'
complete -c debroot -n "__fish_debroot_using_subcommand generate; and __fish_seen_subcommand_from help" -f -a "man" -d 'Write the man pages into DIR (made if missing): debroot.1, and one per subcommand (debroot-build.1, debroot-hook-chroot.1, ...)'
complete -c debroot -n "__fish_debroot_using_subcommand generate; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c debroot -n "__fish_debroot_using_subcommand help; and not __fish_seen_subcommand_from index lock why fetch build diff cache profile verify hook generate help" -f -a "index" -d 'Fetch and verify the suites\' indexes and summarize them (what `apt-get update` does)'
complete -c debroot -n "__fish_debroot_using_subcommand help; and not __fish_seen_subcommand_from index lock why fetch build diff cache profile verify hook generate help" -f -a "lock" -d 'Resolve the profile\'s package set and write PROFILE.lock beside it'
complete -c debroot -n "__fish_debroot_using_subcommand help; and not __fish_seen_subcommand_from index lock why fetch build diff cache profile verify hook generate help" -f -a "why" -d 'Show the dependency chain that pulled a package into the profile\'s set'
complete -c debroot -n "__fish_debroot_using_subcommand help; and not __fish_seen_subcommand_from index lock why fetch build diff cache profile verify hook generate help" -f -a "fetch" -d 'Download every package of the lock into the cache (resolving first when there is none)'
complete -c debroot -n "__fish_debroot_using_subcommand help; and not __fish_seen_subcommand_from index lock why fetch build diff cache profile verify hook generate help" -f -a "build" -d 'Build a root filesystem into a directory, tarball or image: from a profile, or from mmdebstrap\'s command line (`build --variant=minbase trixie rootfs.tar`)'
complete -c debroot -n "__fish_debroot_using_subcommand help; and not __fish_seen_subcommand_from index lock why fetch build diff cache profile verify hook generate help" -f -a "diff" -d 'Compare two outputs (directories, tarballs or manifests): packages, paths, metadata, contents, and the archives\' bytes; exit 0 when equal, 1 when they differ'
complete -c debroot -n "__fish_debroot_using_subcommand help; and not __fish_seen_subcommand_from index lock why fetch build diff cache profile verify hook generate help" -f -a "cache" -d 'Inspect and clean the package cache'
complete -c debroot -n "__fish_debroot_using_subcommand help; and not __fish_seen_subcommand_from index lock why fetch build diff cache profile verify hook generate help" -f -a "profile" -d 'Inspect profiles'
complete -c debroot -n "__fish_debroot_using_subcommand help; and not __fish_seen_subcommand_from index lock why fetch build diff cache profile verify hook generate help" -f -a "verify" -d 'Build a profile several times from one lock under different conditions (paths, umask, time zone, locale, host name, concurrency, cold and warm cache, modes) and compare the outputs\' SHA256: exit 0 when reproducible, 1 when not'
complete -c debroot -n "__fish_debroot_using_subcommand help; and not __fish_seen_subcommand_from index lock why fetch build diff cache profile verify hook generate help" -f -a "hook" -d 'Helpers for hooks: run a command in the root, move files across its boundary. Paths inside the root resolve inside it, symlinks included'
complete -c debroot -n "__fish_debroot_using_subcommand help; and not __fish_seen_subcommand_from index lock why fetch build diff cache profile verify hook generate help" -f -a "generate" -d 'Write shell completions or man pages, generated from this command line'
complete -c debroot -n "__fish_debroot_using_subcommand help; and not __fish_seen_subcommand_from index lock why fetch build diff cache profile verify hook generate help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c debroot -n "__fish_debroot_using_subcommand help; and __fish_seen_subcommand_from cache" -f -a "info" -d 'How many blobs the cache holds, and how many bytes'
complete -c debroot -n "__fish_debroot_using_subcommand help; and __fish_seen_subcommand_from cache" -f -a "gc" -d 'Remove every blob that none of the given locks needs'
complete -c debroot -n "__fish_debroot_using_subcommand help; and __fish_seen_subcommand_from profile" -f -a "list" -d 'List the built-in profiles (`debroot build NAME`, `extends = "builtin:NAME"`)'
complete -c debroot -n "__fish_debroot_using_subcommand help; and __fish_seen_subcommand_from profile" -f -a "show" -d 'Print a profile after `extends`, with defaults filled in, as TOML'
complete -c debroot -n "__fish_debroot_using_subcommand help; and __fish_seen_subcommand_from hook" -f -a "chroot" -d 'Run CMD confined to the root as maintainer scripts run (`pivot_root`, namespaces of its own), with their environment. Inside a hook, with the hook\'s standard streams and CMD\'s exit status (`chroot "$1" CMD` in a hook does the same); on a built tree (`--root DIR`), with stdin from /dev/null, its output relayed, exit 8 if it fails'
complete -c debroot -n "__fish_debroot_using_subcommand help; and __fish_seen_subcommand_from hook" -f -a "copy-in" -d 'Copy host files and folders into a folder of the root: `copy-in PATH... DIR`'
complete -c debroot -n "__fish_debroot_using_subcommand help; and __fish_seen_subcommand_from hook" -f -a "copy-out" -d 'Copy files and folders of the root into a host folder: `copy-out PATH... DIR`'
complete -c debroot -n "__fish_debroot_using_subcommand help; and __fish_seen_subcommand_from hook" -f -a "sync-in" -d 'Copy what a host folder holds into a folder of the root (made if missing)'
complete -c debroot -n "__fish_debroot_using_subcommand help; and __fish_seen_subcommand_from hook" -f -a "sync-out" -d 'Copy what a folder of the root holds into a host folder (made if missing)'
complete -c debroot -n "__fish_debroot_using_subcommand help; and __fish_seen_subcommand_from hook" -f -a "tar-in" -d 'Unpack a host tarball (plain, gzip, xz or zstd) into a folder of the root'
complete -c debroot -n "__fish_debroot_using_subcommand help; and __fish_seen_subcommand_from hook" -f -a "tar-out" -d 'Write a folder of the root as a host tarball (compressed as its name says)'
complete -c debroot -n "__fish_debroot_using_subcommand help; and __fish_seen_subcommand_from generate" -f -a "completions" -d 'Print the completion script for SHELL on stdout, e.g. `debroot generate completions bash > /usr/share/bash-completion/completions/debroot`'
complete -c debroot -n "__fish_debroot_using_subcommand help; and __fish_seen_subcommand_from generate" -f -a "man" -d 'Write the man pages into DIR (made if missing): debroot.1, and one per subcommand (debroot-build.1, debroot-hook-chroot.1, ...)'
