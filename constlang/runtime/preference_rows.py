"""AI feedback, the data contract: judged pairs → preference rows (format 2) in the folder of
the stage that writes them, their filters, their summary, and reading them back as training
pairs for the reward model and DPO.

A row names its two replies by role, never by position: `chosen` is the reply the judge (or the
revision) prefers, `p_chosen` the probability that it is the better one, and every raw number
the judge produced is keyed by where `chosen` stood (`chosen_first` / `rejected_first` for a
pairwise question, `chosen` / `rejected` for a pointwise one). See docs/runtime-feedback.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from constlang.errors import StageError
from constlang.runtime.evaluation.plots import label_histogram
from constlang.runtime.quality import is_meta
from constlang.runtime.rundir import Artifact, StageDir, logged_number, recover_jsonl

FORMAT = 2
Messages = list[dict[str, str]]


class PreferencesDir(StageDir):
    """The folder of a stage that writes preference rows (feedback, revision_pairs)."""

    preferences = Artifact("preferences.jsonl", "The preference pairs with their labels (JSONL).")


# why a row is not trained on, in the order they are tested
DROP_REASONS = ("too_long", "truncated", "identical", "meta", "tie", "inconsistent",
                "low_confidence")


def orient(judgement: dict[str, Any], a_chosen: bool) -> dict[str, Any]:
    """A judgement of replies A and B (the stage's internal view) as seen from `chosen`."""
    p_a = judgement["p_a"]
    if judgement["kind"] == "pairwise":
        names = {"ab": "chosen_first", "ba": "rejected_first"} if a_chosen else {
            "ab": "rejected_first", "ba": "chosen_first"}
    else:
        names = {"a": "chosen", "b": "rejected"} if a_chosen else {"a": "rejected", "b": "chosen"}
    raw = {names[o["order"]]: {"p": o["p"], "logprobs": o["logprobs"], "mass": o["mass"],
                               "rationale": o.get("rationale")} for o in judgement["orders"]}
    return {"question": judgement["question"], "kind": judgement["kind"],
            "p_chosen": p_a if a_chosen else 1.0 - p_a, "consistent": judgement["consistent"],
            "option_mass": sum(r["mass"] for r in raw.values()) / len(raw), "raw": raw}


def drop_reason(*, finish: Sequence[str], identical: bool, p_judge: float,
                consistent: bool | None, settings: Any, chosen: str = "") -> str | None:
    """The first reason (DROP_REASONS) a judged pair is left out of training, or None.

    `settings` carries the feedback stage's filters: keep_truncated, drop_ties,
    drop_inconsistent and min_confidence (p_judge − 0.5 below it is dropped). A `chosen`
    reply that SFT would drop as meta text (quality.is_meta) is never the preferred one.
    """
    if "skipped" in finish:
        return "too_long"
    if "length" in finish and not settings.keep_truncated:
        return "truncated"
    if identical:
        return "identical"
    if is_meta(chosen):
        return "meta"
    if p_judge == 0.5 and settings.drop_ties:
        return "tie"
    if consistent is False and settings.drop_inconsistent:
        return "inconsistent"
    if p_judge < 0.5 + settings.min_confidence:
        return "low_confidence"
    return None


def make_row(*, index: int, prompt_id: str, prompt: Messages, chosen: str, rejected: str,
             p_chosen: float, p_judge: float | None, source: str, stage: str,
             judge: str | None, judgements: list[dict[str, Any]], finish: dict[str, str],
             drop: str | None, plan_hash: str) -> dict[str, Any]:
    """One preference row: TRL's conversational columns plus what the judge said."""
    masses = [j["option_mass"] for j in judgements]
    pairwise = [j["consistent"] for j in judgements if j["consistent"] is not None]
    return {
        "format": FORMAT, "index": index, "prompt_id": prompt_id, "prompt": prompt,
        "chosen": [{"role": "assistant", "content": chosen}],
        "rejected": [{"role": "assistant", "content": rejected}],
        "p_chosen": p_chosen, "p_judge": p_judge, "source": source, "stage": stage,
        "judge": judge, "questions": [j["question"] for j in judgements],
        "judgements": judgements,
        "option_mass": sum(masses) / len(masses) if masses else None,
        "consistent": all(pairwise) if pairwise else None,
        "finish": finish, "drop": drop, "plan_hash": plan_hash}


def text(messages: Messages) -> str:
    """The content of a one-message reply (chosen / rejected)."""
    return messages[-1]["content"] if messages else ""


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def summarize(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Pairs, kept pairs and drops by reason, mean p_chosen and confidence of the kept ones,
    position consistency and option mass over every judgement."""
    kept = [r for r in rows if not r.get("drop")]
    drops = [r["drop"] for r in rows if r.get("drop")]
    judged = [j for r in rows for j in r["judgements"]]
    swapped = [j["consistent"] for j in judged if j["consistent"] is not None]
    return {
        "pairs": len(rows), "kept_pairs": len(kept), "judgements": len(judged),
        "dropped": {why: drops.count(why) for why in sorted(
            set(drops), key=lambda w: (DROP_REASONS + (w,)).index(w))},
        "mean_p_chosen": _mean([r["p_chosen"] for r in kept]),
        "mean_confidence": _mean([(r["p_judge"] if r["p_judge"] is not None else r["p_chosen"])
                                  - 0.5 for r in kept]),
        "swapped_judgements": len(swapped),
        "position_consistency": _mean(swapped),
        "option_mass": _mean([j["option_mass"] for j in judged]),
    }


def summary_line(stage: str, m: dict[str, Any]) -> str:
    """e.g. `feedback: 8 pairs, 6 kept (2 tie), position-consistent 62 %, mean confidence 0.07,
    option mass 0.31`."""
    parts = [f"{m['pairs']} pairs", f"{m['kept_pairs']} kept"]
    if m.get("dropped"):
        parts[-1] += " (dropped: " + ", ".join(f"{n} {why}" for why, n in m["dropped"].items()) \
            + ")"
    if m.get("position_consistency") is not None:
        parts.append(f"position-consistent {m['position_consistency'] * 100:.0f} %")
    if m.get("mean_confidence") is not None:
        parts.append(f"mean confidence {m['mean_confidence']:.2f}")
    if m.get("option_mass") is not None:
        parts.append(f"option mass {m['option_mass']:.2f}")
    return f"{stage}: " + ", ".join(parts)


# ---------------------------------------------------------------- reading back

def _messages(value: Any) -> bool:
    return (isinstance(value, list) and bool(value) and all(
        isinstance(m, dict) and isinstance(m.get("role"), str)
        and isinstance(m.get("content"), str) for m in value))


def read_preferences(path: Path) -> list[dict[str, Any]]:
    """A stage's preferences.jsonl rows; a DataError naming file:line for a line that is not a
    format-2 preference row."""
    from constlang.jsonl import DataError, read_json_lines

    rows = []
    for where, row in read_json_lines(path):
        if row.get("format") != FORMAT:
            raise DataError(f"{where}: not a format-{FORMAT} preference row (written by an older "
                            "constlang?); run the stage that wrote it again")
        for f in ("prompt", "chosen", "rejected"):
            if not _messages(row.get(f)):
                raise DataError(f"{where}: `{f}` must be a list of chat messages "
                                "({\"role\": ..., \"content\": ...})")
        p = row.get("p_chosen")
        if not isinstance(p, int | float) or isinstance(p, bool) or not 0.0 <= p <= 1.0:
            raise DataError(f"{where}: `p_chosen` must be a number from 0 to 1")
        if not isinstance(row.get("index"), int):
            raise DataError(f"{where}: `index` must be a whole number")
        rows.append(row)
    return rows


def read_sources(run: Any, sources: Sequence[str]) -> tuple[list[dict[str, Any]],
                                                              dict[str, int]]:
    """The rows of every source stage's preferences.jsonl, in the order given, and how many
    each gave; a StageError naming a source that has not written its file."""
    rows: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    for source in sources:
        path = PreferencesDir.of(run.stage(source)).preferences
        if not path.is_file():
            raise StageError(f"no preferences: {path} does not exist; run stage `{source}`")
        found = read_preferences(path)
        counts[source] = len(found)
        rows += found
    return rows, counts


def training_pairs(rows: Sequence[dict[str, Any]], *, soft: bool) -> tuple[
        list[dict[str, Any]], dict[str, int]]:
    """Pairs to train on (TRL's conversational `prompt`/`chosen`/`rejected` plus `p_chosen`,
    `index` and `stage`) and how many rows were left out, by reason.

    Rows the writing stage dropped keep their reason; identical replies are left out even if a
    stage kept them; with hard labels (`soft` false) ties are left out and `p_chosen` becomes 1.
    """
    pairs: list[dict[str, Any]] = []
    left_out: dict[str, int] = {}
    for row in rows:
        why = row.get("drop") or ("identical" if text(row["chosen"]) == text(row["rejected"])
                                  else None)
        p = float(row["p_chosen"])
        if why is None and not soft:
            why = "tie" if p == 0.5 else None
            p = 1.0 if p > 0.5 else 0.0
        if why:
            left_out[why] = left_out.get(why, 0) + 1
            continue
        pairs.append({"prompt": row["prompt"], "chosen": row["chosen"],
                      "rejected": row["rejected"], "p_chosen": p, "index": row["index"],
                      "stage": row.get("stage")})
    return pairs, left_out


def label_points(folder: StageDir) -> list[float]:
    """The soft labels (p_chosen) of a stage's preferences.jsonl, each checked, read only:
    what the evaluate report's histogram shows (empty when the stage wrote none)."""
    path = PreferencesDir.of(folder).preferences
    if not path.is_file():
        return []
    return [logged_number(path, r, "p_chosen") for r in recover_jsonl(path, cut=False)
            if r.get("p_chosen") is not None]


def labels_figure(labels: list[float], png: Path, stage: str) -> bool:
    """The histogram of a stage's soft labels, for the evaluate report."""
    return label_histogram(labels, png, f"stage `{stage}`: {len(labels)} labels")
