"""Time ahead (runner): the time estimate at the start of `constlang train`, from the rates
earlier runs measured on this machine (constlang.runtime.rates), and the recording of each
finished stage's rate.

A stage's time scales with its work in one unit: the tokens its plan allows it to generate
(generation and RL stages), the examples it trains on times its epochs (sft, dpo,
reward_model), or the run itself (stages that call no model). A rate is seconds per unit,
keyed by machine, stage kind, model source and unit, so it carries over between
constitutions that use the same model on the same machine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from constlang import plan as P
from constlang.preview import StageCost, stage_costs
from constlang.runtime import rates as R
from constlang.runtime.hashing import RunDirError
from constlang.runtime.rundir import RunDir

# a range around the recorded rates: a machine's speed varies between runs (other jobs, heat)
LOW, HIGH = 0.85, 1.2
# a rate is used only for work within this factor of the work it was measured on: per token,
# a CI-sized run (2 prompts, 24 tokens) is dominated by prompt processing and per-call costs,
# and its rates put the full demo at 1 h 40 min–2 h 20 min where it takes 15 min
SIZE_FACTOR = 4.0
OTHER_SIZE = "more than 4× less or more work"
FIRST_CHUNK = ("each stage's progress lines estimate its remaining time after its first "
               "measured chunk")


@dataclass(frozen=True)
class Work:
    """A stage's size in the unit its time scales with; amount None when not known."""

    unit: str  # token | example | call | run
    amount: float | None


def model_sources(plan: P.Plan, stage: Any) -> str:
    """The sources of the models a stage runs (its base model, the models of its steps)."""
    names = [stage.name] + [step.model for program in plan.programs
                            if program.stage == stage.name for step in program.steps]
    found = {m.source or f"served at {m.endpoint}" for n in names
             if (m := plan.base_model(n)) is not None}
    return ", ".join(sorted(found)) or "no model"


def rows_out(costs: dict[str, StageCost], plan: P.Plan, name: str, seen: set[str]) -> int | None:
    """At most how many rows a stage hands on: its prompts (times the most replies or pairs it
    keeps per prompt, where it has `keep` or `pairs_per_prompt`), else its sources' rows."""
    cost = costs.get(name)
    if cost is None or name in seen:
        return None
    if cost.prompts is not None:
        settings = plan.stage(name).settings
        kept = [getattr(settings, k, 1) for k in ("keep", "pairs_per_prompt")]
        return cost.prompts * max(n if isinstance(n, int) else 1 for n in kept)
    seen.add(name)
    sources = source_stages(plan.stage(name))
    counts = [rows_out(costs, plan, s, seen) for s in sources]
    return None if not counts or None in counts else sum(c for c in counts if c is not None)


def source_stages(stage: Any) -> list[str]:
    """The stages a stage reads rows from (its `from` setting)."""
    value = getattr(stage.settings, "from_", None)
    return [value] if isinstance(value, str) else list(value or [])


def planned_work(plan: P.Plan, stage: Any, costs: dict[str, StageCost]) -> Work:
    """The work a stage will do, from the plan's cost estimates (an upper bound)."""
    cost = costs[stage.name]
    if cost.tokens:
        return Work("token", cost.tokens)
    if cost.note.startswith("training"):
        rows = rows_out(costs, plan, stage.name, set())
        return Work("example", None if rows is None else rows * stage.settings.epochs)
    if cost.calls:
        return Work("call", cost.calls)
    return Work("run", 1 if cost.calls == 0 else None)


def done_work(plan: P.Plan, stage: Any, costs: dict[str, StageCost],
              metrics: dict[str, Any]) -> Work:
    """The work a finished stage did: as planned, but the examples it really trained on."""
    work = planned_work(plan, stage, costs)
    if work.unit == "example":
        rows = metrics.get("rows")
        return Work("example", rows * stage.settings.epochs if isinstance(rows, int) else None)
    return work


def rate_key(machine: str, plan: P.Plan, stage: Any, unit: str) -> str:
    return f"{machine} | {stage.kind} | {model_sources(plan, stage)} | per {unit}"


# the timing of a stage's main work (the rest of its time is loading, saving: per run)
WORK_TIMINGS = ("generate_s", "feedback_s", "train_s")
AROUND = "run, around the work"


def record_stage(plan: P.Plan, stage: Any, base_dir: Path, device: str,
                 metrics: dict[str, Any], timings: dict[str, float], warn: R.Warn) -> None:
    """Record a finished stage's measured seconds per unit of work, and the seconds around
    that work (loading models, saving) per run, in the rates file."""
    costs = {c.stage: c for c in stage_costs(plan, base_dir)}
    work = done_work(plan, stage, costs, metrics)
    total = timings.get("total_s", 0.0)
    busy = next((timings[k] for k in WORK_TIMINGS if timings.get(k)), total)
    if not work.amount or busy <= 0:
        return
    machine = R.machine_key(device)
    R.record(rate_key(machine, plan, stage, work.unit), busy / work.amount, work.amount, warn)
    if busy < total:
        R.record(rate_key(machine, plan, stage, AROUND), total - busy, work.amount, warn)


