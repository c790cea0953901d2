"""Progress as plain lines, for output that is not a terminal (CI logs, `nohup`, a pipe, a
notebook): counts, elapsed time and an estimate of the rest, at most one line every
PLAIN_INTERVAL_S seconds, and one line when the total is reached."""

from __future__ import annotations

from collections.abc import Callable

PLAIN_INTERVAL_S = 15.0  # the least time between two plain progress lines
# updates within this long of the start report what an earlier, interrupted run did: they
# set the count the estimate starts from rather than speed it up
RESUMED_WINDOW_S = 1.0


def duration(seconds: float) -> str:
    """A duration for a progress line: "45 s", "2 min 10 s", "1 h 5 min"."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


class PlainProgress:
    """Counts the work a stage reports and prints a line through `say` now and then.

    `update(advance=n)` adds n done; `update(completed=k, total=t)` sets them (either may be
    left out). `clock` is a monotonic clock in seconds (tests pass a fake one).
    """

    def __init__(self, say: Callable[[str], None], what: str, total: int | None,
                 clock: Callable[[], float], interval: float = PLAIN_INTERVAL_S) -> None:
        self.say, self.what, self.total, self.clock = say, what, total, clock
        self.interval = interval
        self.done = 0
        self.started = self.last = clock()
        self.base = 0  # the count reached before this run did anything (resumed work)
        self.finished = False  # the line for the reached total is printed

    def update(self, *, advance: int | None = None, completed: int | None = None,
               total: int | None = None) -> None:
        if total is not None:
            self.total = total
        if completed is not None:
            self.done = completed
        if advance:
            self.done += advance
        now = self.clock()
        if now - self.started < RESUMED_WINDOW_S:
            self.base = self.done
        reached = self.total is not None and self.done >= self.total
        if reached and not self.finished:
            self.finished = True
        elif reached or now - self.last < self.interval:
            return
        self.last = now
        self.say(self.line(now))

    def line(self, now: float) -> str:
        """`generating 48/128 (37 %), 2 min 10 s elapsed, about 3 min 40 s left`."""
        elapsed = now - self.started
        if self.total is None:
            return f"{self.what} {self.done}, {duration(elapsed)} elapsed"
        share = int(100 * self.done / self.total) if self.total else 100
        text = f"{self.what} {self.done}/{self.total} ({share} %), {duration(elapsed)} elapsed"
        ran = self.done - self.base
        if self.done < self.total and ran > 0 and elapsed > 0:
            text += f", about {duration((self.total - self.done) * elapsed / ran)} left"
        return text
