"""The GPU check's correctness steps (benchmarks/gpu/run.py runs each in its own process): the
environment, the CUDA-marked tests, `constlang train` of every stage kind, and PPO under
`accelerate launch`. Each returns its figures and raises CheckFailed when a check fails."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the tests' tiny models and whole-method constitution

TRAINING = ("sft", "reward_model", "ppo", "dpo", "grpo", "rloo")
STAGES = ("critique_revision", "sft", "feedback", "revision_pairs", "reward_model", "ppo",
          "dpo", "grpo", "rloo", "best_of_n", "evaluate")
# the whole method of the runtime tests (tests/runtime/helpers.py) lacks best_of_n: add it
BEST_OF_N = """
check brief { checker = length  max = 10000  unit = characters }
stage best_of_n {
  policy = sft  prompts = prompts  samples = 2  checks = [brief]  keep_truncated = true
  batch_size = 2
}
"""


class Skip(Exception):
    """A step that cannot run here (the message says why); not a failure."""


class CheckFailed(AssertionError):
    """A failed check; carries the figures gathered so far into figures.json."""

    def __init__(self, message: str, figures: dict[str, Any]) -> None:
        super().__init__(message)
        self.figures = figures


@dataclass(frozen=True)
class Context:
    device: str  # "cuda" or "cpu"
    work: Path  # scratch folder shared by the steps of one run

    @property
    def cuda(self) -> bool:
        return self.device == "cuda"


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    """Run a command from the repository root; its output goes to the log."""
    print("$ " + " ".join(command), flush=True)
    proc = subprocess.run(command, cwd=ROOT, text=True, capture_output=True, check=False)
    print(proc.stdout[-20_000:], proc.stderr[-20_000:], sep="\n", flush=True)
    return proc


def env_step(ctx: Context) -> dict[str, Any]:
    """Versions, the GPU, and that the runtime and its training libraries import."""
    import importlib

    import torch

    names = ("torch", "transformers", "accelerate", "peft", "trl", "datasets", "pydantic",
             "lark", "re2", "jsonschema", "pyarrow", "pandas")
    versions = {n: getattr(importlib.import_module(n), "__version__", "?") for n in names}
    from runtime.tiny import tokenizer_dir

    import constlang.runtime.runner  # noqa: F401  (the runtime and its stages import)

    figures: dict[str, Any] = {"python": sys.version.split()[0], "versions": versions,
                               "cuda_available": torch.cuda.is_available(),
                               "tokenizer": str(tokenizer_dir())}
    if ctx.cuda:
        if not torch.cuda.is_available():
            raise CheckFailed("--device cuda: torch sees no CUDA device", figures)
        props = torch.cuda.get_device_properties(0)
        figures.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / 2**30, 1),
                       bf16=torch.cuda.is_bf16_supported(), cuda=torch.version.cuda)
    figures["headline"] = (f"python {figures['python']}, torch {versions['torch']}, "
                           f"transformers {versions['transformers']}, trl {versions['trl']}"
                           + (f", {figures['gpu']}" if ctx.cuda else ""))
    return figures


def cuda_tests_step(ctx: Context) -> dict[str, Any]:
    """The runtime's tests marked `cuda` (skipped where torch sees no GPU)."""
    marked = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests" / "runtime").glob("test_*.py")
                    if "pytest.mark.cuda" in p.read_text("utf-8"))
    proc = run([sys.executable, "-m", "pytest", "-m", "cuda", *marked, "-q",
                "-p", "no:cacheprovider", "-o", "addopts="])
    tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    counts = {word: int(n) for n, word in re.findall(
        r"(\d+) (passed|failed|skipped|deselected|errors?)", tail)}
    figures: dict[str, Any] = {"files": marked, "counts": counts, "headline": tail}
    bad = counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0)
    if proc.returncode != 0 or bad:
        raise CheckFailed(f"pytest -m cuda: {tail or 'exit ' + str(proc.returncode)}", figures)
    if ctx.cuda and not counts.get("passed"):
        raise CheckFailed(f"pytest -m cuda ran no test on the GPU: {tail}", figures)
    return figures


def record_problems(stage: str, manifest: dict[str, Any], cuda: bool) -> list[str]:
    """What is wrong with a completed stage's `resources` record on this device."""
    res = manifest.get("resources") or {}
    problems = []
    if not str(res.get("device", "")).startswith("cuda" if cuda else "cpu"):
        problems.append(f"{stage}: ran on {res.get('device')!r}")
    if cuda and not res.get("peak_gpu_memory_mib", 0) > 0:
        problems.append(f"{stage}: no peak GPU memory recorded")
    if stage in TRAINING:
        want = {"weights_dtype": "float32", "mixed_precision": "bf16" if cuda else "no",
                "compute_dtype": "bfloat16" if cuda else "float32"}
        problems += [f"{stage}: {key} is {res.get(key)!r}, expected {value!r}"
                     for key, value in want.items() if res.get(key) != value]
    return problems


