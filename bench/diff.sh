#!/usr/bin/env bash
# `debroot diff` against diffoscope on two minbase trixie tarballs that differ in one file,
# interleaved, N runs each (default 3). Prints each run, the medians and the ratio
# diffoscope/debroot (the target is at least 10).
#
# The pair: A is `debroot build` of minbase; B is the same lock built again with one customize
# hook, `echo changed > "$1/etc/motd"`. Both are plain .tar, in a temporary directory (or in
# DIR when given, reusing A.tar and B.tar found there). Both tools write their report to
# /dev/null; both exit 1 (the files differ), which is checked.
#
# With BENCH_TSV=FILE it appends the comparison and both tools' peak memory to FILE
# (bench/lib.sh).
#
# Usage: sudo bash bench/diff.sh [RUNS] [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
runs=${1:-3}
command -v diffoscope >/dev/null || { echo "bench/diff.sh: apt-get install diffoscope" >&2; exit 2; }
cargo build --release --quiet
debroot="$PWD/target/release/debroot"
if [ -n "${2:-}" ]; then
    work=$2
else
    [ "$(id -u)" = 0 ] || { echo "bench/diff.sh: run as root to build the pair (or give DIR)" >&2; exit 2; }
    work=$(mktemp -d /var/tmp/debroot-bench-diff.XXXXXX)
    trap 'rm -rf "$work"' EXIT
fi
if [ ! -f "$work/A.tar" ] || [ ! -f "$work/B.tar" ]; then
    cp profiles/minbase.toml "$work/minbase.toml"
    "$debroot" -q build "$work/minbase.toml" -o "$work/A.tar" --cache-dir "$work/cache"
    "$debroot" -q build "$work/minbase.toml" -o "$work/B.tar" --cache-dir "$work/cache" \
        --customize-hook 'echo changed > "$1/etc/motd"'
fi
echo "pair: $(du -h "$work/A.tar" | cut -f1) each, $(tar -tf "$work/A.tar" | wc -l) members"

# Seconds a command takes; its exit status must be 1 ("differ"). Its peak (KiB) goes to
# $work/peak.
timed() {
    local status=0 seconds peak
    python3 bench/peak.py "$work/report" -- "$@" > /dev/null 2>&1 || status=$?
    [ "$status" = 1 ] || { echo "bench/diff.sh: $1 exited $status, expected 1" >&2; exit 2; }
    read -r seconds peak _ < "$work/report"
    echo "$peak" > "$work/peak"
    python3 -c "print(round($seconds, 3))"
}

d_times=() o_times=() d_peaks=() o_peaks=()
for run in $(seq "$runs"); do
    d_times+=("$(timed "$debroot" diff "$work/A.tar" "$work/B.tar")")
    d_peaks+=("$(cat "$work/peak")")
    o_times+=("$(timed diffoscope --no-progress "$work/A.tar" "$work/B.tar")")
    o_peaks+=("$(cat "$work/peak")")
    echo "run $run: debroot diff ${d_times[-1]} s, diffoscope ${o_times[-1]} s"
done
d=$(median "${d_times[@]}")
o=$(median "${o_times[@]}")
echo "median: debroot diff $d s, diffoscope $o s, ratio diffoscope/debroot" \
    "$(python3 -c "print(round($o / $d, 1))") (target >= 10)"
bench_row "diff two minbase .tar vs diffoscope" "$d" diffoscope "$o" ">= 10" \
    "$(median "${d_peaks[@]}")" "$(median "${o_peaks[@]}")"
echo "debroot diff's report:"
"$debroot" diff "$work/A.tar" "$work/B.tar" || true
