"""Runner: runs a plan's stages in order; skips completed ones, resumes interrupted ones."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from constlang import plan as P
from constlang.preview import chat_text
from constlang.programs import STEPS
from constlang.runtime.critique_revision import ROWS, SFT_ROWS, CritiqueRevision
from constlang.runtime.data import DataError, dataset_path, read_prompts
from constlang.runtime.feedback import (
    PREFERENCES,
    Feedback,
    FeedbackError,
    generation_model,
    policy_spec,
    summary_line,
)
from constlang.runtime.render import RenderError
from constlang.runtime.rundir import (
    Manifest,
    StageDir,
    now_iso,
    recover_jsonl,
    sha256_file,
    sha256_json,
    sha256_tree,
)
from constlang.runtime.sampling import SamplingError, select
from constlang.runtime.sft import SFTDataError

IMPLEMENTED = ("critique_revision", "sft", "feedback")
SHOWN_EXAMPLES = 3


class RunError(Exception):
    """A run cannot go on; the message is one line for the user (exit status 1)."""


class OverrideError(Exception):
    """A `--set` override names an unknown stage or setting or has a bad value (exit status 2)."""


@dataclass
class StageOutcome:
    name: str
    kind: str
    status: str  # completed | skipped | not_implemented | planned
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunResult:
    run_dir: Path
    plan_hash: str
    stages: list[StageOutcome]

    @property
    def complete(self) -> bool:
        """Every selected stage ran or was already done."""
        return all(s.status in ("completed", "skipped", "planned") for s in self.stages)


# ---------------------------------------------------------------- overrides

def apply_overrides(plan: P.Plan, overrides: dict[str, dict[str, Any]]) -> P.Plan:
    """The plan with stage settings replaced, each value validated by the settings model."""
    if not overrides:
        return plan
    stages = {s.name: s for s in plan.stages}
    programs = {p.stage: p for p in plan.programs}
    for name, changes in overrides.items():
        if name not in stages:
            raise OverrideError(f"--set: no stage `{name}`; stages: {', '.join(stages)}")
        stage = stages[name]
        model = P.SETTINGS_BY_KIND[stage.kind]
        fields = {info.alias or key: info for key, info in model.model_fields.items()}
        refs = {k for k, info in fields.items()
                if isinstance(info.json_schema_extra, dict) and "ref" in info.json_schema_extra}
        for key in changes:
            if key in refs:
                raise OverrideError(f"--set: `{name}.{key}` names another declaration; "
                                    "change it in the constitution")
            if key not in fields:
                valid = ", ".join(k for k in fields if k not in refs)
                raise OverrideError(f"--set: stage `{name}` ({stage.kind}) has no setting "
                                    f"`{key}`; settings: {valid}")
        data = {**stage.settings.model_dump(by_alias=True), **changes}
        try:
            settings = model.model_validate(data)
        except ValueError as exc:
            errors: list[Any] = getattr(exc, "errors", lambda: [])()
            first = errors[0] if errors else {"loc": (), "msg": str(exc)}
            where = ".".join(str(x) for x in first["loc"])
            info = fields.get(str(first["loc"][0])) if first["loc"] else None
            message = first["msg"]
            if info is not None and str(first.get("type", "")).startswith(("greater", "less")):
                from constlang.semantics.check import range_words

                message = f"must be {range_words(info)}, got {data[where]}"
            raise OverrideError(f"--set: `{name}.{where}`: {message}") from None
        stages[name] = stage.model_copy(update={"settings": settings})
        if name in programs:
            repeats = {spec.name: getattr(settings, spec.repeat_setting)
                       for spec in STEPS.get(stage.kind, ()) if spec.repeat_setting}
            steps = [st.model_copy(update={"repeat": repeats.get(st.name, st.repeat)})
                     for st in programs[name].steps]
            programs[name] = programs[name].model_copy(update={"steps": steps})
    return plan.model_copy(update={
        "stages": [stages[s.name] for s in plan.stages],
        "programs": [programs[p.stage] for p in plan.programs],
    }).with_hash()


# ---------------------------------------------------------------- inputs hash

def model_fingerprint(model: P.Model, base_dir: Path) -> dict[str, Any]:
    """The model's declaration, plus file names, sizes and times when it is a local path."""
    data = model.model_dump(mode="json", exclude={"location"})
    path = Path(model.source) if Path(model.source).is_absolute() else base_dir / model.source
    if not model.source.startswith("embedded:") and path.exists():
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        data["files"] = [(str(p.relative_to(path)) if p != path else p.name,
                          p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    return data


def inputs_hash(plan: P.Plan, stage: Any, base_dir: Path, upstream: dict[str, str]) -> str:
    """Hash of everything the stage reads: settings, program, and what each reference names.

    `upstream` maps stage names to the outputs hash of their completed manifests.
    """
    s = stage.settings
    refs: dict[str, Any] = {}
    for key, info in type(s).model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        value = getattr(s, key)
        kinds = str(extra.get("ref", "")).split("|")
        if not extra.get("ref") or value is None:
            continue
        if extra.get("selection"):
            pools: dict[str, list[Any]] = {"principle": plan.principles,
                                           "example": plan.examples, "question": plan.questions}
            pool = pools[kinds[0]]
            refs[key] = [d.model_dump(mode="json", exclude={"location"})
                         for d in select(pool, value)]
        elif "stage" in kinds and value in upstream:
            refs[key] = {"stage": value, "outputs": upstream[value]}
        elif "model" in kinds and any(m.id == value for m in plan.models):
            refs[key] = model_fingerprint(plan.model(value), base_dir)
        elif "dataset" in kinds:
            ds = plan.dataset(value)
            path = dataset_path(ds, base_dir)
            refs[key] = {**ds.model_dump(mode="json", exclude={"location"}),
                         "sha256": sha256_file(path) if path.is_file() else None}
    if stage.kind == "sft" and s.model is None:
        refs["model"] = model_fingerprint(plan.model(plan.stage(s.from_).settings.model), base_dir)
    if stage.kind == "feedback" and s.policy in upstream:  # the samples use the base's settings
        refs["policy_generation"] = generation_model(plan, s.policy).model_dump(
            mode="json", exclude={"location"})
    program = next((p for p in plan.programs if p.stage == stage.name), None)
    return sha256_json({"kind": stage.kind, "settings": s.model_dump(mode="json", by_alias=True),
                        "program": program.model_dump(mode="json") if program else None,
                        "refs": refs})


# ---------------------------------------------------------------- running

def quiet_libraries() -> None:
    """Our rich bars replace the tqdm bars of transformers and datasets."""
    import datasets
    import transformers

    transformers.utils.logging.disable_progress_bar()
    datasets.disable_progress_bars()


def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


@contextmanager
def progress_bar(console: Console, description: str, total: int | None = None
                 ) -> Iterator[Callable[..., None]]:
    """A rich progress bar (hidden when not a terminal or under CI).

    Yields `update(advance=n)` or `update(completed=k, total=t)`.
    """
    hidden = not console.is_terminal or bool(os.environ.get("CI"))
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=console, disable=hidden, transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda **kw: bar.update(task, **kw)


def run_plan(plan: P.Plan, *, base_dir: Path, run_dir: Path, stages: list[str] | None = None,
             overrides: dict[str, dict[str, Any]] | None = None, dry_run: bool = False,
             console: Console | None = None, device: str | None = None) -> RunResult:
    """Run the selected stages (default: all) in plan order into run_dir.

    A stage whose completed manifest has the same inputs hash is skipped; a stage left
    running resumes; a stage whose inputs changed starts over. Kinds not implemented yet
    stop the run with status `not_implemented`. Raises RunError and OverrideError.
    """
    console = console or Console(stderr=True)
    plan = apply_overrides(plan, overrides or {})
    names = [s.name for s in plan.stages]
    wanted = stages or names
    unknown = [n for n in wanted if n not in names]
    if unknown:
        from constlang.errors import did_you_mean

        hint = did_you_mean(unknown[0], names)
        raise OverrideError(f"--stages: no stage {', '.join(unknown)}; stages: {', '.join(names)}"
                            + (f" ({hint})" if hint else ""))
    selected = [s for s in plan.stages if s.name in wanted]
    if dry_run:
        return dry_run_plan(plan, selected, base_dir, run_dir, console)
    result = RunResult(run_dir, plan.hash, [])
    from constlang.runtime.models import resolve_device

    resolved = resolve_device(None if device in (None, "auto") else device)
    if resolved.startswith("cuda") and not _cuda_available():
        raise RunError("--device cuda: no CUDA device is visible to torch; use --device cpu")
    quiet_libraries()
    for stage in selected:
        if stage.kind not in IMPLEMENTED:
            console.print(f"[bold red]stage `{stage.name}` ({stage.kind}) is not implemented "
                          "yet[/]; stopping here, later stages were not run")
            result.stages.append(StageOutcome(stage.name, stage.kind, "not_implemented"))
            break
        result.stages.append(run_stage(plan, stage, base_dir, run_dir, console, resolved))
    return result


Begin = Callable[[], None]  # called by a stage once its inputs are loaded


def run_stage(plan: P.Plan, stage: Any, base_dir: Path, run_dir: Path, console: Console,
              device: str) -> StageOutcome:
    """Run (or skip, or resume) one stage, keeping its manifest current.

    The stage folder is reset (inputs changed) only once the stage has loaded its inputs, so
    a typo in a path does not wipe an earlier run.
    """
    upstream: dict[str, str] = {}
    for name in stage.depends_on:
        done = StageDir(run_dir, name).read_manifest()
        if done is None or done.status != "completed" or done.outputs_hash is None:
            raise RunError(f"stage `{stage.name}` needs stage `{name}` to be completed first; "
                           f"run it (add it to --stages)")
        upstream[name] = done.outputs_hash
    folder = StageDir(run_dir, stage.name)
    digest = inputs_hash(plan, stage, base_dir, upstream)
    old = folder.read_manifest()
    if old and old.inputs_hash == digest and old.status == "completed":
        console.print(f"[dim]stage `{stage.name}`: completed earlier with the same inputs; "
                      "skipped[/]")
        return StageOutcome(stage.name, stage.kind, "skipped", old.metrics)
    manifest = Manifest(stage=stage.name, kind=stage.kind, status="running", inputs_hash=digest,
                        plan_hash=plan.hash, started_at=now_iso())
    begun = [False]

    def begin() -> None:
        if old and old.inputs_hash == digest:
            console.print(f"stage `{stage.name}`: resuming an interrupted run")
        else:
            if old:
                console.print(f"stage `{stage.name}`: inputs changed since the last run; "
                              "starting over")
            folder.reset()
        folder.write_manifest(manifest)
        begun[0] = True

    started = time.perf_counter()
    try:
        if stage.kind == "critique_revision":
            metrics, outputs, timings = run_critique_revision(plan, stage, base_dir, folder,
                                                              console, device, begin)
        elif stage.kind == "feedback":
            metrics, outputs, timings = run_feedback_stage(plan, stage, base_dir, run_dir,
                                                           console, device, begin)
        else:
            metrics, outputs, timings = run_sft_stage(plan, stage, base_dir, run_dir, console,
                                                      device, begin)
    except Exception as exc:
        message = user_message(stage.name, exc)
        if begun[0]:
            folder.write_manifest(manifest.model_copy(update={
                "status": "failed", "error": message or repr(exc), "finished_at": now_iso()}))
        if message:
            raise RunError(message) from None
        raise
    timings["total_s"] = round(time.perf_counter() - started, 3)
    folder.write_manifest(manifest.model_copy(update={
        "status": "completed", "outputs_hash": outputs, "metrics": metrics,
        "timings": timings, "finished_at": now_iso()}))
    folder.metrics.log(event="completed", **metrics)
    return StageOutcome(stage.name, stage.kind, "completed", metrics)


Executed = tuple[dict[str, Any], str, dict[str, float]]  # metrics, outputs hash, timings


def run_critique_revision(plan: P.Plan, stage: Any, base_dir: Path, folder: StageDir,
                          console: Console, device: str, begin: Begin) -> Executed:
    from constlang.runtime.generate import GenerationEngine
    from constlang.runtime.models import load_model

    job = CritiqueRevision.from_plan(plan, stage.name)
    prompts = read_prompts(plan.dataset(job.settings.prompts), base_dir)
    t0 = time.perf_counter()
    loaded = load_model(job.model, device=device, base_dir=base_dir)
    load_s = time.perf_counter() - t0
    engine = GenerationEngine(loaded, batch_size=job.settings.batch_size)
    begin()
    console.print(f"stage `{stage.name}`: {len(prompts)} prompts × {job.settings.revisions} "
                  f"round(s), model `{job.model.id}` on {device}")
    total = len(prompts) * job.generations_per_prompt()
    with progress_bar(console, f"{stage.name}: generating", total) as update:
        metrics = job.run(engine, prompts, folder.path, metrics=folder.metrics,
                          progress=lambda n: update(advance=n),
                          on_resume=lambda n: console.print(
                              f"stage `{stage.name}`: {n} row(s) already done; continuing"))
    metrics["generation"] = dict(engine.stats)
    show_changes(console, recover_jsonl(folder.path / ROWS))
    outputs = sha256_json([sha256_file(folder.path / ROWS), sha256_file(folder.path / SFT_ROWS)])
    return metrics, outputs, {"load_model_s": round(load_s, 3), "generate_s": metrics["seconds"]}


def run_sft_stage(plan: P.Plan, stage: Any, base_dir: Path, run_dir: Path, console: Console,
                  device: str, begin: Begin) -> Executed:
    from constlang.runtime.sft import MODEL_DIR, run_sft  # imports TRL lazily

    s = stage.settings
    folder = StageDir(run_dir, stage.name)
    console.print(f"stage `{stage.name}`: fine-tuning on the revisions of `{s.from_}` "
                  f"(rounds = {s.rounds}, {s.epochs:g} epoch(s)) on {device}")
    with progress_bar(console, f"{stage.name}: training") as update:
        metrics = run_sft(plan, stage.name, base_dir=base_dir, device=device,
                          upstream_dir=run_dir / s.from_, out_dir=folder.path,
                          metrics=folder.metrics, on_ready=begin,
                          progress=lambda step, total: update(completed=step, total=total))
    console.print(f"stage `{stage.name}`: saved {folder.path / MODEL_DIR} "
                  f"(loss {metrics['train_loss']:.4f}, {metrics['steps']} steps)")
    return metrics, sha256_tree(folder.path / MODEL_DIR), {"train_s": metrics["seconds"]}


def run_feedback_stage(plan: P.Plan, stage: Any, base_dir: Path, run_dir: Path,
                       console: Console, device: str, begin: Begin) -> Executed:
    from constlang.runtime.generate import GenerationEngine
    from constlang.runtime.models import load_model

    job = Feedback.from_plan(plan, stage.name)
    job.check_sampling()
    s = job.settings
    prompts = read_prompts(plan.dataset(s.prompts), base_dir)
    policy = policy_spec(plan, stage.name, run_dir)
    t0 = time.perf_counter()
    loaded = load_model(policy, device=device, base_dir=base_dir)
    policy_engine = GenerationEngine(loaded, batch_size=s.batch_size)
    judge_engine = policy_engine if s.judge == s.policy else GenerationEngine(
        load_model(job.judge_model, device=device, base_dir=base_dir), batch_size=s.batch_size)
    load_s = time.perf_counter() - t0
    begin()
    folder = StageDir(run_dir, stage.name)
    console.print(f"stage `{stage.name}`: {len(prompts)} prompts × 2 samples from `{s.policy}`, "
                  f"judge `{s.judge}` on {device}")
    with progress_bar(console, f"{stage.name}: judging", len(prompts)) as update:
        metrics = job.run(policy_engine, judge_engine, prompts, folder.path,
                          metrics=folder.metrics, progress=lambda n: update(advance=n),
                          on_resume=lambda n: console.print(
                              f"stage `{stage.name}`: {n} row(s) already done; continuing"))
    metrics["generation"] = {"policy": dict(policy_engine.stats),
                             "judge": dict(judge_engine.stats)}
    console.print(summary_line(stage.name, metrics))
    return (metrics, sha256_file(folder.path / PREFERENCES),
            {"load_model_s": round(load_s, 3), "feedback_s": metrics["seconds"]})


def show_changes(console: Console, rows: list[dict[str, Any]]) -> None:
    """Print a few prompts with the first answer and the final revision."""
    def clip(text: str, n: int = 240) -> str:
        text = " ".join(text.split())
        return text if len(text) <= n else text[: n - 1] + "…"

    for row in sorted(rows, key=lambda r: r["index"])[:SHOWN_EXAMPLES]:
        console.print(f"\n[bold]prompt {row['prompt_id']}[/]: {clip(row['prompt'])}", markup=True,
                      highlight=False)
        console.print(f"  [red]before[/]: {clip(row['initial'])}", highlight=False)
        note = "  [dim](unchanged)[/]" if row["final"] == row["initial"] else ""
        console.print(f"  [green]after[/] : {clip(row['final'])}{note}", highlight=False)


def user_message(stage: str, exc: BaseException) -> str | None:
    """A one-line message for errors caused by the input or the machine; None for bugs."""
    known: tuple[type[BaseException], ...] = (DataError, RenderError, SamplingError, SFTDataError,
                                              FeedbackError)
    models = sys.modules.get("constlang.runtime.models")  # imported only once a model loads
    if models is not None:
        known += (models.ModelError,)
    if isinstance(exc, known):
        return f"stage `{stage}`: {exc}"
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(exc, torch.cuda.OutOfMemoryError):
        return (f"stage `{stage}`: the accelerator ran out of memory; lower the batch size "
                f"(--set {stage}.batch_size=N), max_new_tokens or max_length, or use a smaller "
                "model")
    return None


def dry_run_plan(plan: P.Plan, selected: list[Any], base_dir: Path, run_dir: Path,
                 console: Console) -> RunResult:
    """Print the plan summary and the first batch's prompts; loads no model, writes nothing."""
    from constlang.preview import stage_costs

    c = plan.constitution
    console.print(f"[bold]{c.name}[/] {c.version}  plan {plan.hash}", highlight=False)
    console.print(f"run directory: {run_dir}", highlight=False)
    costs = {cost.stage: cost for cost in stage_costs(plan, base_dir)}
    outcomes = []
    for stage in selected:
        status = "planned" if stage.kind in IMPLEMENTED else "not_implemented"
        done = StageDir(run_dir, stage.name).read_manifest()
        note = f", last run {done.status}" if done else ""
        label = "" if status == "planned" else " [red](not implemented yet)[/]"
        console.print(f"  {stage.name} ({stage.kind}){label}: {costs[stage.name].note}{note}",
                      highlight=False)
        outcomes.append(StageOutcome(stage.name, stage.kind, status))
    for stage in selected:
        if stage.kind in ("critique_revision", "feedback"):
            try:
                job: CritiqueRevision | Feedback = (
                    CritiqueRevision if stage.kind == "critique_revision" else Feedback
                ).from_plan(plan, stage.name)
                prompts = read_prompts(plan.dataset(job.settings.prompts), base_dir,
                                       limit=job.settings.batch_size)
                rendered = job.preview(prompts)
            except (DataError, RenderError, SamplingError, FeedbackError) as exc:
                raise RunError(f"stage `{stage.name}`: {exc}") from None
            for title, chat in rendered:
                console.rule(title)
                console.print(chat_text(chat), markup=False, highlight=False)
    return RunResult(run_dir, plan.hash, outcomes)
