#!/usr/bin/env python3
"""Interleaved start-up timing: the companion of hyperfine in bench/all.sh.

usage: interleave.py RUNS CMD1 CMD2 [CMD3 ...]   (each CMD one shell-free string)

hyperfine runs all the runs of one command, then all of the next; on a shared
machine a burst of outside load then lands on one command only and the ratio
of medians says more about the neighbours than about the commands. Here each
round runs every command once, in an order that rotates, so load drift hits
all of them alike. Per command it prints the median wall time and the median
CPU time (user + system of the child, from wait4), the figure that outside
load changes least. Output: one line per command, "wall_ms cpu_ms command".
"""
import os
import shlex
import statistics
import sys
import time


def run_once(argv):
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        fd = os.open(os.devnull, os.O_RDWR)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"interleave: {' '.join(argv)} failed (exit {os.waitstatus_to_exitcode(status)})")
    return wall * 1000, (ru.ru_utime + ru.ru_stime) * 1000


def main():
    runs = int(sys.argv[1])
    cmds = [shlex.split(c) for c in sys.argv[2:]]
    wall = [[] for _ in cmds]
    cpu = [[] for _ in cmds]
    for _ in range(5):  # warm-up: page cache, connection state
        for c in cmds:
            run_once(c)
    for r in range(runs):
        order = list(range(len(cmds)))
        order = order[r % len(order):] + order[:r % len(order)]
        for i in order:
            w, c = run_once(cmds[i])
            wall[i].append(w)
            cpu[i].append(c)
    for i, c in enumerate(sys.argv[2:]):
        print(f"{statistics.median(wall[i]):.2f} {statistics.median(cpu[i]):.2f} {c}")


if __name__ == "__main__":
    main()
