"""Benchmark: quality of the critique → revision data of a constitution, variant by variant.

Run: python benchmarks/critique_quality.py [--only v0,v4] [--out DIR] [--list]
     [--constitution constitutions/harmless.const]

Each variant is an override snippet appended to a file that imports the constitution (copied,
with its data, into a temporary folder, so the shipped file is never touched), plus optional
`--set` arguments. Every variant runs `constlang train FILE --stages critique_revision` in its
own run directory, one after another (one model job at a time), on the same prompts, and the
table printed at the end holds each variant's seconds and the quality metrics of its manifest.
The metrics count; they do not judge: read `rows.jsonl` of each run before believing a number
(results and hand checks: benchmarks/critique_quality.md).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# A revision that does not declare `critique`: the CAI paper's "direct revision" (no written
# critique; the runtime still generates one, the template just does not show it).
DIRECT_REVISION = '''
template direct_revision(prompt, response, principle) """
User: {{ prompt }}
Assistant: {{ response }}

Revision request: {{ principle.revision }}
Write the assistant's new reply to the user, speaking directly to them.
"""
'''

# Direct revision worded for a small chat model: a short instruction, the draft quoted.
SHORT_REVISION = '''
template short_revision(prompt, response, principle) """
The user wrote: "{{ prompt }}"
A draft reply: "{{ response }}"

Write a better reply to the user. {{ principle.revision }} Keep it short, and speak directly to the user.
"""
'''  # noqa: E501 (the template text as measured)

# Not a revision: the prompt answered again with a safety instruction, no draft shown (a
# departure from the method, measured to see whether the draft is what the model copies).
GUIDED_ANSWER = '''
template guided_answer(prompt) """
{{ prompt }}

(Reply to me kindly and safely, in a few sentences. Do not help with anything harmful or illegal; offer a safe alternative.)
"""
'''  # noqa: E501 (the template text as measured)

# name -> (override snippet, extra `--set` arguments). v0 is the constitution as shipped; the
# names are those of benchmarks/critique_quality.md (v3-v5 were planned, never run).
VARIANTS: dict[str, tuple[str, list[str]]] = {
    "v0": ("", []),
    "v1": ("override model assistant { max_new_tokens = 128 }", []),
    "v2": ("override model assistant { temperature = 0.3 }", []),
    "v6": ("override model assistant { max_new_tokens = 128 }\n"
           "override stage critique_revision { examples = [neighbour_wifi, coworker_revenge] }",
           []),
    "v7": ("override model assistant { max_new_tokens = 128 }\n" + DIRECT_REVISION
           + "override stage critique_revision { revision_template = direct_revision\n"
           "  examples = [neighbour_wifi, coworker_revenge] }", []),
    "v8": ("override model assistant { max_new_tokens = 128  temperature = 0.3 }\n"
           + DIRECT_REVISION
           + "override stage critique_revision { revision_template = direct_revision\n"
           "  examples = [neighbour_wifi, coworker_revenge] }", []),
    "v9": ("override model assistant { max_new_tokens = 128  temperature = 0.3 }\n"
           + SHORT_REVISION
           + "override stage critique_revision { revision_template = short_revision\n"
           "  examples = [neighbour_wifi, coworker_revenge] }", []),
    "v10": ("override model assistant { max_new_tokens = 128  temperature = 0.3 }\n"
            + GUIDED_ANSWER
            + "override stage critique_revision { revision_template = guided_answer\n"
            "  examples = [neighbour_wifi, coworker_revenge] }", []),
}

COLUMNS = ("variant", "seconds", "answers_trunc", "rev_eos", "rev_trunc", "rev_nearly_same",
           "rev_meta", "sft_kept", "dropped")


def write_variant(folder: Path, constitution: Path, snippet: str) -> Path:
    path = folder / "variant.const"
    path.write_text('constlang 1\n\nconstitution "quality-variant" { version = "0.0.0" }\n\n'
                    f'import "./{constitution.name}"\n\n{snippet}\n', encoding="utf-8")
    return path


def run_variant(name: str, constitution: Path, out: Path) -> dict[str, object]:
    snippet, sets = VARIANTS[name]
    run_dir = out / name
    shutil.rmtree(run_dir, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        shutil.copytree(constitution.parent, folder, dirs_exist_ok=True)
        path = write_variant(folder, constitution, snippet)
        command = [sys.executable, "-m", "constlang", "train", str(path),
                   "--stages", "critique_revision", "--run-dir", str(run_dir)]
        for item in sets:
            command += ["--set", item]
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - started
    metrics = json.loads((run_dir / "critique_revision/manifest.json").read_text())["metrics"]
    quality = metrics["quality"]
    revisions = quality["revisions"]
    dropped = ", ".join(f"{n} {k}" for k, n in sorted(metrics["sft_dropped"].items()))
    return {"variant": name, "seconds": round(wall), "answers_trunc":
            quality["answers"]["truncated_share"], "rev_eos": revisions["eos_share"],
            "rev_trunc": revisions["truncated_share"],
            "rev_nearly_same": revisions["nearly_unchanged_share"],
            "rev_meta": revisions["meta_share"],
            "sft_kept": f"{metrics['sft_rows']}/{revisions['count']}", "dropped": dropped or "-"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--constitution", default=str(ROOT / "constitutions/harmless.const"))
    parser.add_argument("--only", default="", help="comma-separated variant names")
    parser.add_argument("--out", default=str(ROOT / "runs/critique_quality"))
    parser.add_argument("--list", action="store_true", help="print the variants and exit")
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n] or list(VARIANTS)
    if args.list:
        for name in names:
            print(f"{name}: {VARIANTS[name][0].strip() or '(as shipped)'} {VARIANTS[name][1]}")
        return
    rows = []
    for name in names:
        rows.append(run_variant(name, Path(args.constitution).resolve(), Path(args.out)))
        print(" ".join(f"{k}={v}" for k, v in rows[-1].items()), flush=True)
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in COLUMNS) + " |")


if __name__ == "__main__":
    main()
