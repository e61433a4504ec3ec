#!/usr/bin/env bash
# The output formats side by side: `debroot build` of the same lock as .tar, .squashfs, .erofs
# and .ext4 (each with its dm-verity hash tree for the images, as a kiosk ships them), and
# mmdebstrap's squashfs and ext2 images of the same package set (mmdebstrap 1.3.5, Debian
# stable's, writes squashfs with tar2sqfs and ext2 with genext2fs; its ext4 needs e2fsprogs
# 1.47.1, newer than stable's), interleaved on the same machine, N runs each (default 3), for
# minbase trixie and for minbase + the kiosk set (sway wayvnc chromium seatd foot). Prints each
# run, then per format the median time, the ratio against debroot's .tar of the same round,
# and the size.
#
# Both tools run with a warm package cache (mmdebstrap with its manual's sync-in/sync-out
# cache hooks and eatmydata, as in bench/build.sh's "cached" configuration).
#
# Each run is preceded by bench/lib.sh `warm` (the tool's cache read into memory) and `settle`
# (sync and wait for the dirty pages to drain).
# With BENCH_TSV=FILE it appends one row per debroot format to FILE (bench/lib.sh): against
# mmdebstrap's image of the same kind where it writes one (.squashfs against its .squashfs,
# .ext4 against its .ext2), with the peak memory of each tool's process tree (bench/peak.py).
#
# Usage: sudo bash bench/images.sh [minbase|kiosk|all] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
which=${1:-all}
runs=${2:-3}
[ "$(id -u)" = 0 ] || { echo "bench/images.sh: run as root (root mode for both tools)" >&2; exit 2; }
for tool in mmdebstrap tar2sqfs genext2fs dpkg-architecture; do
    command -v "$tool" >/dev/null || {
        echo "bench/images.sh: needs $tool (apt-get install mmdebstrap squashfs-tools-ng genext2fs dpkg-dev)" >&2
        exit 2
    }
done
cargo build --release --quiet
debroot="$PWD/target/release/debroot"
work=$(mktemp -d /var/tmp/debroot-bench-images.XXXXXX)
trap 'rm -rf "$work"' EXIT

uris=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
    | grep -E '^(URIs:|deb )' | tr ' ' '\n' | grep -E '^(https?|file)://' || true)
main=$(grep -v -- '-security' <<<"$uris" | awk 'NR == 1')
security=$(grep -- '-security' <<<"$uris" | awk 'NR == 1')
security=${security:-${main%/debian}/debian-security}

seconds() { # COMMAND...: runs it, prints its wall time in seconds; its peak (KiB) in $work/peak
    python3 bench/peak.py "$work/report" -- "$@" >/dev/null 2>"$work/last.log" \
        || { cat "$work/last.log" >&2; exit 1; }
    local t p
    read -r t p _ < "$work/report"
    echo "$p" > "$work/peak"
    python3 -c "print(round($t, 2))"
}

bench() { # NAME INCLUDE...
    local name=$1
    shift
    local include=("$@")
    local profile="$work/$name.toml"
    local quoted
    quoted=$(for p in "${include[@]}"; do printf '"%s", ' "$p"; done)
    sed "s/^include = \[\]/include = [${quoted%, }]/" profiles/minbase.toml > "$profile"
    local mm=(mmdebstrap --quiet --variant=minbase)
    if [ ${#include[@]} -gt 0 ]; then
        mm+=("--include=$(IFS=,; echo "${include[*]}")")
    fi
    local mm_sources=("deb $main trixie main" "deb $main trixie-updates main"
        "deb $security trixie-security main")
    local mm_cache="$work/mm-cache-$name"
    mkdir -p "$mm_cache"
    mm+=(--skip=essential/unlink
        --setup-hook="mkdir -p '$mm_cache' \"\$1\"/var/cache/apt/archives/"
        --setup-hook="sync-in '$mm_cache' /var/cache/apt/archives/"
        --customize-hook="sync-out /var/cache/apt/archives '$mm_cache'"
        --hook-dir=/usr/share/mmdebstrap/hooks/eatmydata)
    # Warm-up (not timed): the lock and both caches filled.
    "$debroot" -q build "$profile" -o "$work/warm-up.tar" --cache-dir "$work/cache"
    "${mm[@]}" trixie "$work/warm-up.tar" "${mm_sources[@]}" 2>/dev/null
    rm -f "$work"/warm-up.tar*
    local formats=(tar squashfs erofs ext4 mm.squashfs mm.ext2)
    declare -A times sizes peaks
    for run in $(seq "$runs"); do
        local line="$name run $run:"
        for format in "${formats[@]}"; do
            local out="$work/$name.$format"
            rm -f "$out"*
            case $format in
                mm.*) warm "$mm_cache" ;;
                *) warm "$work/cache" ;;
            esac
            settle
            local t
            case $format in
                tar) t=$(seconds "$debroot" -q build "$profile" -o "$out" --cache-dir "$work/cache") ;;
                mm.*) t=$(seconds "${mm[@]}" trixie "$out" "${mm_sources[@]}") ;;
                *) t=$(seconds "$debroot" -q build "$profile" -o "$out" --verity --cache-dir "$work/cache") ;;
            esac
            times[$format]="${times[$format]:-} $t"
            peaks[$format]="${peaks[$format]:-} $(cat "$work/peak")"
            sizes[$format]=$(stat -c %s "$out")
            line="$line $format ${t}s"
        done
        echo "$line"
    done
    local tar_median
    # shellcheck disable=SC2086
    tar_median=$(median ${times[tar]})
    printf '%s: %-12s %10s %8s %12s\n' "$name" format "median s" "÷ .tar" "size MiB"
    for format in "${formats[@]}"; do
        local m
        # shellcheck disable=SC2086
        m=$(median ${times[$format]})
        printf '%s: %-12s %10s %8s %12s\n' "$name" "$format" "$m" \
            "$(python3 -c "print(round($m / $tar_median, 2))")" \
            "$(python3 -c "print(round(${sizes[$format]} / 1048576, 1))")"
    done
    local label=$name
    [ "$name" = kiosk ] && label="kiosk set"
    for format in tar squashfs erofs ext4; do
        local anchor=- anchor_s=- anchor_peak=- what="build $label .$format"
        case $format in
            squashfs) anchor=mm.squashfs ;;
            ext4) anchor=mm.ext2 ;;
        esac
        [ "$format" = tar ] || what="$what --verity"
        if [ "$anchor" != - ]; then
            # shellcheck disable=SC2086
            anchor_s=$(median ${times[$anchor]})
            # shellcheck disable=SC2086
            anchor_peak=$(median ${peaks[$anchor]})
            what="$what vs mmdebstrap .${anchor#mm.}"
            anchor="mmdebstrap cached .${anchor#mm.}"
        fi
        # shellcheck disable=SC2086
        bench_row "$what" "$(median ${times[$format]})" "$anchor" "$anchor_s" - \
            "$(median ${peaks[$format]})" "$anchor_peak"
    done
}

case $which in
    minbase) bench minbase ;;
    kiosk) bench kiosk sway wayvnc chromium seatd foot ;;
    all)
        bench minbase
        bench kiosk sway wayvnc chromium seatd foot
        ;;
    *) echo "usage: $0 [minbase|kiosk|all] [RUNS]" >&2; exit 2 ;;
esac
