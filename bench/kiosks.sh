#!/usr/bin/env bash
# Many kiosks from one image: N kiosk containers booted at once from the same squashfs, each
# read over its own VNC port until it shows its page. For each N (default 1 4 8 16) prints the
# boot-to-page time (median and p95 over the N kiosks) and the memory per kiosk, then one
# markdown table and the machine's facts.
#
#     sudo bash bench/kiosks.sh [--image KIOSK.squashfs] [N...]
#
# The image is profiles/kiosk-chromium.toml as a squashfs with its dm-verity hash tree; without
# --image the script builds it first (`debroot build kiosk-chromium -o WORK/kiosk.squashfs
# --verity`, root mode, cache KIOSKS_CACHE_DIR). Then:
# 1. `veritysetup verify` checks the image against its hash tree and root hash (KIOSK.verity,
#    KIOSK.roothash beside it), once; the image is loop-mounted read-only, once: that mount is
#    the shared lower layer of every kiosk, so the page cache holds the image's files once;
# 2. an untimed round of one kiosk warms the page cache (KIOSKS_WARMUP=0 leaves it out: then
#    the first round pays for reading and decompressing the image); then
#    per round of N, N `systemd-nspawn --directory=LOWER --read-only --volatile=overlay --boot`
#    start at once: each has its own tmpfs upper layer (writes never reach the image), its own
#    machine name, PID/mount/UTS namespaces and memory cgroup, and shares the host's network.
#    Its own wayvnc port and its own page come from two files bind-mounted read-only over the
#    image's: /etc/kiosk/wayvnc/config (port KIOSKS_VNC_BASE+i on 127.0.0.1) and
#    /etc/kiosk/sway/config.d/60-chromium (the image's chromium command line with the URL of
#    page i). Page i is served by this script on loopback: six blocks in an order of their own,
#    so a kiosk read on the wrong port shows a page that fails the check;
# 3. for each kiosk, tests/live/rfb_capture.py reads frames from its port (one a second) until
#    one shows its page: boot-to-page is the time from that kiosk's `systemd-nspawn` start to
#    that frame, and CPU to page the CPU time its cgroup used until then (user + system: the
#    figure the machine's load does not change);
# 4. when every kiosk shows its page, after KIOSKS_SETTLE seconds, the memory of each kiosk is
#    its cgroup's (everything the container's processes are charged: anonymous memory, its tmpfs
#    overlay and kernel memory, plus the image's page cache the kiosk happened to read first:
#    the first kiosks pay for the shared files), its private part (anonymous + shared memory,
#    i.e. tmpfs), and the fall of the system's MemAvailable from before the round, divided by N
#    (what one more kiosk costs the machine, shared page cache included once);
# 5. every kiosk is stopped (SIGTERM to systemd-nspawn: an orderly poweroff of the container),
#    and the round checks that no process, cgroup, nspawn state or mount of it is left. An
#    interruption (Ctrl-C, TERM) or a failure stops everything the same way (trap EXIT), then
#    unmounts the image and detaches its loop device.
#
# Settings (environment): KIOSKS_WORK (default /var/tmp/debroot-kiosks: frames, logs, the built
# image; removed at the end unless KIOSKS_KEEP=1), KIOSKS_CACHE_DIR (debroot's cache for the
# build), KIOSKS_HTTP_PORT (18180), KIOSKS_VNC_BASE (16000: kiosk i listens on BASE+i),
# KIOSKS_TIMEOUT (600 s, per round), KIOSKS_SETTLE (10 s).
# Needs: root, systemd-nspawn (systemd-container), losetup/mount (util-linux), veritysetup
# (cryptsetup-bin), python3; a host whose PID 1 is systemd (machined puts each kiosk in its own
# scope) or, without systemd, cgroup v1 (the script makes a cgroup per kiosk), as on CI.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=../tests/live/lib/kiosk.sh
. "$repo/tests/live/lib/kiosk.sh"

