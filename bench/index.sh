#!/usr/bin/env bash
# How long `debroot index` takes to verify the minbase profile's suites and parse trixie's
# main/amd64 Packages (~69,000 stanzas) from the warm index cache: one InRelease request per
# suite, then decompress + parse. Prints the median of N runs (default 5) of the trixie suite's
# time and of the whole command.
#
# Usage: bash bench/index.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
cargo build --release --quiet
cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT
./target/release/debroot -q index profiles/minbase.toml --cache-dir "$cache" >/dev/null  # warm
suite_times=()
total_times=()
for _ in $(seq "$runs"); do
    start=$(date +%s.%N)
    json=$(./target/release/debroot -q index profiles/minbase.toml --cache-dir "$cache" --format json)
    end=$(date +%s.%N)
    suite_times+=("$(python3 -c 'import json,sys; print(json.load(sys.stdin)["suites"][0]["seconds"])' <<<"$json")")
    total_times+=("$(python3 -c "print($end - $start)")")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
packages=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["suites"][0]["indexes"][0]["packages"])' <<<"$json")
echo "trixie main/amd64: $packages packages"
echo "median of $runs runs: trixie suite $(median "${suite_times[@]}") s (InRelease + verify + decompress + parse), whole command $(median "${total_times[@]}") s"
