#!/usr/bin/env bash
# `debroot build` against mmdebstrap on the same machine, interleaved, N runs each (default 3),
# for minbase trixie and for minbase + the kiosk set (sway wayvnc chromium seatd foot), both
# into an uncompressed tarball. Prints each run, the medians, the ratio mmdebstrap/debroot (the
# target is at least 3), debroot's phase breakdown (medians) and the peak memory of each
# tool's whole process tree (the target for debroot's kiosk build is at most 256 MB).
#
# debroot runs as a user would run it with a warm cache (after one untimed build of the same
# lock): `debroot build PROFILE -o OUT.tar` (the lock checked against the profile, packages and
# their decompressed data from the cache, root mode). mmdebstrap
# runs as its manual's plain command, `mmdebstrap --variant=minbase [--include=...] trixie
# OUT.tar`, with the host's mirror (it has no package cache of its own between runs).
#
# Usage: sudo bash bench/build.sh [minbase|kiosk|all] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-all}
runs=${2:-3}
[ "$(id -u)" = 0 ] || { echo "bench/build.sh: run as root (root mode for both tools)" >&2; exit 2; }
command -v mmdebstrap >/dev/null || { echo "bench/build.sh: apt-get install mmdebstrap" >&2; exit 2; }
cargo build --release --quiet
debroot="$PWD/target/release/debroot"
work=$(mktemp -d /var/tmp/debroot-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

uris=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
    | grep -E '^(URIs:|deb )' | tr ' ' '\n' | grep -E '^(https?|file)://' || true)
main=$(grep -v -- '-security' <<<"$uris" | awk 'NR == 1')
security=$(grep -- '-security' <<<"$uris" | awk 'NR == 1')
security=${security:-${main%/debian}/debian-security}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

bench() { # NAME INCLUDE...
    local name=$1
    shift
    local include=("$@")
    local profile="$work/$name.toml"
    local quoted
    quoted=$(for p in "${include[@]}"; do printf '"%s", ' "$p"; done)
    sed "s/^include = \[\]/include = [${quoted%, }]/" profiles/minbase.toml > "$profile"
    local mm_include=()
    if [ ${#include[@]} -gt 0 ]; then
        mm_include=("--include=$(IFS=,; echo "${include[*]}")")
    fi
    # Warm-up (not timed): the lock written and the cache filled, by one build, as a user's
    # cache is after the first build of a lock (packages and their decompressed data.tar).
    "$debroot" -q build "$profile" -o "$work/warm-up.tar" --cache-dir "$work/cache"
    rm -f "$work/warm-up.tar" "$work/warm-up.tar.manifest.json"
    local d_times=() m_times=() d_peaks=() m_peaks=() phases=()
    for run in $(seq "$runs"); do
        rm -f "$work/$name.tar" "$work/$name.tar.manifest.json"
        python3 bench/peak.py "$work/report" -- "$debroot" -v build "$profile" \
            -o "$work/$name.tar" --cache-dir "$work/cache" 2> "$work/debroot.log"
        read -r seconds peak < "$work/report"
        d_times+=("$seconds")
        d_peaks+=("$peak")
        phases+=("$(grep -o 'phases: .*' "$work/debroot.log" | tail -1)")

        rm -f "$work/mm-$name.tar"
        python3 bench/peak.py "$work/report" -- mmdebstrap --quiet --variant=minbase \
            "${mm_include[@]}" trixie "$work/mm-$name.tar" \
            "deb $main trixie main" "deb $main trixie-updates main" \
            "deb $security trixie-security main"
        read -r seconds peak < "$work/report"
        m_times+=("$seconds")
        m_peaks+=("$peak")
        echo "$name run $run: debroot ${d_times[-1]} s (peak $((d_peaks[-1] / 1024)) MiB)," \
            "mmdebstrap ${m_times[-1]} s (peak $((m_peaks[-1] / 1024)) MiB)"
        echo "  debroot ${phases[-1]}"
    done
    local d m
    d=$(median "${d_times[@]}")
    m=$(median "${m_times[@]}")
    echo "$name: median debroot $d s, mmdebstrap $m s, ratio mmdebstrap/debroot" \
        "$(python3 -c "print(round($m / $d, 2))") (target >= 3)"
    echo "$name: debroot phases (median s):" "$(printf '%s\n' "${phases[@]}" | python3 -c '
import re, sys, statistics
runs = [dict((k, float(v)) for k, v in re.findall(r"([\w-]+) ([\d.]+)s", line)) for line in sys.stdin]
names = list(dict.fromkeys(k for r in runs for k in r))
print(", ".join(f"{n} {statistics.median(r.get(n, 0) for r in runs):.2f}" for n in names))')"
    echo "$name: peak memory of the process tree: debroot $(( $(median "${d_peaks[@]}") / 1024 )) MiB," \
        "mmdebstrap $(( $(median "${m_peaks[@]}") / 1024 )) MiB (median of runs)"
}

case $which in
    minbase) bench minbase ;;
    kiosk) bench kiosk sway wayvnc chromium seatd foot ;;
    all)
        bench minbase
        bench kiosk sway wayvnc chromium seatd foot
        ;;
    *) echo "usage: bash bench/build.sh [minbase|kiosk|all] [RUNS]" >&2; exit 2 ;;
esac
