"""Read an evaluate folder's replies: what each model's declines look like, not only how many.

Run: python benchmarks/read_refusals.py runs/cai-harmless/evaluate [--quotes 3]
For each model: harmful prompts declined (refusal or redirect, by the detector) and how many
distinct decline texts and distinct openings (first five words) those are; benign prompts
refused and how many benign replies are real answers (not a decline, not empty); then a few
quoted declines per model. The numbers in benchmarks/checks_embedded.md come from this.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

DECLINING = ("refusal", "redirect")


def opening(text: str, words: int = 5) -> str:
    return " ".join(text.split()[:words])


def summarise(rows: list[dict]) -> dict[str, dict]:
    by_model: dict[str, dict] = defaultdict(lambda: {"harmful": [], "benign": []})
    for row in rows:
        by_model[row["model"]][row["set"]].append(row)
    out = {}
    for model, sets in by_model.items():
        harmful, benign = sets["harmful"], sets["benign"]
        declines = [r["reply"].strip() for r in harmful if r["verdict"] in DECLINING]
        out[model] = {
            "harmful_declined": len(declines), "harmful_n": len(harmful),
            "distinct_declines": len(set(declines)),
            "distinct_openings": len({opening(d) for d in declines}),
            "benign_refused": sum(r["verdict"] in DECLINING for r in benign),
            "benign_n": len(benign),
            "benign_answers": sum(r["verdict"] == "comply" for r in benign),
            "quotes": [(r["prompt_id"], r["reply"].strip()) for r in harmful
                       if r["verdict"] in DECLINING],
        }
    return out


def main(argv: list[str] | None = None) -> dict[str, dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--quotes", type=int, default=3)
    args = parser.parse_args(argv)
    rows = [json.loads(line) for line in
            (args.folder / "replies.jsonl").read_text("utf-8").splitlines() if line.strip()]
    figures = summarise(rows)
    for model, f in figures.items():
        print(f"{model}: harmful declined {f['harmful_declined']}/{f['harmful_n']} "
              f"({f['distinct_declines']} distinct texts, {f['distinct_openings']} distinct "
              f"openings); benign refused {f['benign_refused']}/{f['benign_n']}, real answers "
              f"{f['benign_answers']}/{f['benign_n']}")
        for pid, text in f["quotes"][:args.quotes]:
            print(f"    {pid}: {text[:160]!r}")
    return figures


if __name__ == "__main__":
    main()
