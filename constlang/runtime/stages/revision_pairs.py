"""Revision-pairs stage: preference pairs that need no judge — each prompt's final revision
preferred over its first answer (the open Hugging Face recipe's default), optionally weighted
by the critique_revision stage's judge."""

from __future__ import annotations

import json
import math
from typing import Any

from constlang.errors import StageError
from constlang.files import atomic_write_text
from constlang.runtime.preference_rows import FORMAT, PreferencesDir, make_row
from constlang.runtime.preferences import sigmoid
from constlang.runtime.quality import is_meta
from constlang.runtime.reply_checks import CHECK_DROP, failed
from constlang.runtime.rundir import recover_jsonl, sha256_file
from constlang.runtime.stages.base import StageRunner
from constlang.runtime.stages.critique_revision import CritiqueRevisionDir


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)  # scores are stored to six decimals
    return math.log(p) - math.log1p(-p)


def judge_weight(row: dict[str, Any]) -> float | None:
    """σ(ℓ_final − ℓ_first) from the judge's good-answer probabilities of the first answer and
    the final revision (Bradley–Terry on their log-odds); None when the row was not judged."""
    first = row.get("initial_score")
    final = row["rounds"][-1].get("revision_score") if row.get("rounds") else first
    if first is None or final is None:
        return None
    return sigmoid(_logit(final) - _logit(first))


def revision_pairs(rows: list[dict[str, Any]], sft: list[dict[str, Any]], *, use_dropped: bool,
                   weights: str, stage: str, plan_hash: str,
                   honour_checks: bool = True, drop_meta: bool = True) -> list[dict[str, Any]]:
    """Preference rows (format 2): `chosen` the final revision, `rejected` the first answer.

    A pair whose final reply the critique_revision stage dropped from its SFT data keeps that
    reason in `drop` (unless `use_dropped`); a prompt never revised is dropped as `identical`.
    A final revision that failed one of its checks is never preferred: its pair is dropped as
    `failed_checks` even with `use_dropped` (unless `honour_checks` is false: the upstream
    stage's `drop_failing_checks = false`).
    With `drop_meta` (the upstream stage's), a final reply the meta detector flags now is
    dropped as `meta` too, even when SFT data written by an older detector kept it.
    With `weights="judge"`, p_chosen is judge_weight and a pair under 0.5 is dropped as `worse`.
    """
    verdict = {r["index"]: r.get("drop") for r in sft
               if r.get("last") and r.get("source", "revision") == "revision"}
    out = []
    for row in rows:
        final, first = row["final"], row["initial"]
        drop = "identical" if final == first else verdict.get(row["index"])
        if drop is None and drop_meta and is_meta(final):
            drop = "meta"
        if use_dropped and drop != "identical":
            drop = None
        if drop is None and honour_checks and row.get("rounds") and failed(
                row["rounds"][-1].get("checks")):
            drop = CHECK_DROP
        p_judge = judge_weight(row) if weights == "judge" else None
        if p_judge is not None and p_judge < 0.5 and drop is None:
            drop = "worse"
        out.append(make_row(
            index=row["index"], prompt_id=row["prompt_id"],
            prompt=[{"role": "user", "content": row["prompt"]}], chosen=final, rejected=first,
            p_chosen=1.0 if p_judge is None else p_judge, p_judge=p_judge, source="revisions",
            stage=stage, judge=None, judgements=[], finish={}, drop=drop, plan_hash=plan_hash))
    return out


class RevisionPairsRunner(StageRunner):
    """Runs a revision_pairs stage: no model, the upstream rows become preference pairs."""

    kind = "revision_pairs"

    @staticmethod
    def headline(metrics: dict[str, Any]) -> str:
        return f"{metrics.get('kept_pairs', '-')} of {metrics.get('pairs', '-')} pairs kept"

    def fingerprint(self) -> dict[str, Any]:
        return {"preferences_format": FORMAT}

    def load(self) -> None:
        s = self.ctx.settings
        upstream = CritiqueRevisionDir.of(self.ctx.run.stage(s.from_))
        if not upstream.rows.is_file() or not upstream.sft_data.is_file():
            raise StageError(f"no revisions: {upstream.rows} or {upstream.sft_data} is missing; "
                             f"run stage `{s.from_}` first")
        self.rows = recover_jsonl(upstream.rows, cut=False)
        self.sft = recover_jsonl(upstream.sft_data, cut=False)
        if s.weights == "judge" and not any(r.get("initial_score") is not None
                                            for r in self.rows):
            raise StageError(f"`weights = judge` needs judge scores, but stage `{s.from_}` has "
                             "none; give it a `judge` and a `judge_question`, or set "
                             "`weights = none`")

    def run(self) -> dict[str, Any]:
        ctx, s = self.ctx, self.ctx.settings
        upstream = ctx.plan.stage(s.from_).settings
        pairs = revision_pairs(self.rows, self.sft, use_dropped=s.use_dropped, weights=s.weights,
                               stage=ctx.name, plan_hash=ctx.plan.hash or ctx.plan.compute_hash(),
                               honour_checks=upstream.drop_failing_checks,
                               drop_meta=upstream.drop_meta)
        atomic_write_text(PreferencesDir.of(ctx.folder).preferences,
                          "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs),
                          make_parents=True, follow=False)
        dropped = [p["drop"] for p in pairs if p["drop"]]
        kept = [p["p_chosen"] for p in pairs if not p["drop"]]
        metrics = {"pairs": len(pairs), "kept_pairs": len(kept),
                   "dropped": {why: dropped.count(why) for why in sorted(set(dropped))},
                   "mean_p_chosen": round(sum(kept) / len(kept), 4) if kept else None}
        ctx.say(f"{len(kept)} of {len(pairs)} prompts give a pair (final revision over first "
                "answer)" + (f", mean p_chosen {metrics['mean_p_chosen']}" if
                             s.weights == "judge" and kept else ""))
        return metrics

    def outputs(self) -> str:
        return sha256_file(PreferencesDir.of(self.ctx.folder).preferences)
