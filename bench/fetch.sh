#!/usr/bin/env bash
# Cold-cache download of a profile's whole package set: `debroot fetch` against
# `apt-get download` of the same package list from the same mirror, interleaved, N runs each
# (default 3). Prints the medians and the ratio debroot/apt (the target is at most 0.5).
#
# With BENCH_TSV=FILE it appends the comparison to FILE (bench/lib.sh), the target written as
# apt-get's time over debroot's, at least 2.
#
# Usage: bash bench/fetch.sh [RUNS] [PACKAGES...]
# Default packages: the kiosk set on top of minbase (sway wayvnc chromium seatd foot).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
runs=${1:-3}
shift || true
include=("${@:-sway wayvnc chromium seatd foot}")
cargo build --release --quiet
debroot="$PWD/target/release/debroot"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

quoted=$(for p in ${include[*]}; do printf '"%s", ' "$p"; done)
sed "s/^include = \[\]/include = [${quoted%, }]/" profiles/minbase.toml > "$work/kiosk.toml"
"$debroot" -q lock "$work/kiosk.toml" --cache-dir "$work/index-cache"
lock="$work/kiosk.lock"
packages=$(python3 - "$lock" <<'PY'
import sys, tomllib
lock = tomllib.load(open(sys.argv[1], "rb"))
print(" ".join(f"{p['name']}:{p['architecture']}={p['version']}" for p in lock["package"]))
PY
)
count=$(wc -w <<<"$packages")
bytes=$(python3 -c "import sys,tomllib; print(sum(p['size'] for p in tomllib.load(open('$lock','rb'))['package']))")
echo "package set: $count packages, $bytes bytes"

# apt, configured for the profile's suites from the host's mirror, in a private directory.
uris=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
    | grep -E '^(URIs:|deb )' | tr ' ' '\n' | grep -E '^(https?|file)://' || true)
main=$(grep -v -- '-security' <<<"$uris" | awk 'NR == 1')
security=$(grep -- '-security' <<<"$uris" | awk 'NR == 1')
security=${security:-${main%/debian}/debian-security}
apt_dir="$work/apt"
mkdir -p "$apt_dir"/etc/apt/{sources.list.d,preferences.d,apt.conf.d,trusted.gpg.d} \
    "$apt_dir"/var/lib/apt/lists/partial "$apt_dir"/var/cache/apt/archives/partial "$apt_dir"/var/lib/dpkg
touch "$apt_dir/var/lib/dpkg/status"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
cat > "$apt_dir/etc/apt/sources.list" <<LIST
deb [signed-by=$keyring] $main trixie main
deb [signed-by=$keyring] $main trixie-updates main
deb [signed-by=$keyring] $security trixie-security main
LIST
apt_opts=(-o "Dir=$apt_dir" -o "Dir::State::status=$apt_dir/var/lib/dpkg/status"
    -o "APT::Architecture=amd64" -o "APT::Architectures=amd64" -o "Debug::NoLocking=1"
    -o "APT::Sandbox::User=root")
apt-get "${apt_opts[@]}" -qq update

debroot_times=()
apt_times=()
debroot_peaks=()
apt_peaks=()
for run in $(seq "$runs"); do
    rm -rf "$work/cache"
    python3 bench/peak.py "$work/report" -- "$debroot" -q fetch "$lock" --cache-dir "$work/cache"
    read -r seconds peak _ < "$work/report"
    debroot_times+=("$seconds")
    debroot_peaks+=("$peak")

    rm -rf "$work/download" && mkdir "$work/download"
    # shellcheck disable=SC2086
    (cd "$work/download" && python3 "$OLDPWD/bench/peak.py" "$work/report" -- \
        apt-get "${apt_opts[@]}" -qq download $packages >/dev/null)
    read -r seconds peak _ < "$work/report"
    apt_times+=("$seconds")
    apt_peaks+=("$peak")
    echo "run $run: debroot ${debroot_times[-1]} s, apt-get download ${apt_times[-1]} s"
done
downloaded=$(ls "$work/download" | wc -l)
[ "$downloaded" = "$count" ] || echo "warning: apt-get downloaded $downloaded files, expected $count"
d=$(median "${debroot_times[@]}")
a=$(median "${apt_times[@]}")
echo "median: debroot fetch $d s, apt-get download $a s, ratio $(python3 -c "print(round($d / $a, 3))") (target <= 0.5)"
bench_row "fetch kiosk set, cold cache ($count packages) vs apt-get download" "$d" \
    "apt-get download" "$a" ">= 2" "$(median "${debroot_peaks[@]}")" "$(median "${apt_peaks[@]}")"
