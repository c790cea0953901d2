"""CLI `eval`: run a constitution's evaluate stage on any models and prompt files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import click

from constlang.cli.shared import allow_outside_root_option, command, compile_or_fail
from constlang.declarations import names
from constlang.errors import UsageError, UserError

EXAMPLE = ("stage evaluate { baseline = assistant  judge = assistant  harmful = <a dataset of "
           "held-out prompts> }")


def evaluate_stage(plan: Any, path: str, wanted: str | None) -> Any:
    """The evaluate stage to run: the one named, else the first; a UsageError when none."""
    stages = [s for s in plan.stages if s.kind == "evaluate"]
    if wanted is not None:
        found = next((s for s in stages if s.name == wanted), None)
        if found is None:
            known = ", ".join(s.name for s in stages) or "none"
            raise UsageError(f"--stage `{wanted}` is not an evaluate stage of {path}; evaluate "
                             f"stages: {known}")
        return found
    if not stages:
        raise UsageError(f"{path} declares no evaluate stage, which names the judge, the "
                         f"questions and the templates; add one, e.g. `{EXAMPLE}`")
    return stages[0]


def file_dataset(plan: Any, option: str, raw: str) -> tuple[Any, str]:
    """A dataset declaration for a JSONL file given on the command line (field `prompt`)."""
    from constlang.plan import Dataset

    path = Path(raw)
    if not path.is_file():
        raise UsageError(f"{option} `{raw}` is not a file")
    taken = {d.id for d in plan.datasets}
    name = option.strip("-") + "_file"
    while name in taken:
        name += "_"
    return Dataset(id=name, path=str(path.resolve())), name


def with_options(plan: Any, stage: Any, models: list[str] | None, prompts: str | None,
                 benign: str | None) -> tuple[Any, Any]:
    """The plan and stage with the command line's models and prompt files in the settings."""
    changes: dict[str, Any] = {}
    datasets = list(plan.datasets)
    if models is not None:
        changes.update(baseline=models[0], models=models[1:])
    for option, key, raw in (("--prompts", "harmful", prompts), ("--benign", "benign", benign)):
        if raw is not None:
            dataset, name = file_dataset(plan, option, raw)
            datasets.append(dataset)
            changes[key] = name
    if not changes:
        return plan, stage
    return replace_settings(plan, stage, changes, datasets)


def replace_settings(plan: Any, stage: Any, changes: dict[str, Any],
                     datasets: list[Any] | None = None) -> tuple[Any, Any]:
    """The plan with the stage's settings changed, its dependencies and hash brought along."""
    settings = stage.settings.model_copy(update=changes)
    stage_names = {s.name for s in plan.stages}
    named = [settings.baseline, *(names(settings.models) if settings.models else [])]
    if settings.reward:
        named.append(settings.reward)
    depends = [n for n in dict.fromkeys(named) if n in stage_names]
    if settings.models is None:
        depends = list(dict.fromkeys([*stage.depends_on, *depends]))
    new = stage.model_copy(update={"settings": settings, "depends_on": depends})
    plan = plan.model_copy(update={"datasets": datasets or plan.datasets, "stages": [
        new if s.name == stage.name else s for s in plan.stages]}).with_hash()
    return plan, new


def adhoc_stage(compiled: Any, own: Any, plan: Any, stage: Any) -> tuple[Any, Any]:
    """An evaluation the command line changed (`plan` and `stage`, from the `compiled` plan
    and its stage `own`) runs as a stage of its own, `eval_<12 hex>` (a digest of its settings
    and prompt files), in its own folder, runs/<name>/eval_<hex>/: the evaluate stage's
    folder, and so its completed run, is left alone. The same options reach the same folder
    again (and skip, when nothing changed since)."""
    if stage.settings == own.settings and plan.datasets == compiled.datasets:
        return plan, stage
    read = {getattr(stage.settings, k, None) for k in ("harmful", "benign", "judge_check")}
    digest = hashlib.sha256(json.dumps({
        "settings": stage.settings.model_dump(mode="json", by_alias=True),
        "datasets": [d.model_dump(mode="json") for d in plan.datasets if d.id in read],
    }, sort_keys=True).encode("utf-8")).hexdigest()[:12]
    name = f"eval_{digest}"
    new = stage.model_copy(update={"name": name})
    plan = plan.model_copy(update={
        "stages": [new if s.name == stage.name else s for s in plan.stages],
        "programs": [p.model_copy(update={"stage": name}) if p.stage == stage.name else p
                     for p in plan.programs]}).with_hash()
    return plan, new


