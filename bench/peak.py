#!/usr/bin/env python3
"""Runs a command and reports its wall time and the peak memory of its whole process tree.

Usage: python3 bench/peak.py REPORT_FILE -- COMMAND [ARGS...]

Every 20 ms the resident set sizes (VmRSS) of the command and all its descendants are summed;
the largest sum is the peak (shared pages are counted once per process, so this is an upper
bound). Writes `seconds peak_kib` to REPORT_FILE and exits with the command's status.
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
    while process.poll() is None:
        peak = max(peak, tree_rss_kib(process.pid))
        time.sleep(0.02)
    seconds = time.monotonic() - start
    with open(report, "w") as f:
        f.write(f"{seconds:.3f} {peak}\n")
    sys.exit(process.returncode)


if __name__ == "__main__":
    main()
