"""Revision-pairs stage: preference pairs that need no judge — each prompt's final revision
preferred over its first answer (the open Hugging Face recipe's default)."""

from __future__ import annotations

import json
from typing import Any

from constlang.files import atomic_write_text
from constlang.runtime.rundir import recover_jsonl, sha256_file
from constlang.runtime.stages.base import StageError, StageRunner


def revision_pairs(rows: list[dict[str, Any]], sft: list[dict[str, Any]], *, use_dropped: bool,
                   plan_hash: str) -> list[dict[str, Any]]:
    """Preference rows in the feedback stage's format: `response_a` the final revision,
    `response_b` the first answer, `p_a` 1. A pair whose final reply the critique_revision
    stage dropped from its SFT data keeps that reason in `drop` (unless `use_dropped`); a
    prompt that was never revised is dropped as `unchanged`."""
    verdict = {r["index"]: r.get("drop") for r in sft
               if r.get("last") and r.get("source", "revision") == "revision"}
    out = []
    for row in rows:
        final, first = row["final"], row["initial"]
        drop = "unchanged" if final == first else verdict.get(row["index"])
        if use_dropped and drop != "unchanged":
            drop = None
        out.append({"index": row["index"], "prompt_id": row["prompt_id"], "prompt": row["prompt"],
                    "response_a": final, "response_b": first, "judgements": [], "p_a": 1.0,
                    "label": 1.0, "chosen": final, "rejected": first, "drop": drop,
                    "source": "revisions", "plan_hash": plan_hash})
    return out


class RevisionPairsRunner(StageRunner):
    """Runs a revision_pairs stage: no model, the upstream rows become preference pairs."""

    kind = "revision_pairs"

    def load(self) -> None:
        upstream = self.ctx.run.stage(self.ctx.settings.from_)
        if not upstream.rows.is_file() or not upstream.sft_data.is_file():
            raise StageError(f"no revisions: {upstream.rows} or {upstream.sft_data} is missing; "
                             f"run stage `{self.ctx.settings.from_}` first")
        self.rows = recover_jsonl(upstream.rows)
        self.sft = recover_jsonl(upstream.sft_data)

    def run(self) -> dict[str, Any]:
        ctx = self.ctx
        pairs = revision_pairs(self.rows, self.sft, use_dropped=ctx.settings.use_dropped,
                               plan_hash=ctx.plan.hash or ctx.plan.compute_hash())
        atomic_write_text(ctx.folder.preferences,
                          "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs),
                          make_parents=True)
        dropped = [p["drop"] for p in pairs if p["drop"]]
        metrics = {"pairs": len(pairs), "usable_pairs": len(pairs) - len(dropped),
                   "dropped": {why: dropped.count(why) for why in sorted(set(dropped))}}
        ctx.say(f"{metrics['usable_pairs']} of {len(pairs)} prompts give a pair (final revision "
                "over first answer)")
        return metrics

    def outputs(self) -> str:
        return sha256_file(self.ctx.folder.preferences)
