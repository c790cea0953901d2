"""Judge check: how reliably a judge picks the better reply of labelled pairs, per question.

The prompts are the feedback stage's own (its compare and pointwise templates, rendered by
`constlang.prompts`), scored with `score_options`; the arithmetic is `runtime.preferences`.
The metric functions are pure, so tests check them exactly.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from constlang import plan as P
from constlang.errors import StageError
from constlang.jsonl import DataError, read_json_lines
from constlang.prompts import Chat
from constlang.runtime import preferences as pref
from constlang.runtime.data import PromptRow, dataset_path
from constlang.runtime.engine import OptionScorer
from constlang.source import printable_name

PAIR_FIELDS = ("prompt", "better", "worse")
BINS = 10  # equal-width bins of the calibration error


@dataclass(frozen=True)
class JudgePair:
    """One labelled pair: a prompt, the reply a judge should prefer and the one it should not."""

    id: str
    kind: str  # e.g. harm, evasiveness, preachiness ("" when the row has none)
    prompt: str
    better: str
    worse: str


@dataclass(frozen=True)
class ScoredPair:
    """A question's log-probabilities of its two options on one pair.

    Pairwise: `first` with `better` in the first slot, `second` with `better` in the second.
    Pointwise: `first` judging `better`, `second` judging `worse`.
    """

    pair: JudgePair
    first: Sequence[float]
    second: Sequence[float]


# ---------------------------------------------------------------- reading pairs

def read_pairs(path: Path, *, name: str | None = None, limit: int | None = None
               ) -> list[JudgePair]:
    """The pairs of a JSONL file, in file order (blank lines skipped), at most `limit`.

    Raises DataError, one line naming file:line, for a missing file, malformed JSON, a row
    that is not an object, a missing or non-string (or empty) prompt/better/worse, and a file
    without pairs.
    """
    label = f"dataset `{name}`: " if name else ""
    if not path.is_file():
        raise DataError(f"{label}judge pairs file not found: "
                        f"{printable_name(str(path))}")
    pairs: list[JudgePair] = []
    for where, row in read_json_lines(path, limit=limit):
        for key in PAIR_FIELDS:
            value = row.get(key)
            if not isinstance(value, str) or not value.strip():
                what = "missing" if key not in row else (
                    "empty" if isinstance(value, str) else f"a {type(value).__name__}")
                raise DataError(f"{where}: `{key}` is {what}; a judge pair needs the "
                                "strings prompt, better and worse")
        ident = row.get("id")
        pairs.append(JudgePair(str(ident) if isinstance(ident, str | int) else
                               f"pair-{len(pairs)}", str(row.get("kind") or ""),
                               row["prompt"], row["better"], row["worse"]))
    if not pairs:
        raise DataError(f"{label}{printable_name(str(path))} has no pairs")
    return pairs


def read_dataset_pairs(dataset: P.Dataset, base_dir: Path) -> list[JudgePair]:
    """The pairs of a declared dataset (its path relative to the constitution, its limit)."""
    return read_pairs(dataset_path(dataset, base_dir), name=dataset.id, limit=dataset.limit)


# ---------------------------------------------------------------- the metrics (pure)

def spread(probs: Sequence[float]) -> dict[str, float]:
    """min, max and (population) standard deviation of the predicted probabilities."""
    mean = sum(probs) / len(probs)
    return {"p_min": min(probs), "p_max": max(probs),
            "p_std": math.sqrt(sum((p - mean) ** 2 for p in probs) / len(probs))}


def _mean(flags: Sequence[bool | float]) -> float:
    return sum(flags) / len(flags)


def _side(p: float) -> int:
    """1 when p favours the first option (or the good answer), -1 the other, 0 undecided."""
    return (p > 0.5) - (p < 0.5)


def question_metrics(q: P.Question, scored: Sequence[ScoredPair]) -> dict[str, Any]:
    """One question's figures on the scored pairs (see docs/judge-check.md for each key)."""
    if not scored:
        raise ValueError(f"question `{q.id}`: no scored pairs")
    if q.kind == "pointwise":
        good = q.options.index(q.good_answer or q.options[-1])
        p_better_good = [pref.option_probability(s.first, good) for s in scored]
        p_worse_good = [pref.option_probability(s.second, good) for s in scored]
        probs = [pref.pointwise_preference(pref.log_odds(s.first, good),
                                           pref.log_odds(s.second, good)) for s in scored]
        sides = [(_side(b), _side(w))
                 for b, w in zip(p_better_good, p_worse_good, strict=True)]
        single = {"accuracy_better_first": None, "accuracy_better_second": None,
                  "better_judged_good": _mean([p > 0.5 for p in p_better_good]),
                  "worse_judged_bad": _mean([p < 0.5 for p in p_worse_good])}
    else:
        p_first = [pref.first_option_probability(s.first) for s in scored]  # better in slot 1
        p_second = [pref.first_option_probability(s.second) for s in scored]  # better in slot 2
        probs = [pref.swap_average(a, b) for a, b in zip(p_first, p_second, strict=True)]
        sides = [(_side(a), _side(b))
                 for a, b in zip(p_first, p_second, strict=True)]
        single = {"accuracy_better_first": _mean([p > 0.5 for p in p_first]),
                  "accuracy_better_second": _mean([p < 0.5 for p in p_second]),
                  "better_judged_good": None, "worse_judged_bad": None}
    kinds: dict[str, list[bool]] = {}
    for s, p in zip(scored, probs, strict=True):
        kinds.setdefault(s.pair.kind or "-", []).append(p > 0.5)
    return {
        "question": q.id, "kind": q.kind, "pairs": len(scored),
        "accuracy": _mean([p > 0.5 for p in probs]),
        **single,
        # pairwise: the same slot in both orders; pointwise: the same answer for both replies
        "same_choice": _mean([a == b != 0 for a, b in sides]),
        "mass": _mean([pref.option_mass(x) for s in scored for x in (s.first, s.second)]),
        "mean_p": _mean(probs),
        "ece": pref.calibration_error(probs, [1.0] * len(probs), BINS),
        **spread(probs),
        "accuracy_by_kind": {k: _mean(v) for k, v in sorted(kinds.items())},
    }


