#!/usr/bin/env bash
# Every comparison of the bench folder in one run, and one table: index, lock --update, fetch,
# build (minbase and the kiosk set, against mmdebstrap plain and cached+eatmydata), each
# output format (images.sh), diff (against diffoscope). Each script runs its own comparison
# interleaved with its anchor and reports medians (bench/lib.sh, BENCH_TSV); this script
# prints, on stdout, a markdown block: a header with the date, the commit and the machine
# (nproc, RAM, kernel, CPU model, root filesystem, load average at the start and the end),
# then one table: what, debroot median, anchor, anchor median, ratio (anchor / debroot),
# target, met, peak memory of each tool's process tree. Each script's own report goes to
# stderr (and to the log named in the header).
#
# Usage: sudo bash bench/all.sh [--quick] [--runs N] [--only LIST] > bench.md
#        bash bench/readme.sh bench.md      # the README's performance table replaced by it
#
#   --runs N   runs of each comparison (default 3; index and lock --update take 5 at least)
#   --quick    one run of each, build and images for minbase only: checks that the scripts
#              work (some 10 minutes), its figures are not medians
#   --only L   comma-separated subset of: index,resolve,fetch,build,images,diff
#
# Run it on a quiet machine: the figures of a loaded one are not the machine's (the header
# prints the load average so a reader can tell). A full run (3 runs) takes about 35 minutes on
# the 2-core machine type, most of it mmdebstrap's kiosk builds and images.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=3 quick=0 only=index,resolve,fetch,build,images,diff
while [ $# -gt 0 ]; do
    case $1 in
        --quick) quick=1 runs=1 ;;
        --runs) runs=$2; shift ;;
        --only) only=$2; shift ;;
        *) echo "usage: bash bench/all.sh [--quick] [--runs N] [--only index,resolve,fetch,build,images,diff]" >&2; exit 2 ;;
    esac
    shift
done
[ "$(id -u)" = 0 ] || { echo "bench/all.sh: run as root (the builds run in root mode)" >&2; exit 2; }
wants() { [[ ",$only," == *",$1,"* ]]; }
cargo build --release --quiet >&2

rows=$(mktemp /var/tmp/debroot-bench-all.XXXXXX.tsv)
log=${rows%.tsv}.log
trap 'rm -f "$rows"' EXIT
export BENCH_TSV=$rows
skipped=()
step() { # NAME REQUIRED_PROGRAM|- COMMAND...
    local name=$1 program=$2
    shift 2
    if [ "$program" != - ] && ! command -v "$program" >/dev/null; then
        skipped+=("$name ($program is not installed)")
        return 0
    fi
    echo "== $name: $*" | tee -a "$log" >&2
    "$@" 2>&1 | tee -a "$log" >&2 || skipped+=("$name (failed, see $log)")
}
many=$(( runs > 5 ? runs : 5 ))
started_load=$(cut -d' ' -f1-3 /proc/loadavg)
start=$EPOCHSECONDS
wants index && step index - bash bench/index.sh "$([ $quick = 1 ] && echo 1 || echo $many)"
wants resolve && step "lock --update" - bash bench/resolve.sh "$([ $quick = 1 ] && echo 1 || echo $many)"
wants fetch && step fetch - bash bench/fetch.sh "$runs"
wants build && step build mmdebstrap bash bench/build.sh "$([ $quick = 1 ] && echo minbase || echo all)" "$runs"
wants images && step images mmdebstrap bash bench/images.sh "$([ $quick = 1 ] && echo minbase || echo all)" "$runs"
wants diff && step diff diffoscope bash bench/diff.sh "$runs"

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
ram=$(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
# The scratch filesystem's kind matters (README, "Benchmarks"): without a journal and with
# online discard, every unlink discards the file's blocks synchronously.
read -r fs_source fs_type fs_options < <(findmnt -n -T /var/tmp -o SOURCE,FSTYPE,OPTIONS)
fs="$fs_type"
if [ "$fs_type" = ext4 ]; then
    if ls /proc/fs/jbd2 2>/dev/null | grep -q "^$(basename "$fs_source")-"; then
        fs="$fs with a journal"
    else
        fs="$fs without a journal"
    fi
fi
[[ ",$fs_options," == *,discard,* ]] && fs="$fs, online discard"
echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') by \`bash bench/all.sh$([ $quick = 1 ] && echo ' --quick') --runs $runs\`" \
    "at $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo ' (modified)') in $(( (EPOCHSECONDS - start) / 60 )) min," \
    "$([ $quick = 1 ] && echo 'one run each (not medians)' || echo "medians of $runs interleaved runs (index and lock --update: $many)")."
echo "Machine: $(nproc) CPUs ($cpu), $ram RAM, Linux $(uname -r), /var/tmp on $fs;" \
    "load average $started_load at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end;" \
    "mmdebstrap $(mmdebstrap --version 2>/dev/null | awk '{print $2}')."
echo
echo "| what | debroot | anchor | anchor's | ratio | target | met | peak memory (debroot / anchor) |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
awk -F'\t' '{
    d = ($2 == "-") ? "-" : $2 " s"; a = ($4 == "-") ? "-" : $4 " s"
    r = ($5 == "-") ? "-" : $5 "x"
    p = $8 " MiB"; if ($9 != "-") p = p " / " $9 " MiB"
    if ($10 != "" && $10 != "-") p = p " (largest process of debroot'"'"'s run: " $10 " MiB)"
    printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, d, $3, a, r, $6, $7, p
}' "$rows"
echo "bench/all.sh: each script's own report is in $log" >&2
if [ ${#skipped[@]} -gt 0 ]; then
    echo
    printf 'Not measured: %s.\n' "${skipped[@]}"
fi