def stage_figures(runs: Path, stages: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    found = {}
    for stage in stages:
        path = runs / stage / "manifest.json"
        if path.exists():
            m = json.loads(path.read_text())
            found[stage] = {"status": m["status"], "seconds": m["timings"].get("total_s"),
                            **m.get("resources", {}), "error": m.get("error"),
                            "metrics": m.get("metrics", {})}
    return found


def train_step(ctx: Context) -> dict[str, Any]:
    """constlang train of every stage kind on a tiny random model, then its records."""
    from runtime.helpers import write_whole_method
    from runtime.tiny import build_tiny_model

    from constlang.runtime.models import save_model

    folder = ctx.work / "train"
    folder.mkdir(parents=True, exist_ok=True)
    tiny = build_tiny_model("embedded", seed=0)
    path = write_whole_method(folder, save_model(tiny.model, tiny.tokenizer,
                                                 folder / "tiny-model"))
    path.write_text(path.read_text("utf-8") + BEST_OF_N, "utf-8")
    runs = folder / "runs"
    proc = run([sys.executable, "-m", "constlang", "train", str(path), "--run-dir", str(runs),
                "--device", ctx.device])
    found = stage_figures(runs, STAGES)
    figures: dict[str, Any] = {"stages": {k: {kk: v for kk, v in s.items() if kk != "metrics"}
                                          for k, s in found.items()}}
    problems = [f"constlang train exited {proc.returncode}"] if proc.returncode else []
    for stage in STAGES:
        if found.get(stage, {}).get("status") != "completed":
            problems.append(f"{stage}: {found.get(stage, {}).get('status', 'no manifest')}")
        else:
            manifest = json.loads((runs / stage / "manifest.json").read_text())
            problems += record_problems(stage, manifest, ctx.cuda)
    peaks = {k: s.get("peak_gpu_memory_mib") for k, s in found.items()}
    figures["headline"] = (f"{sum(s['status'] == 'completed' for s in found.values())} of "
                           f"{len(STAGES)} stages completed"
                           + (f"; peak GPU MiB {peaks}" if ctx.cuda else ""))
    if problems:
        raise CheckFailed("; ".join(problems), figures)
    return figures


def ppo_accelerate_step(ctx: Context) -> dict[str, Any]:
    """The ppo stage again (2 updates) under accelerate launch with bf16 mixed precision."""
    folder = ctx.work / "train"
    runs = folder / "runs"
    for needed in ("sft", "reward_model"):
        manifest = runs / needed / "manifest.json"
        if not manifest.exists() or json.loads(manifest.read_text())["status"] != "completed":
            raise CheckFailed(f"needs the train step's `{needed}` stage completed", {})
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1",
              "--num_machines", "1", "--mixed_precision", "bf16", "--dynamo_backend", "no",
              *([] if ctx.cuda else ["--cpu"])]
    proc = run([*launch, "-m", "constlang", "train", str(folder / "tiny.const"), "--run-dir",
                str(runs), "--stages", "ppo", "--set", "ppo.steps=2", "--device", ctx.device])
    found = stage_figures(runs, ("ppo",)).get("ppo", {})
    metrics = found.pop("metrics", {})
    figures: dict[str, Any] = {"ppo": found, "processes": metrics.get("processes"),
                               "distribution": metrics.get("distribution"),
                               "steps": metrics.get("steps")}
    figures["headline"] = (f"{found.get('status')}, {metrics.get('steps')} updates, "
                           f"{found.get('mixed_precision')} over {found.get('weights_dtype')} "
                           f"(computed in {found.get('compute_dtype')})"
                           + (f", peak {found.get('peak_gpu_memory_mib')} MiB" if ctx.cuda
                              else ""))
    problems = [f"accelerate launch exited {proc.returncode}"] if proc.returncode else []
    if found.get("status") != "completed":
        problems.append(f"ppo: {found.get('status', 'no manifest')}: {found.get('error')}")
    else:
        manifest = json.loads((runs / "ppo" / "manifest.json").read_text())
        problems += record_problems("ppo", manifest, ctx.cuda)
        if metrics.get("processes") != 1 or metrics.get("steps") != 2:
            problems.append(f"ppo: processes {metrics.get('processes')}, updates "
                            f"{metrics.get('steps')} (expected 1 and 2)")
    if problems:
        raise CheckFailed("; ".join(problems), figures)
    return figures


def _bodies() -> dict[str, Callable[[Context], dict[str, Any]]]:
    import speed

    return {"env": env_step, "cuda_tests": cuda_tests_step, "train": train_step,
            "ppo_accelerate": ppo_accelerate_step, "judge": speed.judge_step,
            "generate": speed.generate_step, "ppo_vs_trl": speed.ppo_vs_trl_step,
            "sft_vs_trl": speed.sft_vs_trl_step, "reward_vs_trl": speed.reward_vs_trl_step}


class _Bodies(dict):  # type: ignore[type-arg]
    """STEP_BODIES[name]: the step's function (the speed module is imported on first use)."""

    def __missing__(self, name: str) -> Callable[[Context], dict[str, Any]]:
        self.update(_bodies())
        return dict.__getitem__(self, name)


STEP_BODIES = _Bodies()
