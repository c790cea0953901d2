"""Runner: runs a plan's stages in order; skips completed ones, resumes interrupted ones."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from constlang import plan as P
from constlang.errors import UserError
from constlang.kinds import BY_NAME
from constlang.runtime import resources
from constlang.runtime.dry_run import dry_run_plan
from constlang.runtime.hashing import record_outputs, scan
from constlang.runtime.inputs import inputs_hash
from constlang.runtime.outcomes import RunError, RunResult, StageOutcome
from constlang.runtime.overrides import OverrideError, apply_overrides
from constlang.runtime.processes import barrier, finish, is_main, world_size
from constlang.runtime.rundir import Manifest, RunDir, now_iso
from constlang.runtime.stages import StageContext, StageRunner, runner_for
from constlang.runtime.verify import verify_completed

__all__ = ["OverrideError", "RunError", "RunResult", "StageOutcome", "run_plan", "run_stage"]


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
             console: Console | None = None, device: str | None = None,
             verbose: bool = False) -> RunResult:
    """Run the selected stages (default: all) in plan order into run_dir.

    A stage whose completed manifest has the same inputs hash is skipped; a stage left
    running resumes; a stage whose inputs changed starts over. Kinds not implemented yet
    stop the run with status `not_implemented`. A dry run prints the plan and the first
    prompt of each step (every prompt of the first batch when `verbose`). Raises RunError
    and OverrideError.
    """
    console = console or Console(stderr=True)
    plan = apply_overrides(plan, overrides or {})
    names = [s.name for s in plan.stages]
    wanted = stages or names
    unknown = [n for n in wanted if n not in names]
    if unknown:
        from constlang.errors import suggest_then_list

        raise OverrideError(suggest_then_list(f"--stages: no stage {', '.join(unknown)}",
                                              unknown[0], names, "stages"))
    selected = [s for s in plan.stages if s.name in wanted]
    if dry_run:
        return dry_run_plan(plan, selected, base_dir, run_dir, console, verbose)
    result = RunResult(run_dir, plan.hash, [])
    from constlang.runtime.models import resolve_device

    resolved = resolve_device(None if device in (None, "auto") else device)
    if resolved.startswith("cuda") and not _cuda_available():
        raise RunError("--device cuda: no CUDA device is visible to torch; use --device cpu")
    quiet_libraries()
    if not is_main():  # the other processes of a launcher's run work silently
        console = Console(quiet=True)
    run = RunDir(run_dir)
    from constlang.preview import work_ahead
    from constlang.runtime.estimate import time_ahead

    console.print(escape(work_ahead(plan, [s.name for s in selected], base_dir)),
                  highlight=False)
    console.print(escape(time_ahead(plan, [s.name for s in selected], base_dir, run, resolved,
                                    warner(console))), highlight=False)
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


def warner(console: Console) -> Callable[[str], None]:
    """Print a warning line (not an error: the run goes on)."""
    return lambda text: console.print(f"[yellow]warning:[/] {escape(text)}", highlight=False)


def not_built(kind: str) -> str:
    """Why a stage of this kind cannot run yet, from the registry."""
    record = BY_NAME[kind]
    return f"{record.summary.rstrip('.')}; see docs/{record.docs}"


def run_stage(runner: StageRunner) -> StageOutcome:
    """Run (or skip, or resume) one stage, keeping its manifest current.

    The order: the stages it reads must be completed and unchanged; a completed run with the
    same inputs and unchanged files is skipped; otherwise the runner loads its inputs, and
    only then is the folder reset (inputs changed: a typo in a path does not wipe an earlier
    run) or kept (an unfinished run with the same inputs, which the runner continues).
    """
    ctx = runner.ctx
    stage = ctx.stage
    digest = inputs_hash(ctx.plan, stage, ctx.base_dir, upstream_outputs(runner),
                         runner.fingerprint())
    old = ctx.folder.read_manifest()
    if old and old.inputs_hash == digest and old.status == "completed":
        problem = verify_completed(ctx, stage.name, old)
        if problem is None:
            ctx.console.print(f"[dim]stage `{escape(stage.name)}`: completed earlier with the "
                              "same inputs; skipped[/]")
            return StageOutcome(stage.name, stage.kind, "skipped", old.metrics)
        ctx.say(f"completed earlier with the same inputs, but since then {problem}; running "
                "it again")
        old = None  # the folder is reset, with no second message
    processes = world_size()
    if processes > 1 and not runner.distributed:
        raise RunError(
            f"stage `{stage.name}` ({stage.kind}) runs in one process, but this is one of "
            f"{processes} processes started by a launcher (torchrun, accelerate launch); run "
            "the stages before ppo without the launcher, then launch the ppo stage alone with "
            "--stages (docs/scale.md)")
    resumed = old if old and old.inputs_hash == digest else None
    return execute(runner, Manifest(stage=stage.name, kind=stage.kind, status="running",
                                    inputs_hash=digest, plan_hash=ctx.plan.hash,
                                    started_at=now_iso()), resumed, starting_over=bool(old))


def upstream_outputs(runner: StageRunner) -> dict[str, str]:
    """The outputs hash of each stage this one depends on, once every stage it reads is
    completed and unchanged since; RunError otherwise."""
    ctx = runner.ctx
    stage = ctx.stage
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
    return upstream


def execute(runner: StageRunner, manifest: Manifest, resumed: Manifest | None,
            starting_over: bool) -> StageOutcome:
    """Load, prepare the folder (keep it for `resumed`, else reset it), run, and record the
    outcome in the manifest: completed with its file records, failed, or interrupted."""
    ctx = runner.ctx
    folder = ctx.folder
    main = is_main()  # with several processes, only the first writes the run directory
    begun = False
    started = time.perf_counter()
    resources.begin(ctx.device)
    try:
        if resumed:  # before anything reads the folder (load, resume_note): nothing via a link
            scan(folder.path)
        runner.load()
        if resumed:
            how = "failed" if resumed.status == "failed" else "was interrupted"
            note = runner.resume_note()
            ctx.say(f"the last run {how}; " + (f"continuing from {note}" if note
                                               else "this stage starts again from the beginning"))
        elif main:
            if starting_over:
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
        message = user_message(ctx.name, exc)
        if begun and main:
            folder.write_manifest(manifest.model_copy(update={
                "status": "failed", "error": message or repr(exc), "finished_at": now_iso(),
                "resources": resources.finish(ctx.device)}))
        if message:
            raise RunError(message) from None
        raise
    timings = {**ctx.timings, "total_s": round(time.perf_counter() - started, 3)}
    if main:
        folder.write_manifest(manifest.model_copy(update={
            "status": "completed", "outputs_hash": outputs, "metrics": metrics,
            "timings": timings, "finished_at": now_iso(),
            "resources": resources.finish(ctx.device), "files": record_outputs(folder.path)}))
        folder.metrics.log(event="completed", **metrics)
        if resumed is None:  # a resumed stage's time covers only part of its work
            from constlang.runtime.estimate import record_stage

            record_stage(ctx.plan, ctx.stage, ctx.base_dir, ctx.device, metrics, timings,
                         warner(ctx.console))
    return StageOutcome(ctx.name, ctx.stage.kind, "completed", metrics)


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


