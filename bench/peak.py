#!/usr/bin/env python3
"""Runs a command and reports its wall time and the peak memory of its whole process tree.

Usage: python3 bench/peak.py REPORT_FILE -- COMMAND [ARGS...]

Two peaks:
- the tree's: every 20 ms the resident set sizes (VmRSS) of the command and all its
  descendants are summed, and the largest sum is kept (shared pages are counted once per
  process, so this is an upper bound);
- the largest process's: the kernel's maximum resident set size of the command and of every
  descendant it waited for (`ru_maxrss` of `wait4`), the figure `/usr/bin/time -f %M` prints.
  Issue 19's build targets (46 / 69 MiB) were measured this way: for the kiosk set the largest
  process is a maintainer script's `update-mime-database`, not debroot.

Writes `seconds tree_peak_kib largest_process_kib` to REPORT_FILE and exits with the
command's status.
"""
import os
import subprocess
import sys
import time


def children_of():
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    return parents


def tree_rss_kib(root):
    parents = children_of()
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        stack.extend(parents.get(pid, []))
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


def main():
    report, separator, command = sys.argv[1], sys.argv[2], sys.argv[3:]
    assert separator == "--" and command, __doc__
    start = time.monotonic()
    process = subprocess.Popen(command)
    peak = 0
    while True:
        # wait4 rather than poll: its resource usage holds the largest process's peak.
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid == process.pid:
            break
        peak = max(peak, tree_rss_kib(process.pid))
        time.sleep(0.02)
    seconds = time.monotonic() - start
    with open(report, "w") as f:
        f.write(f"{seconds:.3f} {peak} {usage.ru_maxrss}\n")
    sys.exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main()
