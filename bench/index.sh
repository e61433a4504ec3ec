#!/usr/bin/env bash
# How long `debroot index` takes to verify the minbase profile's suites and parse trixie's
# main/amd64 Packages (~69,000 stanzas) from the warm index cache: one InRelease request per
# suite, then decompress + parse. Prints the median of N runs (default 5) of the trixie suite's
# time and of the whole command.
#
# With BENCH_TSV=FILE it appends the whole command's median and peak memory to FILE
# (bench/lib.sh; no anchor, no target).
#
# Usage: bash bench/index.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
runs=${1:-5}
cargo build --release --quiet
cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT
./target/release/debroot -q index profiles/minbase.toml --cache-dir "$cache" >/dev/null  # warm
suite_times=()
total_times=()
peaks=()
for _ in $(seq "$runs"); do
    python3 bench/peak.py "$cache/report" -- ./target/release/debroot -q index profiles/minbase.toml \
        --cache-dir "$cache" --format json > "$cache/index.json"
    json=$(cat "$cache/index.json")
    read -r seconds peak _ < "$cache/report"
    suite_times+=("$(python3 -c 'import json,sys; print(json.load(sys.stdin)["suites"][0]["seconds"])' <<<"$json")")
    total_times+=("$seconds")
    peaks+=("$peak")
done
packages=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["suites"][0]["indexes"][0]["packages"])' <<<"$json")
echo "trixie main/amd64: $packages packages"
echo "median of $runs runs: trixie suite $(median "${suite_times[@]}") s (InRelease + verify + decompress + parse), whole command $(median "${total_times[@]}") s"
bench_row "index minbase suites (warm index cache)" "$(median "${total_times[@]}")" - - - \
    "$(median "${peaks[@]}")" -
