"""The GPU check (issue #22): every GPU path and GPU benchmark of constlang in one run, each
step in its own process with its own time budget, so one failure or hang never stops the rest.

    python benchmarks/gpu/run.py --device cuda --out DIR     # on one GPU, under 8 minutes
    python benchmarks/gpu/run.py --device cpu --out DIR      # tiny models, a few minutes

Writes DIR/log.txt (every step's output) and DIR/figures.json (each step's status, seconds,
budget, figures and error), prints a summary table, and exits 1 when a step failed or ran out
of time (0 when every step passed or was skipped). A step fails when a check fails (a stage
did not complete, a record is missing or wrong); a benchmark's target that is not met is a
figure (`targets_met`), not a failure. See benchmarks/gpu/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


@dataclass(frozen=True)
class Step:
    name: str
    cuda_s: int  # time budget on one H200 (the sum stays under 8 minutes with the set-up)
    cpu_s: int  # time budget with --device cpu on tiny models
    what: str


STEPS = (
    Step("env", 20, 30, "versions, the GPU, and that constlang's runtime imports"),
    Step("cuda_tests", 70, 60, "pytest -m cuda tests/runtime (skipped without a GPU)"),
    Step("train", 120, 120, "constlang train, every stage kind, tiny models; the manifests' "
         "records (peak GPU memory per stage, float32 weights, bf16 autocast)"),
    Step("ppo_accelerate", 40, 60, "the ppo stage under accelerate launch --num_processes 1 "
         "--mixed_precision bf16; its records"),
    Step("judge", 35, 45, "benchmarks/bench_judge.py: scorer vs naive judge vs bare forward"),
    Step("generate", 25, 30, "engine tokens/s beside raw model.generate (135M-shaped model)"),
    Step("ppo_vs_trl", 75, 120, "one PPO iteration beside TRL 1.9.2's PPOTrainer"),
    Step("sft_vs_trl", 30, 45, "SFT steps/s: the sft stage's trainer beside TRL's stock one"),
    Step("reward_vs_trl", 35, 45, "reward-model pairs/s beside TRL's stock RewardTrainer"),
)
BY_NAME = {s.name: s for s in STEPS}
CUDA_TOTAL_S = sum(s.cuda_s for s in STEPS)  # 450 s; with ~20 s of set-up: under 8 minutes


def budget(step: Step, device: str, scale: float) -> float:
    return (step.cuda_s if device == "cuda" else step.cpu_s) * scale


def run_step(step: Step, args: argparse.Namespace, log: Any) -> dict[str, Any]:
    """Run one step in a child process within its budget; its record for figures.json."""
    limit = budget(step, args.device, args.budget_scale)
    result_file = Path(args.work) / f"{step.name}.result.json"
    result_file.unlink(missing_ok=True)
    command = [sys.executable, str(Path(__file__)), "--step", step.name, "--device",
               args.device, "--out", args.out, "--work", args.work]
    if step.name in args.fail:
        command.append("--inject-failure")
    log.write(f"\n===== {step.name} (budget {limit:.0f} s): {step.what}\n")
    log.flush()
    started = time.perf_counter()
    # its own process group: a step's own children (constlang train, accelerate launch) end
    # with it when it runs out of time
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                            env=child_env(), start_new_session=True)
    try:
        code: int | None = proc.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        code = None
    seconds = round(time.perf_counter() - started, 1)
    found = json.loads(result_file.read_text()) if result_file.exists() else {}
    if code is None:
        status, error = "timeout", f"ran past its budget of {limit:.0f} s"
    else:
        status = found.get("status", "failed")
        error = found.get("error") or (None if status != "failed" else
                                       f"exited {code} without a result (see log.txt)")
    return {"status": status, "seconds": seconds, "budget_s": limit,
            "figures": found.get("figures", {}), "error": error}


def child_env() -> dict[str, str]:
    paths = [str(ROOT), *([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "PYTHONUNBUFFERED": "1",
            "TRL_EXPERIMENTAL_SILENCE": "1", "CI": os.environ.get("CI", "1")}


def child(name: str, args: argparse.Namespace) -> int:
    """Inside a step's process: run it and write its result file."""
    sys.path.insert(0, str(HERE))
    import steps

    record: dict[str, Any]
    try:
        if args.inject_failure:
            raise AssertionError("failure injected with --fail (the check of the check)")
        figures = steps.STEP_BODIES[name](steps.Context(args.device, Path(args.work)))
        record = {"status": "passed", "figures": figures}
    except steps.Skip as why:
        record = {"status": "skipped", "error": str(why)}
    except BaseException as exc:  # a failed check or a crash: recorded, the next step runs
        traceback.print_exc()
        figures = getattr(exc, "figures", {})
        record = {"status": "failed", "figures": figures,
                  "error": f"{type(exc).__name__}: {exc}"[:2000]}
    text = json.dumps(record, indent=2, default=str)
    (Path(args.work) / f"{name}.result.json").write_text(text)
    print(f"[{name}] {record['status']}" + (f": {record['error']}" if record.get("error")
                                             else ""))
    return 0


def summary(results: dict[str, dict[str, Any]], device: str) -> str:
    lines = [f"{'step':<16} {'status':<8} {'seconds':>8} {'budget':>7}  figures / error"]
    for name, r in results.items():
        shown = r["error"] if r["status"] != "passed" else headline(r["figures"])
        lines.append(f"{name:<16} {r['status']:<8} {r['seconds']:8.1f} {r['budget_s']:7.0f}  "
                     f"{shown or ''}"[:220])
    total = sum(r["seconds"] for r in results.values())
    failed = [n for n, r in results.items() if r["status"] in ("failed", "timeout")]
    lines.append(f"device {device}: {total:.0f} s in all; "
                 + (f"FAILED: {', '.join(failed)}" if failed else "every check passed"))
    return "\n".join(lines)


def headline(figures: dict[str, Any]) -> str:
    """The step's few numbers worth a glance (its `headline` figure, else its first ones)."""
    if "headline" in figures:
        return str(figures["headline"])
    return ", ".join(f"{k}={v}" for k, v in list(figures.items())[:4]
                     if isinstance(v, int | float | str))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--out", required=True, help="folder for log.txt and figures.json")
    parser.add_argument("--work", help="scratch folder (default: a temporary one)")
    parser.add_argument("--only", help="comma-separated step names (default: every step)")
    parser.add_argument("--fail", default="", help="make these steps fail on purpose "
                        "(comma-separated; the test of the check's exit status)")
    parser.add_argument("--budget-scale", type=float, default=1.0,
                        help="multiply every step's time budget (a slow or busy machine)")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--inject-failure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step:
        return child(args.step, args)
    chosen = [BY_NAME[n] for n in args.only.split(",")] if args.only else list(STEPS)
    args.fail = set(filter(None, args.fail.split(",")))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="constlang-gpu-") as scratch:
        args.work = args.work or scratch
        Path(args.work).mkdir(parents=True, exist_ok=True)
        results = {}
        with open(out / "log.txt", "w", encoding="utf-8") as log:
            for step in chosen:
                results[step.name] = run_step(step, args, log)
                print(f"{step.name}: {results[step.name]['status']} "
                      f"({results[step.name]['seconds']} s)", flush=True)
            table = summary(results, args.device)
            log.write("\n" + table + "\n")
    (out / "figures.json").write_text(json.dumps(
        {"device": args.device, "steps": results}, indent=2, default=str) + "\n")
    print(table)
    return 1 if any(r["status"] in ("failed", "timeout") for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
