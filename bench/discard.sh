#!/usr/bin/env bash
# What deleting a tree costs on the scratch filesystem (README, "Benchmarks", on why later runs
# of a round were slower): `rm -rf` of 20,000 files of 8 KiB in 200 folders, once after `sync`
# (blocks allocated: on ext4 without a journal and with online discard each unlink discards
# them synchronously) and once still dirty (delayed allocation: nothing to discard, unless the
# kernel wrote them back meanwhile, after 30 s), N rounds (default 3). Prints each removal's
# wall, user and sys seconds and the device's discard requests, sectors and milliseconds
# meanwhile (the whole device's: other writers on the machine count too).
#
# Usage: bash bench/discard.sh [ROUNDS]
set -euo pipefail
rounds=${1:-3}
work=$(mktemp -d /var/tmp/debroot-bench-discard.XXXXXX)
trap 'rm -rf "$work"' EXIT
source=$(findmnt -n -T "$work" -o SOURCE)
stat=/sys/block/$(basename "$source")/stat
[ -r "$stat" ] || { echo "bench/discard.sh: no $stat for $source" >&2; exit 2; }
echo "$work: $(findmnt -n -T "$work" -o FSTYPE,OPTIONS)"
make_tree() {
    python3 - "$work/tree" <<'PY'
import os, sys
for i in range(200):
    os.makedirs(f"{sys.argv[1]}/{i}", exist_ok=True)
    for j in range(100):
        with open(f"{sys.argv[1]}/{i}/{j}", "wb") as f:
            f.write(os.urandom(8192))
PY
}
remove() { # LABEL
    local before after
    before=$(awk '{print $12, $14, $15}' "$stat")
    /usr/bin/time -f '%e %U %S' -o "$work/time" rm -rf "$work/tree"
    after=$(awk '{print $12, $14, $15}' "$stat")
    echo "$1: rm -rf $(cat "$work/time") s (wall user sys); discards: $(python3 -c "
b, a = '$before'.split(), '$after'.split()
print(f'{int(a[0]) - int(b[0])} requests, {(int(a[1]) - int(b[1])) // 2048} MiB, {int(a[2]) - int(b[2])} ms')")"
}
for _ in $(seq "$rounds"); do
    make_tree
    sync
    remove "written back"
    start=$EPOCHREALTIME
    make_tree
    remove "still dirty (made in $(python3 -c "print(round($EPOCHREALTIME - $start, 1))") s)"
    sync
done
