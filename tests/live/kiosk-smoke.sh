#!/bin/bash
# The kiosk image proven live: build profiles/kiosk-chromium.toml, boot it read-only, and see
# chromium's page over the image's own VNC server.
#
#     sudo tests/live/kiosk-smoke.sh [--image] OUTDIR
#
# 1. builds debroot (cargo build --release) and, with it, a profile that extends
#    profiles/kiosk-chromium.toml with KIOSK_URL pointed at a page this script serves on
#    loopback: six solid colour blocks whose colours and places the test knows;
# 2. boots the tree with systemd as PID 1 (systemd-nspawn --boot --volatile=overlay: the tree
#    stays read-only, runtime writes go to a tmpfs overlay), on the host's network so that the
#    image's wayvnc, listening on 127.0.0.1, is reachable from here;
# 3. waits (at most KIOSK_SMOKE_TIMEOUT seconds) for sway, wayvnc and chromium to run, then
#    captures frames over RFB (rfb_capture.py) until one shows the page's blocks where the page
#    puts them; writes it to OUTDIR/kiosk.png;
# 4. the negative case: boots the same tree again with the page at the kiosk URL changed to one
#    of other colours (each block takes its neighbour's colour), waits until the kiosk shows that
#    page, and requires the same check to FAIL on it (OUTDIR/kiosk-negative.png);
# 5. stops each container, and checks that no process, mount or nspawn state is left behind,
#    whether the test passed or not (trap EXIT).
# With --image, the kiosk is built as a squashfs image with a dm-verity hash tree
# (`-o kiosk.squashfs --verity`), the hash tree is checked first with `veritysetup verify` and
# the root hash the manifest records (device-mapper may be missing, so the boot itself cannot
# use it), and both boots are `systemd-nspawn --image=... --read-only --volatile=overlay`; the
# image's SHA-256 must be the same after them, and no loop device may be left on it.
# It prints how long the build, each boot-to-first-frame and the whole test took, and exits 0
# only when the page was seen and the negative case failed as it must.
#
# Needs: root, systemd-nspawn, with --image veritysetup (cryptsetup-bin) and udev (nspawn
# --image waits for udev to see the loop device; where no udevd runs, as on CI machines whose
# PID 1 is not systemd, the script runs one for the test and stops it after), (Debian's systemd-container), nsenter (util-linux), python3
# (standard library only), cargo, and the network to reach the host's Debian mirror (the profile's `mirror = "host"`).
# Settings (environment): KIOSK_SMOKE_CACHE_DIR (debroot's cache; default OUTDIR/cache, kept
# between runs so that a rerun downloads nothing), KIOSK_SMOKE_HTTP_PORT (18080),
# KIOSK_SMOKE_VNC_PORT (15900), KIOSK_SMOKE_TIMEOUT (180, per boot).
set -euo pipefail

usage() {
    echo "usage: $0 [--image] OUTDIR" >&2
    exit 2
}
image_mode=0
if [ "${1:-}" = "--image" ]; then
    image_mode=1
    shift
fi
[ $# -eq 1 ] || usage
case "$1" in -*) usage ;; esac

