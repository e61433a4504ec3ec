#!/usr/bin/env bash
# How long `debroot lock` takes to resolve minbase, and minbase + the kiosk set (sway, wayvnc,
# chromium, seatd, foot), from the warm index cache: verify the three suites' InRelease (one
# request each), read and parse the cached indexes (~69,000 stanzas), build the universe,
# resolve, write the lock. Prints the median wall time of N runs (default 5) of each.
#
# Usage: bash bench/resolve.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp profiles/minbase.toml "$work/minbase.toml"
sed 's/^include = \[\]/include = ["sway", "wayvnc", "chromium", "seatd", "foot"]/' \
    profiles/minbase.toml > "$work/kiosk.toml"
debroot="$PWD/target/release/debroot"
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for profile in minbase kiosk; do
    "$debroot" -q lock "$work/$profile.toml" --cache-dir "$work/cache" >/dev/null  # warm the cache
    times=()
    for _ in $(seq "$runs"); do
        start=$(date +%s.%N)
        "$debroot" -q lock --update "$work/$profile.toml" --cache-dir "$work/cache"
        end=$(date +%s.%N)
        times+=("$(python3 -c "print(round($end - $start, 3))")")
    done
    packages=$(grep -c '^\[\[package\]\]' "$work/$profile.lock")
    echo "$profile: $packages packages, median of $runs runs: $(median "${times[@]}") s (times: ${times[*]})"
done
