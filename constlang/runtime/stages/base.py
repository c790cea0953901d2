"""Stage runner protocol: what every stage kind's runner implements and is given, and the
lookup of a kind's runner (filled from `RUNNERS` in `constlang.runtime.stages`)."""

from __future__ import annotations

import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from constlang import plan as P
from constlang.errors import StageError
from constlang.prompts import Chat
from constlang.runtime.check_rewards import pass_rates_line
from constlang.runtime.rundir import RunDir, StageDir
from constlang.runtime.stages.progress import PlainProgress


@dataclass
class StageContext:
    """One stage of one run: the plan, where to read and write, where models run."""

    plan: P.Plan
    stage: Any  # the plan's stage; its settings class depends on its kind
    base_dir: Path  # relative dataset and model paths start here
    run: RunDir
    console: Console
    device: str
    timings: dict[str, float] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic  # times plain progress lines (tests fake it)

    @property
    def name(self) -> str:
        return str(self.stage.name)

    @property
    def settings(self) -> Any:
        return self.stage.settings

    @property
    def folder(self) -> StageDir:
        """This stage's folder: its artifacts, manifest and metrics."""
        return self.run.stage(self.name)

    def say(self, text: str) -> None:
        """A line of progress for the user, prefixed with the stage's name."""
        self.console.print(f"stage `{self.name}`: {text}", highlight=False, markup=False)

    @contextmanager
    def progress(self, what: str, total: int | None = None) -> Iterator[Callable[..., None]]:
        """A rich progress bar on a terminal; elsewhere (not a terminal, or under CI) plain
        lines with counts, elapsed time and an estimate of the rest, now and then (see
        constlang.runtime.stages.progress).

        Yields `update(advance=n)` or `update(completed=k, total=t)`.
        """
        if not self.console.is_terminal or os.environ.get("CI"):
            yield PlainProgress(self.say, what, total, self.clock).update
            return
        # the description names a stage or model: the user's text, shown as is
        columns = (TextColumn("{task.description}", markup=False), BarColumn(),
                   MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=self.console, transient=True) as bar:
            task = bar.add_task(f"{self.name}: {what}", total=total)
            yield lambda **kw: bar.update(task, **kw)


@dataclass(frozen=True)
class Plot:
    """A figure the evaluate report draws from a completed stage of the kind declaring it."""

    prefix: str  # the figure is <prefix>_<stage>.png in the evaluate stage's folder
    # what the figure shows, read from the stage's folder and checked (evaluate reads it
    # before loading any model, so a damaged file stops it early); read only, never cut
    points: Callable[[StageDir], list[Any]]
    draw: Callable[[list[Any], Path, str], bool]  # (points, the PNG, stage name) → drawn


class StageRunner(ABC):
    """Runs the stages of one kind. The runner of a run calls, in order:

    `fingerprint()` (extra inputs for the skip check), `load()` (read inputs and load models;
    writes nothing, so a typo in a path cannot wipe an earlier run), then — once the stage
    folder is ready — `run()` (resumable: continues what an interrupted run left), and
    `outputs()` (a hash of the artifacts the next stages read).
    """

    kind: ClassVar[str]  # the stage kind, a name in constlang.kinds.KINDS
    resumes: ClassVar[bool] = False  # whether `run` continues from a partial earlier run
    # figures the evaluate report draws from a completed stage of this kind
    plots: ClassVar[tuple[Plot, ...]] = ()
    # whether `run` works as one of several processes a launcher started (torchrun,
    # accelerate launch); other kinds refuse to run there rather than write twice
    distributed: ClassVar[bool] = False

    def __init__(self, ctx: StageContext) -> None:
        self.ctx = ctx

    @staticmethod
    def headline(metrics: dict[str, Any]) -> str:
        """The few numbers of a stage's manifest metrics that say how it went, for the table
        that ends a run (default: its first three numbers)."""
        return first_numbers(metrics)

    def fingerprint(self) -> dict[str, Any]:
        """What the stage reads beyond its settings, program and references (default: none)."""
        return {}

    def reads(self) -> list[str]:
        """Stages whose outputs `run` reads beyond the plan's `depends_on` (default: none);
        the runner verifies them, as it does `depends_on`, before the stage starts."""
        return []

    def resume_note(self) -> str | None:
        """After an unfinished run with the same inputs: what `run` continues from (None:
        it starts again). Default: "what it saved" for kinds that resume, else None."""
        return "what it saved" if self.resumes else None

    def preview(self) -> list[tuple[str, Chat]]:
        """(title, chat) of the prompts the first batch sends, for --dry-run (default: none)."""
        return []

    @abstractmethod
    def load(self) -> None:
        """Read the inputs and load the models; raise a UserError when they are unusable."""

    @abstractmethod
    def run(self) -> dict[str, Any]:
        """Produce the artifacts into the stage folder; returns the metrics for the manifest."""

    @abstractmethod
    def outputs(self) -> str:
        """A hash of the artifacts later stages read."""


def policy_spec(plan: P.Plan, policy: str, run: RunDir, what: str = "policy") -> P.Model:
    """The model a setting names, ready to load: a model declaration, or the model a stage
    saved in the run directory (with the generation settings of the model it started from).
    `what` names the setting's role in the messages ("policy", "reward model")."""
    base = plan.base_model(policy)
    if base is None:
        raise StageError(f"{what} `{policy}` names no model")
    if any(m.id == policy for m in plan.models):
        return base
    folder = run.stage(policy).model
    if not folder.is_dir():
        raise StageError(f"{what} stage `{policy}` saved no model in {folder}; run it first")
    return base.model_copy(update={"id": policy, "source": str(folder.resolve()),
                                   "gguf_file": None})


BY_KIND: dict[str, type[StageRunner]] = {}  # kind → runner, filled by constlang.runtime.stages


def runner_for(kind: str) -> type[StageRunner] | None:
    """The runner of a stage kind; None for a kind the registry lists as planned."""
    return BY_KIND.get(kind)


def pct(x: Any) -> str:
    """A share as a whole percentage for a headline; "-" when not a number."""
    return f"{x * 100:.0f} %" if isinstance(x, int | float) else "-"


def num(x: Any, digits: int = 3) -> str:
    """A number to `digits` significant digits for a headline; "-" when not a number."""
    return f"{x:.{digits}g}" if isinstance(x, int | float) else "-"


def first_numbers(metrics: dict[str, Any]) -> str:
    """The first three numbers of a stage's metrics, named: the headline of last resort."""
    shown = [f"{k} {num(v)}" for k, v in metrics.items()
             if isinstance(v, int | float) and not isinstance(v, bool)][:3]
    return ", ".join(shown) or "-"


def reward_headline(metrics: dict[str, Any]) -> str:
    """The headline of a policy trained against a reward (ppo, grpo, rloo): reward and KL, and
    each check's pass rate from the first updates to the last."""
    first, last = metrics.get("reward_start"), metrics.get("reward_end")
    if first is None and last is None:
        return first_numbers(metrics)
    return (f"{metrics.get('steps', '-')} steps, reward {num(first)} → {num(last)}, KL "
            f"{num(metrics.get('kl_end'))}{pass_rates_line(metrics)}")
