"""The CLI contract under hostile input (issue #11): every case in tests/hostile_cases.py runs
as a real `constlang` process, with a memory ceiling and a hang guard, and must exit 0, 1 or 2,
print no traceback and no "internal error", and leave out what its case forbids."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hostile_cases import CASES, Case
from hostile_runs import RUN_CASES

REPO = Path(__file__).resolve().parents[1]
SPAWNER = Path(__file__).resolve().parent / "hostile_spawn.py"
HANG_GUARD_S = 90  # far above any case's real cost; only a hang reaches it
MEMORY_CEILING = 2 * 1024**3  # address space a case may map before allocations fail


def run_case(case: Case, root: Path) -> tuple[int, str, float, float]:
    """Run the case's command in `root`: (exit status, output, seconds, peak RSS in MB)."""
    for name, content in case.files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, "utf-8")
    if case.setup is not None:
        case.setup(root)
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1", "COLUMNS": "100"}
    env.pop("FORCE_COLOR", None)
    stdin, output = root.parent / "stdin", root.parent / "output"
    stdin.write_bytes(case.stdin)
    report = root.parent / "report"
    start = time.monotonic()
    with stdin.open("rb") as fin, output.open("wb") as fout:
        # through a small spawner, so the peak memory measured is the command's own (a child
        # forked straight from this process would count this process's memory too)
        proc = subprocess.Popen([sys.executable, str(SPAWNER), str(MEMORY_CEILING), str(report),
                                 "--", sys.executable, "-m", "constlang", *case.argv], cwd=root,
                                env=env, stdin=fin, stdout=fout, stderr=subprocess.STDOUT,
                                start_new_session=True)
        guard = threading.Timer(HANG_GUARD_S, os.killpg, (proc.pid, signal.SIGKILL))
        guard.start()
        try:
            proc.wait()
        finally:
            guard.cancel()
    seconds = time.monotonic() - start
    if seconds >= HANG_GUARD_S or not report.is_file():
        pytest.fail(f"{case.name}: killed after {HANG_GUARD_S} s (a hang)")
    code, peak_kb = (int(x) for x in report.read_text().split())
    proc.returncode = code
    text = output.read_bytes().decode("utf-8", "replace")
    return code, text, seconds, peak_kb / 1024


@pytest.fixture
def root(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "constlang.toml").write_text("", "utf-8")
    return project


@pytest.mark.parametrize("case", [
    pytest.param(c, marks=pytest.mark.xfail(reason=c.known_gap, strict=True)) if c.known_gap
    else c for c in CASES + RUN_CASES], ids=[c.name for c in CASES + RUN_CASES])
def test_contract(case: Case, root: Path) -> None:
    code, out, _seconds, rss = run_case(case, root)
    shown = out[-3000:]
    assert "Traceback" not in out, shown
    assert "internal error" not in out, shown
    assert code in case.expect, f"exit {code}, expected {case.expect}\n{shown}"
    for word in case.forbid:
        assert word not in out, f"{word!r} printed\n{shown}"
    for word in case.need:
        assert word in out, f"{word!r} not printed\n{shown}"
    assert rss < case.max_rss_mb, f"peak memory {rss:.0f} MB"
    assert len(out) < 200_000, f"{len(out):,} characters of output"
    if case.after is not None:
        case.after(root)