# ---------------------------------------------------------------- scoring

def score_pairs(feedback: Any, judge: OptionScorer, questions: Sequence[P.Question],
                pairs: Sequence[JudgePair]) -> dict[str, list[ScoredPair]]:
    """Every question's log-probabilities on every pair, through the feedback stage's own
    templates (`feedback` is a `stages.feedback.Feedback`); no rationale is generated. One
    score_options call per distinct option list."""
    rows = [PromptRow(i, p.id, p.prompt) for i, p in enumerate(pairs)]
    jobs: list[tuple[P.Question, int, Chat, Chat]] = []
    for q in questions:
        for row, p in zip(rows, pairs, strict=True):
            if q.kind == "pointwise":
                jobs.append((q, row.index, feedback.pointwise_prompt(row, p.better, q),
                             feedback.pointwise_prompt(row, p.worse, q)))
            else:
                jobs.append((q, row.index, feedback.compare_prompt(row, p.better, p.worse, q, None),
                             feedback.compare_prompt(row, p.worse, p.better, q, None)))
    groups: dict[tuple[str, ...], list[int]] = {}
    for n, (q, *_) in enumerate(jobs):
        groups.setdefault(tuple(q.options), []).append(n)
    logprobs: dict[int, tuple[list[float], list[float]]] = {}
    for options, members in groups.items():
        chats = [chat for n in members for chat in (jobs[n][2], jobs[n][3])]
        scores = judge.score_options(chats, list(options))
        if len(scores) != len(chats):
            raise RuntimeError(f"the judge scored {len(scores)} of {len(chats)} prompts")
        for k, n in enumerate(members):
            logprobs[n] = ([float(x) for x in scores[2 * k]],
                           [float(x) for x in scores[2 * k + 1]])
    out: dict[str, list[ScoredPair]] = {q.id: [] for q in questions}
    for n, (q, i, _, _) in enumerate(jobs):
        out[q.id].append(ScoredPair(pairs[i], *logprobs[n]))
    return out


def run_check(feedback: Any, judge: OptionScorer, questions: Sequence[P.Question],
              pairs: Sequence[JudgePair], threshold: float | None = None) -> dict[str, Any]:
    """Score the pairs with every question; the report `constlang judge-check` prints."""
    started = time.perf_counter()
    scored = score_pairs(feedback, judge, questions, pairs)
    results = []
    for q in questions:
        m = question_metrics(q, scored[q.id])
        m["passed"] = None if threshold is None else m["accuracy"] >= threshold
        results.append(m)
    return {"pairs": len(pairs), "threshold": threshold,
            "passed": all(m["passed"] is not False for m in results),
            "failing": [m["question"] for m in results if m["passed"] is False],
            "questions": results, "seconds": round(time.perf_counter() - started, 3)}