usage() {
    echo "usage: $0 [--image KIOSK.squashfs] [N...]" >&2
    exit 2
}
image=""
if [ "${1:-}" = "--image" ]; then
    [ $# -ge 2 ] || usage
    image=$(realpath "$2")
    shift 2
fi
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(1 4 8 16)
for n in "${counts[@]}"; do
    case "$n" in "" | *[!0-9]* | 0*) usage ;; esac
done

work=${KIOSKS_WORK:-/var/tmp/debroot-kiosks}
http_port=${KIOSKS_HTTP_PORT:-18180}
vnc_base=${KIOSKS_VNC_BASE:-16000}
timeout=${KIOSKS_TIMEOUT:-600}
settle=${KIOSKS_SETTLE:-10}
python=/usr/bin/python3
[ -x "$python" ] || python=python3
resolution=1280x800
colours=(d02020 20a040 2040d0 f0c020 20c0c0 a020a0)

say() { echo "kiosks: $*" >&2; }
die() {
    say "error: $*"
    exit 1
}
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

[ "$(id -u)" -eq 0 ] || die "needs root (systemd-nspawn, mount)"
for command in systemd-nspawn losetup mount umount veritysetup "$python"; do
    command -v "$command" > /dev/null || die "\`$command\` is not installed"
done
kiosk_port_free "$python" "$http_port" || die "port $http_port on 127.0.0.1 is in use (KIOSKS_HTTP_PORT)"

# Where each kiosk's memory is counted. With systemd as PID 1, machined gives each container a
# scope (machine-NAME.scope). Without it, nspawn keeps the container in the cgroup it starts in
# (--keep-unit), and N of them in one cgroup would share nspawn's payload/ sub-cgroup and their
# systemds would manage each other's processes: each kiosk starts in cgroups of its own, made
# here in every v1 hierarchy nspawn uses (name=systemd, memory) and in the unified one.
if [ -d /run/systemd/system ]; then
    cgroup_mode=machined
elif [ -f /sys/fs/cgroup/memory/cgroup.procs ] && [ -d /sys/fs/cgroup/systemd ]; then
    cgroup_mode=v1
else
    die "without systemd as PID 1 this script needs cgroup v1 (a memory and a name=systemd hierarchy)"
fi
# cgroup_dir HIERARCHY: this script's own cgroup in /sys/fs/cgroup/HIERARCHY.
cgroup_dir() {
    local field
    case "$1" in
        memory) field=memory ;;
        cpuacct) field=$(awk -F: '$2 ~ /(^|,)cpuacct(,|$)/ { print $2; exit }' /proc/self/cgroup) ;;
        systemd) field=name=systemd ;;
        unified) field="" ;;
    esac
    local path
    path=$(awk -F: -v f="$field" '$2 == f { print $3; exit }' /proc/self/cgroup)
    echo "/sys/fs/cgroup/$1${path%/}"
}
hierarchies=(memory systemd)
[ ! -f /sys/fs/cgroup/cpuacct/cpuacct.usage ] || hierarchies+=(cpuacct)
[ ! -f /sys/fs/cgroup/unified/cgroup.procs ] || hierarchies+=(unified)
declare -A cgroup_base=()
if [ "$cgroup_mode" = v1 ]; then
    for h in "${hierarchies[@]}"; do
        cgroup_base[$h]="$(cgroup_dir "$h")/debroot-kiosks-$$"
    done
fi

# --- cleanup, whatever happens ---------------------------------------------------------------
lower="$work/lower"
loop=""
http_pid=""
declare -a nspawn_pids=() names=()
mounted=0

# rmdir_tree DIR: removes a cgroup and the cgroups under it, deepest first.
rmdir_tree() {
    [ -d "$1" ] || return 0
    find "$1" -depth -type d -exec rmdir {} + 2> /dev/null || true
    [ ! -d "$1" ]
}

