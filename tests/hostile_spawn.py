"""Test helper for tests/test_hostile.py: run one command under a memory ceiling and report
its own peak resident memory.

A child forked from a large process (pytest, after the runtime tests loaded torch) starts with
that process's pages counted in its peak, so the harness spawns this small script first, and
this script forks the real command: the command's peak then counts a few MB of this script,
not the test runner's memory.

Usage: python hostile_spawn.py CEILING_BYTES REPORT_FILE -- COMMAND ...
Writes "EXIT_STATUS PEAK_RSS_KB" to REPORT_FILE and exits with the command's status.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys


def main(argv: list[str]) -> int:
    ceiling, report, sep, *command = argv
    assert sep == "--" and command, __doc__

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (int(ceiling), int(ceiling)))

    proc = subprocess.Popen(command, preexec_fn=limit)
    _, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    with open(report, "w", encoding="utf-8") as fh:
        fh.write(f"{code} {usage.ru_maxrss}\n")
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
