#!/usr/bin/env bash
# The reproducibility jobs of reproducibility/README.md.
#
# Usage: bash reproducibility/run.sh [fixture|minbase|redated|all]
#   fixture   the fully fixed job: generated packages, fixed epoch, every output format; the
#             digests must equal reproducibility/fixture.sha256 (no root, no network)
#   minbase   `debroot verify profiles/minbase.toml` from the host mirror, in root mode and, as
#             a normal user, in unshare mode, which must give the root job's SHA256 (as root)
#   redated   minbase locked against two re-signed copies of the host mirror's suites that
#             differ only in their Date: the two outputs must be the same bytes (as root)
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}

fixture() {
    echo "== fixture job: generated packages, extract mode, every format"
    cargo nextest run --test it -E 'test(/^reproducibility::/)'
}

# The user for unshare mode: made with subordinate ranges if missing (as the live tests do).
verify_user() {
    local user=${DEBROOT_VERIFY_USER:-debroot-test}
    if ! id "$user" >/dev/null 2>&1; then
        useradd --create-home --shell /bin/sh "$user"
    fi
    grep -q "^$user:" /etc/subuid || echo "$user:200000:65536" >> /etc/subuid
    grep -q "^$user:" /etc/subgid || echo "$user:200000:65536" >> /etc/subgid
    echo "$user"
}

minbase() {
    if [ "$(id -u)" != 0 ]; then
        echo "== minbase jobs skipped: they run as root (root mode, and a user for unshare mode)"
        return 0
    fi
    cargo build --release --quiet
    local bin=$PWD/target/release/debroot work
    work=$(mktemp -d)
    trap 'rm -rf "$work"' RETURN
    chmod 0755 "$work"

    echo "== minbase job, root mode: debroot verify profiles/minbase.toml"
    "$bin" verify profiles/minbase.toml --modes root --format json > "$work/root.json"
    # The user's job uses the same profile and lock, from a folder it can read.
    cp profiles/minbase.toml profiles/minbase.lock "$work/"
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("root:", r["runs"][0]["sha256"], "reproducible" if r["reproducible"] else "NOT reproducible"); sys.exit(0 if r["reproducible"] else 1)' "$work/root.json"
    local digest
    digest=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["runs"][0]["sha256"])' "$work/root.json")

    local user
    user=$(verify_user)
    echo "== minbase job, unshare mode as $user: debroot verify --expect the root digest"
    chown -R "$user:" "$work"
    # The same lock (written by the root job) and epoch; the user's own caches.
    runuser -u "$user" -- env -C "$work" HOME="$(getent passwd "$user" | cut -d: -f6)" \
        "$bin" verify "$work/minbase.toml" --modes unshare --expect "$digest"
}

redated() {
    if [ "$(id -u)" != 0 ]; then
        echo "== re-dated job skipped: it builds in root mode"
        return 0
    fi
    cargo build --release --quiet
    echo "== re-dated job: minbase from suites that differ only in their Date"
    python3 reproducibility/redated.py profiles/minbase.toml --debroot target/release/debroot
}

case "$what" in
    fixture) fixture ;;
    minbase) minbase ;;
    redated) redated ;;
    all) fixture; minbase; redated ;;
    *) echo "usage: bash reproducibility/run.sh [fixture|minbase|redated|all]" >&2; exit 2 ;;
esac
