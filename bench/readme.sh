#!/usr/bin/env bash
# Replaces the README's performance table, the block between the lines
# `<!-- bench/all.sh: begin -->` and `<!-- bench/all.sh: end -->` of README.md, with the
# markdown that bench/all.sh printed (a file, or stdin with `-`).
#
# Usage: sudo bash bench/all.sh > bench.md && bash bench/readme.sh bench.md
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# = 1 ] || { echo "usage: bash bench/readme.sh FILE|-" >&2; exit 2; }
python3 - "$1" README.md <<'PY'
import sys
source, readme = sys.argv[1], sys.argv[2]
block = (sys.stdin if source == "-" else open(source)).read().strip("\n")
if "| what | debroot |" not in block:
    sys.exit(f"bench/readme.sh: {source} holds no bench/all.sh table")
begin, end = "<!-- bench/all.sh: begin -->", "<!-- bench/all.sh: end -->"
text = open(readme).read()
if text.count(begin) != 1 or text.count(end) != 1 or text.index(begin) > text.index(end):
    sys.exit(f"bench/readme.sh: {readme} needs one {begin} line before one {end} line")
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
with open(readme + ".new", "w") as f:
    f.write(f"{head}{begin}\n{block}\n{end}{tail}")
import os
os.replace(readme + ".new", readme)
PY