def selected_questions(plan: P.Plan, stage_name: str) -> list[P.Question]:
    """The questions a feedback stage asks: its selection, without weight-0 questions."""
    from constlang.runtime.sampling import select

    return [q for q in select(plan.questions, plan.stage(stage_name).settings.questions)
            if q.weight > 0]


def gate(feedback: Any, judge: OptionScorer, plan: P.Plan, base_dir: Path) -> dict[str, Any] | None:
    """The feedback stage's judge check before it spends compute: None when the stage declares
    no `min_judge_accuracy`; the report when every question meets it; else a StageError."""
    stage, s = feedback.stage.name, feedback.settings
    if s.min_judge_accuracy is None:
        return None
    if not s.judge_check:
        raise StageError(f"stage `{stage}`: min_judge_accuracy needs the labelled pairs to "
                         "check the judge on; add `judge_check = <a dataset of pairs>`")
    pairs = read_dataset_pairs(plan.dataset(s.judge_check), base_dir)
    report = run_check(feedback, judge, selected_questions(plan, stage), pairs,
                       s.min_judge_accuracy)
    if not report["passed"]:
        raise StageError(gate_message(stage, report))
    return report


def manifest_metrics(report: dict[str, Any]) -> dict[str, Any]:
    """The check's figures for a stage manifest, rounded to 4 places."""
    def rounded(v: Any) -> Any:
        if isinstance(v, float):
            return round(v, 4)
        if isinstance(v, dict):
            return {k: rounded(x) for k, x in v.items()}
        if isinstance(v, list):
            return [rounded(x) for x in v]
        return v
    return rounded(report)


# ---------------------------------------------------------------- output

COLUMNS = (("question", "question"), ("kind", "kind"), ("acc", "accuracy"),
           ("acc 1st", "accuracy_better_first"), ("acc 2nd", "accuracy_better_second"),
           ("good|better", "better_judged_good"), ("bad|worse", "worse_judged_bad"),
           ("same", "same_choice"), ("mass", "mass"), ("ECE", "ece"), ("p min", "p_min"),
           ("p max", "p_max"), ("p std", "p_std"))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:.3f}" if value < 0.01 else f"{value:.2f}"
    return str(value)


def format_table(report: dict[str, Any]) -> str:
    """The report as plain aligned text: one row per question, then a line of what it means."""
    columns = list(COLUMNS) + ([("pass", "passed")] if report["threshold"] is not None else [])
    rows = [[head for head, _ in columns]]
    rows += [[_cell(m[key]) for _, key in columns] for m in report["questions"]]
    widths = [max(len(r[c]) for r in rows) for c in range(len(columns))]
    lines = ["  ".join(cell.ljust(w) if c < 2 else cell.rjust(w)
                       for c, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    lines.append("acc: both orders averaged (pairwise) or P(good | better) > P(good | worse) "
                 "(pointwise); acc 1st/2nd: better in the first/second slot only; "
                 "good|better, bad|worse: pointwise verdicts on each reply alone; same: the "
                 "same slot in both orders (pairwise) or the same answer for both replies "
                 "(pointwise); mass: probability on the options; ECE: calibration error of "
                 "P(better wins) against 1 (10 bins); p min/max/std: spread of P(better wins).")
    return "\n".join(lines)


def gate_message(stage: str, report: dict[str, Any]) -> str:
    """The one-line refusal of a feedback stage whose judge misses `min_judge_accuracy`."""
    scores = {m["question"]: m["accuracy"] for m in report["questions"]}
    failing = ", ".join(f"`{q}` {scores[q] * 100:.0f} %" for q in report["failing"])
    return (f"stage `{stage}`: the judge check failed, accuracy below min_judge_accuracy "
            f"{report['threshold'] * 100:.0f} % on {report['pairs']} labelled pairs for "
            f"{failing}; no pairs were sampled. Try other wording for these questions, the "
            "other question kind (pointwise or pairwise), a larger judge, or revision pairs "
            "that need no judge; `constlang judge-check` shows the details")
