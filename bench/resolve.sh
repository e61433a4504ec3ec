#!/usr/bin/env bash
# How long `debroot lock` takes to resolve minbase, and minbase + the kiosk set (sway, wayvnc,
# chromium, seatd, foot), from the warm index cache: verify the three suites' InRelease (one
# request each), read and parse the cached indexes (~69,000 stanzas), build the universe,
# resolve, write the lock. The parsed indexes are kept in the cache (derived blobs), so a warm run
# decodes them instead of reading and parsing the text. Prints, for N runs (default 5) of each,
# the median wall time, the median CPU time (user + sys: the machine may be shared) and the
# median peak memory of the process (bench/peak.py).
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
    times=() cpus=() peaks=() kibs=()
    for _ in $(seq "$runs"); do
        /usr/bin/time -f '%U %S' -o "$work/cpu" \
            python3 bench/peak.py "$work/peak" -- \
            "$debroot" -q lock --update "$work/$profile.toml" --cache-dir "$work/cache"
        read -r seconds peak_kib _ <"$work/peak"
        times+=("$(python3 -c "print(round($seconds, 3))")")
        peaks+=("$((peak_kib / 1024))")
        kibs+=("$peak_kib")
        cpus+=("$(awk '{print $1 + $2}' "$work/cpu")")
    done
    packages=$(grep -c '^\[\[package\]\]' "$work/$profile.lock")
    echo "$profile: $packages packages, median of $runs runs: $(median "${times[@]}") s wall, $(median "${cpus[@]}") s cpu (incl. peak.py), peak $(median "${peaks[@]}") MiB (times: ${times[*]})"
    if [ "$profile" = kiosk ]; then
        bench_row "lock --update kiosk set (warm index cache)" "$(median "${times[@]}")" - - \
            "< 0.25 s" "$(median "${kibs[@]}")" - 128
    else
        bench_row "lock --update minbase (warm index cache)" "$(median "${times[@]}")" - - - \
            "$(median "${kibs[@]}")" -
    fi
done