@command("eval", short_help="Compare models on held-out prompts (refusals, win rates).")
@click.argument("path", type=click.Path())
@click.option("--models", "models_opt", metavar="A,B",
              help="Models to compare, the first being the baseline: model declarations or "
                   "policy stages of the run (default: the evaluate stage's).")
@click.option("--prompts", metavar="FILE",
              help="A JSONL file of harmful prompts (field `prompt`) instead of the stage's.")
@click.option("--benign", metavar="FILE",
              help="A JSONL file of benign prompts (field `prompt`) instead of the stage's.")
@click.option("--stage", "stage_opt", metavar="NAME",
              help="The evaluate stage to run (default: the first).")
@click.option("--run-dir", type=click.Path(file_okay=False),
              help="The run directory of the trained stages (default: runs/<constitution name>).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
              show_default=True, help="Where models run.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="A table for people, or report.json on stdout.")
@allow_outside_root_option
def eval_cmd(path: str, models_opt: str | None, prompts: str | None, benign: str | None,
             stage_opt: str | None, run_dir: str | None, device: str, fmt: str,
             allow_outside_root: bool) -> None:
    """Compare models on held-out prompts with the constitution's evaluate stage: refusal
    rate on harmful prompts, over-refusal on benign ones, the pass rate of every check the
    stage selects, harmlessness and helpfulness win rates against the first model (the
    constitution's questions, both orders), and the reward model's mean score. Writes
    report.md, report.json, replies.jsonl and PNG plots into the stage's folder, or, when
    --models or the prompt files differ from the stage's, into a folder of their own
    (eval_<hash>/) that leaves the stage's results alone.

    Exit status: 0, 1 when a model cannot be found or the work fails, 2 on usage errors.
    """
    from constlang.cli.train import require_training_extras

    require_training_extras()
    result = compile_or_fail(path, allow_outside_root, consequence="nothing was evaluated")
    plan = result.plan
    assert plan is not None
    stage = evaluate_stage(plan, path, stage_opt)
    models = None
    if models_opt is not None:
        models = list(dict.fromkeys(n.strip() for n in models_opt.split(",") if n.strip()))
        if not models:
            raise UsageError("--models: name at least one model, e.g. --models assistant,sft")
    compiled, own = plan, stage
    plan, stage = with_options(plan, stage, models, prompts, benign)
    target = Path(run_dir) if run_dir else Path("runs") / plan.constitution.name

    # the runtime is imported here, not at the top, so the other commands start without it
    from rich.console import Console

    from constlang.runtime.evaluation import report as RP
    from constlang.runtime.evaluation.figures import read_report
    from constlang.runtime.evaluation.job import model_names, resolve_model
    from constlang.runtime.models import resolve_device
    from constlang.runtime.rundir import RunDir
    from constlang.runtime.runner import _cuda_available, quiet_libraries, run_stage
    from constlang.runtime.stages import StageContext
    from constlang.runtime.stages.evaluate import EvaluateDir, EvaluateRunner

    run = RunDir(target)
    for name in model_names(plan, stage):  # one clear line before any model loads
        resolve_model(plan, name, run)
    reward = stage.settings.reward
    if reward and not run.stage(reward).model.is_dir():  # leave it out, and say so
        click.echo(f"note: reward stage `{reward}` has no trained model in {run.path} yet, "
                   "so the report has no reward scores", err=True)
        plan, stage = replace_settings(plan, stage, {"reward": None})
    plan, stage = adhoc_stage(compiled, own, plan, stage)
    resolved = resolve_device(None if device == "auto" else device)
    if resolved.startswith("cuda") and not _cuda_available():
        raise UsageError("--device cuda: no CUDA device is visible to torch; use --device cpu")
    quiet_libraries()
    console = Console(stderr=fmt == "json", soft_wrap=True, highlight=False)
    try:
        outcome = run_stage(EvaluateRunner(StageContext(plan, stage, result.base_dir, run, console,
                                              resolved)))
    except OSError as exc:
        raise UserError(f"cannot write {exc.filename or target}: {exc.strerror or exc}") from None
    folder = EvaluateDir.of(run.stage(stage.name))
    if fmt == "json":  # report.json, read back and checked: a damaged one is one error line
        click.echo(read_report(folder.report_json).to_json(), nl=False)
        return
    if outcome.status == "skipped":  # the run printed nothing: show the earlier figures
        earlier = read_report(folder.report_json)
        console.print(RP.text_table(RP.table_rows(earlier)), markup=False)
        console.print(RP.judge_line(earlier.judge), markup=False)
        if earlier.checks:
            console.print(RP.checks_text(earlier), markup=False)
    console.print(f"\nreport: {folder.report_md}", markup=False)
