# Helpers shared by the bench scripts (sourced, not run).
#
# Machine-readable rows: when BENCH_TSV names a file, each script appends one line per
# comparison to it, tab-separated, for bench/all.sh to gather into one table:
#
#   what  debroot_s  anchor  anchor_s  ratio  target  met  peak_debroot_mib  peak_anchor_mib
#   largest_debroot_mib
#
# `ratio` is anchor_s / debroot_s (how many times faster debroot is), `target` is written as
# it is checked (">= 6", "< 0.25 s"), `met` is yes, no or - (no target); a column without a
# value is "-". Times are medians of the script's runs, peaks medians of its runs' peaks (the
# process tree's, bench/peak.py; largest_debroot_mib the largest single process of debroot's runs).

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# bench_row WHAT DEBROOT_S ANCHOR ANCHOR_S TARGET PEAK_D_KIB PEAK_A_KIB [PEAK_TARGET_MIB
#           [LARGEST_D_KIB]]
# TARGET: ">= X" (the ratio at least X), "< X s" (debroot's time under X s), or "-";
# PEAK_TARGET_MIB, when given, is a bound on debroot's peak that the row must meet too: on
# LARGEST_D_KIB when given (the largest single process of the run, bench/peak.py's third
# figure, which the build targets were measured as), else on the tree's peak PEAK_D_KIB.
bench_row() {
    [ -n "${BENCH_TSV:-}" ] || return 0
    python3 - "$@" >> "$BENCH_TSV" <<'PY'
import sys
what, d, anchor, a, target, pd, pa = sys.argv[1:8]
peak_target = sys.argv[8] if len(sys.argv) > 8 else None
largest = sys.argv[9] if len(sys.argv) > 9 else None
def num(s):
    try:
        return float(s)
    except ValueError:
        return None
dn, an = num(d), num(a)
ratio = round(an / dn, 2) if dn and an is not None else None
met = "-"
if target.startswith(">=") and ratio is not None:
    met = "yes" if ratio >= float(target[2:]) else "no"
elif target.startswith("<") and dn is not None:
    met = "yes" if dn < float(target[1:].split()[0]) else "no"
if peak_target is not None:
    bound = largest if largest is not None else pd
    # In whole MiB, as the targets are written (issue 19's 69 MiB was 70,652 KiB).
    within = bound.isdigit() and round(int(bound) / 1024) <= float(peak_target)
    what_peak = "largest process" if largest is not None else "peak"
    target = (f"{target}, {what_peak} <= {peak_target} MiB" if target != "-"
              else f"{what_peak} <= {peak_target} MiB")
    met = "yes" if met in ("yes", "-") and within else "no"
mib = lambda k: str(round(int(k) / 1024)) if k.isdigit() else "-"
print("\t".join([what, d, anchor, a, "-" if ratio is None else str(ratio), target, met,
                 mib(pd), mib(pa), "-" if largest is None else mib(largest)]))
PY
}

# settle: the control between timed runs (see README, "Benchmarks": later runs of a round were
# slower than the first). Writes back every dirty page (`sync`), then waits until the kernel's
# Dirty + Writeback are under 16 MiB (at most 60 s: other users of the machine keep writing),
# so that no run pays for writing back or discarding what the previous one left; then `prime`.
settle() {
    settle_writeback
    prime
}

# prime: touches BENCH_PRIME_MIB of memory (default 4096; 0 turns it off) and frees it, just
# before a timed run. On this VM type the guest hands memory it frees back to the host (the
# balloon's free page reporting; a DAMON scheme pages out what is idle for a minute), and the
# first touch of such memory costs some 4 s per GiB (1 GiB written to a tmpfs: 0.3 s when its
# memory was freed a moment before, 2.6 s after 20 s idle, 4.5 s after 60 s). A build touches
# a gigabyte or more (its tree, the page cache of what it writes), so without this each run's
# time said how long the memory it got had been idle: the kiosk set took 6.8, 11.7 and 9.4 s
# in one round. Memory freed a moment before is handed out again first, so the run starts
# with warm memory; what a run allocates seconds later (mmdebstrap's runs last 40 s) can
# still be cold, so the control helps the short runs most.
prime() {
    local mib=${BENCH_PRIME_MIB:-4096}
    [ "$mib" -gt 0 ] || return 0
    python3 -c '
import sys
size = int(sys.argv[1]) << 20
block = bytearray(size)
block[::4096] = b"\1" * len(range(0, size, 4096))
' "$mib"
}

settle_writeback() {
    sync
    local i
    for i in $(seq 60); do
        [ "$(awk '/^(Dirty|Writeback):/ {s += $2} END {print s}' /proc/meminfo)" -lt 16384 ] && return 0
        sleep 1
        sync
    done
}

# warm DIR...: reads every file under DIR into the page cache, so that a tool's "warm cache"
# run does not pay for reading back what the other tool's runs pushed out of memory (the
# machine's page cache is shared; a kiosk round of mmdebstrap churns some 5 GB of it).
warm() {
    local dir
    for dir in "$@"; do
        [ -d "$dir" ] && find "$dir" -type f -print0 | xargs -0r cat > /dev/null
    done
    return 0
}