def span(low: float, high: float) -> str:
    """`14–18 min`, `under 1 min`, `50 min–1 h 10 min`."""
    if high < 60:
        return "under 1 min"
    lo, hi = round(low / 60), max(1, round(high / 60))
    if hi < 60:
        return f"{max(lo, 1)}–{hi} min" if lo < hi else f"about {hi} min"
    return f"{minutes(lo)}–{minutes(hi)}"


def minutes(whole: int) -> str:
    """`50 min`, `1 h 20 min`, `2 h`."""
    hours, rest = divmod(whole, 60)
    return (f"{hours} h" + (f" {rest} min" if rest else "")) if hours else f"{rest} min"


@dataclass
class Ahead:
    """The selected stages, sorted by what the rates file says about them."""

    known: list[tuple[str, float, float]] = field(default_factory=list)  # name, low, high s
    unknown: list[str] = field(default_factory=list)  # no rate on this machine and model
    other_size: list[str] = field(default_factory=list)  # rates only from far other sizes
    done: list[str] = field(default_factory=list)  # completed earlier with this plan


def time_ahead(plan: P.Plan, stages: list[str], base_dir: Path, run: RunDir, device: str,
               warn: R.Warn) -> str:
    """One line for the start of a run: the time the selected stages should take on this
    machine from the rates earlier runs measured, which stages have no rate yet, and the
    stages left out as completed earlier with this plan (they will most likely be skipped)."""
    costs = {c.stage: c for c in stage_costs(plan, base_dir)}
    ahead = Ahead(done=[n for n in stages if completed_with(run, n, plan.hash)])
    rates, _ = R.load(warn)
    machine = R.machine_key(device)
    for stage in plan.stages:
        if stage.name not in stages or stage.name in ahead.done:
            continue
        work = planned_work(plan, stage, costs)
        seen = rates.get(rate_key(machine, plan, stage, work.unit), [])
        near = [rate for rate, amount in seen if work.amount
                and 1 / SIZE_FACTOR <= amount / work.amount <= SIZE_FACTOR]
        fixed = [s for s, _ in rates.get(rate_key(machine, plan, stage, AROUND), [])] or [0.0]
        if work.amount is None or not seen:
            ahead.unknown.append(stage.name)
        elif not near:
            ahead.other_size.append(stage.name)
        else:
            ahead.known.append((stage.name, work.amount * min(near) + min(fixed),
                                work.amount * max(near) + max(fixed)))
    return time_line(ahead) + (busy_note() if ahead.known else "")


def completed_with(run: RunDir, name: str, plan_hash: str) -> bool:
    """Whether the stage completed earlier with this plan (an unusable manifest: no; the
    stage reports it when its turn comes)."""
    try:
        manifest = run.stage(name).read_manifest()
    except (RunDirError, OSError):
        return False
    return bool(manifest and manifest.status == "completed" and manifest.plan_hash == plan_hash)


def time_line(ahead: Ahead) -> str:
    skipped = (f"; left out: {', '.join(ahead.done)} (completed earlier with this plan)"
               if ahead.done else "")
    if not ahead.known and not ahead.unknown and not ahead.other_size:
        return "time ahead: nothing to run" + skipped
    if not ahead.known:
        what = ("no stage has run on this machine with this model before"
                if not ahead.other_size else not_known(ahead))
        return f"time ahead: not known yet: {what} (rates in {R.rates_path()}); " \
               f"{FIRST_CHUNK}{skipped}"
    low = sum(k[1] for k in ahead.known) * LOW
    high = sum(k[2] for k in ahead.known) * HIGH
    largest = sorted(ahead.known, key=lambda k: -k[2])[:3]
    line = f"time ahead: estimated {span(low, high)} on this machine, from earlier runs"
    line += " (" + ", ".join(f"{n} {span(lo * LOW, hi * HIGH)}" for n, lo, hi in largest) + ")"
    if ahead.unknown or ahead.other_size:
        line += f"; not known yet: {not_known(ahead)}: {FIRST_CHUNK}"
    return line + skipped


def not_known(ahead: Ahead) -> str:
    """`ppo (not run here with this model before); sft (run here only at ...)`."""
    parts = [f"{', '.join(ahead.unknown)} (not run here with this model before)"] \
        if ahead.unknown else []
    if ahead.other_size:
        parts.append(f"{', '.join(ahead.other_size)} (run here only at {OTHER_SIZE})")
    return "; ".join(parts)


def busy_note() -> str:
    """A note when other jobs share the processor now (load average above its cores)."""
    try:
        load, cores = os.getloadavg()[0], len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return ""
    if load <= cores:
        return ""
    return (f"; the machine is busy now (load {load:.1f} on {cores} cores): expect longer")