started=$EPOCHREALTIME
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=lib/kiosk.sh
. "$here/lib/kiosk.sh"
mkdir -p "$1"
outdir=$(cd "$1" && pwd)
case "$outdir/" in "$repo"/*)
    echo "error: OUTDIR \`$outdir\` is inside the repository; give a directory outside it" >&2
    exit 2
    ;;
esac
work="$outdir/work"
cache="${KIOSK_SMOKE_CACHE_DIR:-$outdir/cache}"
http_port="${KIOSK_SMOKE_HTTP_PORT:-18080}"
vnc_port="${KIOSK_SMOKE_VNC_PORT:-15900}"
timeout="${KIOSK_SMOKE_TIMEOUT:-180}"
python=/usr/bin/python3
[ -x "$python" ] || python=python3
machine="kiosk-smoke-$$"

# The page: 3 columns x 2 rows of solid blocks, listed row by row. The negative page gives
# each block its neighbour's colour: the same colours, none where the check expects it.
colours=(d02020 20a040 2040d0 f0c020 20c0c0 a020a0)
negative_colours=("${colours[@]:1}" "${colours[0]}")
resolution=1280x800

elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fs", b - a }'; }
say() { echo "kiosk-smoke: $*" >&2; }
die() {
    say "error: $*"
    exit 1
}

[ "$(id -u)" -eq 0 ] || die "needs root (systemd-nspawn boots the image)"
needed=(systemd-nspawn nsenter cargo "$python")
[ "$image_mode" -eq 0 ] || needed+=(veritysetup losetup sha256sum /lib/systemd/systemd-udevd)
for command in "${needed[@]}"; do
    command -v "$command" > /dev/null || die "\`$command\` is not installed"
done
for port in "$http_port" "$vnc_port"; do
    kiosk_port_free "$python" "$port" || die "port $port on 127.0.0.1 is in use (KIOSK_SMOKE_*_PORT)"
done

# --- cleanup, whatever happens ---------------------------------------------------------------
nspawn_pid=""
leader_pid=""
http_pid=""
udevd_pid=""
pidns=""
boot_name=""

# Stops the running container: SIGTERM makes nspawn ask the container's systemd for an orderly
# poweroff; if that takes too long, SIGKILL of the container's PID 1 ends its whole PID
# namespace. Then checks that nothing of it is left on the host.
stop_container() {
    [ -n "$nspawn_pid" ] || return 0
    local pid=$nspawn_pid
    nspawn_pid=""
    # The container's journal lives in its overlay, which goes with it: keep a copy.
    if [ -n "$leader_pid" ] && kill -0 "$leader_pid" 2> /dev/null; then
        timeout 20 nsenter --target "$leader_pid" --all journalctl --boot --no-pager \
            > "$work/$boot_name-journal.log" 2>&1 || true
    fi
    if kill -0 "$pid" 2> /dev/null; then
        kill -TERM "$pid" 2> /dev/null || true
        for _ in $(seq 300); do
            kill -0 "$pid" 2> /dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2> /dev/null; then
            say "the container did not power off in 30s; killing it"
            [ -z "$leader_pid" ] || kill -KILL "$leader_pid" 2> /dev/null || true
            sleep 1
            kill -KILL "$pid" 2> /dev/null || true
        fi
    fi
    wait "$pid" 2> /dev/null || true
    local left=0 pid
    if [ -n "$pidns" ]; then
        for pid in $(kiosk_container_processes "$pidns"); do
            say "left behind: process $pid ($(cat "/proc/$pid/comm" 2> /dev/null))"
            left=1
        done
    fi
    if [ "$image_mode" -eq 1 ] && [ -n "$(losetup -j "$work/boot.squashfs" 2> /dev/null)" ]; then
        say "left behind: a loop device on $work/boot.squashfs:"
        losetup -j "$work/boot.squashfs" >&2
        left=1
    fi
    if grep -qF " $work/root" /proc/self/mountinfo; then
        say "left behind: mounts on $work/root:"
        grep -F " $work/root" /proc/self/mountinfo >&2
        left=1
    fi
    if [ -e "/run/systemd/nspawn/propagate/$machine" ]; then
        say "left behind: /run/systemd/nspawn/propagate/$machine"
        left=1
    fi
    leader_pid=""
    pidns=""
    [ "$left" -eq 0 ] || return 1
}

on_exit() {
    local status=$?
    stop_container || status=1
    if [ -n "$http_pid" ]; then
        kill "$http_pid" 2> /dev/null || true
        wait "$http_pid" 2> /dev/null || true
    fi
    if [ -n "$udevd_pid" ]; then
        kill "$udevd_pid" 2> /dev/null || true
        wait "$udevd_pid" 2> /dev/null || true
    fi
    say "total: $(elapsed "$started" "$EPOCHREALTIME")"
    if [ "$status" -eq 0 ]; then
        say "PASS"
    else
        say "FAIL (logs in $work)"
    fi
    exit "$status"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# --- build -----------------------------------------------------------------------------------
rm -rf "$work"
mkdir -p "$work/profile" "$work/www" "$cache"

say "building debroot (cargo build --release)"
cargo_started=$EPOCHREALTIME
(cd "$repo" && cargo build --release --quiet)
say "cargo build: $(elapsed "$cargo_started" "$EPOCHREALTIME")"
debroot="$repo/target/release/debroot"

cat > "$work/profile/kiosk-smoke.toml" << PROFILE
# The live kiosk test's profile, written by tests/live/kiosk-smoke.sh.
extends = "$repo/profiles/kiosk-chromium.toml"

[build.env]
KIOSK_URL = "http://127.0.0.1:$http_port/kiosk.html"
WAYVNC_PORT = "$vnc_port"
KIOSK_RESOLUTION = "$resolution"
PROFILE

build_started=$EPOCHREALTIME
if [ "$image_mode" -eq 1 ]; then
    image="$work/kiosk.squashfs"
    say "building the image ($image, with a dm-verity hash tree)"
    "$debroot" build "$work/profile/kiosk-smoke.toml" -o "$image" --verity \
        --cache-dir "$cache" 2>&1 | tee "$work/build.log" >&2
else
    say "building the image ($work/root)"
    "$debroot" build "$work/profile/kiosk-smoke.toml" -o "$work/root" --format dir \
        --cache-dir "$cache" 2>&1 | tee "$work/build.log" >&2
fi
build_time=$(elapsed "$build_started" "$EPOCHREALTIME")
say "build: $build_time"

if [ "$image_mode" -eq 1 ]; then
    # The root hash three ways: the manifest's, the .roothash file's, and veritysetup's check
    # of the hash tree against the image with it.
    root_hash=$("$python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["verity"]["root_hash"])' \
        "$image.manifest.json")
    [ "$root_hash" = "$(cat "$image.roothash")" ] ||
        die "the manifest's root hash is not the one in $image.roothash"
    veritysetup verify "$image" "$image.verity" "$root_hash" ||
        die "veritysetup verify failed on $image with the root hash $root_hash"
    say "veritysetup verify: the hash tree matches the image (root hash $root_hash)"
    image_sha256=$(sha256sum < "$image")
    # The boots use another name of the same file: systemd looks for IMAGE.roothash and
    # IMAGE.verity beside an image and would ask device-mapper for them.
    ln -f "$image" "$work/boot.squashfs"
    if ! pgrep -x systemd-udevd > /dev/null; then
        say "starting systemd-udevd for the test (systemd-nspawn --image needs it)"
        rm -f /run/udev/control
        /lib/systemd/systemd-udevd > "$work/udevd.log" 2>&1 &
        udevd_pid=$!
        for _ in $(seq 50); do
            [ -S /run/udev/control ] && break
            sleep 0.1
        done
    fi
fi

# --- the page --------------------------------------------------------------------------------
write_page() { kiosk_write_page "$work/www/kiosk.html" "$@"; }

"$python" -m http.server "$http_port" --bind 127.0.0.1 --directory "$work/www" \
    > "$work/http.log" 2>&1 &
http_pid=$!

# --- boot, wait, capture ---------------------------------------------------------------------
# Prints the pid of each process of the container whose command name is $1.
container_processes() { kiosk_container_processes "$pidns" "$1"; }

# boot NAME: boots the tree, waits for the session, leaves the container running.
boot() {
    local name=$1 deadline
    boot_name=$name
    # On a host without systemd as PID 1 there is no machined to register with, nor a manager
    # to create a scope: the container then stays in the script's own cgroup.
    local register=()
    [ -d /run/systemd/system ] || register=(--register=no --keep-unit)
    boot_started=$EPOCHREALTIME
    deadline=$((SECONDS + timeout))
    local what=(--directory="$work/root")
    [ "$image_mode" -eq 0 ] || what=(--image="$work/boot.squashfs" --read-only)
    systemd-nspawn --quiet "${what[@]}" --boot --volatile=overlay \
        --machine="$machine" "${register[@]}" --console=read-only \
        < /dev/null > "$work/$name-console.log" 2>&1 &
    nspawn_pid=$!
    until leader_pid=$(pgrep -P "$nspawn_pid" | head -n 1) && [ -n "$leader_pid" ] &&
        pidns=$(readlink "/proc/$leader_pid/ns/pid") &&
        [ "$pidns" != "$(readlink /proc/self/ns/pid)" ]; do
        kill -0 "$nspawn_pid" 2> /dev/null || die "systemd-nspawn exited; see $work/$name-console.log"
        [ "$SECONDS" -lt "$deadline" ] || die "the container did not start in ${timeout}s"
        sleep 0.2
    done
    local missing
    while :; do
        missing=""
        for command in sway wayvnc chromium; do
            [ -n "$(container_processes "$command")" ] || missing="$missing $command"
        done
        [ -n "$missing" ] || break
        kill -0 "$nspawn_pid" 2> /dev/null || die "the container stopped; see $work/$name-console.log"
        [ "$SECONDS" -lt "$deadline" ] ||
            die "after ${timeout}s,$missing not running; see $work/$name-console.log"
        sleep 0.5
    done
    say "$name: sway, wayvnc and chromium run after $(elapsed "$boot_started" "$EPOCHREALTIME")"
    boot_deadline=$deadline
}

# capture NAME PNG COLOURS...: waits (until the boot's deadline) for a frame showing COLOURS.
capture() {
    local name=$1 png=$2
    shift 2
    local colour_list
    colour_list=$(
        IFS=,
        echo "$*"
    )
    if "$python" "$here/rfb_capture.py" --port "$vnc_port" --size "$resolution" \
        --grid 3x2 --colours "$colour_list" --png "$png" \
        --timeout "$((boot_deadline - SECONDS))"; then
        first_frame_time=$(elapsed "$boot_started" "$EPOCHREALTIME")
        say "$name: boot to first frame showing the page: $first_frame_time"
        return 0
    fi
    return 1
}

# Anything written to the tree while it runs would be newer than this.
touch "$work/booted.stamp"
write_page "${colours[@]}"
boot positive
if ! capture positive "$outdir/kiosk.png" "${colours[@]}"; then
    die "the kiosk never showed the served page; the last frame is $outdir/kiosk.png"
fi
positive_frame_time=$first_frame_time
stop_container || die "the positive boot left something behind"

# The negative case: the same image and kiosk URL, a page of other colours behind it. Wait
# until the kiosk shows it (so the frame is a real page, not a blank one), then the check of
# the expected page must fail on it.
write_page "${negative_colours[@]}"
boot negative
if ! capture negative "$outdir/kiosk-negative.png" "${negative_colours[@]}"; then
    die "the kiosk never showed the negative page; the last frame is $outdir/kiosk-negative.png"
fi
negative_frame_time=$first_frame_time
stop_container || die "the negative boot left something behind"
if "$python" "$here/rfb_capture.py" --check --png "$outdir/kiosk-negative.png" \
    --grid 3x2 --colours "$(
        IFS=,
        echo "${colours[*]}"
    )" 2> "$work/negative-check.log"; then
    die "the check passed on a page of other colours: it cannot fail"
fi
if [ "$image_mode" -eq 1 ]; then
    [ "$(sha256sum < "$image")" = "$image_sha256" ] || die "the booted image changed"
    say "the image is unchanged: every write of both boots went to the volatile overlay"
else
    changed=$(find "$work/root" -newer "$work/booted.stamp" -print -quit)
    [ -z "$changed" ] || die "the booted tree changed (\`$changed\`): the overlay did not take the writes"
    say "the tree is unchanged: every write of both boots went to the volatile overlay"
fi
say "negative: the check failed on the page of other colours, as it must" \
    "($(grep -c '^mismatch' "$work/negative-check.log") mismatched samples)"

say "timings: image build $build_time, boot to first frame $positive_frame_time" \
    "(negative boot $negative_frame_time)"
say "the kiosk's screen: $outdir/kiosk.png"
