"""Runner: runs a plan's stages in order; skips completed ones, resumes interrupted ones."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from constlang import plan as P
from constlang.errors import UsageError, UserError
from constlang.kinds import BY_NAME
from constlang.prompts import chat_text
from constlang.runtime.data import dataset_path
from constlang.runtime.hashing import RunDirError, changed_outputs, record_outputs, scan
from constlang.runtime.processes import barrier, finish, is_main, world_size
from constlang.runtime.rundir import Manifest, RunDir, now_iso, sha256_file, sha256_json
from constlang.runtime.sampling import select
from constlang.runtime.stages import StageContext, StageRunner, runner_for


class RunError(UserError):
    """A run cannot go on; the message is one line for the user (exit status 1)."""


class OverrideError(UsageError):
    """A `--set` or `--stages` value names an unknown stage or setting, or has a bad value
    (a usage error: exit status 2)."""


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
        model = BY_NAME[stage.kind].settings
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
                from constlang.semantics.fields import range_words

                message = f"must be {range_words(info)}, got {data[where]}"
            raise OverrideError(f"--set: `{name}.{where}`: {message}") from None
        stages[name] = stage.model_copy(update={"settings": settings})
        if name in programs:
            repeats = {spec.name: getattr(settings, spec.repeat_setting)
                       for spec in BY_NAME[stage.kind].steps if spec.repeat_setting}
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


def inputs_hash(plan: P.Plan, stage: Any, base_dir: Path, upstream: dict[str, str],
                extra: dict[str, Any] | None = None) -> str:
    """Hash of everything the stage reads: settings, program, what each reference names, and
    what its runner adds (`extra`).

    `upstream` maps stage names to the outputs hash of their completed manifests.
    """
    s = stage.settings
    refs: dict[str, Any] = {}
    for key, info in type(s).model_fields.items():
        schema = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        value = getattr(s, key)
        kinds = str(schema.get("ref", "")).split("|")
        if not schema.get("ref") or value is None:
            continue
        if schema.get("selection"):
            pools: dict[str, list[Any]] = {"principle": plan.principles,
                                           "example": plan.examples, "question": plan.questions}
            pool = pools[kinds[0]]
            refs[key] = [d.model_dump(mode="json", exclude={"location"})
                         for d in select(pool, value)]
        elif "stage" in kinds and isinstance(value, list):
            refs[key] = [{"stage": v, "outputs": upstream.get(v)} for v in value]
        elif "stage" in kinds and value in upstream:
            refs[key] = {"stage": value, "outputs": upstream[value]}
        elif "model" in kinds and any(m.id == value for m in plan.models):
            refs[key] = model_fingerprint(plan.model(value), base_dir)
        elif "dataset" in kinds:
            ds = plan.dataset(value)
            path = dataset_path(ds, base_dir)
            refs[key] = {**ds.model_dump(mode="json", exclude={"location"}),
                         "sha256": sha256_file(path) if path.is_file() else None}
    default = BY_NAME[stage.kind].default_model
    if default is not None and getattr(s, "model", "") is None:  # a plan written by hand
        base = plan.base_model(stage.name)
        if base is not None:
            refs["model"] = model_fingerprint(base, base_dir)
    refs.update(extra or {})
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
    if not is_main():  # the other processes of a launcher's run work silently
        console = Console(quiet=True)
    run = RunDir(run_dir)
    for stage in selected:
        runner = runner_for(stage.kind)
        if runner is None:
            console.print(f"[bold red]stage `{escape(stage.name)}` ({escape(stage.kind)}) is not "
                          f"implemented yet[/] ({escape(not_built(stage.kind))}); stopping here, "
                          "later stages were not run")
            result.stages.append(StageOutcome(stage.name, stage.kind, "not_implemented"))
            break
        ctx = StageContext(plan, stage, base_dir, run, console, resolved)
        result.stages.append(run_stage(runner(ctx)))
    finish()  # with several processes: the group the stages shared
    return result


def not_built(kind: str) -> str:
    """Why a stage of this kind cannot run yet, from the registry."""
    record = BY_NAME[kind]
    return f"{record.summary.rstrip('.')}; see docs/{record.docs}"


def run_stage(runner: StageRunner) -> StageOutcome:
    """Run (or skip, or resume) one stage, keeping its manifest current.

    The stage folder is reset (inputs changed) only once the runner has loaded its inputs, so
    a typo in a path does not wipe an earlier run.
    """
    ctx = runner.ctx
    stage, folder = ctx.stage, ctx.folder
    upstream: dict[str, str] = {}
    for name in stage.depends_on:
        done = ctx.run.stage(name).read_manifest()
        if done is None or done.status != "completed" or done.outputs_hash is None:
            raise RunError(f"stage `{stage.name}` needs stage `{name}` to be completed first; "
                           f"run it (add it to --stages)")
        upstream[name] = done.outputs_hash
    for name in [*stage.depends_on, *runner.reads()]:
        done = ctx.run.stage(name).read_manifest()
        problem = verify_completed(ctx, name, done) if done is not None else None
        if problem:
            raise RunError(f"stage `{stage.name}` reads what stage `{name}` wrote, but since "
                           f"`{name}` completed {problem}; run `{name}` again (add it to "
                           "--stages), or restore its folder")
    digest = inputs_hash(ctx.plan, stage, ctx.base_dir, upstream, runner.fingerprint())
    old = folder.read_manifest()
    if old and old.inputs_hash == digest and old.status == "completed":
        problem = verify_completed(ctx, stage.name, old)
        if problem is None:
            ctx.console.print(f"[dim]stage `{escape(stage.name)}`: completed earlier with the same "
                              "inputs; skipped[/]")
            return StageOutcome(stage.name, stage.kind, "skipped", old.metrics)
        ctx.say(f"completed earlier with the same inputs, but since then {problem}; running "
                "it again")
        old = old.model_copy(update={"inputs_hash": ""})  # so the folder is reset below
    processes = world_size()
    if processes > 1 and not runner.distributed:
        raise RunError(
            f"stage `{stage.name}` ({stage.kind}) runs in one process, but this is one of "
            f"{processes} processes started by a launcher (torchrun, accelerate launch); run "
            "the stages before ppo without the launcher, then launch the ppo stage alone with "
            "--stages (docs/scale.md)")
    main = is_main()  # with several processes, only the first writes the run directory
    manifest = Manifest(stage=stage.name, kind=stage.kind, status="running", inputs_hash=digest,
                        plan_hash=ctx.plan.hash, started_at=now_iso())
    begun = False
    started = time.perf_counter()
    try:
        runner.load()
        if old and old.inputs_hash == digest:
            how = "failed" if old.status == "failed" else "was interrupted"
            note = runner.resume_note()
            ctx.say(f"the last run {how}; " + (f"continuing from {note}" if note
                                               else "this stage starts again from the beginning"))
            scan(folder.path)  # nothing it continues from is read or written through a link
        elif main:
            if old:
                ctx.say("inputs changed since the last run; starting over")
            folder.reset()
        if main:
            folder.write_manifest(manifest)
        barrier()  # nobody writes into the folder before the first process has reset it
        begun = True
        metrics = runner.run()
        outputs = runner.outputs()
    except KeyboardInterrupt:
        if begun and main:  # what was saved stays; a rerun with the same inputs continues
            folder.write_manifest(manifest.model_copy(update={
                "status": "interrupted", "finished_at": now_iso()}))
        raise
    except Exception as exc:
        message = user_message(stage.name, exc)
        if begun and main:
            folder.write_manifest(manifest.model_copy(update={
                "status": "failed", "error": message or repr(exc), "finished_at": now_iso()}))
        if message:
            raise RunError(message) from None
        raise
    timings = {**ctx.timings, "total_s": round(time.perf_counter() - started, 3)}
    if main:
        folder.write_manifest(manifest.model_copy(update={
            "status": "completed", "outputs_hash": outputs, "metrics": metrics,
            "timings": timings, "finished_at": now_iso(),
            "files": record_outputs(folder.path)}))
        folder.metrics.log(event="completed", **metrics)
    return StageOutcome(stage.name, stage.kind, "completed", metrics)


def verify_completed(ctx: StageContext, name: str, done: Manifest) -> str | None:
    """What changed in a completed stage's folder since its manifest was written, in words
    (None: nothing). A stage is skipped, and its outputs are read, only when nothing did.

    Files whose identity (inode, size, times) is the recorded one keep their recorded hash,
    so the check costs a scan, not a rehash; the stage's outputs hash is then recomputed from
    the files and compared, so a manifest edited to match other files is caught too. When the
    files were copied or moved with the same bytes (or the manifest predates file records),
    the record is refreshed.
    """
    if done.status != "completed":
        return None
    folder = ctx.run.stage(name)
    if done.files is not None:
        problem, stale = changed_outputs(folder.path, done.files)
        if problem:
            return problem
    else:
        stale = True
    stage = ctx.plan.stage(name)
    runner = runner_for(stage.kind)
    if runner is None:
        return None
    try:
        actual = runner(StageContext(ctx.plan, stage, ctx.base_dir, ctx.run, ctx.console,
                                     ctx.device)).outputs()
    except OSError:
        return "its outputs cannot be read"
    if actual != done.outputs_hash:
        return "its files no longer match the outputs hash in its manifest.json"
    if stale and is_main():
        folder.write_manifest(done.model_copy(update={"files": record_outputs(folder.path)}))
    return None


def user_message(stage: str, exc: BaseException) -> str | None:
    """A one-line message for errors caused by the input or the machine; None for bugs."""
    if isinstance(exc, UserError):
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
    console.print(f"[bold]{escape(c.name)}[/] {escape(c.version)}  plan {plan.hash}",
                  highlight=False)
    console.print(f"run directory: {escape(str(run_dir))}", highlight=False)
    costs = {cost.stage: cost for cost in stage_costs(plan, base_dir)}
    outcomes = []
    for stage in selected:
        runner = runner_for(stage.kind)
        status = "planned" if runner is not None else "not_implemented"
        try:
            done = RunDir(run_dir).stage(stage.name).read_manifest()
            note = f", last run {done.status}" if done else ""
        except RunDirError as exc:
            done, note = None, f", its run directory needs attention: {exc}"
        label = "" if runner is not None else " [red](not implemented yet)[/]"
        console.print(f"  {escape(stage.name)} ({escape(stage.kind)}){label}: "
                      f"{escape(costs[stage.name].note)}{escape(note)}",
                      highlight=False)
        outcomes.append(StageOutcome(stage.name, stage.kind, status))
    for stage in selected:
        runner = runner_for(stage.kind)
        if runner is None:
            continue
        ctx = StageContext(plan, stage, base_dir, RunDir(run_dir), console, "cpu")
        try:
            rendered = runner(ctx).preview()
        except UserError as exc:
            raise RunError(f"stage `{stage.name}`: {exc}") from None
        for title, chat in rendered:
            console.rule(Text(title))  # a title holds the row's id: the user's text
            console.print(chat_text(chat), markup=False, highlight=False)
    return RunResult(run_dir, plan.hash, outcomes)
