"""Stage runner protocol: what every stage kind's runner implements, and what it is given."""

from __future__ import annotations

import os
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
from constlang.runtime.rundir import RunDir, StageDir


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
        """A rich progress bar (hidden when not a terminal or under CI).

        Yields `update(advance=n)` or `update(completed=k, total=t)`.
        """
        hidden = not self.console.is_terminal or bool(os.environ.get("CI"))
        # the description names a stage or model: the user's text, shown as is
        columns = (TextColumn("{task.description}", markup=False), BarColumn(),
                   MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=self.console, disable=hidden, transient=True) as bar:
            task = bar.add_task(f"{self.name}: {what}", total=total)
            yield lambda **kw: bar.update(task, **kw)


class StageRunner(ABC):
    """Runs the stages of one kind. The runner of a run calls, in order:

    `fingerprint()` (extra inputs for the skip check), `load()` (read inputs and load models;
    writes nothing, so a typo in a path cannot wipe an earlier run), then — once the stage
    folder is ready — `run()` (resumable: continues what an interrupted run left), and
    `outputs()` (a hash of the artifacts the next stages read).
    """

    kind: ClassVar[str]  # the stage kind, a name in constlang.kinds.KINDS
    resumes: ClassVar[bool] = False  # whether `run` continues from a partial earlier run
    # whether `run` works as one of several processes a launcher started (torchrun,
    # accelerate launch); other kinds refuse to run there rather than write twice
    distributed: ClassVar[bool] = False

    def __init__(self, ctx: StageContext) -> None:
        self.ctx = ctx

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
