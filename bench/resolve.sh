#!/usr/bin/env bash
# How long `debroot lock` takes to resolve minbase, and minbase + the kiosk set (sway, wayvnc,
# chromium, seatd, foot), from the warm index cache: verify the three suites' InRelease (one
# request each), read and parse the cached indexes (~69,000 stanzas), build the universe,
# resolve, write the lock. Prints the median wall time of N runs (default 5) of each.
#
# With BENCH_TSV=FILE it appends each profile's median and peak memory to FILE (bench/lib.sh);
# the kiosk set's target (issue 19): under 0.25 s and 128 MiB.
#
# Usage: bash bench/resolve.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
runs=${1:-5}
cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp profiles/minbase.toml "$work/minbase.toml"
sed 's/^include = \[\]/include = ["sway", "wayvnc", "chromium", "seatd", "foot"]/' \
    profiles/minbase.toml > "$work/kiosk.toml"
debroot="$PWD/target/release/debroot"
for profile in minbase kiosk; do
    "$debroot" -q lock "$work/$profile.toml" --cache-dir "$work/cache" >/dev/null  # warm the cache
    times=()
    peaks=()
    for _ in $(seq "$runs"); do
        python3 bench/peak.py "$work/report" -- \
            "$debroot" -q lock --update "$work/$profile.toml" --cache-dir "$work/cache"
        read -r seconds peak < "$work/report"
        times+=("$seconds")
        peaks+=("$peak")
    done
    packages=$(grep -c '^\[\[package\]\]' "$work/$profile.lock")
    echo "$profile: $packages packages, median of $runs runs: $(median "${times[@]}") s (times: ${times[*]}), peak $(( $(median "${peaks[@]}") / 1024 )) MiB"
    if [ "$profile" = kiosk ]; then
        bench_row "lock --update kiosk set (warm index cache)" "$(median "${times[@]}")" - - \
            "< 0.25 s" "$(median "${peaks[@]}")" - 128
    else
        bench_row "lock --update minbase (warm index cache)" "$(median "${times[@]}")" - - - \
            "$(median "${peaks[@]}")" -
    fi
done