# cgroup_processes: prints each process still in a cgroup of the kiosks (v1 mode).
cgroup_processes() {
    local h
    for h in "${hierarchies[@]}"; do
        [ -d "${cgroup_base[$h]:-/nonexistent}" ] || continue
        find "${cgroup_base[$h]}" -name cgroup.procs -exec cat {} + 2> /dev/null
    done | sort -un
}

# stop_kiosks: stops every running kiosk of the round, then checks nothing of them is left.
stop_kiosks() {
    [ ${#nspawn_pids[@]} -gt 0 ] || return 0
    local pid left=0 i
    for pid in "${nspawn_pids[@]}"; do
        kill -TERM "$pid" 2> /dev/null || true
    done
    for _ in $(seq 300); do
        local running=0
        for pid in "${nspawn_pids[@]}"; do
            ! kill -0 "$pid" 2> /dev/null || running=1
        done
        [ "$running" -eq 1 ] || break
        sleep 0.1
    done
    for pid in "${nspawn_pids[@]}"; do
        if kill -0 "$pid" 2> /dev/null; then
            say "a kiosk (systemd-nspawn $pid) did not power off in 30s; killing it"
            pkill -KILL -P "$pid" 2> /dev/null || true
            sleep 1
            kill -KILL "$pid" 2> /dev/null || true
        fi
        wait "$pid" 2> /dev/null || true
    done
    if [ "$cgroup_mode" = v1 ]; then
        for pid in $(cgroup_processes); do
            say "left behind: process $pid ($(cat "/proc/$pid/comm" 2> /dev/null)); killing it"
            kill -KILL "$pid" 2> /dev/null || true
            left=1
        done
        sleep 0.2
        local h
        for h in "${hierarchies[@]}"; do
            for i in "${!names[@]}"; do
                rmdir_tree "${cgroup_base[$h]}/k$i" || {
                    say "left behind: cgroup ${cgroup_base[$h]}/k$i"
                    left=1
                }
            done
        done
    fi
    for i in "${!names[@]}"; do
        if [ -e "/run/systemd/nspawn/propagate/${names[$i]}" ]; then
            say "left behind: /run/systemd/nspawn/propagate/${names[$i]}"
            left=1
        fi
        if [ "$cgroup_mode" = machined ] && machinectl status "${names[$i]}" > /dev/null 2>&1; then
            say "left behind: machine ${names[$i]}"
            left=1
        fi
    done
    if [ "$mounted" -eq 1 ] && [ "$(grep -cF " $lower " /proc/self/mountinfo)" -ne 1 ]; then
        say "left behind: mounts on $lower:"
        grep -F " $lower" /proc/self/mountinfo >&2
        left=1
    fi
    nspawn_pids=()
    names=()
    [ "$left" -eq 0 ]
}

on_exit() {
    local status=$?
    trap '' INT TERM
    stop_kiosks || status=1
    jobs -p | xargs -r kill 2> /dev/null || true
    if [ -n "$http_pid" ]; then
        kill "$http_pid" 2> /dev/null || true
        wait "$http_pid" 2> /dev/null || true
    fi
    if [ "$mounted" -eq 1 ]; then
        umount "$lower" || status=1
    fi
    if [ -n "$loop" ]; then
        losetup -d "$loop" 2> /dev/null || true
    fi
    if [ -n "$image" ] && [ -n "$(losetup -j "$image" 2> /dev/null)" ]; then
        say "left behind: a loop device on $image:"
        losetup -j "$image" >&2
        status=1
    fi
    if [ "$cgroup_mode" = v1 ]; then
        local h
        for h in "${hierarchies[@]}"; do
            rmdir_tree "${cgroup_base[$h]}" || {
                say "left behind: cgroup ${cgroup_base[$h]}"
                status=1
            }
        done
    fi
    if [ "$status" -eq 0 ] && [ "${KIOSKS_KEEP:-0}" != 1 ]; then
        rm -rf "$work"
    else
        say "logs and frames in $work"
    fi
    exit "$status"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

mkdir -p "$work"
[ ! -e "$lower" ] || rmdir "$lower" 2> /dev/null || die "$lower exists (a previous run still mounted?)"
mkdir -p "$lower" "$work/www"

# --- the image -------------------------------------------------------------------------------
if [ -z "$image" ]; then
    (cd "$repo" && cargo build --release --quiet)
    image="$work/kiosk.squashfs"
    say "building the image ($image)"
    started=$EPOCHREALTIME
    "$repo/target/release/debroot" build kiosk-chromium -o "$image" --verity --mode root \
        ${KIOSKS_CACHE_DIR:+--cache-dir "$KIOSKS_CACHE_DIR"} > "$work/build.log" 2>&1 ||
        die "the build failed; see $work/build.log"
    say "build: $(elapsed "$started" "$EPOCHREALTIME")s"
fi
[ -f "$image" ] || die "$image is not a file"
if [ -f "$image.verity" ] && [ -f "$image.roothash" ]; then
    started=$EPOCHREALTIME
    veritysetup verify "$image" "$image.verity" "$(cat "$image.roothash")" ||
        die "veritysetup verify failed on $image"
    say "veritysetup verify: $image matches its hash tree ($(elapsed "$started" "$EPOCHREALTIME")s)"
else
    say "no $image.verity and $image.roothash beside the image: not verified"
fi
loop=$(losetup --find --show --read-only "$image")
mount -t squashfs -o ro "$loop" "$lower"
mounted=1
chromium_line=$(grep '^exec /usr/bin/chromium ' "$lower/etc/kiosk/sway/config.d/60-chromium") ||
    die "$image has no kiosk-chromium session (/etc/kiosk/sway/config.d/60-chromium)"

# --- per kiosk: its page, its port ------------------------------------------------------------
# kiosk_colours I: the colours of kiosk I's page, a permutation of its own (I < 720).
kiosk_colours() {
    "$python" -c 'import itertools, sys
perms = list(itertools.permutations(sys.argv[2:]))
print(" ".join(perms[int(sys.argv[1]) * 7 % len(perms)]))' "$1" "${colours[@]}"
}
max=0
for n in "${counts[@]}"; do [ "$n" -le "$max" ] || max=$n; done
[ "$max" -le 720 ] || die "at most 720 kiosks (one page order each)"
declare -a page_colours=()
for ((i = 0; i < max; i++)); do
    page_colours[i]=$(kiosk_colours "$i")
    # shellcheck disable=SC2086 # the colours are words
    kiosk_write_page "$work/www/kiosk-$i.html" ${page_colours[i]}
    kiosk_port_free "$python" "$((vnc_base + i))" ||
        die "port $((vnc_base + i)) on 127.0.0.1 is in use (KIOSKS_VNC_BASE)"
    mkdir -p "$work/k$i"
    printf 'address=127.0.0.1\nport=%s\n' "$((vnc_base + i))" > "$work/k$i/wayvnc.config"
    url="http://127.0.0.1:$http_port/kiosk-$i.html"
    printf '# bench/kiosks.sh: the image'"'"'s chromium on page %s\n%s\n' "$i" \
        "$(sed "s|'[^']*'\$|'$url'|" <<< "$chromium_line")" > "$work/k$i/60-chromium"
done
"$python" -m http.server "$http_port" --bind 127.0.0.1 --directory "$work/www" \
    > "$work/http.log" 2>&1 &
http_pid=$!

# --- the rounds ------------------------------------------------------------------------------
mem_available() { awk '$1 == "MemAvailable:" { printf "%.0f\n", $2 * 1024 }' /proc/meminfo; }
mib() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }
# quantile Q VALUE...: the Q-quantile (nearest rank) of the values.
quantile() {
    local q=$1
    shift
    printf '%s\n' "$@" | sort -g | awk -v q="$q" '{ a[NR] = $1 }
        END { r = int(q * NR + 0.999999); if (r < 1) r = 1; print a[r] }'
}
# kiosk_scope I: the cgroup (below /sys/fs/cgroup) machined made for kiosk I (machined mode).
kiosk_scope() {
    local unit scope
    unit=$(machinectl show -P Unit "${names[$1]}") && [ -n "$unit" ] &&
        scope=$(systemctl show -P ControlGroup "$unit") && [ -n "$scope" ] ||
        die "no cgroup for machine ${names[$1]}"
    echo "$scope"
}
# kiosk_cpu I: prints the CPU time (user + system, in seconds) kiosk I has used so far.
kiosk_cpu() {
    if [ "$cgroup_mode" = v1 ]; then
        if [ -n "${cgroup_base[cpuacct]:-}" ]; then
            awk '{ printf "%.2f\n", $1 / 1e9 }' "${cgroup_base[cpuacct]}/k$1/cpuacct.usage"
        else
            echo "?"
        fi
    else
        local scope
        scope=$(kiosk_scope "$1")
        awk '$1 == "usage_usec" { printf "%.2f\n", $2 / 1e6 }' "/sys/fs/cgroup$scope/cpu.stat"
    fi
}
# kiosk_memory I: prints "TOTAL PRIVATE" in bytes for kiosk I.
kiosk_memory() {
    if [ "$cgroup_mode" = v1 ]; then
        local d="${cgroup_base[memory]}/k$1"
        awk -v usage="$(cat "$d/memory.usage_in_bytes")" '
            $1 == "total_rss" || $1 == "total_shmem" { private += $2 }
            END { print usage, private }' "$d/memory.stat"
    else
        local scope
        scope=$(kiosk_scope "$1")
        awk -v usage="$(cat "/sys/fs/cgroup$scope/memory.current")" '
            $1 == "anon" || $1 == "shmem" { private += $2 }
            END { print usage, private }' "/sys/fs/cgroup$scope/memory.stat"
    fi
}

declare -a table=()
# round N LABEL: boots N kiosks, waits for every page, measures, stops them; adds a row to the
# table unless LABEL is `warm-up`.
round() {
    local n=$1 label=$2 i h
    local round="$work/$label"
    mkdir -p "$round"
    say "round $label: starting $n kiosks"
    sync
    local available_before available_after drop sum total private failed stop_started
    local median_time p95_time median_cpu median_total median_private
    available_before=$(mem_available)
    local -a started_at=() capture_pids=() times=() cpus=() totals=() privates=() register cgroup_procs
    for ((i = 0; i < n; i++)); do
        names[i]="kiosks-$$-n$n-k$i"
        register=(--register=yes)
        if [ "$cgroup_mode" = v1 ]; then
            register=(--register=no --keep-unit)
            for h in "${hierarchies[@]}"; do
                mkdir -p "${cgroup_base[$h]}/k$i"
            done
        fi
        cgroup_procs=()
        for h in "${hierarchies[@]}"; do
            [ "$cgroup_mode" = machined ] || cgroup_procs+=("${cgroup_base[$h]}/k$i/cgroup.procs")
        done
        started_at[i]=$EPOCHREALTIME
        # The shell joins the kiosk's cgroups, then becomes systemd-nspawn.
        sh -c 'for f in "$@"; do [ "$f" = -- ] && break; echo $$ > "$f"; done
               while [ "$1" != -- ]; do shift; done; shift; exec "$@"' sh \
            "${cgroup_procs[@]}" -- \
            systemd-nspawn --quiet --directory="$lower" --read-only --volatile=overlay --boot \
            --machine="${names[i]}" "${register[@]}" --console=read-only \
            --bind-ro="$work/k$i/wayvnc.config:/etc/kiosk/wayvnc/config" \
            --bind-ro="$work/k$i/60-chromium:/etc/kiosk/sway/config.d/60-chromium" \
            < /dev/null > "$round/k$i-console.log" 2>&1 &
        nspawn_pids[i]=$!
    done
    for ((i = 0; i < n; i++)); do
        # shellcheck disable=SC2086 # the colours are words
        (
            if "$python" "$repo/tests/live/rfb_capture.py" --port "$((vnc_base + i))" \
                --size "$resolution" --grid 3x2 --colours "$(tr ' ' , <<< "${page_colours[i]}")" \
                --png "$round/k$i.png" --timeout "$timeout" --interval 1 \
                > "$round/k$i-capture.log" 2>&1; then
                echo "$EPOCHREALTIME" > "$round/k$i.page"
                kiosk_cpu "$i" > "$round/k$i.cpu"
            fi
        ) &
        capture_pids[i]=$!
    done
    failed=0
    for ((i = 0; i < n; i++)); do
        wait "${capture_pids[i]}" || true
        if [ ! -f "$round/k$i.page" ]; then
            say "kiosk $i of round $label never showed its page: $(tail -n 1 "$round/k$i-capture.log")" \
                "(console: $round/k$i-console.log, last frame: $round/k$i.png)"
            failed=1
        fi
    done
    [ "$failed" -eq 0 ] || die "round $label failed"
    for ((i = 0; i < n; i++)); do
        times[i]=$(elapsed "${started_at[i]}" "$(cat "$round/k$i.page")")
        cpus[i]=$(cat "$round/k$i.cpu")
    done
    say "$label: every kiosk shows its page; boot-to-page (s): ${times[*]}; CPU to page (s): ${cpus[*]}"
    sleep "$settle"
    sum=0
    for ((i = 0; i < n; i++)); do
        read -r total private <<< "$(kiosk_memory "$i")"
        totals[i]=$total
        privates[i]=$private
        sum=$((sum + total))
    done
    available_after=$(mem_available)
    drop=$((available_before - available_after))
    median_time=$(quantile 0.5 "${times[@]}")
    p95_time=$(quantile 0.95 "${times[@]}")
    median_cpu=$(quantile 0.5 "${cpus[@]}")
    median_total=$(mib "$(quantile 0.5 "${totals[@]}")")
    median_private=$(mib "$(quantile 0.5 "${privates[@]}")")
    say "$label: memory per kiosk (MiB, cgroup): $(for t in "${totals[@]}"; do printf '%s ' "$(mib "$t")"; done)"
    [ "$label" = warm-up ] ||
        table+=("| $n | $median_time s | $p95_time s | $median_cpu s | $median_total MiB | $median_private MiB | $(mib "$sum") MiB | $(mib "$drop") MiB | $(mib $((drop / n))) MiB |")
    stop_started=$EPOCHREALTIME
    stop_kiosks || die "round $label left something behind"
    say "$label: stopped every kiosk in $(elapsed "$stop_started" "$EPOCHREALTIME")s; nothing left behind"
}

# The first boot from a fresh mount reads the image's files from disk and decompresses them
# (cold page cache); every later boot finds them in memory. An untimed round of one kiosk first
# makes every measured round start from the same, warm state (KIOSKS_WARMUP=0 measures cold).
if [ "${KIOSKS_WARMUP:-1}" != 0 ]; then
    round 1 warm-up
fi
for n in "${counts[@]}"; do
    round "$n" "n$n"
done

# --- the table -------------------------------------------------------------------------------
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
{
    echo
    echo "Kiosks from one image ($(basename "$image"), $(mib "$(stat -c %s "$image")") MiB squashfs), $(date -u +%Y-%m-%d):"
    echo
    echo "| N | boot-to-page median | p95 | CPU to page per kiosk (median) | memory per kiosk (cgroup, median) | private (anon + tmpfs, median) | all kiosks' cgroups | MemAvailable drop | drop / N |"
    echo "|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${table[@]}"
    echo
    echo "Machine: $(nproc) CPUs ($cpu), $(mib "$(awk '$1 == "MemTotal:" { printf "%.0f\n", $2 * 1024 }' /proc/meminfo)") MiB," \
        "kernel $(uname -r), $(systemd-nspawn --version | head -n 1); load average at the end:" \
        "$(cut -d' ' -f1-3 /proc/loadavg)."
} | tee "$work/table.md"
