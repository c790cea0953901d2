"""Progress off a terminal: plain, rate-limited lines with counts, elapsed time and an estimate
of the rest; on a terminal, the rich bar and no plain lines."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console

from constlang.runtime.rundir import RunDir
from constlang.runtime.stages import StageContext
from constlang.runtime.stages.progress import PLAIN_INTERVAL_S, duration


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def context(console: Console, clock: FakeClock) -> StageContext:
    return StageContext(plan=None, stage=SimpleNamespace(name="x"),  # type: ignore[arg-type]
                        base_dir=Path("."), run=RunDir(Path("runs")), console=console,
                        device="cpu", clock=clock)


def plain_console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=False, width=200), out


def test_durations_read_as_seconds_minutes_and_hours() -> None:
    assert [duration(s) for s in (0, 45.9, 60, 130, 3600, 3900 + 59)] == [
        "0 s", "45 s", "1 min 0 s", "2 min 10 s", "1 h 0 min", "1 h 5 min"]


def test_plain_lines_are_rate_limited_and_end_at_the_total(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    clock = FakeClock()
    con, out = plain_console()
    with context(con, clock).progress("generating", 128) as update:
        clock.now += 10
        update(advance=16)  # before the interval: nothing
        clock.now += 120
        update(advance=32)  # 48 done in 130 s: 80 left at the same rate
        clock.now += PLAIN_INTERVAL_S - 1
        update(advance=16)  # too soon after the last line
        clock.now += 1
        update(advance=16)  # 80 done in 145 s
        clock.now += 4
        update(advance=48)  # the total: always a line
        clock.now += 100
        update(advance=0)  # after the end: nothing more
    assert out.getvalue().splitlines() == [
        "stage `x`: generating 48/128 (37 %), 2 min 10 s elapsed, about 3 min 36 s left",
        "stage `x`: generating 80/128 (62 %), 2 min 25 s elapsed, about 1 min 27 s left",
        "stage `x`: generating 128/128 (100 %), 2 min 29 s elapsed",
    ]


def test_resumed_work_and_late_totals(monkeypatch: pytest.MonkeyPatch) -> None:
    """What an earlier run did (reported at the start) does not speed up the estimate; a total
    the trainer only knows at its first step is taken when it comes."""
    monkeypatch.delenv("CI", raising=False)
    clock = FakeClock()
    con, out = plain_console()
    with context(con, clock).progress("updates", total=100) as update:
        update(completed=50)  # resumed after update 50
        clock.now += 60
        update(completed=60)  # 10 updates a minute: 40 left take 4 min
    with context(con, clock).progress("training") as update:
        clock.now += 20
        update(completed=3)
        clock.now += 20
        update(completed=4, total=8)
    assert out.getvalue().splitlines() == [
        "stage `x`: updates 60/100 (60 %), 1 min 0 s elapsed, about 4 min 0 s left",
        "stage `x`: training 3, 20 s elapsed",
        "stage `x`: training 4/8 (50 %), 40 s elapsed, about 40 s left",
    ]


def test_ci_prints_plain_lines_even_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    clock = FakeClock()
    out = io.StringIO()
    with context(Console(file=out, force_terminal=True, width=200), clock).progress(
            "judging", 2) as update:
        update(advance=2)
    assert "stage `x`: judging 2/2 (100 %), 0 s elapsed" in out.getvalue()


def test_a_terminal_gets_the_bar_and_no_plain_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    clock = FakeClock()
    out = io.StringIO()
    with context(Console(file=out, force_terminal=True, width=200), clock).progress(
            "generating", 4) as update:
        for _ in range(4):
            clock.now += PLAIN_INTERVAL_S * 2
            update(advance=1)
    assert "x: generating" in out.getvalue()  # the bar
    assert "stage `x`" not in out.getvalue()
    assert "elapsed" not in out.getvalue()
